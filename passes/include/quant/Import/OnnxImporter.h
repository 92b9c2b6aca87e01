//===- OnnxImporter.h - ONNX models into the qllm dialect -------*- C++ -*-===//

#ifndef QUANT_IMPORT_ONNXIMPORTER_H
#define QUANT_IMPORT_ONNXIMPORTER_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/Support/MemoryBufferRef.h"

namespace mlir::qllm {

struct OnnxImportOptions {
  /// A weightless import: every initializer stored as external data becomes
  /// a weight of zero bytes in untouched anonymous memory, without opening
  /// its data file (which need not exist), and the module is marked
  /// `qllm.weightless` (qllm/IR/Weightless.h). For compiling weightless
  /// plans of models whose weights are not at hand.
  bool weightless = false;
};

/// Imports the ONNX model held in `buffer`, read from `path`, into a new
/// module with one function `@main`: graph inputs become arguments and graph
/// outputs results (named by `qllm.name` attributes, symbolic dimensions kept
/// dynamic and named by `qllm.dims`), initializers become `qllm.weight` ops
/// (dense_resource blobs; external data files are mapped, not copied), and
/// each node becomes qllm ops located at `loc("node name")`.
///
/// Nodes need not be in topological order. On any error (unparsable file,
/// unsupported op, bad external data, ...) emits a diagnostic naming the node,
/// op type, domain and file, and returns null.
OwningOpRef<ModuleOp> importOnnxModel(llvm::MemoryBufferRef buffer,
                                      StringRef path, MLIRContext *context,
                                      const OnnxImportOptions &options = {});

} // namespace mlir::qllm

#endif // QUANT_IMPORT_ONNXIMPORTER_H
