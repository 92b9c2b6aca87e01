//===- ReferenceQuantized.cpp - quantized weights and their matmul --------===//
//
// A qllm.quantized_weight evaluates to its dequantized [rows, cols] matrix
// (unrounded doubles), unpacked with the plan's weight format
// (qrt/core/WeightFormat.h: code packing and the NF4 table, the format
// itself rather than any kernel).
//
//===----------------------------------------------------------------------===//

#include "ReferenceOps.h"

#include "qllm/IR/QLLMOps.h"
#include "qrt/core/WeightFormat.h"

#include "llvm/ADT/TypeSwitch.h"

#include <algorithm>
#include <cmath>
#include <vector>

using namespace mlir;
using namespace mlir::qllm;

namespace mlir::qllm::ref {
namespace {

using R = FailureOr<RefTensor>;

/// Row `row` of a [rows, width] tensor of byte values.
std::vector<uint8_t> bytesOf(const RefTensor &t, int64_t row) {
  int64_t width = t.shape[1];
  std::vector<uint8_t> bytes(static_cast<size_t>(width));
  for (int64_t i = 0; i < width; ++i)
    bytes[i] = static_cast<uint8_t>(t.data[row * width + i]);
  return bytes;
}

/// Evaluates `value` if the op has it.
LogicalResult optional(OpContext &ctx, Value value,
                       std::optional<RefTensor> &out) {
  if (!value)
    return success();
  FailureOr<RefTensor> t = ctx.evaluate(value);
  if (failed(t))
    return failure();
  out = std::move(*t);
  return success();
}

R dequantizeInt(OpContext &ctx, QuantizedWeightOp op, IntQuantAttr intq,
                const RefTensor &data, const RefTensor &scales) {
  int64_t rows = op.getType().getRows(), cols = op.getType().getCols();
  int64_t groups = scales.shape[1];
  int bits = static_cast<int>(intq.getBits());
  std::optional<RefTensor> zeros, gIdx;
  if (failed(optional(ctx, op.getZeroPoints(), zeros)) ||
      failed(optional(ctx, op.getGIdx(), gIdx)))
    return failure();
  RefTensor out = RefTensor::filled({rows, cols}, 0.0);
  for (int64_t r = 0; r < rows; ++r) {
    std::vector<uint8_t> packed = bytesOf(data, r), zeroBytes;
    if (zeros)
      zeroBytes = bytesOf(*zeros, r);
    for (int64_t c = 0; c < cols; ++c) {
      int64_t g = gIdx ? static_cast<int64_t>(gIdx->data[c])
                       : (intq.isPerChannel() ? 0 : c / intq.getGroupSize());
      if (g < 0 || g >= groups)
        return ctx.fail("g_idx entry out of range");
      double zero = zeros ? ::qrt::unpackCode(zeroBytes.data(), g, bits)
                          : ::qrt::implicitZeroPoint(bits);
      double code = ::qrt::unpackCode(packed.data(), c, bits);
      out.data[r * cols + c] = (code - zero) * scales.data[r * groups + g];
    }
  }
  return out;
}

/// tableUnit > 0: the code values rounded to multiples of 1 / tableUnit,
/// as int8_activations multiplies them.
R dequantizeFloat4(OpContext &ctx, QuantizedWeightOp op,
                   const ::qrt::Float4Scheme &scheme, const RefTensor &data,
                   const RefTensor &scales, double tableUnit) {
  if (scheme.doubleQuant)
    return ctx.fail("reference dequantization of double-quantized NF4 and "
                    "FP4 is not available yet");
  int64_t rows = op.getType().getRows(), cols = op.getType().getCols();
  int64_t groups = scales.shape[1];
  double table[16];
  for (int i = 0; i < 16; ++i) {
    table[i] = ::qrt::float4CodeValues(scheme.codes)[i];
    if (tableUnit > 0)
      table[i] = std::nearbyint(tableUnit * table[i]) / tableUnit;
  }
  RefTensor out = RefTensor::filled({rows, cols}, 0.0);
  for (int64_t r = 0; r < rows; ++r) {
    std::vector<uint8_t> packed = bytesOf(data, r);
    for (int64_t c = 0; c < cols; ++c)
      out.data[r * cols + c] = table[::qrt::unpackCode(packed.data(), c, 4)] *
                               scales.data[r * groups + c / scheme.blockSize];
  }
  return out;
}

R quantizedWeight(OpContext &ctx, QuantizedWeightOp op,
                  double tableUnit = 0) {
  FailureOr<RefTensor> data = ctx.evaluate(op.getData()),
                       scales = ctx.evaluate(op.getScales());
  if (failed(data) || failed(scales))
    return failure();
  Attribute scheme = op.getType().getScheme();
  if (auto intq = dyn_cast<IntQuantAttr>(scheme))
    return dequantizeInt(ctx, op, intq, *data, *scales);
  return dequantizeFloat4(ctx, op, *float4SchemeOf(scheme), *data, *scales,
                          tableUnit);
}

/// x [..., k] times the dequantized weight [n, k] transposed.
R dequantMatmul(OpContext &ctx) {
  auto op = cast<DequantMatmulOp>(ctx.getOp());
  // With int8_activations, NF4 and FP4 code values enter as
  // round(2047 * value) / 2047 (the op's description): their weight is
  // dequantized with that table instead of evaluated as it stands.
  FailureOr<RefTensor> x = ctx.operand(0), w = failure();
  if (op.getInt8Activations() &&
      !isa<IntQuantAttr>(op.getWeight().getType().getScheme())) {
    auto weight = op.getWeight().getDefiningOp<QuantizedWeightOp>();
    if (!weight)
      return ctx.fail("int8_activations of an NF4/FP4 weight that is not a "
                      "qllm.quantized_weight");
    w = quantizedWeight(ctx, weight, /*tableUnit=*/2047.0);
  } else {
    w = ctx.operand(1);
  }
  if (failed(x) || failed(w))
    return failure();
  int64_t n = w->shape[0], k = w->shape[1];
  if (x->shape.back() != k)
    return ctx.fail("dequant_matmul contraction mismatch");
  RefTensor out;
  out.shape = x->shape;
  out.shape.back() = n;
  int64_t rowsX = x->numElements() / std::max<int64_t>(k, 1);
  std::optional<APFloat> threshold = op.getOutlierThreshold();
  if (op.getInt8Activations()) {
    // The op's description: x rounded to 8 bits per block of 32 columns,
    // round(f32(x) * (127 / absmax)) (f32 product, ties to even) times
    // absmax / 127, multiplied with the dequantized weight (NF4, FP4: code
    // values rounded as above).
    std::vector<double> a(static_cast<size_t>(k));
    for (int64_t r = 0; r < rowsX; ++r) {
      for (int64_t l0 = 0; l0 < k; l0 += 32) {
        const int64_t l1 = std::min(k, l0 + 32);
        float absmax = 0.0f;
        for (int64_t l = l0; l < l1; ++l)
          absmax = std::max(
              absmax, std::fabs(static_cast<float>(x->data[r * k + l])));
        for (int64_t l = l0; l < l1; ++l)
          a[l] = absmax > 0.0f
                     ? std::nearbyint(static_cast<float>(x->data[r * k + l]) *
                                      (127.0f / absmax)) *
                           (static_cast<double>(absmax) / 127.0)
                     : 0.0;
      }
      for (int64_t j = 0; j < n; ++j) {
        double sum = 0;
        for (int64_t l = 0; l < k; ++l)
          sum += a[l] * w->data[j * k + l];
        out.data.push_back(ctx.round(sum));
      }
    }
    return out;
  }
  if (!threshold) {
    for (int64_t r = 0; r < rowsX; ++r)
      for (int64_t j = 0; j < n; ++j) {
        double sum = 0;
        for (int64_t l = 0; l < k; ++l)
          sum += x->data[r * k + l] * w->data[j * k + l];
        out.data.push_back(ctx.round(sum));
      }
    return out;
  }
  // LLM.int8() (the op's description): outlier columns over every row of x;
  // each row's absmax without the outlier elements; 8-bit activations
  // round(f32(x) * (127 / absmax)) (f32 product, ties to even), 0 in
  // outlier columns; their products with the dequantized weight scaled by
  // absmax / 127, plus the outlier columns' products in full.
  const float t = threshold->convertToFloat();
  std::vector<bool> outlier(static_cast<size_t>(k), false);
  for (int64_t r = 0; r < rowsX; ++r)
    for (int64_t l = 0; l < k; ++l)
      if (t > 0.0f && std::fabs(static_cast<float>(x->data[r * k + l])) >= t)
        outlier[l] = true;
  for (int64_t r = 0; r < rowsX; ++r) {
    float absmax = 0.0f;
    for (int64_t l = 0; l < k; ++l) {
      float v = std::fabs(static_cast<float>(x->data[r * k + l]));
      if (!(t > 0.0f && v >= t))
        absmax = std::max(absmax, v);
    }
    std::vector<double> a(static_cast<size_t>(k), 0.0);
    for (int64_t l = 0; l < k && absmax > 0.0f; ++l)
      if (!outlier[l])
        a[l] = std::nearbyint(static_cast<float>(x->data[r * k + l]) *
                              (127.0f / absmax));
    for (int64_t j = 0; j < n; ++j) {
      double quantized = 0, floats = 0;
      for (int64_t l = 0; l < k; ++l) {
        quantized += a[l] * w->data[j * k + l];
        if (outlier[l])
          floats += x->data[r * k + l] * w->data[j * k + l];
      }
      out.data.push_back(
          ctx.round(quantized * (static_cast<double>(absmax) / 127.0) + floats));
    }
  }
  return out;
}

} // namespace

Result evaluateQuantized(OpContext &ctx) {
  return llvm::TypeSwitch<Operation *, Result>(ctx.getOp())
      .Case([&](QuantizedWeightOp op) { return quantizedWeight(ctx, op); })
      .Case([&](DequantizeOp) -> R {
        FailureOr<RefTensor> w = ctx.operand(0);
        if (failed(w))
          return failure();
        return ctx.rounded(*w);
      })
      .Case([&](DequantMatmulOp) { return dequantMatmul(ctx); })
      .Default([](Operation *) { return std::nullopt; });
}

} // namespace mlir::qllm::ref
