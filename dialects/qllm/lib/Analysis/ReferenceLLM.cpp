//===- ReferenceLLM.cpp - embedding, rms_norm, rotary, attention ----------===//
//
// The LLM ops, straight from their definitions in QLLMOps.td, with the
// run-time shape checks the verifier cannot make on dynamic dimensions.
//
//===----------------------------------------------------------------------===//

#include "ReferenceOps.h"

#include "qllm/IR/QLLMOps.h"

#include "llvm/ADT/TypeSwitch.h"

#include <cmath>

using namespace mlir;
using namespace mlir::qllm;

namespace mlir::qllm::ref {
namespace {

using R = FailureOr<RefTensor>;

bool shapeIs(const RefTensor &t, ArrayRef<int64_t> expected) {
  return ArrayRef<int64_t>(t.shape) == expected;
}

R embedding(OpContext &ctx) {
  FailureOr<RefTensor> table = ctx.operand(0), ids = ctx.operand(1);
  if (failed(table) || failed(ids))
    return failure();
  int64_t vocab = table->shape[0], dim = table->shape[1];
  RefTensor out;
  out.shape = ids->shape;
  out.shape.push_back(dim);
  for (double id : ids->data) {
    int64_t row = static_cast<int64_t>(id);
    if (row < 0 || row >= vocab)
      return ctx.fail("token id out of the vocabulary");
    out.data.insert(out.data.end(), table->data.begin() + row * dim,
                    table->data.begin() + (row + 1) * dim);
  }
  return out;
}

R rmsNorm(OpContext &ctx, RmsNormOp op) {
  FailureOr<RefTensor> x = ctx.operand(0), w = ctx.operand(1);
  if (failed(x) || failed(w))
    return failure();
  double eps = op.getEpsilon().convertToDouble();
  int64_t dim = x->shape.back();
  RefTensor out = *x;
  for (int64_t r = 0; r < x->numElements() / std::max<int64_t>(dim, 1); ++r) {
    const double *row = x->data.data() + r * dim;
    double sum = 0;
    for (int64_t k = 0; k < dim; ++k)
      sum += row[k] * row[k];
    double inv = 1.0 / std::sqrt(sum / static_cast<double>(dim) + eps);
    for (int64_t k = 0; k < dim; ++k)
      out.data[r * dim + k] = ctx.round(row[k] * inv * w->data[k]);
  }
  return out;
}

/// cos and sin of the angle of pair `i` at `pos`: from the tables when the
/// op has them, from the base otherwise. False if `pos` is not a table row.
bool rotaryAngle(RotaryOp op, const RefTensor *cos, const RefTensor *sin,
                 double pos, int64_t i, int64_t rotary, double &c, double &s) {
  if (!cos) {
    double base = op.getBase() ? op.getBase()->convertToDouble() : 0.0;
    double theta = pos * std::pow(base, -2.0 * static_cast<double>(i) /
                                            static_cast<double>(rotary));
    c = std::cos(theta);
    s = std::sin(theta);
    return true;
  }
  int64_t row = static_cast<int64_t>(pos);
  if (row < 0 || row >= cos->shape[0])
    return false;
  c = cos->data[row * cos->shape[1] + i];
  s = sin->data[row * sin->shape[1] + i];
  return true;
}

/// Rotates pairs of x [b, s, h, d] as qllm.rotary specifies.
LogicalResult rotate(RotaryOp op, const RefTensor &x,
                     const RefTensor &positions, const RefTensor *cos,
                     const RefTensor *sin, RefTensor &out) {
  int64_t batch = x.shape[0], seq = x.shape[1], heads = x.shape[2],
          dim = x.shape[3];
  int64_t rotary = op.getRotaryDim().value_or(dim), half = rotary / 2;
  bool interleaved = op.getConvention() == RotaryConvention::interleaved;
  out = x;
  if (positions.shape.size() != 2 || positions.shape[1] != seq ||
      (positions.shape[0] != batch && positions.shape[0] != 1))
    return failure();
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t s = 0; s < seq; ++s) {
      int64_t pb = positions.shape[0] == 1 ? 0 : b;
      double pos = positions.data[pb * seq + s];
      for (int64_t i = 0; i < half; ++i) {
        double c, sn;
        if (!rotaryAngle(op, cos, sin, pos, i, rotary, c, sn))
          return failure();
        int64_t i0 = interleaved ? 2 * i : i;
        int64_t i1 = interleaved ? 2 * i + 1 : i + half;
        for (int64_t h = 0; h < heads; ++h) {
          int64_t o = ((b * seq + s) * heads + h) * dim;
          double x0 = x.data[o + i0], x1 = x.data[o + i1];
          out.data[o + i0] = x0 * c - x1 * sn;
          out.data[o + i1] = x1 * c + x0 * sn;
        }
      }
    }
  return success();
}

R rotary(OpContext &ctx, RotaryOp op) {
  FailureOr<RefTensor> x = ctx.operand(0), positions = ctx.operand(1);
  if (failed(x) || failed(positions))
    return failure();
  FailureOr<RefTensor> cos = failure(), sin = failure();
  bool tables = static_cast<bool>(op.getCosCache());
  if (tables) {
    cos = ctx.evaluate(op.getCosCache());
    sin = ctx.evaluate(op.getSinCache());
    if (failed(cos) || failed(sin))
      return failure();
  }
  RefTensor out;
  if (failed(rotate(op, *x, *positions, tables ? &*cos : nullptr,
                    tables ? &*sin : nullptr, out)))
    return ctx.fail("rotary positions do not match the input, or lie "
                    "outside the cos/sin tables, at run time");
  return ctx.rounded(std::move(out));
}

//===----------------------------------------------------------------------===//
// attention
//===----------------------------------------------------------------------===//

/// The operands of one attention op, evaluated and checked against each
/// other (dynamic dimensions are only known now).
struct AttentionInputs {
  RefTensor q, k, v, pastKey, pastValue, mask, bias;
  int64_t batch, seq, heads, dim, kvHeads, vDim, past = 0;
  bool hasMask = false, hasBias = false;

