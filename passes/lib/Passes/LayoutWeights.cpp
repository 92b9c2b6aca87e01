//===- LayoutWeights.cpp - store weights the way kernels read them --------===//

#include "quant/Passes/Passes.h"

#include "qllm/IR/QLLMOps.h"
#include "qrt/core/Half.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectResourceBlobManager.h"

#include <cmath>
#include <map>

namespace mlir::qllm {
#define GEN_PASS_DEF_QLLMLAYOUTWEIGHTSPASS
#include "quant/Passes/Passes.h.inc"
} // namespace mlir::qllm

using namespace mlir;
using namespace mlir::qllm;

namespace {

/// The element values of a floating-point weight as floats.
FailureOr<std::vector<float>> readFloats(WeightOp weight) {
  auto resource = cast<DenseResourceElementsAttr>(weight.getValue());
  AsmResourceBlob *blob = resource.getRawHandle().getBlob();
  auto type = cast<RankedTensorType>(weight.getType());
  if (!blob)
    return weight.emitError()
           << "weight '" << weight.getName() << "' has no data to lay out";
  ArrayRef<char> bytes = blob->getData();
  int64_t count = type.getNumElements();
  std::vector<float> values(static_cast<size_t>(count));
  Type element = type.getElementType();
  if (element.isF32()) {
    std::memcpy(values.data(), bytes.data(), count * 4);
  } else if (element.isF16() || element.isBF16()) {
    for (int64_t i = 0; i < count; ++i) {
      uint16_t h;
      std::memcpy(&h, bytes.data() + 2 * i, 2);
      values[i] =
          element.isF16() ? ::qrt::halfToFloat(h) : ::qrt::bfloat16ToFloat(h);
    }
  } else {
    return weight.emitError() << "weight '" << weight.getName()
                              << "' is not floating point (" << element << ")";
  }
  for (float v : values)
    if (!std::isfinite(v))
      return weight.emitError()
             << "weight '" << weight.getName() << "' holds a NaN or infinity";
  return values;
}

/// A blob of `values` stored as `element` (f32 or f16).
AsmResourceBlob createBlob(Type element, ArrayRef<float> values) {
  if (element.isF32())
    return HeapAsmResourceBlob::allocateAndCopyWithAlign(
        ArrayRef<char>(reinterpret_cast<const char *>(values.data()),
                       values.size() * 4),
        alignof(float));
  std::vector<uint16_t> halves(values.size());
  for (size_t i = 0; i < values.size(); ++i)
    halves[i] = ::qrt::floatToHalf(values[i]);
  return HeapAsmResourceBlob::allocateAndCopyWithAlign(
      ArrayRef<char>(reinterpret_cast<const char *>(halves.data()),
                     halves.size() * 2),
      alignof(uint16_t));
}

struct QLLMLayoutWeightsPass
    : qllm::impl::QLLMLayoutWeightsPassBase<QLLMLayoutWeightsPass> {
  using Base::Base;

  /// The weight op under `value` (through a cast), or null.
  static WeightOp weightUnder(Value value) {
    if (auto cast = value.getDefiningOp<CastOp>())
      value = cast.getInput();
    return value.getDefiningOp<WeightOp>();
  }

  /// `weight` stored in `element` and read as f32: a new weight op after it
  /// (a cast of it for f16 storage). `transpose` swaps a matrix's two
  /// dimensions. Functions that share a weight's blob (prefill and decode)
  /// share the new blob too.
  FailureOr<Value> relayout(OpBuilder &builder, WeightOp weight, Type element,
                            bool transpose) {
    auto resource = cast<DenseResourceElementsAttr>(weight.getValue());
    auto key = std::make_tuple(
        static_cast<const void *>(resource.getRawHandle().getResource()),
        element.getAsOpaquePointer(), transpose);
    DenseResourceElementsAttr &stored = blobs[key];
    if (!stored) {
      FailureOr<std::vector<float>> values = readFloats(weight);
      if (failed(values))
        return failure();
      SmallVector<int64_t> shape(
          cast<RankedTensorType>(weight.getType()).getShape());
      if (transpose) {
        int64_t rows = shape[0], cols = shape[1];
        std::vector<float> swapped(values->size());
        for (int64_t r = 0; r < rows; ++r)
          for (int64_t c = 0; c < cols; ++c)
            swapped[c * rows + r] = (*values)[r * cols + c];
        *values = std::move(swapped);
        std::swap(shape[0], shape[1]);
      }
      stored = DenseResourceElementsAttr::get(
          RankedTensorType::get(shape, element), weight.getName(),
          createBlob(element, *values));
    }
    builder.setInsertionPointAfter(weight);
    Value read =
        WeightOp::create(builder, weight.getLoc(), weight.getName(), stored);
    if (!element.isF32())
      read = CastOp::create(builder, weight.getLoc(),
                            RankedTensorType::get(stored.getType().getShape(),
                                                  builder.getF32Type()),
                            read);
    return read;
  }

  void runOnOperation() override {
    MLIRContext *ctx = &getContext();
    Type f32 = Float32Type::get(ctx);
    Type storage;
    if (weightType == "f32")
      storage = f32;
    else if (weightType == "f16")
      storage = Float16Type::get(ctx);
    else {
      getOperation().emitError()
          << "weight-type must be f32 or f16, got '" << weightType << "'";
      return signalPassFailure();
    }
    OpBuilder builder(ctx);
    WalkResult walk = getOperation().walk([&](Operation *op) -> WalkResult {
      auto replace = [&](OpOperand &operand, Type element,
                         bool transpose) -> LogicalResult {
        WeightOp weight = weightUnder(operand.get());
        if (!weight)
          return success(); // computed, not stored: nothing to lay out
        if (!transpose &&
            cast<RankedTensorType>(weight.getType()).getElementType() ==
                element)
          return success(); // already stored as the kernels read it
        FailureOr<Value> read = relayout(builder, weight, element, transpose);
        if (failed(read))
          return failure();
        operand.set(*read);
        return success();
      };
      LogicalResult result = success();
      if (auto matmul = dyn_cast<MatmulOp>(op)) {
        if (!weightUnder(matmul.getRhs()))
          return WalkResult::advance();
        if (cast<RankedTensorType>(matmul.getRhs().getType()).getRank() != 2)
          return op->emitError() << "has a weight of rank other than 2";
        bool transpose = !matmul.getTransposeRhs();
        result = replace(matmul.getRhsMutable(), storage, transpose);
        if (succeeded(result))
          matmul.setTransposeRhs(true);
      } else if (auto embedding = dyn_cast<EmbeddingOp>(op)) {
        if (isa<RankedTensorType>(embedding.getTable().getType()))
          result = replace(embedding.getTableMutable(), storage, false);
      } else if (auto norm = dyn_cast<RmsNormOp>(op)) {
        result = replace(norm.getWeightMutable(), f32, false);
      } else if (auto rotary = dyn_cast<RotaryOp>(op)) {
        if (rotary.getCosCache()) {
          result = replace(rotary.getCosCacheMutable()[0], f32, false);
          if (succeeded(result))
            result = replace(rotary.getSinCacheMutable()[0], f32, false);
        }
      }
      return failed(result) ? WalkResult::interrupt() : WalkResult::advance();
    });
    if (walk.wasInterrupted())
      return signalPassFailure();

    // The original weights and the casts that read them are now unused.
    for (bool weights : {false, true}) {
      SmallVector<Operation *> dead;
      getOperation().walk([&](Operation *op) {
        if ((weights ? isa<WeightOp>(op) : isa<CastOp>(op)) && op->use_empty())
          dead.push_back(op);
      });
      for (Operation *op : dead)
        op->erase();
    }
  }

  std::map<std::tuple<const void *, const void *, bool>,
           DenseResourceElementsAttr>
      blobs;
};

} // namespace
