//===- onnx-import-fuzzer.cpp - libFuzzer target of the ONNX importer -----===//
//
// Feeds arbitrary bytes to the importer as an .onnx file. Any input must end
// in a module or in diagnostics: never a crash, a hang or a sanitizer report.
// Built with -DQUANT_ENABLE_FUZZING=ON (clang); run by
// tools/scripts/fuzz-import.sh.
//
//===----------------------------------------------------------------------===//

#include "quant/Import/OnnxImporter.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "llvm/Support/MemoryBuffer.h"

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  mlir::MLIRContext context(mlir::MLIRContext::Threading::DISABLED);
  mlir::ScopedDiagnosticHandler quiet(&context, [](mlir::Diagnostic &) {
    return mlir::success();
  });
  llvm::MemoryBufferRef buffer(
      llvm::StringRef(reinterpret_cast<const char *>(data), size), "fuzz.onnx");
  // External data would be resolved beside a file in a directory of its own.
  (void)mlir::qllm::importOnnxModel(buffer, "/nonexistent-fuzz-dir/fuzz.onnx",
                                    &context);
  return 0;
}
