//===- CompileOnnx.cpp - the compiler as a library call -------------------===//

#include "quant/Translate/CompileOnnx.h"

#include "qllm/IR/QLLMDialect.h"
#include "qrt/cuda/Executable.h"
#include "quant/Import/OnnxImporter.h"
#include "quant/Passes/Passes.h"
#include "quant/Plan/ExportPlan.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

#include <mutex>

using namespace mlir;

namespace {

/// `loc` as quant-translate prints it: "file:line:col", an ONNX node's name
/// with the file's position, or MLIR's form for anything else.
std::string locationText(Location loc) {
  std::string text;
  llvm::raw_string_ostream os(text);
  if (auto file = dyn_cast<FileLineColLoc>(loc)) {
    os << file.getFilename().getValue() << ":" << file.getLine() << ":"
       << file.getColumn();
  } else if (auto name = dyn_cast<NameLoc>(loc)) {
    os << locationText(name.getChildLoc()) << ": node '" << name.getName().getValue()
       << "'";
  } else if (auto fused = dyn_cast<FusedLoc>(loc)) {
    llvm::interleave(
        fused.getLocations(), os,
        [&](Location part) { os << locationText(part); }, ", ");
  } else {
    os << loc;
  }
  return text;
}

/// A context with the compiler's dialects, whose diagnostics are collected
/// as text (one per line, with its location).
struct CompilerContext {
  MLIRContext context;
  std::string diagnostics;
  ScopedDiagnosticHandler handler;

  CompilerContext()
      : handler(&context, [this](Diagnostic &d) {
          llvm::raw_string_ostream os(diagnostics);
          if (d.getSeverity() == DiagnosticSeverity::Remark)
            return success();
          os << locationText(d.getLocation()) << ": "
             << (d.getSeverity() == DiagnosticSeverity::Error ? "error: "
                 : d.getSeverity() == DiagnosticSeverity::Warning
                     ? "warning: "
                     : "note: ")
             << d << "\n";
          for (Diagnostic &note : d.getNotes())
            os << locationText(note.getLocation()) << ": note: " << note << "\n";
          return success();
        }) {
    context.loadDialect<qllm::QLLMDialect, func::FuncDialect>();
    // Multithreading makes the pipeline's parallel passes faster, and the
    // importer and quantizers use it; keep the default.
  }
};

/// The imported module of `onnxPath`, or null with the reason in
/// `c.diagnostics`.
OwningOpRef<ModuleOp> importFile(CompilerContext &c, const std::string &path,
                                 bool weightless) {
  auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                            /*RequiresNullTerminator=*/false);
  if (!buffer) {
    c.diagnostics += path + ": cannot read: " + buffer.getError().message() + "\n";
    return nullptr;
  }
  qllm::OnnxImportOptions options;
  options.weightless = weightless;
  return qllm::importOnnxModel((*buffer)->getMemBufferRef(), path, &c.context,
                               options);
}

void registerTargetsOnce() {
  static std::once_flag once;
  std::call_once(once, [] { qrt::cuda::registerTarget(); });
}

} // namespace

bool quant::compileOnnxToPlan(const std::string &onnxPath,
                              const std::string &options, bool weightless,
                              std::vector<uint8_t> &plan,
                              std::string &diagnostics) {
  registerTargetsOnce();
  plan.clear();
  CompilerContext c;
  std::unique_ptr<qllm::CompileOptions> parsed =
      qllm::CompileOptions::createFromString(options);
  if (!parsed) {
    diagnostics = "invalid compile options '" + options + "'";
    return false;
  }
  OwningOpRef<ModuleOp> module = importFile(c, onnxPath, weightless);
  bool ok = static_cast<bool>(module);
  if (ok) {
    PassManager pm = PassManager::on<ModuleOp>(&c.context);
    qllm::buildCompilePipeline(pm, *parsed);
    ok = succeeded(pm.run(*module));
  }
  std::string bytes;
  if (ok) {
    llvm::raw_string_ostream os(bytes);
    qllm::ExportPlanOptions exportOptions;
    exportOptions.weightless = weightless;
    ok = succeeded(qllm::exportPlan(*module, os, exportOptions));
  }
  diagnostics = c.diagnostics;
  if (!ok) {
    if (diagnostics.empty())
      diagnostics = onnxPath + ": compilation failed";
    return false;
  }
  plan.assign(bytes.begin(), bytes.end());
  return true;
}

bool quant::importOnnxToText(const std::string &onnxPath, bool cleanup,
                             bool weightless, std::string &text,
                             std::string &diagnostics) {
  CompilerContext c;
  OwningOpRef<ModuleOp> module = importFile(c, onnxPath, weightless);
  bool ok = static_cast<bool>(module);
  if (ok && cleanup) {
    PassManager pm = PassManager::on<ModuleOp>(&c.context);
    qllm::buildImportCleanupPipeline(pm);
    ok = succeeded(pm.run(*module));
  }
  if (ok) {
    llvm::raw_string_ostream os(text);
    OpPrintingFlags flags;
    flags.elideLargeResourceString(weightless ? 0 : 64); // for reading
    module->print(os, flags);
  }
  diagnostics = c.diagnostics;
  if (!ok && diagnostics.empty())
    diagnostics = onnxPath + ": import failed";
  return ok;
}
