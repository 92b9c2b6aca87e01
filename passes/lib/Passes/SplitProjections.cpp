//===- SplitProjections.cpp - fused projections -> one matmul per part ----===//
//
// ONNX Runtime GenAI's model builder fuses q, k and v into one projection
// (`qkv_proj`: one MatMul or MatMulNBits whose output GroupQueryAttention
// splits), and others fuse gate and up. The runtime runs a matmul per step
// and has no strided slice of activations, and quantization and sharding
// work per matrix: each slice of the last axis of a projection by constant
// bounds becomes its own projection over the matching columns of the
// weight (rows of a quantized [N, K] weight), held in a new weight named
// `<weight>[a:b]`. The fused projection goes once nothing else reads it.
//
//===----------------------------------------------------------------------===//

#include "quant/Passes/Passes.h"

#include "qllm/IR/QLLMAttrs.h"
#include "qllm/IR/QLLMOps.h"
#include "qllm/IR/Weightless.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/DialectResourceBlobManager.h"

#include <string>

namespace mlir::qllm {
#define GEN_PASS_DEF_QLLMSPLITPROJECTIONSPASS
#include "quant/Passes/Passes.h.inc"
} // namespace mlir::qllm

using namespace mlir;
using namespace mlir::qllm;

namespace {

/// A slice [begin, end) of the last axis, with step 1 and bounds clamped.
struct Part {
  SliceOp slice;
  int64_t begin = 0, end = 0;
};

/// The slices of `value`'s last axis (every user must be one), or nullopt.
std::optional<SmallVector<Part>> partsOf(Value value, int64_t width) {
  SmallVector<Part> parts;
  int64_t rank = cast<RankedTensorType>(value.getType()).getRank();
  for (Operation *user : value.getUsers()) {
    auto slice = dyn_cast<SliceOp>(user);
    if (!slice || slice.getAxes() != ArrayRef<int64_t>{rank - 1} ||
        slice.getSteps() != ArrayRef<int64_t>{1})
      return std::nullopt;
    int64_t begin = SliceOp::getStartIndex(width, slice.getStarts()[0], 1);
    int64_t count =
        SliceOp::getResultDimSize(width, slice.getStarts()[0], slice.getEnds()[0], 1);
    if (count <= 0)
      return std::nullopt;
    parts.push_back({slice, begin, begin + count});
  }
  if (parts.empty())
    return std::nullopt;
  return parts;
}

/// The bytes of a weight op's blob (empty when weightless or inline).
ArrayRef<char> bytesOf(WeightOp weight) {
  auto resource = dyn_cast<DenseResourceElementsAttr>(weight.getValue());
  AsmResourceBlob *blob = resource ? resource.getRawHandle().getBlob() : nullptr;
  return blob ? blob->getData() : ArrayRef<char>();
}

/// Bytes per element of a stored component type.
int64_t elementBytes(Type element) {
  return std::max<int64_t>(1, element.getIntOrFloatBitWidth() / 8);
}

/// A new weight `name` of `type` whose row r, byte range [c0, c0 + n) of
/// each row, copies `source` ([rows, rowBytes]) rows r0.., bytes c0.. .
/// With `byColumns`, the copy takes a column range of every row instead.
FailureOr<Value> sliceWeight(OpBuilder &builder, WeightOp source,
                             RankedTensorType type, int64_t rowBegin,
                             int64_t rowCount, int64_t byteBegin,
                             int64_t byteCount, const Twine &name) {
  auto sourceType = cast<RankedTensorType>(source.getType());
  int64_t rows = sourceType.getDimSize(0);
  int64_t rowBytes = sourceType.getNumElements() / rows *
                     elementBytes(sourceType.getElementType());
  size_t alignment = static_cast<size_t>(elementBytes(type.getElementType()));
  std::string key = name.str();
  AsmResourceBlob blob;
  if (isWeightless(source)) {
    blob = zeroBlob(static_cast<size_t>(rowCount * byteCount), alignment);
  } else {
    ArrayRef<char> bytes = bytesOf(source);
    if (static_cast<int64_t>(bytes.size()) != rows * rowBytes)
      return source.emitError()
             << "weight '" << source.getName()
             << "' has no data to split (inline or missing)";
    blob = HeapAsmResourceBlob::allocate(
        static_cast<size_t>(rowCount * byteCount), alignment,
        /*dataIsMutable=*/true);
    char *out = blob.getMutableData().data();
    for (int64_t r = 0; r < rowCount; ++r)
      std::memcpy(out + r * byteCount,
                  bytes.data() + (rowBegin + r) * rowBytes + byteBegin,
                  static_cast<size_t>(byteCount));
  }
  auto attr = DenseResourceElementsAttr::get(type, key, std::move(blob));
  return Value(WeightOp::create(builder, source.getLoc(), key, attr));
}

std::string partName(StringRef weight, const Part &part) {
  return (weight + "[" + Twine(part.begin) + ":" + Twine(part.end) + "]").str();
}

/// matmul(x, W [K, N]) read only through slices of its last axis.
LogicalResult splitMatmul(MatmulOp matmul) {
  auto weight = matmul.getRhs().getDefiningOp<WeightOp>();
  auto wType = cast<RankedTensorType>(matmul.getRhs().getType());
  if (!weight || wType.getRank() != 2 || matmul.getTransposeRhs() ||
      !wType.hasStaticShape())
    return success();
  int64_t k = wType.getDimSize(0), n = wType.getDimSize(1);
  std::optional<SmallVector<Part>> parts = partsOf(matmul.getResult(), n);
  if (!parts)
    return success();
  int64_t width = elementBytes(wType.getElementType());
  OpBuilder builder(matmul);
  for (Part &part : *parts) {
    int64_t cols = part.end - part.begin;
    auto type = RankedTensorType::get({k, cols}, wType.getElementType());
    // Columns of a row-major [K, N] matrix: a byte range of every row.
    FailureOr<Value> w =
        sliceWeight(builder, weight, type, 0, k, part.begin * width,
                    cols * width, partName(weight.getName(), part));
    if (failed(w))
      return failure();
    Value y = MatmulOp::create(builder, matmul.getLoc(), part.slice.getType(),
                               matmul.getLhs(), *w, /*transpose_rhs=*/false);
    part.slice.replaceAllUsesWith(y);
    part.slice.erase();
  }
  matmul.erase();
  if (weight->use_empty())
    weight.erase();
  return success();
}

/// dequant_matmul(x, quantized_weight [N, K]) read only through slices:
/// rows of each stored component (codes, scales, zero points).
LogicalResult splitDequantMatmul(DequantMatmulOp op) {
  auto q = op.getWeight().getDefiningOp<QuantizedWeightOp>();
  if (!q || op.getOutlierThresholdAttr() || q.getGIdx() ||
      q.getDoubleQuantScales())
    return success();
  auto qtype = cast<QTensorType>(q.getType());
  int64_t n = qtype.getShape()[0], k = qtype.getShape()[1];
  std::optional<SmallVector<Part>> parts = partsOf(op.getResult(), n);
  if (!parts)
    return success();
  SmallVector<WeightOp> components;
  for (Value v : {q.getData(), q.getScales(), q.getZeroPoints()}) {
    if (!v)
      continue;
    auto w = v.getDefiningOp<WeightOp>();
    auto t = cast<RankedTensorType>(v.getType());
    if (!w || t.getRank() != 2 || t.getDimSize(0) != n)
      return success();
    components.push_back(w);
  }
  OpBuilder builder(op);
  for (Part &part : *parts) {
    int64_t rows = part.end - part.begin;
    SmallVector<Value> sliced;
    for (WeightOp w : components) {
      auto t = cast<RankedTensorType>(w.getType());
      auto type = RankedTensorType::get({rows, t.getDimSize(1)},
                                        t.getElementType());
      int64_t rowBytes = t.getDimSize(1) * elementBytes(t.getElementType());
      FailureOr<Value> s =
          sliceWeight(builder, w, type, part.begin, rows, 0, rowBytes,
                      partName(w.getName(), part));
      if (failed(s))
        return failure();
      sliced.push_back(*s);
    }
    auto partType = QTensorType::get(op.getContext(), {rows, k},
                                     qtype.getScheme());
    Value zeroPoints = q.getZeroPoints() ? sliced[2] : Value();
    Value weight = QuantizedWeightOp::create(
        builder, q.getLoc(), partType, partName(q.getName(), part), sliced[0],
        sliced[1], zeroPoints, Value(), Value(), Value());
    Value y = DequantMatmulOp::create(builder, op.getLoc(),
                                      part.slice.getType(), op.getInput(),
                                      weight, FloatAttr());
    part.slice.replaceAllUsesWith(y);
    part.slice.erase();
  }
  op.erase();
  if (q->use_empty()) {
    q.erase();
    for (WeightOp w : components)
      if (w->use_empty())
        w.erase();
  }
  return success();
}

struct QLLMSplitProjectionsPass
    : qllm::impl::QLLMSplitProjectionsPassBase<QLLMSplitProjectionsPass> {
  void runOnOperation() override {
    SmallVector<Operation *> candidates;
    getOperation()->walk([&](Operation *op) {
      if (isa<MatmulOp, DequantMatmulOp>(op))
        candidates.push_back(op);
    });
    for (Operation *op : candidates) {
      LogicalResult result = success();
      if (auto matmul = dyn_cast<MatmulOp>(op))
        result = splitMatmul(matmul);
      else
        result = splitDequantMatmul(cast<DequantMatmulOp>(op));
      if (failed(result))
        return signalPassFailure();
    }
  }
};

} // namespace
