//===- SelectKernels.cpp - a runtime kernel for every op ------------------===//

#include "quant/Passes/Passes.h"

#include "qllm/IR/QLLMOps.h"
#include "qllm/IR/QLLMPlanAttrs.h"
#include "quant/Plan/PlanInfo.h"

#include "PatternUtils.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"

namespace mlir::qllm {
#define GEN_PASS_DEF_QLLMSELECTKERNELSPASS
#include "quant/Passes/Passes.h.inc"
} // namespace mlir::qllm

using namespace mlir;
using namespace mlir::qllm;

namespace {

/// What runs or holds `op`: a kernel (a plan step) or a storage; neither,
/// with `why`, when no kernel can.
struct Choice {
  std::optional<Kernel> kernel;
  std::optional<Storage> storage;
  Choice() = default;
  Choice(Kernel k) : kernel(k) {}
  Choice(Storage s) : storage(s) {}
  explicit operator bool() const { return kernel || storage; }
};

/// The ops that are stored rather than run: weights and what assembles or
/// reinterprets them, reshape shapes and views; an empty Choice, with `why`,
/// for one of these ops in a form that no plan stores. nullopt for other
/// ops.
std::optional<Choice> storageFor(Operation *op, std::string &why) {
  if (isa<WeightOp>(op))
    return Storage::weight;
  if (auto q = dyn_cast<QuantizedWeightOp>(op)) {
    if (llvm::all_of(q->getOperands(),
                     [](Value v) { return v.getDefiningOp<WeightOp>(); }))
      return Storage::weight; // assembles stored components
    why = "the components are not stored weights";
    return Choice();
  }
  if (isa<DequantizeOp>(op)) {
    why = "a dequantized weight is only read fused into a matmul (run "
          "qllm-fuse-dequant-matmul)";
    return Choice();
  }
  if (auto cast = dyn_cast<CastOp>(op)) {
    if (cast.getInput().getDefiningOp<WeightOp>())
      return Storage::weight; // the weight's storage type
    why = "casts of activations do not run (the plan computes in f32)";
    return Choice();
  }
  if (isa<ConstantOp>(op)) {
    bool shapesOnly = llvm::all_of(op->getUses(), [](OpOperand &use) {
      return isa<ReshapeOp>(use.getOwner()) && use.getOperandNumber() == 1;
    });
    if (shapesOnly)
      return Storage::constant;
    why = "constants other than reshape shapes have no kernel";
    return Choice();
  }
  if (isa<ReshapeOp>(op))
    return Storage::view;
  return std::nullopt;
}

/// The kernel that runs `op`, or its storage.
Choice kernelFor(Operation *op, std::string &why) {
  if (std::optional<Choice> stored = storageFor(op, why))
    return *stored;
  auto rank = [](Value v) {
    return cast<RankedTensorType>(v.getType()).getRank();
  };
  if (auto dq = dyn_cast<DequantMatmulOp>(op)) {
    if (dq.getWeight().getDefiningOp<QuantizedWeightOp>())
      return dq.getOutlierThreshold() ? Kernel::int8_matmul
                                      : Kernel::dequant_matmul;
    why = "the weight is not a quantized_weight of stored components";
    return {};
  }
  if (auto embedding = dyn_cast<EmbeddingOp>(op)) {
    if (weightOf(embedding.getTable()))
      return Kernel::embedding;
    why = "the table is not a weight";
    return {};
  }
  if (auto norm = dyn_cast<RmsNormOp>(op)) {
    if (weightOf(norm.getWeight()))
      return Kernel::rms_norm;
    why = "the weight is computed";
    return {};
  }
  if (auto matmul = dyn_cast<MatmulOp>(op)) {
    if (matmul.getTransposeRhs() && weightOf(matmul.getRhs()) &&
        rank(matmul.getRhs()) == 2)
      return Kernel::matmul;
    why =
        "only activations times a [N, K] weight run (run qllm-layout-weights)";
    return {};
  }
  if (auto rotary = dyn_cast<RotaryOp>(op)) {
    auto positions = dyn_cast<BlockArgument>(rotary.getPositions());
    auto func = op->getParentOfType<func::FuncOp>();
    auto role = positions ? func.getArgAttrOfType<RoleAttr>(
                                positions.getArgNumber(), kRoleAttrName)
                          : RoleAttr();
    if (role && role.getRole() == InterfaceRole::positions &&
        (!rotary.getCosCache() ||
         (weightOf(rotary.getCosCache()) && weightOf(rotary.getSinCache()))))
      return Kernel::rotary;
    why = "positions must be the model's position_ids and tables weights";
    return {};
  }
  if (auto attention = dyn_cast<AttentionOp>(op)) {
    if (attention.getCausal() && !attention.getAttentionBias() &&
        getLayer(op) &&
        cast<RankedTensorType>(attention.getValue().getType()).getDimSize(3) ==
            cast<RankedTensorType>(attention.getKey().getType()).getDimSize(3))
      return Kernel::attention;
    why = "only causal attention over a model's KV cache, with equal key and "
          "value head sizes, runs (run qllm-specialize-entries)";
    return {};
  }
  if (auto add = dyn_cast<AddOp>(op)) {
    if (add.getLhs().getType() == add.getType() &&
        add.getRhs().getType() == add.getType())
      return Kernel::add;
    why = "broadcasting additions have no kernel";
    return {};
  }
  if (auto gather = dyn_cast<GatherOp>(op)) {
    auto data = cast<RankedTensorType>(gather.getData().getType());
    auto indices = dyn_cast<RankedTensorType>(gather.getIndices().getType());
    int64_t axis = gather.getAxis();
    if (axis == data.getRank() - 1 && indices &&
        indices.getRank() == 1 && indices.getElementType().isInteger(32) &&
        weightOf(gather.getIndices()) &&
        gather.getType() ==
            withDim(data, data.getRank() - 1, indices.getDimSize(0)) &&
        indices.getDimSize(0) <= data.getShape().back() &&
        data.getElementType().isF32())
      return Kernel::gather;
    why = "only columns of the last dimension of f32 activations taken by "
          "an i32 index weight run (qllm-fold-act-order and "
          "qllm-shard-tensor-parallel make those)";
    return {};
  }
  // A kernel with no condition of its own (swiglu): the op kind decides.
  if (std::optional<Kernel> kernel = kernelForOp(op))
    return *kernel;
  why = "no target has a kernel for it";
  return {};
}

struct QLLMSelectKernelsPass
    : qllm::impl::QLLMSelectKernelsPassBase<QLLMSelectKernelsPass> {
  QLLMSelectKernelsPass() = default;
  QLLMSelectKernelsPass(const QLLMSelectKernelsPass &other)
      : QLLMSelectKernelsPassBase(other) {}

  void runOnOperation() override {
    func::FuncOp func = getOperation();
    if (!getEntry(func))
      return; // only entry points run
    // The CUDA target has a kernel for every op the CPU runs (its plans
    // run on both), so both select the same kernels.
    MLIRContext *ctx = func.getContext();
    WalkResult walk = func.walk([&](Operation *op) -> WalkResult {
      if (isa<func::FuncOp, func::ReturnOp>(op))
        return WalkResult::advance();
      std::string why;
      Choice choice = kernelFor(op, why);
      if (!choice)
        return op->emitError() << "has no " << nameOf(options.target)
                               << " kernel: " << why;
      if (auto dq = dyn_cast<DequantMatmulOp>(op);
          dq && choice.kernel == Kernel::dequant_matmul &&
          failed(chooseActivations(dq)))
        return WalkResult::interrupt();
      op->removeAttr(choice.kernel ? kStorageAttrName : kKernelAttrName);
      if (choice.kernel)
        op->setAttr(kKernelAttrName, KernelAttr::get(ctx, *choice.kernel));
      else
        op->setAttr(kStorageAttrName, StorageAttr::get(ctx, *choice.storage));
      return WalkResult::advance();
    });
    if (walk.wasInterrupted())
      signalPassFailure();
  }

  /// Sets or clears `int8_activations` on a dequant_matmul as the
  /// `activations` option says.
  LogicalResult chooseActivations(DequantMatmulOp dq) {
    Attribute scheme = dq.getWeight().getType().getScheme();
    const bool supported = int8ActivationsSupported(scheme);
    bool int8 = false;
    switch (options.activations) {
    case ActivationChoice::f32:
      break;
    case ActivationChoice::int8:
      if (options.target == Target::cuda)
        return dq.emitError() << "activations=int8: the cuda target's "
                                 "kernels keep f32 activations";
      if (!supported)
        return dq.emitError()
               << "activations=int8: " << scheme
               << " has no 8-bit-activation kernel (4 or 8 bits, groups of "
                  "32, 64, a multiple of 128 or whole rows, no act order); "
                  "use activations=auto";
      int8 = true;
      break;
    case ActivationChoice::byScheme:
      // The rounding costs at most 0.08% perplexity on stories260K
      // (docs/quantization.md): integer codes and NF4/FP4, whose code values
      // the kernels keep to 2^-12 of the absmax.
      int8 = options.target == Target::cpu && supported;
      break;
    }
    dq.setInt8Activations(int8);
    return success();
  }

  TargetOptionSet<Pass> options{*this};
};

} // namespace

std::unique_ptr<Pass>
mlir::qllm::createQLLMSelectKernelsPass(const TargetOptions &options) {
  auto pass = std::make_unique<QLLMSelectKernelsPass>();
  pass->options.target = options.target;
  pass->options.activations = options.activations;
  return pass;
}
