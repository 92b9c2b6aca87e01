//===- QLLMDialect.h - The qllm dialect -------------------------*- C++ -*-===//

#ifndef QLLM_IR_QLLMDIALECT_H
#define QLLM_IR_QLLMDIALECT_H

#include "mlir/IR/Dialect.h"

#include "qllm/IR/QLLMDialect.h.inc"

#endif // QLLM_IR_QLLMDIALECT_H
