//===- Pipelines.cpp - named pass pipelines of quant-opt ------------------===//
//
// Above every pass library (QuantPasses, QuantGptq): quant-compile chooses
// among their passes.
//
//===----------------------------------------------------------------------===//

#include "quant/Passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

void mlir::qllm::buildImportCleanupPipeline(OpPassManager &pm) {
  // What each input and output dimension counts, from the decoder
  // interface; then fold shape subgraphs (Shape -> Gather -> Concat ->
  // Reshape) as far as the known dimensions allow, and raise the
  // primitive-op patterns of both export styles into LLM ops, cleaning up
  // after each step.
  pm.addNestedPass<func::FuncOp>(createQLLMClassifyDimsPass());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  pm.addPass(createQLLMSplitProjectionsPass());
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
  // Exports without past inputs get the cached interface.
  pm.addNestedPass<func::FuncOp>(createQLLMAddKvCachePass());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
}

void mlir::qllm::buildCompilePipeline(OpPassManager &pm,
                                      const CompileOptions &options) {
  buildImportCleanupPipeline(pm);
  pm.addNestedPass<func::FuncOp>(createQLLMPromoteToF32Pass());
  QuantizeOptions quantize = options.quantize.values();
  bool quantized = isQuantized(quantize.method);
  if (quantize.method == WeightMethod::gptq)
    pm.addPass(createQLLMGptqPass(quantize, options.gptq.values(),
                                  options.entries.tokenizer));
  else if (quantized)
    pm.addPass(createQLLMQuantizeWeightsPass(quantize));
  // Also for IR quantized before (by qllm-gptq, or imported MatMulNBits).
  pm.addPass(createQLLMFuseDequantMatmulPass());
  pm.addPass(createQLLMFoldActOrderPass());
  pm.addPass(createQLLMSpecializeEntriesPass(options.entries.values()));
  QLLMLayoutWeightsPassOptions layout;
  layout.weightType = quantized ? options.floatWeights.getValue()
                      : quantize.method == WeightMethod::fp16
                          ? FloatStorage::f16
                          : FloatStorage::f32;
  pm.addPass(createQLLMLayoutWeightsPass(layout));
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  if (options.tensorParallel > 1) {
    QLLMShardTensorParallelPassOptions shard;
    shard.worldSize = options.tensorParallel;
    pm.addPass(createQLLMShardTensorParallelPass(shard));
    pm.addPass(createCanonicalizerPass());
  }
  Target target = options.target.target;
  pm.addNestedPass<func::FuncOp>(
      createQLLMSelectKernelsPass(options.target.values()));
  pm.addNestedPass<func::FuncOp>(createQLLMPlanMemoryPass());
  if (target == Target::cuda)
    pm.addPass(createQLLMGenerateCudaPass(options.cuda.values()));
}

void mlir::qllm::registerQuantPipelines() {
  PassPipelineRegistration<CompileOptions>(
      "quant-compile",
      "Compile an imported model into plan-ready IR: import cleanup, f32 "
      "compute, weight quantization and dequant-matmul fusion "
      "(method=int8|int4|int|nf4|fp4|llm-int8, or gptq calibrated on calibration=FILE) or float storage (method=fp32|fp16), "
      "prefill/decode entries, weight layout, kernels and arena offsets; "
      "target=cuda also generates CUDA kernels for the plan",
      [](OpPassManager &pm, const CompileOptions &options) {
        buildCompilePipeline(pm, options);
      });
  PassPipelineRegistration<>(
      "quant-import-cleanup",
      "Classify the input dimensions of an imported ONNX graph, fold its "
      "shape subgraphs and raise it to LLM ops (embedding, rms_norm, rotary, "
      "attention, swiglu)",
      [](OpPassManager &pm) { buildImportCleanupPipeline(pm); });
}
