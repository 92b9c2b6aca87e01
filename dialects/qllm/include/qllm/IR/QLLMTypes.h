//===- QLLMTypes.h - qllm types ---------------------------------*- C++ -*-===//

#ifndef QLLM_IR_QLLMTYPES_H
#define QLLM_IR_QLLMTYPES_H

#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/DialectImplementation.h"
#include "mlir/IR/Types.h"
#include "qllm/IR/QLLMAttrs.h"

namespace mlir::qllm {
/// Parses a static shape written `4096x11008`.
ParseResult parseStaticShape(AsmParser &parser, SmallVectorImpl<int64_t> &shape);
/// Prints a shape as parsed by parseStaticShape.
void printStaticShape(AsmPrinter &printer, ArrayRef<int64_t> shape);
} // namespace mlir::qllm

#define GET_TYPEDEF_CLASSES
#include "qllm/IR/QLLMTypes.h.inc"

#endif // QLLM_IR_QLLMTYPES_H