  int64_t total() const { return past + seq; }
};

LogicalResult loadQkv(OpContext &ctx, AttentionOp op, AttentionInputs &in) {
  FailureOr<RefTensor> q = ctx.evaluate(op.getQuery()),
                       k = ctx.evaluate(op.getKey()),
                       v = ctx.evaluate(op.getValue());
  if (failed(q) || failed(k) || failed(v))
    return failure();
  in.q = *q, in.k = *k, in.v = *v;
  in.batch = q->shape[0], in.seq = q->shape[1], in.heads = q->shape[2],
  in.dim = q->shape[3], in.kvHeads = k->shape[2], in.vDim = v->shape[3];
  if (!shapeIs(in.k, {in.batch, in.seq, in.kvHeads, in.dim}) ||
      !shapeIs(in.v, {in.batch, in.seq, in.kvHeads, in.vDim}) ||
      in.kvHeads == 0 || in.heads % in.kvHeads != 0)
    return ctx.fail("attention keys/values do not match the queries' batch, "
                    "sequence and head dimensions at run time");
  if (!op.getPastKey())
    return success();
  FailureOr<RefTensor> pk = ctx.evaluate(op.getPastKey()),
                       pv = ctx.evaluate(op.getPastValue());
  if (failed(pk) || failed(pv))
    return failure();
  in.pastKey = *pk, in.pastValue = *pv, in.past = pk->shape[2];
  if (!shapeIs(in.pastKey, {in.batch, in.kvHeads, in.past, in.dim}) ||
      !shapeIs(in.pastValue, {in.batch, in.kvHeads, in.past, in.vDim}))
    return ctx.fail("attention past caches do not match the keys/values at "
                    "run time");
  return success();
}

LogicalResult loadMasks(OpContext &ctx, AttentionOp op, AttentionInputs &in) {
  if ((in.hasMask = static_cast<bool>(op.getAttentionMask()))) {
    FailureOr<RefTensor> m = ctx.evaluate(op.getAttentionMask());
    if (failed(m))
      return failure();
    in.mask = *m;
    if (!shapeIs(in.mask, {in.batch, in.total()}))
      return ctx.fail("attention mask is not [batch, past + seq] at run time");
  }
  if ((in.hasBias = static_cast<bool>(op.getAttentionBias()))) {
    FailureOr<RefTensor> b = ctx.evaluate(op.getAttentionBias());
    if (failed(b))
      return failure();
    in.bias = *b;
    int64_t full[] = {in.batch, in.heads, in.seq, in.total()};
    bool broadcasts = in.bias.shape.size() == 4;
    for (int i = 0; broadcasts && i < 4; ++i)
      broadcasts = in.bias.shape[i] == full[i] ||
                   (i < 2 && in.bias.shape[i] == 1);
    if (!broadcasts)
      return ctx.fail("attention bias does not broadcast to [batch, heads, "
                      "seq, past + seq] at run time");
  }
  return success();
}

/// A present cache [b, kv, total, d]: the past, then the new keys/values
/// (given as [b, s, kv, d]).
RefTensor present(const AttentionInputs &in, const RefTensor &fresh,
                  const RefTensor &old, int64_t d) {
  int64_t total = in.total(), kv = in.kvHeads;
  RefTensor out = RefTensor::filled({in.batch, kv, total, d}, 0.0);
  for (int64_t b = 0; b < in.batch; ++b)
    for (int64_t h = 0; h < kv; ++h)
      for (int64_t t = 0; t < total; ++t)
        for (int64_t i = 0; i < d; ++i)
          out.data[((b * kv + h) * total + t) * d + i] =
              t < in.past
                  ? old.data[((b * kv + h) * in.past + t) * d + i]
                  : fresh.data[((b * in.seq + (t - in.past)) * kv + h) * d + i];
  return out;
}

/// Softmax weights over the `total` positions for query (b, h, i); masked
/// positions weigh 0.
std::vector<double> attentionWeights(AttentionOp op, const AttentionInputs &in,
                                     const RefTensor &keys, double scale,
                                     int64_t b, int64_t h, int64_t i) {
  int64_t total = in.total(), kh = h / (in.heads / in.kvHeads), dim = in.dim;
  std::vector<double> scores(static_cast<size_t>(total), -INFINITY);
  double maxScore = -INFINITY;
  for (int64_t t = 0; t < total; ++t) {
    if ((op.getCausal() && t > in.past + i) ||
        (in.hasMask && in.mask.data[b * total + t] == 0.0))
      continue;
    double sc = 0;
    for (int64_t d = 0; d < dim; ++d)
      sc += in.q.data[((b * in.seq + i) * in.heads + h) * dim + d] *
            keys.data[((b * in.kvHeads + kh) * total + t) * dim + d];
    sc *= scale;
    if (in.hasBias) {
      int64_t bb = in.bias.shape[0] == 1 ? 0 : b;
      int64_t bh = in.bias.shape[1] == 1 ? 0 : h;
      sc += in.bias.data[((bb * in.bias.shape[1] + bh) * in.seq + i) * total + t];
    }
    scores[t] = sc;
    maxScore = std::max(maxScore, sc);
  }
  double sum = 0;
  for (double &sc : scores) {
    sc = std::isinf(sc) && sc < 0 ? 0.0 : std::exp(sc - maxScore);
    sum += sc;
  }
  for (double &sc : scores)
    sc /= sum;
  return scores;
}

/// Binds the output and both present caches; returns the requested one.
R attention(OpContext &ctx, AttentionOp op) {
  AttentionInputs in;
  if (failed(loadQkv(ctx, op, in)) || failed(loadMasks(ctx, op, in)))
    return failure();
  RefTensor keys = present(in, in.k, in.pastKey, in.dim);
  RefTensor values = present(in, in.v, in.pastValue, in.vDim);
  double scale = op.getScale() ? op.getScale()->convertToDouble()
                               : 1.0 / std::sqrt(static_cast<double>(in.dim));
  int64_t total = in.total(), vDim = in.vDim, kv = in.kvHeads;
  Type element = op.getOutput().getType().getElementType();
  RefTensor out = RefTensor::filled({in.batch, in.seq, in.heads, vDim}, 0.0);
  for (int64_t b = 0; b < in.batch; ++b)
    for (int64_t h = 0; h < in.heads; ++h)
      for (int64_t i = 0; i < in.seq; ++i) {
        std::vector<double> w = attentionWeights(op, in, keys, scale, b, h, i);
        int64_t kh = h / (in.heads / kv);
        for (int64_t d = 0; d < vDim; ++d) {
          double acc = 0;
          for (int64_t t = 0; t < total; ++t)
            acc += w[t] * values.data[((b * kv + kh) * total + t) * vDim + d];
          out.data[((b * in.seq + i) * in.heads + h) * vDim + d] =
              roundTo(element, acc);
        }
      }
  Value requested = ctx.getRequested();
  RefTensor result = requested == op.getOutput()       ? out
                     : requested == op.getPresentKey() ? keys
                                                       : values;
  ctx.bind(op.getOutput(), std::move(out));
  ctx.bind(op.getPresentKey(), std::move(keys));
  ctx.bind(op.getPresentValue(), std::move(values));
  return result;
}

} // namespace

Result evaluateLLM(OpContext &ctx) {
  return llvm::TypeSwitch<Operation *, Result>(ctx.getOp())
      .Case([&](EmbeddingOp) { return embedding(ctx); })
      .Case([&](RmsNormOp op) { return rmsNorm(ctx, op); })
      .Case([&](RotaryOp op) { return rotary(ctx, op); })
      .Case([&](AttentionOp op) { return attention(ctx, op); })
      .Default([](Operation *) { return std::nullopt; });
}

} // namespace mlir::qllm::ref
