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
  bool quantized = options.method != "fp32" && options.method != "fp16";
  if (quantized) {
    QLLMQuantizeWeightsPassOptions quantize;
    quantize.method = options.method;
    quantize.bits = options.bits;
    quantize.groupSize = options.groupSize;
    quantize.symmetric = options.symmetric;
    quantize.scaleType = options.scaleType;
    quantize.doubleQuant = options.doubleQuant;
    quantize.exclude.assign(options.exclude.begin(), options.exclude.end());
    quantize.quantizeOutput = options.quantizeOutput;
    pm.addPass(createQLLMQuantizeWeightsPass(quantize));
    pm.addPass(createQLLMFuseDequantMatmulPass());
  }
  QLLMSpecializeEntriesPassOptions entries;
  entries.maxContext = options.maxContext;
  entries.prefillTokens = options.prefillTokens;
  entries.bos = options.bos;
  entries.eos = options.eos;
  entries.tokenizer = options.tokenizer;
  pm.addPass(createQLLMSpecializeEntriesPass(entries));
  QLLMLayoutWeightsPassOptions layout;
  layout.weightType = quantized                  ? options.floatWeights.getValue()
                      : options.method == "fp16" ? "f16"
                                                 : "f32";
  pm.addPass(createQLLMLayoutWeightsPass(layout));
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  QLLMSelectKernelsPassOptions kernels;
  kernels.target = options.target;
  pm.addNestedPass<func::FuncOp>(createQLLMSelectKernelsPass(kernels));
  pm.addNestedPass<func::FuncOp>(createQLLMPlanMemoryPass());
  if (options.target == "cuda")
    pm.addPass(createQLLMGenerateCudaPass());
}

void mlir::qllm::registerQuantPipelines() {
  PassPipelineRegistration<CompileOptions>(
      "quant-compile",
      "Compile an imported model into plan-ready IR: import cleanup, f32 "
      "compute, weight quantization and dequant-matmul fusion "
      "(method=int8|int4|int|nf4) or float storage (method=fp32|fp16), "
      "prefill/decode entries, weight layout, kernels and arena offsets; "
      "target=cuda also generates CUDA kernels for the plan",
      [](OpPassManager &pm, const CompileOptions &options) {
        buildCompilePipeline(pm, options);
      });
  PassPipelineRegistration<>(
      "quant-import-cleanup",
      "Fold shape subgraphs of an imported ONNX graph and raise it to LLM "
      "ops (embedding, rms_norm, rotary, attention, swiglu)",
      [](OpPassManager &pm) { buildImportCleanupPipeline(pm); });
}
