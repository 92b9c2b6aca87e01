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

void mlir::qllm::buildCompilePipeline(OpPassManager &pm,
                                      const CompileOptions &options) {
  buildImportCleanupPipeline(pm);
  pm.addNestedPass<func::FuncOp>(createQLLMPromoteToF32Pass());
  QLLMSpecializeEntriesPassOptions entries;
  entries.maxContext = options.maxContext;
  entries.prefillTokens = options.prefillTokens;
  entries.bos = options.bos;
  entries.eos = options.eos;
  entries.tokenizer = options.tokenizer;
  pm.addPass(createQLLMSpecializeEntriesPass(entries));
  QLLMLayoutWeightsPassOptions layout;
  layout.weightType = options.method == "fp16" ? "f16"
                      : options.method == "fp32"
                          ? "f32"
                          : options.method.getValue(); // the pass rejects it
  pm.addPass(createQLLMLayoutWeightsPass(layout));
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  QLLMSelectKernelsPassOptions kernels;
  kernels.target = options.target;
  pm.addNestedPass<func::FuncOp>(createQLLMSelectKernelsPass(kernels));
  pm.addNestedPass<func::FuncOp>(createQLLMPlanMemoryPass());
}

void mlir::qllm::registerQuantPipelines() {
  PassPipelineRegistration<CompileOptions>(
      "quant-compile",
      "Compile an imported model into plan-ready IR: import cleanup, f32 "
      "compute, prefill/decode entries, weight layout (method=fp32|fp16), "
      "kernels and arena offsets",
      [](OpPassManager &pm, const CompileOptions &options) {
        buildCompilePipeline(pm, options);
      });
  PassPipelineRegistration<>(
      "quant-import-cleanup",
      "Fold shape subgraphs of an imported ONNX graph and raise it to LLM "
      "ops (embedding, rms_norm, rotary, attention, swiglu)",
      [](OpPassManager &pm) { buildImportCleanupPipeline(pm); });
}
