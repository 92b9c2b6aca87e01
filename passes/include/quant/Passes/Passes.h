//===- Passes.h - quant-opt passes ------------------------------*- C++ -*-===//

#ifndef QUANT_PASSES_PASSES_H
#define QUANT_PASSES_PASSES_H

#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassManager.h"
#include "qllm/IR/QLLMDialect.h"
#include "quant/Passes/Options.h"

namespace mlir::qllm {

#define GEN_PASS_DECL
#include "quant/Passes/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "quant/Passes/Passes.h.inc"

/// The passes whose options are shared with quant-compile
/// (quant/Passes/Options.h), built with those options.
std::unique_ptr<Pass>
createQLLMQuantizeWeightsPass(const QuantizeOptions &options);
std::unique_ptr<Pass>
createQLLMSpecializeEntriesPass(const EntryOptions &options);
std::unique_ptr<Pass> createQLLMSelectKernelsPass(const TargetOptions &options);
/// qllm-gptq (library QuantGptq): `tokenizer` tokenizes the calibration text.
std::unique_ptr<Pass> createQLLMGptqPass(const QuantizeOptions &quantize,
                                         const GptqPassOptions &gptq,
                                         const std::string &tokenizer);
std::unique_ptr<Pass> createQLLMGenerateCudaPass(const CudaOptions &options);

/// quant-import-cleanup: classifies the model's dimensions, folds the shape
/// subgraphs of an imported ONNX graph and raises its primitive-op patterns
/// into LLM ops.
void buildImportCleanupPipeline(OpPassManager &pm);

/// Options of quant-compile: how weights are stored and what the plan's
/// entry points take. Each option is declared once, in its option set, and
/// shared with the pass that uses it.
struct CompileOptions : public PassPipelineOptions<CompileOptions> {
  QuantizeOptionSet<::mlir::detail::PassOptions> quantize{*this,
                                                         WeightMethod::fp32};
  Option<FloatStorage> floatWeights{
      *this, "float-weights",
      llvm::cl::desc("Storage of the weights a quantized method leaves in "
                     "floating point (embedding, output projection): f32 or "
                     "f16"),
      llvm::cl::init(FloatStorage::f32),
      llvm::cl::values(clEnumValN(FloatStorage::f32, "f32", "f32"),
                       clEnumValN(FloatStorage::f16, "f16", "f16"))};
  TargetOptionSet<::mlir::detail::PassOptions> target{*this};
  CudaOptionSet<::mlir::detail::PassOptions> cuda{*this};
  EntryOptionSet<::mlir::detail::PassOptions> entries{*this};
  GptqOptionSet<::mlir::detail::PassOptions> gptq{*this};
  Option<int64_t> tensorParallel{
      *this, "tensor-parallel",
      llvm::cl::desc("Split the model across this many ranks (tensor "
                     "parallelism; run the plan with mpirun -np N)"),
      llvm::cl::init(1)};
};

/// quant-compile: quant-import-cleanup, then everything a plan needs:
/// f32 compute, weight quantization (quantized methods), prefill/decode entry
/// points, weight layout, kernel selection, arena planning, and for the CUDA
/// target its kernels. The result exports with quant-translate --export-plan.
void buildCompilePipeline(OpPassManager &pm, const CompileOptions &options);

/// Registers the named pipelines (quant-import-cleanup, ...). The pipeline
/// functions are defined by the library QuantPipelines (above QuantPasses
/// and QuantGptq).
void registerQuantPipelines();

} // namespace mlir::qllm

#endif // QUANT_PASSES_PASSES_H
