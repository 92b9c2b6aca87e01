//===- Translations.h - quant-translate registrations -----------*- C++ -*-===//
//
// Every translation of quant-translate registers here, so the tool's main
// stays one call.
//
//===----------------------------------------------------------------------===//

#ifndef QUANT_TRANSLATE_TRANSLATIONS_H
#define QUANT_TRANSLATE_TRANSLATIONS_H

#include "mlir/Support/LLVM.h"

#include <string>

namespace mlir {
class Operation;
namespace func {
class FuncOp;
} // namespace func
} // namespace mlir

namespace mlir::qllm {

/// The model function of a module: its first function with a body; emits an
/// error and returns null if there is none.
func::FuncOp findModelFunction(Operation *root);

/// Registers all of quant-translate's translations.
void registerQuantTranslations();

/// Writes a table of every weight under `root`: its storage format, bytes
/// and bits per weight element (scales and zero points included), then the
/// totals. Weights with the same name (shared between functions) count once.
LogicalResult writeWeightReport(Operation *root, llvm::raw_ostream &os);

/// Evaluates the module's function with the reference evaluator on `tokens`
/// (batch 1, no past; arguments bound by their `qllm.name`) and writes its
/// first result, the logits, as raw little-endian float32.
LogicalResult writeReferenceLogits(Operation *root, ArrayRef<int64_t> tokens,
                                   llvm::raw_ostream &os);

/// Evaluates the module's function with the reference evaluator, binding each
/// argument to the .npy file given as "qllm.name=FILE" in `inputs`, writes
/// each result as `outputDir`/<qllm.name>.npy and lists them on `os`.
LogicalResult runReference(Operation *root, ArrayRef<std::string> inputs,
                           StringRef outputDir, llvm::raw_ostream &os);

} // namespace mlir::qllm

#endif // QUANT_TRANSLATE_TRANSLATIONS_H
