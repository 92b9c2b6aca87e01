//===- CompileOnnx.h - the compiler as a library call -----------*- C++ -*-===//
//
// ONNX model -> plan bytes, and ONNX model -> qllm IR text, each in one call
// with its own MLIRContext, for callers that should not see MLIR (the Python
// package's compiler extension): plain C++ types only. Diagnostics (errors
// and warnings, with their locations) are returned as text.
//
//===----------------------------------------------------------------------===//

#ifndef QUANT_TRANSLATE_COMPILEONNX_H
#define QUANT_TRANSLATE_COMPILEONNX_H

#include <cstdint>
#include <string>
#include <vector>

namespace quant {

/// What quant-translate --onnx-to-plan does: import `onnxPath`, run
/// quant-compile with `options` (its option string, e.g. "method=int4
/// group-size=128"), export the plan. False and `diagnostics` (every error,
/// one per line) on failure; `plan` is then empty.
bool compileOnnxToPlan(const std::string &onnxPath, const std::string &options,
                       bool weightless, std::vector<uint8_t> &plan,
                       std::string &diagnostics);

/// The imported module as text (weights elided when `weightless`), raised to
/// LLM ops by quant-import-cleanup when `cleanup`.
bool importOnnxToText(const std::string &onnxPath, bool cleanup,
                      bool weightless, std::string &text,
                      std::string &diagnostics);

} // namespace quant

#endif // QUANT_TRANSLATE_COMPILEONNX_H
