//===- Passes.h - quant-opt passes ------------------------------*- C++ -*-===//

#ifndef QUANT_PASSES_PASSES_H
#define QUANT_PASSES_PASSES_H

#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassManager.h"
#include "qllm/IR/QLLMDialect.h"

namespace mlir::qllm {

#define GEN_PASS_DECL
#include "quant/Passes/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "quant/Passes/Passes.h.inc"

/// quant-import-cleanup: folds the shape subgraphs of an imported ONNX graph
/// and raises its primitive-op patterns into LLM ops.
void buildImportCleanupPipeline(OpPassManager &pm);

/// Options of quant-compile: how weights are stored and what the plan's
/// entry points take.
struct CompileOptions : public PassPipelineOptions<CompileOptions> {
  Option<std::string> method{
      *this, "method",
      llvm::cl::desc("Weights: fp32, fp16 (storage), or quantized: int8, "
                     "int4, int (with bits), nf4"),
      llvm::cl::init("fp32")};
  // Quantized methods (see qllm-quantize-weights).
  Option<int> bits{*this, "bits",
                   llvm::cl::desc("Code bits for method=int: 2, 3, 4, 8"),
                   llvm::cl::init(0)};
  Option<int64_t> groupSize{
      *this, "group-size",
      llvm::cl::desc("Columns per group / NF4 block; -1 per channel; 0: the "
                     "method's default"),
      llvm::cl::init(0)};
  Option<std::string> symmetric{
      *this, "symmetric", llvm::cl::desc("true, false or default"),
      llvm::cl::init("default")};
  Option<std::string> scaleType{
      *this, "scale-type", llvm::cl::desc("f32, f16, bf16 or default"),
      llvm::cl::init("default")};
  Option<bool> doubleQuant{
      *this, "double-quant",
      llvm::cl::desc("NF4: absmax as 8-bit codes (QLoRA)"),
      llvm::cl::init(false)};
  ListOption<std::string> exclude{
      *this, "exclude",
      llvm::cl::desc("Regexes of weight names that keep their precision")};
  Option<bool> quantizeOutput{
      *this, "quantize-output",
      llvm::cl::desc("Also quantize the output projection"),
      llvm::cl::init(false)};
  Option<std::string> floatWeights{
      *this, "float-weights",
      llvm::cl::desc("Storage of the weights a quantized method leaves in "
                     "floating point (embedding, output projection): f32 or "
                     "f16"),
      llvm::cl::init("f32")};
  Option<std::string> target{*this, "target",
                             llvm::cl::desc("Kernel target: cpu, or cuda (CUDA kernels "
                                           "generated into the plan; it "
                                           "still runs on the CPU too)"),
                             llvm::cl::init("cpu")};
  Option<int64_t> maxContext{
      *this, "max-context",
      llvm::cl::desc("KV-cache positions (0: the model's own maximum)"),
      llvm::cl::init(0)};
  Option<int64_t> prefillTokens{
      *this, "prefill-tokens",
      llvm::cl::desc("Tokens per prefill step (0: min(max-context, 512))"),
      llvm::cl::init(0)};
  Option<int64_t> bos{*this, "bos", llvm::cl::desc("BOS token id"),
                      llvm::cl::init(1)};
  Option<int64_t> eos{*this, "eos", llvm::cl::desc("EOS token id"),
                      llvm::cl::init(2)};
  Option<std::string> tokenizer{
      *this, "tokenizer",
      llvm::cl::desc("Tokenizer file the runtime uses by default"),
      llvm::cl::init("")};
};

/// quant-compile: quant-import-cleanup, then everything a plan needs:
/// f32 compute, prefill/decode entry points, weight layout, kernel selection
/// and arena planning. The result exports with quant-translate --export-plan.
void buildCompilePipeline(OpPassManager &pm, const CompileOptions &options);

/// Registers the named pipelines (quant-import-cleanup, ...).
void registerQuantPipelines();

} // namespace mlir::qllm

#endif // QUANT_PASSES_PASSES_H
