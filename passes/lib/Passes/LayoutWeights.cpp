//===- LayoutWeights.cpp - store weights the way kernels read them --------===//

#include "quant/Passes/Passes.h"

#include "qllm/IR/QLLMOps.h"
#include "qllm/IR/Weightless.h"
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

/// A blob holding `weight`'s values stored as `element` (f32 or f16), its two
/// dimensions swapped when `transpose`. Written straight into the new blob,
/// element by element, so laying out a weight costs only the new copy. In a
/// weightless module: zero bytes of the new size, nothing read or written.
FailureOr<AsmResourceBlob> convertBlob(WeightOp weight, Type element,
                                       bool transpose) {
  auto resource = cast<DenseResourceElementsAttr>(weight.getValue());
  AsmResourceBlob *blob = resource.getRawHandle().getBlob();
  auto type = cast<RankedTensorType>(weight.getType());
  if (isWeightless(weight)) {
    size_t width = element.isF32() ? 4 : 2;
    return zeroBlob(type.getNumElements() * width, width);
  }
  if (!blob)
    return weight.emitError()
           << "weight '" << weight.getName() << "' has no data to lay out";
  Type source = type.getElementType();
  if (!source.isF32() && !source.isF16() && !source.isBF16())
    return weight.emitError() << "weight '" << weight.getName()
                              << "' is not floating point (" << source << ")";
  const char *in = blob->getData().data();
  auto load = [&](int64_t i) -> float {
    if (source.isF32()) {
      float v;
      std::memcpy(&v, in + 4 * i, 4);
      return v;
    }
    uint16_t h;
    std::memcpy(&h, in + 2 * i, 2);
    return source.isF16() ? ::qrt::halfToFloat(h) : ::qrt::bfloat16ToFloat(h);
  };
  int64_t count = type.getNumElements();
  int64_t rows = transpose ? type.getDimSize(0) : 1;
  int64_t cols = transpose ? type.getDimSize(1) : count;
  size_t width = element.isF32() ? 4 : 2;
  AsmResourceBlob out = HeapAsmResourceBlob::allocate(count * width, width,
                                                      /*dataIsMutable=*/true);
  char *dst = out.getMutableData().data();
  // Row r, column c of the source lands at (c, r) of the result.
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) {
      float v = load(r * cols + c);
      if (!std::isfinite(v))
        return weight.emitError()
               << "weight '" << weight.getName() << "' holds a NaN or infinity";
      int64_t j = c * rows + r;
      if (width == 4) {
        std::memcpy(dst + 4 * j, &v, 4);
      } else {
        uint16_t h = ::qrt::floatToHalf(v);
        std::memcpy(dst + 2 * j, &h, 2);
      }
    }
  }
  return out;
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
      FailureOr<AsmResourceBlob> blob = convertBlob(weight, element, transpose);
      if (failed(blob))
        return failure();
      SmallVector<int64_t> shape(
          cast<RankedTensorType>(weight.getType()).getShape());
      if (transpose)
        std::swap(shape[0], shape[1]);
      stored =
          DenseResourceElementsAttr::get(RankedTensorType::get(shape, element),
                                         weight.getName(), std::move(*blob));
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

  /// An operand to re-point at a laid-out weight.
  struct Request {
    OpOperand *operand;
    WeightOp weight;
    Type element;
    bool transpose;
  };

  static const void *resourceOf(WeightOp weight) {
    return cast<DenseResourceElementsAttr>(weight.getValue())
        .getRawHandle()
        .getResource();
  }

  void runOnOperation() override {
    MLIRContext *ctx = &getContext();
    Type f32 = Float32Type::get(ctx);
    Type storage =
        weightType == FloatStorage::f16 ? Type(Float16Type::get(ctx)) : f32;

    // What to change, grouped by the blob it reads, in program order.
    std::map<const void *, SmallVector<Request>> requests;
    SmallVector<const void *> order;
    std::map<const void *, SmallVector<WeightOp>> readers;
    SmallVector<MatmulOp> transposed;
    auto request = [&](OpOperand &operand, Type element, bool transpose) {
      WeightOp weight = weightUnder(operand.get());
      if (!weight)
        return false; // computed, not stored: nothing to lay out
      if (!transpose &&
          cast<RankedTensorType>(weight.getType()).getElementType() == element)
        return false; // already stored as the kernels read it
      const void *key = resourceOf(weight);
      if (!requests.count(key))
        order.push_back(key);
      requests[key].push_back({&operand, weight, element, transpose});
      return true;
    };
    WalkResult walk = getOperation().walk([&](Operation *op) -> WalkResult {
      if (auto weight = dyn_cast<WeightOp>(op)) {
        if (isa<DenseResourceElementsAttr>(weight.getValue()))
          readers[resourceOf(weight)].push_back(weight);
      } else if (auto matmul = dyn_cast<MatmulOp>(op)) {
        if (!weightUnder(matmul.getRhs()))
          return WalkResult::advance();
        if (cast<RankedTensorType>(matmul.getRhs().getType()).getRank() != 2)
          return op->emitError() << "has a weight of rank other than 2";
        bool transpose = !matmul.getTransposeRhs();
        if (request(matmul.getRhsMutable(), storage, transpose) && transpose)
          transposed.push_back(matmul);
      } else if (auto embedding = dyn_cast<EmbeddingOp>(op)) {
        if (isa<RankedTensorType>(embedding.getTable().getType()))
          request(embedding.getTableMutable(), storage, false);
      } else if (auto norm = dyn_cast<RmsNormOp>(op)) {
        request(norm.getWeightMutable(), f32, false);
      } else if (auto rotary = dyn_cast<RotaryOp>(op)) {
        if (rotary.getCosCache()) {
          request(rotary.getCosCacheMutable()[0], f32, false);
          request(rotary.getSinCacheMutable()[0], f32, false);
        }
      }
      return WalkResult::advance();
    });
    if (walk.wasInterrupted())
      return signalPassFailure();

    // One blob at a time: lay it out for every reader, then, once no weight
    // reads the original any more, free it, so a model's weights are not
    // held twice (peak: the model plus one laid-out weight).
    OpBuilder builder(ctx);
    for (const void *key : order) {
      for (Request &r : requests[key]) {
        FailureOr<Value> read =
            relayout(builder, r.weight, r.element, r.transpose);
        if (failed(read))
          return signalPassFailure();
        r.operand->set(*read);
      }
      bool unused = true;
      for (WeightOp weight : readers[key]) {
        for (Operation *user : llvm::make_early_inc_range(weight->getUsers()))
          if (isa<CastOp>(user) && user->use_empty())
            user->erase();
        unused &= weight->use_empty();
      }
      if (!unused)
        continue;
      DenseResourceElementsAttr resource;
      for (WeightOp weight : readers[key]) {
        resource = cast<DenseResourceElementsAttr>(weight.getValue());
        weight->erase();
      }
      if (freeOriginals)
        resource.getRawHandle().getResource()->setBlob(AsmResourceBlob());
    }
    for (MatmulOp matmul : transposed)
      matmul.setTransposeRhs(true);
  }

  std::map<std::tuple<const void *, const void *, bool>,
           DenseResourceElementsAttr>
      blobs;
};

} // namespace
