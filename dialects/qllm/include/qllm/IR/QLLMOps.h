//===- QLLMOps.h - qllm operations ------------------------------*- C++ -*-===//

#ifndef QLLM_IR_QLLMOPS_H
#define QLLM_IR_QLLMOPS_H

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/Dialect/Traits.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "qllm/IR/QLLMAttrs.h"
#include "qllm/IR/QLLMDialect.h"
#include "qllm/IR/QLLMTypes.h"

#define GET_OP_CLASSES
#include "qllm/IR/QLLMOps.h.inc"

namespace mlir::qllm {
/// The element type of a quantized weight's component of kind `kind` (u8
/// codes are unsigned `ui8`).
Type componentElementType(MLIRContext *ctx, ::qrt::ElementKind kind);
} // namespace mlir::qllm

#endif // QLLM_IR_QLLMOPS_H
