//===- Passes.h - quant-opt passes ------------------------------*- C++ -*-===//

#ifndef QUANT_PASSES_PASSES_H
#define QUANT_PASSES_PASSES_H

#include "mlir/Pass/Pass.h"
#include "qllm/IR/QLLMDialect.h"

namespace mlir::qllm {

#define GEN_PASS_DECL
#include "quant/Passes/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "quant/Passes/Passes.h.inc"

} // namespace mlir::qllm

#endif // QUANT_PASSES_PASSES_H
