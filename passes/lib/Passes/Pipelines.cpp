//===- Pipelines.cpp - named pass pipelines of quant-opt ------------------===//

#include "quant/Passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

void mlir::qllm::buildImportCleanupPipeline(OpPassManager &pm) {
  // Fold shape subgraphs (Shape -> Gather -> Concat -> Reshape) as far as the
  // known dimensions allow, then raise the primitive-op patterns of both
  // export styles into LLM ops, cleaning up after each step.
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  pm.addPass(createQLLMRaiseEmbeddingPass());
  pm.addPass(createQLLMRaiseRmsNormPass());
  pm.addPass(createQLLMRaiseSwiGluPass());
  pm.addPass(createQLLMRaiseRotaryPass());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  pm.addPass(createQLLMRaiseAttentionPass());
  pm.addPass(createCanonicalizerPass());
  pm.addNestedPass<func::FuncOp>(createQLLMRaiseAttentionMaskPass());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
}

void mlir::qllm::registerQuantPipelines() {
  PassPipelineRegistration<>(
      "quant-import-cleanup",
      "Fold shape subgraphs of an imported ONNX graph and raise it to LLM "
      "ops (embedding, rms_norm, rotary, attention, swiglu)",
      [](OpPassManager &pm) { buildImportCleanupPipeline(pm); });
}
