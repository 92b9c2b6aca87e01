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

/// Registers the named pipelines (quant-import-cleanup, ...).
void registerQuantPipelines();

} // namespace mlir::qllm

#endif // QUANT_PASSES_PASSES_H
