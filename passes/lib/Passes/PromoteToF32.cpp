//===- PromoteToF32.cpp - compute in f32 ----------------------------------===//

#include "quant/Passes/Passes.h"

#include "qllm/IR/QLLMOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"

namespace mlir::qllm {
#define GEN_PASS_DEF_QLLMPROMOTETOF32PASS
#include "quant/Passes/Passes.h.inc"
} // namespace mlir::qllm

using namespace mlir;
using namespace mlir::qllm;

namespace {

bool isNarrowFloat(Type type) {
  auto tensor = dyn_cast<RankedTensorType>(type);
  return tensor &&
         (tensor.getElementType().isF16() || tensor.getElementType().isBF16());
}

Type widened(Type type) {
  auto tensor = cast<RankedTensorType>(type);
  return RankedTensorType::get(tensor.getShape(),
                               Float32Type::get(type.getContext()));
}

struct QLLMPromoteToF32Pass
    : qllm::impl::QLLMPromoteToF32PassBase<QLLMPromoteToF32Pass> {
  void runOnOperation() override {
    func::FuncOp func = getOperation();
    if (func.isExternal())
      return;
    OpBuilder builder(func.getContext());
    for (BlockArgument arg : func.getArguments())
      if (isNarrowFloat(arg.getType()))
        arg.setType(widened(arg.getType()));

    SmallVector<Operation *> ops;
    func.walk([&](Operation *op) { ops.push_back(op); });
    for (Operation *op : ops) {
      if (isa<WeightOp, ConstantOp>(op)) {
        // Stored data stays as it is, read through a cast; the components
        // of a quantized weight (f16 scales) are read as stored.
        Value value = op->getResult(0);
        auto computes = [](OpOperand &use) {
          return !isa<QuantizedWeightOp>(use.getOwner());
        };
        if (!isNarrowFloat(value.getType()) ||
            llvm::none_of(value.getUses(), computes))
          continue;
        builder.setInsertionPointAfter(op);
        Value wide = CastOp::create(builder, op->getLoc(),
                                    widened(value.getType()), value);
        value.replaceUsesWithIf(wide, [&](OpOperand &use) {
          return use.getOwner() != wide.getDefiningOp() && computes(use);
        });
        continue;
      }
      if (auto cast = dyn_cast<CastOp>(op)) {
        // Casts between activation precisions become identities.
        if (isNarrowFloat(cast.getType()) &&
            !isa_and_nonnull<WeightOp, ConstantOp>(
                cast.getInput().getDefiningOp()) &&
            cast.getInput().getType() == widened(cast.getType())) {
          cast.getResult().replaceAllUsesWith(cast.getInput());
          cast.erase();
          continue;
        }
      }
      if (auto fill = dyn_cast<FillOp>(op);
          fill && isNarrowFloat(fill.getType())) {
        auto value = cast<FloatAttr>(fill.getValue());
        fill.setValueAttr(builder.getF32FloatAttr(
            static_cast<float>(value.getValueAsDouble())));
      }
      for (OpResult result : op->getResults())
        if (isNarrowFloat(result.getType()))
          result.setType(widened(result.getType()));
      // A cast that widening made an identity goes.
      if (auto cast = dyn_cast<CastOp>(op);
          cast && cast.getInput().getType() == cast.getType()) {
        cast.getResult().replaceAllUsesWith(cast.getInput());
        cast.erase();
      }
    }
    auto ret = cast<func::ReturnOp>(func.getBody().front().getTerminator());
    func.setFunctionType(FunctionType::get(
        func.getContext(), func.getBody().front().getArgumentTypes(),
        ret.getOperandTypes()));
  }
};

} // namespace
