//===- SelectKernels.cpp - a runtime kernel for every op ------------------===//

#include "quant/Passes/Passes.h"

#include "qllm/IR/QLLMOps.h"
#include "quant/Plan/PlanInfo.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"

namespace mlir::qllm {
#define GEN_PASS_DEF_QLLMSELECTKERNELSPASS
#include "quant/Passes/Passes.h.inc"
} // namespace mlir::qllm

using namespace mlir;
using namespace mlir::qllm;

namespace {

/// The kernel of `op`, or "" with `why` explaining what is missing.
StringRef kernelFor(Operation *op, std::string &why) {
  auto rank = [](Value v) {
    return cast<RankedTensorType>(v.getType()).getRank();
  };
  if (isa<WeightOp>(op))
    return "weight";
  if (auto q = dyn_cast<QuantizedWeightOp>(op)) {
    if (llvm::all_of(q->getOperands(),
                     [](Value v) { return v.getDefiningOp<WeightOp>(); }))
      return "weight"; // assembles stored components
    why = "the components are not stored weights";
    return {};
  }
  if (auto dq = dyn_cast<DequantMatmulOp>(op)) {
    if (dq.getOutlierThreshold()) {
      why = "LLM.int8() outlier decomposition has no kernel yet";
      return {};
    }
    if (dq.getWeight().getDefiningOp<QuantizedWeightOp>())
      return "dequant_matmul";
    why = "the weight is not a quantized_weight of stored components";
    return {};
  }
  if (isa<DequantizeOp>(op)) {
    why = "a dequantized weight is only read fused into a matmul (run "
          "qllm-fuse-dequant-matmul)";
    return {};
  }
  if (auto cast = dyn_cast<CastOp>(op)) {
    if (cast.getInput().getDefiningOp<WeightOp>())
      return "weight"; // the weight's storage type
    why = "casts of activations do not run (the plan computes in f32)";
    return {};
  }
  if (isa<ConstantOp>(op)) {
    bool shapesOnly = llvm::all_of(op->getUses(), [](OpOperand &use) {
      return isa<ReshapeOp>(use.getOwner()) && use.getOperandNumber() == 1;
    });
    if (shapesOnly)
      return "constant";
    why = "constants other than reshape shapes have no kernel";
    return {};
  }
  if (isa<ReshapeOp>(op))
    return "view";
  if (auto embedding = dyn_cast<EmbeddingOp>(op)) {
    if (weightOf(embedding.getTable()))
      return "embedding";
    why = "the table is not a weight";
    return {};
  }
  if (auto norm = dyn_cast<RmsNormOp>(op)) {
    if (weightOf(norm.getWeight()))
      return "rms_norm";
    why = "the weight is computed";
    return {};
  }
  if (auto matmul = dyn_cast<MatmulOp>(op)) {
    if (matmul.getTransposeRhs() && weightOf(matmul.getRhs()) &&
        rank(matmul.getRhs()) == 2)
      return "matmul";
    why =
        "only activations times a [N, K] weight run (run qllm-layout-weights)";
    return {};
  }
  if (auto rotary = dyn_cast<RotaryOp>(op)) {
    auto positions = dyn_cast<BlockArgument>(rotary.getPositions());
    auto func = op->getParentOfType<func::FuncOp>();
    auto role = positions ? func.getArgAttrOfType<StringAttr>(
                                positions.getArgNumber(), "qllm.role")
                          : StringAttr();
    if (role && role.getValue() == "positions" &&
        (!rotary.getCosCache() ||
         (weightOf(rotary.getCosCache()) && weightOf(rotary.getSinCache()))))
      return "rotary";
    why = "positions must be the model's position_ids and tables weights";
    return {};
  }
  if (auto attention = dyn_cast<AttentionOp>(op)) {
    if (attention.getCausal() && !attention.getAttentionBias() &&
        op->hasAttr("qllm.layer") &&
        cast<RankedTensorType>(attention.getValue().getType()).getDimSize(3) ==
            cast<RankedTensorType>(attention.getKey().getType()).getDimSize(3))
      return "attention";
    why = "only causal attention over a model's KV cache, with equal key and "
          "value head sizes, runs (run qllm-specialize-entries)";
    return {};
  }
  if (auto add = dyn_cast<AddOp>(op)) {
    if (add.getLhs().getType() == add.getType() &&
        add.getRhs().getType() == add.getType())
      return "add";
    why = "broadcasting additions have no kernel";
    return {};
  }
  if (isa<SwiGluOp>(op))
    return "swiglu";
  why = "no target has a kernel for it";
  return {};
}

struct QLLMSelectKernelsPass
    : qllm::impl::QLLMSelectKernelsPassBase<QLLMSelectKernelsPass> {
  using Base::Base;
  void runOnOperation() override {
    func::FuncOp func = getOperation();
    if (!func->hasAttr("qllm.entry"))
      return; // only entry points run
    // The CUDA target has a kernel for every op the CPU runs (its plans
    // run on both), so both select the same kernels.
    if (target != "cpu" && target != "cuda") {
      func.emitError() << "unknown target '" << target << "' (cpu, cuda)";
      return signalPassFailure();
    }
    Builder builder(func.getContext());
    WalkResult walk = func.walk([&](Operation *op) -> WalkResult {
      if (isa<func::FuncOp, func::ReturnOp>(op))
        return WalkResult::advance();
      std::string why;
      StringRef kernel = kernelFor(op, why);
      if (kernel.empty())
        return op->emitError() << "has no " << target << " kernel: " << why;
      op->setAttr("qllm.kernel", builder.getStringAttr(kernel));
      return WalkResult::advance();
    });
    if (walk.wasInterrupted())
      signalPassFailure();
  }
};

} // namespace
