//===- ContribOps.cpp - converters of ONNX Runtime contrib ops ------------===//
//
// The ops of ONNX Runtime GenAI exports (semantics of ONNX Runtime 1.20-1.22,
// CPU): SimplifiedLayerNormalization (ONNX domain), and in com.microsoft
// SkipSimplifiedLayerNormalization, RotaryEmbedding, MultiHeadAttention,
// GroupQueryAttention and MatMulNBits. They map straight onto LLM-level qllm
// ops; MatMulNBits imports as a quantized weight, not dequantized.
//
//===----------------------------------------------------------------------===//

#include "ImportContext.h"

#include "qllm/IR/Weightless.h"
#include "mlir/IR/DialectResourceBlobManager.h"

#include <cstring>

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectResourceBlobManager.h"

#include <cmath>

using namespace mlir;
using namespace mlir::qllm;
using namespace mlir::qllm::onnx_import;

namespace {

/// Reshapes `value` by a constant ONNX shape (0 copies a dimension); the
/// result type follows from it.
Value reshapeTo(ImportContext &ctx, Value value, ArrayRef<int64_t> shape) {
  auto type = rankedType(value);
  SmallVector<int64_t> dims;
  for (auto [i, v] : llvm::enumerate(shape))
    dims.push_back(v == 0 ? type.getDimSize(i) : v);
  return ReshapeOp::create(ctx.b, ctx.loc,
                           ctx.tensorType(dims, type.getElementType()), value,
                           ctx.constantI64(shape));
}

Value transposeTo(ImportContext &ctx, Value value, ArrayRef<int64_t> perm) {
  auto type = rankedType(value);
  SmallVector<int64_t> dims;
  for (int64_t p : perm)
    dims.push_back(type.getDimSize(p));
  return TransposeOp::create(ctx.b, ctx.loc,
                             ctx.tensorType(dims, type.getElementType()), value,
                             ctx.b.getDenseI64ArrayAttr(perm));
}

/// Positions [1, seq] = offset + 0..seq-1, for ops that take an offset (a
/// scalar or 1-element position_ids, or the past length).
Value positionsFromOffset(ImportContext &ctx, Value offset, Value ofSequence,
                          int64_t seqAxis) {
  Type i64 = ctx.b.getI64Type();
  auto scalar = ctx.tensorType({}, i64);
  int64_t rank = rankedType(ofSequence).getRank();
  Value shape = ShapeOfOp::create(ctx.b, ctx.loc, ctx.tensorType({rank}, i64),
                                  ofSequence);
  Value seq = GatherOp::create(ctx.b, ctx.loc, scalar, shape,
                               ctx.constantI64({seqAxis}, /*scalar=*/true), 0);
  int64_t seqLength = rankedType(ofSequence).getDimSize(seqAxis);
  if (rankedType(offset).getRank() != 0)
    offset = ReshapeOp::create(ctx.b, ctx.loc, scalar, offset, Value());
  if (rankedType(offset).getElementType() != i64)
    offset = CastOp::create(ctx.b, ctx.loc, scalar, offset);
  Value zero = ctx.constantI64({0}, true), one = ctx.constantI64({1}, true);
  Value range = RangeOp::create(ctx.b, ctx.loc, ctx.tensorType({seqLength}, i64),
                                zero, seq, one);
  Value positions = AddOp::create(ctx.b, ctx.loc,
                                  ctx.tensorType({seqLength}, i64), range, offset);
  return UnsqueezeOp::create(ctx.b, ctx.loc, ctx.tensorType({1, seqLength}, i64),
                             positions, ctx.b.getDenseI64ArrayAttr({0}));
}

//===----------------------------------------------------------------------===//
// Normalization
//===----------------------------------------------------------------------===//

/// RMSNorm over the last axis, with `scale` flattened to 1-D.
FailureOr<Value> rmsNorm(ImportContext &ctx, Value input, Value scale,
                         float epsilon) {
  auto it = rankedType(input);
  auto st = rankedType(scale);
  if (st.getRank() != 1) {
    if (!st.hasStaticShape())
      return ctx.error() << "needs a scale of static shape";
    scale = ReshapeOp::create(
        ctx.b, ctx.loc, ctx.tensorType({st.getNumElements()}, st.getElementType()),
        scale, Value());
  }
  return Value(RmsNormOp::create(ctx.b, ctx.loc, it, input, scale,
                                 ctx.b.getF32FloatAttr(epsilon)));
}

LogicalResult convertSimplifiedLayerNorm(ImportContext &ctx) {
  FailureOr<Value> input = ctx.requiredInput(0), scale = ctx.requiredInput(1);
  if (failed(input) || failed(scale))
    return failure();
  int64_t rank = rankedType(*input).getRank();
  FailureOr<int64_t> axis = ctx.normalizeAxis(ctx.intAttr("axis", -1), rank);
  if (failed(axis))
    return failure();
  if (*axis != rank - 1)
    return ctx.error() << "normalizes from axis " << *axis
                       << "; only the last axis is supported";
  if (ctx.hasOutput(1))
    return ctx.error() << "output 1 (inv_std_var) is not supported";
  FailureOr<Value> y = rmsNorm(ctx, *input, *scale, ctx.floatAttr("epsilon", 1e-5f));
  if (failed(y))
    return failure();
  ctx.setOutput(0, *y);
  return success();
}

LogicalResult convertSkipSimplifiedLayerNorm(ImportContext &ctx) {
  FailureOr<Value> input = ctx.requiredInput(0), skip = ctx.requiredInput(1),
                   gamma = ctx.requiredInput(2);
  if (failed(input) || failed(skip) || failed(gamma))
    return failure();
  if (ctx.hasOutput(1) || ctx.hasOutput(2))
    return ctx.error() << "outputs 1 and 2 (mean, inv_std_var) are not "
                          "supported (ONNX Runtime's CPU kernel never writes "
                          "them)";
  auto type = rankedType(*input);
  Value sum = AddOp::create(ctx.b, ctx.loc, type, *input, *skip);
  if (Value bias = ctx.input(3))
    sum = AddOp::create(ctx.b, ctx.loc, type, sum, bias);
  FailureOr<Value> y =
      rmsNorm(ctx, sum, *gamma, ctx.floatAttr("epsilon", 1e-12f));
  if (failed(y))
    return failure();
  ctx.setOutput(0, *y);
  ctx.setOutput(3, sum);
  return success();
}

//===----------------------------------------------------------------------===//
// Rotary embedding
//===----------------------------------------------------------------------===//

/// Applies qllm.rotary to a [batch, seq, heads, head_dim] tensor.
Value rotary(ImportContext &ctx, Value x, Value positions, Value cos, Value sin,
             bool interleaved, int64_t rotaryDim) {
  int64_t headDim = rankedType(x).getDimSize(3);
  IntegerAttr dimAttr;
  if (rotaryDim > 0 && rotaryDim != headDim)
    dimAttr = ctx.b.getI64IntegerAttr(rotaryDim);
  return RotaryOp::create(ctx.b, ctx.loc, x.getType(),
                          interleaved ? RotaryConvention::interleaved
                                      : RotaryConvention::rotate_half,
                          x, positions, cos, sin, /*base=*/FloatAttr(), dimAttr);
}

LogicalResult convertRotaryEmbedding(ImportContext &ctx) {
  FailureOr<Value> input = ctx.requiredInput(0),
                   positionIds = ctx.requiredInput(1),
                   cos = ctx.requiredInput(2), sin = ctx.requiredInput(3);
  if (failed(input) || failed(positionIds) || failed(cos) || failed(sin))
    return failure();
  if (ctx.intAttr("is_packed_batching", 0))
    return ctx.error() << "packed batching is not supported";
  auto it = rankedType(*input);
  auto ct = rankedType(*cos);
  if (ct.getRank() != 2 || isDynamic(ct.getDimSize(1)))
    return ctx.error() << "needs 2-D cos/sin caches of static width";
  int64_t numHeads = ctx.intAttr("num_heads", 0);
  int64_t rotaryDim = ctx.intAttr("rotary_embedding_dim", 0);
  int64_t hidden;
  bool is3d = it.getRank() == 3;
  if (is3d)
    hidden = it.getDimSize(2);
  else if (it.getRank() == 4)
    hidden = isDynamic(it.getDimSize(1)) || isDynamic(it.getDimSize(3))
                 ? ShapedType::kDynamic
                 : it.getDimSize(1) * it.getDimSize(3);
  else
    return ctx.error() << "input must be 3-D [batch, seq, hidden] or 4-D "
                          "[batch, heads, seq, head_size]";
  if (isDynamic(hidden))
    return ctx.error() << "needs a static hidden size";
  int64_t headSize;
  if (rotaryDim == 0) {
    headSize = 2 * ct.getDimSize(1);
    if (numHeads == 0)
      numHeads = hidden / headSize;
    rotaryDim = headSize;
  } else {
    if (numHeads <= 0)
      return ctx.error() << "rotary_embedding_dim needs num_heads";
    headSize = hidden / numHeads;
    if (2 * ct.getDimSize(1) != rotaryDim)
      return ctx.error() << "needs cos/sin caches of width rotary_dim/2 = "
                         << rotaryDim / 2;
  }
  if (headSize <= 0 || numHeads * headSize != hidden || rotaryDim > headSize)
    return ctx.error() << "cannot split hidden size " << hidden << " into "
                       << numHeads << " heads of " << headSize;

  Value x = *input;
  if (is3d)
    x = reshapeTo(ctx, x, {0, 0, numHeads, headSize});
  else
    x = transposeTo(ctx, x, {0, 2, 1, 3});
  Value positions = *positionIds;
  auto pt = rankedType(positions);
  if (pt.getRank() == 0 || (pt.getRank() == 1 && pt.getDimSize(0) == 1))
    positions = positionsFromOffset(ctx, positions, x, 1);
  else if (pt.getRank() != 2)
    return ctx.error() << "position_ids must be [batch, seq] or one offset";
  Value y = rotary(ctx, x, positions, *cos, *sin,
                   ctx.intAttr("interleaved", 0) != 0, rotaryDim);
  if (is3d)
    y = reshapeTo(ctx, y, {0, 0, hidden});
  else
    y = transposeTo(ctx, y, {0, 2, 1, 3});
  ctx.setOutput(0, y);
  return success();
}

//===----------------------------------------------------------------------===//
// Attention
//===----------------------------------------------------------------------===//

/// [batch, seq, heads * size] -> [batch, seq, heads, size].
FailureOr<Value> splitHeads(ImportContext &ctx, Value value, int64_t heads,
                            StringRef what) {
  auto type = rankedType(value);
  if (type.getRank() != 3)
    return ctx.error() << what << " must be 3-D [batch, seq, hidden]";
  int64_t hidden = type.getDimSize(2);
  if (isDynamic(hidden) || heads <= 0 || hidden % heads != 0)
    return ctx.error() << what << " hidden size " << hidden
                       << " does not split into " << heads << " heads";
  return reshapeTo(ctx, value, {0, 0, heads, hidden / heads});
}

/// Creates qllm.attention on q/k/v in [b, s, h, d] (scale: the node's
/// `scale` attribute, 1/sqrt(head_dim) when absent) and binds the node's
/// outputs: the attention merged back to [b, s, h * d_v], then the presents.
void emitAttention(ImportContext &ctx, Value q, Value k, Value v,
                   Value pastKey, Value pastValue, Value mask, Value bias,
                   bool causal) {
  auto qt = rankedType(q), kt = rankedType(k), vt = rankedType(v);
  int64_t batch = qt.getDimSize(0), seq = qt.getDimSize(1);
  int64_t past = pastKey ? rankedType(pastKey).getDimSize(2) : 0;
  int64_t total = isDynamic(past) || isDynamic(seq) ? ShapedType::kDynamic
                                                    : past + seq;
  Type element = qt.getElementType();
  auto output = ctx.tensorType(
      {batch, seq, qt.getDimSize(2), vt.getDimSize(3)}, element);
  auto presentKey = ctx.tensorType(
      {batch, kt.getDimSize(2), total, kt.getDimSize(3)}, element);
  auto presentValue = ctx.tensorType(
      {batch, kt.getDimSize(2), total, vt.getDimSize(3)}, element);
  float scale = ctx.floatAttr("scale", 0.0f);
  if (scale == 0.0f)
    scale = 1.0f / std::sqrt(static_cast<float>(qt.getDimSize(3)));
  auto attention = AttentionOp::create(
      ctx.b, ctx.loc, output, presentKey, presentValue, q, k, v, pastKey,
      pastValue, mask, bias, ctx.b.getF32FloatAttr(scale), causal);
  ctx.setOutput(0, reshapeTo(ctx, attention.getOutput(),
                             {0, 0, qt.getDimSize(2) * vt.getDimSize(3)}));
  ctx.setOutput(1, attention.getPresentKey());
  ctx.setOutput(2, attention.getPresentValue());
}

LogicalResult convertMultiHeadAttention(ImportContext &ctx) {
  FailureOr<Value> query = ctx.requiredInput(0), key = ctx.requiredInput(1),
                   value = ctx.requiredInput(2);
  if (failed(query) || failed(key) || failed(value))
    return failure();
  if (ctx.input(3))
    return ctx.error() << "the packed q/k/v bias input is not supported";
  if (ctx.input(8) || ctx.input(9))
    return ctx.error() << "past_sequence_length and cache_indirection are not "
                          "supported";
  if (ctx.hasOutput(3))
    return ctx.error() << "output 3 (qk) is not supported";
  int64_t heads = ctx.intAttr("num_heads", 0);
  if (rankedType(*key).getRank() != 3 || rankedType(*value).getRank() != 3)
    return ctx.error() << "4-D (cross-attention) keys and values are not "
                          "supported";
  FailureOr<Value> q = splitHeads(ctx, *query, heads, "query");
  FailureOr<Value> k = splitHeads(ctx, *key, heads, "key");
  FailureOr<Value> v = splitHeads(ctx, *value, heads, "value");
  if (failed(q) || failed(k) || failed(v))
    return failure();
  int64_t qSeq = rankedType(*q).getDimSize(1), kSeq = rankedType(*k).getDimSize(1);
  if (!isDynamic(qSeq) && !isDynamic(kSeq) && qSeq != kSeq)
    return ctx.error() << "keys of another length than the queries "
                          "(cross-attention) are not supported";
  Value pastKey = ctx.input(6), pastValue = ctx.input(7);
  if ((pastKey != nullptr) != (pastValue != nullptr))
    return ctx.error() << "past_key and past_value come together";
  Value mask = ctx.input(4);
  if (mask && rankedType(mask).getRank() != 2)
    return ctx.error() << "a key_padding_mask other than [batch, total] is "
                          "not supported";
  emitAttention(ctx, *q, *k, *v, pastKey, pastValue, mask,
                /*bias=*/ctx.input(5), ctx.intAttr("unidirectional", 0) != 0);
  return success();
}

LogicalResult convertGroupQueryAttention(ImportContext &ctx) {
  FailureOr<Value> query = ctx.requiredInput(0);
  if (failed(query))
    return failure();
  Value key = ctx.input(1), value = ctx.input(2);
  int64_t heads = ctx.intAttr("num_heads", 0);
  int64_t kvHeads = ctx.intAttr("kv_num_heads", 0);
  if (!key != !value)
    return ctx.error() << "key and value come together (or neither, for "
                          "packed q/k/v)";
  if (!key) {
    // Packed: query is [batch, seq, (num_heads + 2 kv_num_heads) head_size],
    // q then k then v. Slices of it (qllm-split-projections turns a fused
    // projection read this way into three).
    auto qt = rankedType(*query);
    int64_t width = qt.getRank() == 3 ? qt.getDimSize(2) : ShapedType::kDynamic;
    int64_t parts = heads + 2 * kvHeads;
    if (heads <= 0 || kvHeads <= 0 || isDynamic(width) || width % parts)
      return ctx.error() << "packed q/k/v of width " << width
                         << " does not split into " << heads << " + 2 x "
                         << kvHeads << " heads";
    int64_t size = width / parts;
    Value packed = *query;
    auto slice = [&](int64_t begin, int64_t count) -> Value {
      return SliceOp::create(
          ctx.b, ctx.loc,
          ctx.tensorType({qt.getDimSize(0), qt.getDimSize(1), count},
                         qt.getElementType()),
          packed, ArrayRef<int64_t>{2}, ArrayRef<int64_t>{begin},
          ArrayRef<int64_t>{begin + count}, ArrayRef<int64_t>{1});
    };
    *query = slice(0, heads * size);
    key = slice(heads * size, kvHeads * size);
    value = slice((heads + kvHeads) * size, kvHeads * size);
  }
  if (ctx.intAttr("local_window_size", -1) != -1)
    return ctx.error() << "local (sliding window) attention is not supported";
  if (ctx.floatAttr("softcap", 0.0f) != 0.0f)
    return ctx.error() << "softcap is not supported";
  if (ctx.intAttr("smooth_softmax", -1) == 1)
    return ctx.error() << "smooth_softmax is not supported";
  FailureOr<Value> q = splitHeads(ctx, *query, heads, "query");
  FailureOr<Value> k = splitHeads(ctx, key, kvHeads, "key");
  FailureOr<Value> v = splitHeads(ctx, value, kvHeads, "value");
  if (failed(q) || failed(k) || failed(v))
    return failure();
  // The past buffers must hold exactly the past (ONNX Runtime's non-shared
  // mode, rows of equal length); seqlens_k and total_sequence_length then
  // carry no further information. Nothing at import time can check that.
  ctx.warnOnce("GroupQueryAttention imports assuming batch rows of equal "
               "length and past buffers that hold exactly the past; "
               "seqlens_k and total_sequence_length are not read");
  Value pastKey = ctx.input(3), pastValue = ctx.input(4);
  if ((pastKey != nullptr) != (pastValue != nullptr))
    return ctx.error() << "past_key and past_value come together";
  if (ctx.intAttr("do_rotary", 0)) {
    Value cos = ctx.input(7), sin = ctx.input(8);
    if (!cos || !sin)
      return ctx.error() << "do_rotary needs cos_cache and sin_cache";
    Value positions = ctx.input(9);
    if (positions) {
      // ONNX Runtime rotates token s by position_ids[b, 0] + s (it reads
      // only the first id of a row).
      auto pt = rankedType(positions);
      if (pt.getRank() != 2)
        return ctx.error() << "position_ids must be [batch, seq]";
      Type i64 = ctx.b.getI64Type();
      Value first = SliceOp::create(
          ctx.b, ctx.loc, ctx.tensorType({pt.getDimSize(0), 1}, i64), positions,
          ArrayRef<int64_t>{1}, ArrayRef<int64_t>{0}, ArrayRef<int64_t>{1},
          ArrayRef<int64_t>{1});
      Value steps = positionsFromOffset(ctx, ctx.constantI64({0}, true), *q, 1);
      positions = AddOp::create(
          ctx.b, ctx.loc,
          ctx.tensorType({pt.getDimSize(0), rankedType(steps).getDimSize(1)}, i64),
          first, steps);
    } else {
      Value past = pastKey ? Value(GatherOp::create(
                                 ctx.b, ctx.loc,
                                 ctx.tensorType({}, ctx.b.getI64Type()),
                                 ShapeOfOp::create(ctx.b, ctx.loc,
                                                   ctx.tensorType({4}, ctx.b.getI64Type()),
                                                   pastKey),
                                 ctx.constantI64({2}, true), 0))
                           : ctx.constantI64({0}, true);
      positions = positionsFromOffset(ctx, past, *q, 1);
    }
    int64_t rotaryDim = 2 * rankedType(cos).getDimSize(1);
    bool interleaved = ctx.intAttr("rotary_interleaved", 0) != 0;
    *q = rotary(ctx, *q, positions, cos, sin, interleaved, rotaryDim);
    *k = rotary(ctx, *k, positions, cos, sin, interleaved, rotaryDim);
  }
  emitAttention(ctx, *q, *k, *v, pastKey, pastValue, /*mask=*/Value(),
                /*bias=*/ctx.input(10), /*causal=*/true);
  return success();
}

//===----------------------------------------------------------------------===//
// MatMulNBits
//===----------------------------------------------------------------------===//

/// The same initializer seen with another static shape (no copy of a weight
/// blob).
FailureOr<Value> reshapeWeight(ImportContext &ctx, Value value,
                               ArrayRef<int64_t> shape, StringRef what) {
  auto type = rankedType(value);
  auto newType = ctx.tensorType(shape, type.getElementType());
  if (newType.getNumElements() != type.getNumElements())
    return ctx.error() << what << " has " << type.getNumElements()
                       << " elements where " << newType.getNumElements()
                       << " are expected";
  if (newType == type)
    return value;
  if (auto constant = value.getDefiningOp<ConstantOp>())
    return Value(ConstantOp::create(
        ctx.b, ctx.loc, cast<DenseElementsAttr>(constant.getValue()).reshape(newType)));
  auto weight = value.getDefiningOp<WeightOp>();
  auto resource =
      weight ? dyn_cast<DenseResourceElementsAttr>(weight.getValue()) : nullptr;
  if (!resource)
    return ctx.error() << what << " must be an initializer";
  auto attr = DenseResourceElementsAttr::get(newType, resource.getRawHandle());
  return Value(WeightOp::create(ctx.b, ctx.loc, weight.getName(), attr));
}

/// The first `keep` bytes of each row of a [rows, bytes] ui8 initializer,
/// as a new weight (weightless modules: a weightless one).
FailureOr<Value> dropRowPadding(ImportContext &ctx, Value value, int64_t keep,
                                StringRef what) {
  auto weight = value.getDefiningOp<WeightOp>();
  auto resource =
      weight ? dyn_cast<DenseResourceElementsAttr>(weight.getValue()) : nullptr;
  if (!resource)
    return ctx.error() << what << " must be an initializer";
  auto type = rankedType(value);
  int64_t rows = type.getDimSize(0), bytes = type.getDimSize(1);
  auto newType = ctx.tensorType({rows, keep}, type.getElementType());
  AsmResourceBlob blob;
  if (isWeightless(weight)) {
    blob = zeroBlob(static_cast<size_t>(rows * keep), 1);
  } else {
    AsmResourceBlob *source = resource.getRawHandle().getBlob();
    if (!source || static_cast<int64_t>(source->getData().size()) != rows * bytes)
      return ctx.error() << what << " has no data";
    blob = HeapAsmResourceBlob::allocate(static_cast<size_t>(rows * keep), 1,
                                         /*dataIsMutable=*/true);
    const char *in = source->getData().data();
    char *out = blob.getMutableData().data();
    for (int64_t r = 0; r < rows; ++r)
      std::memcpy(out + r * keep, in + r * bytes, static_cast<size_t>(keep));
  }
  std::string name = (weight.getName() + ".unpadded").str();
  auto attr = DenseResourceElementsAttr::get(newType, name, std::move(blob));
  return Value(WeightOp::create(ctx.b, ctx.loc, weight.getName(), attr));
}

LogicalResult convertMatMulNBits(ImportContext &ctx) {
  FailureOr<Value> a = ctx.requiredInput(0), b = ctx.requiredInput(1),
                   scales = ctx.requiredInput(2);
  if (failed(a) || failed(b) || failed(scales))
    return failure();
  int64_t k = ctx.intAttr("K", 0), n = ctx.intAttr("N", 0);
  int64_t bits = ctx.intAttr("bits", 4), blockSize = ctx.intAttr("block_size", 0);
  if (k <= 0 || n <= 0 || blockSize <= 0)
    return ctx.error() << "needs positive K, N and block_size attributes";
  if (bits != 2 && bits != 3 && bits != 4 && bits != 8)
    return ctx.error() << bits << "-bit weights are not supported";
  int64_t blocks = (k + blockSize - 1) / blockSize;
  int64_t blobSize = (blockSize * bits + 7) / 8;
  int64_t rowBytes = (k * bits + 7) / 8;
  bool padded = blocks * blobSize != rowBytes;
  // A K that is not a multiple of block_size pads the last block (B is
  // [N, ceil(K / block_size), blob_size]). Where blocks pack whole bytes,
  // each row is one bit stream and its first K codes are the row of our
  // layout: the padding is dropped (a copy of B).
  if (padded && (blockSize * bits) % 8 != 0)
    return ctx.error() << "K = " << k << " is not a multiple of block_size "
                       << blockSize << " and " << bits << "-bit blocks of "
                       << blockSize << " do not fill whole bytes";
  auto at = rankedType(*a);
  Type element = at.getElementType();
  if (at.getRank() < 1 || (!isDynamic(at.getShape().back()) && at.getShape().back() != k))
    return ctx.error() << "input A must end in K = " << k;
  if (rankedType(*scales).getElementType() != element)
    return ctx.error() << "scales must have A's element type";

  FailureOr<Value> data =
      reshapeWeight(ctx, *b, {n, blocks * blobSize}, "B");
  if (succeeded(data) && padded)
    data = dropRowPadding(ctx, *data, rowBytes, "B");
  FailureOr<Value> scaleWeight = reshapeWeight(ctx, *scales, {n, blocks}, "scales");
  if (failed(data) || failed(scaleWeight))
    return failure();
  Value zeroPoints;
  if (Value zp = ctx.input(3)) {
    if (!rankedType(zp).getElementType().isUnsignedInteger(8))
      return ctx.error() << "floating-point zero points are not supported";
    FailureOr<Value> packed =
        reshapeWeight(ctx, zp, {n, (blocks * bits + 7) / 8}, "zero_points");
    if (failed(packed))
      return failure();
    zeroPoints = *packed;
  }
  Value gIdx = ctx.input(4);
  if (gIdx && rankedType(gIdx).getShape() != ArrayRef<int64_t>{k})
    return ctx.error() << "g_idx must be [K]";

  auto scheme = IntQuantAttr::get(ctx.getContext(), static_cast<unsigned>(bits),
                                  blockSize, /*symmetric=*/!zeroPoints,
                                  /*act_order=*/gIdx != nullptr,
                                  cast<FloatType>(element));
  auto qtype = QTensorType::get(ctx.getContext(), {n, k}, scheme);
  std::string name = ctx.node->input(1);
  Value weight = QuantizedWeightOp::create(ctx.b, ctx.loc, qtype, name, *data,
                                           *scaleWeight, zeroPoints, gIdx,
                                           Value(), Value());
  SmallVector<int64_t> shape(at.getShape());
  shape.back() = n;
  auto resultType = ctx.tensorType(shape, element);
  Value y = DequantMatmulOp::create(ctx.b, ctx.loc, resultType, *a, weight,
                                    /*outlier_threshold=*/FloatAttr());
  if (Value bias = ctx.input(5))
    y = AddOp::create(ctx.b, ctx.loc, resultType, y, bias);
  ctx.setOutput(0, y);
  return success();
}

} // namespace

void mlir::qllm::onnx_import::registerContribConverters(
    llvm::StringMap<Converter> &table) {
  // ONNX Runtime registers SimplifiedLayerNormalization in the ONNX domain.
  table[":SimplifiedLayerNormalization"] = convertSimplifiedLayerNorm;
  table["com.microsoft:SkipSimplifiedLayerNormalization"] =
      convertSkipSimplifiedLayerNorm;
  table["com.microsoft:RotaryEmbedding"] = convertRotaryEmbedding;
  table["com.microsoft:MultiHeadAttention"] = convertMultiHeadAttention;
  table["com.microsoft:GroupQueryAttention"] = convertGroupQueryAttention;
  table["com.microsoft:MatMulNBits"] = convertMatMulNBits;
}
