//===- Weightless.h - modules whose weights have no values ------*- C++ -*-===//
//
// A weightless module (imported with --weightless) has every weight's type
// and name but not its values: the importer backs each external weight with
// zero bytes of anonymous memory that are never touched, and the passes that
// rewrite weight bytes (quantization, layout) produce blobs of the right
// shape and type the same way instead of computing them. It compiles a
// model of any size in seconds and exports to a weightless plan, whose
// weights the runtime synthesizes (qrt/core/SyntheticWeights.h). The module
// carries the unit attribute `qllm.weightless`.
//
//===----------------------------------------------------------------------===//

#ifndef QLLM_IR_WEIGHTLESS_H
#define QLLM_IR_WEIGHTLESS_H

#include "mlir/IR/AsmState.h"
#include "mlir/IR/Operation.h"
#include "llvm/ADT/StringRef.h"

#include <cstddef>

namespace mlir::qllm {

/// The module attribute that marks a weightless module.
inline constexpr llvm::StringLiteral kWeightlessAttrName = "qllm.weightless";

/// Whether `op` is, or lies in, a module marked weightless.
bool isWeightless(Operation *op);

/// `bytes` zero bytes in anonymous memory reserved lazily (no swap
/// reservation; untouched pages cost no memory), released with the blob.
AsmResourceBlob zeroBlob(size_t bytes, size_t alignment);

} // namespace mlir::qllm

#endif // QLLM_IR_WEIGHTLESS_H
