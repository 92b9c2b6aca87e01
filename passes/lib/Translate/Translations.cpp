//===- Translations.cpp - quant-translate registrations -------------------===//

#include "quant/Translate/Translations.h"

#include "qllm/IR/QLLMDialect.h"
#include "qrt/core/Plan.h"
#include "qrt/cuda/Executable.h"
#include "quant/Import/OnnxImporter.h"
#include "quant/Passes/Passes.h"
#include "quant/Plan/ExportPlan.h"

#include "mlir/Bytecode/BytecodeWriter.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Tools/mlir-translate/Translation.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/SourceMgr.h"

#include <sstream>

using namespace mlir;

static void registerInputDialects(DialectRegistry &registry) {
  registry.insert<qllm::QLLMDialect, func::FuncDialect>();
}

/// The ONNX model of the translation's input file, imported.
static OwningOpRef<ModuleOp> importMainFile(const llvm::SourceMgr &sourceMgr,
                                            MLIRContext *context,
                                            bool weightless) {
  const llvm::MemoryBuffer *buffer =
      sourceMgr.getMemoryBuffer(sourceMgr.getMainFileID());
  qllm::OnnxImportOptions options;
  options.weightless = weightless;
  return qllm::importOnnxModel(buffer->getMemBufferRef(),
                               buffer->getBufferIdentifier(), context, options);
}

func::FuncOp mlir::qllm::findModelFunction(Operation *root) {
  func::FuncOp func;
  root->walk([&](func::FuncOp f) {
    if (!func && !f.isExternal())
      func = f;
  });
  if (!func)
    root->emitError() << "the module has no function to evaluate";
  return func;
}

/// Verifies the plan in `buffer` (with the code of every target this tool
/// knows) or reports why at the file.
static const qrt::fb::Plan *verifiedPlan(const llvm::MemoryBuffer &buffer,
                                         MLIRContext *context,
                                         bool checksums) {
  std::string error;
  auto *data = reinterpret_cast<const uint8_t *>(buffer.getBufferStart());
  if (!qrt::verifyPlan(data, buffer.getBufferSize(), checksums, error)) {
    emitError(FileLineColLoc::get(context, buffer.getBufferIdentifier(), 0, 0))
        << error;
    return nullptr;
  }
  return qrt::planOf(data);
}

void mlir::qllm::registerQuantTranslations() {
  // The plan tools verify and describe the CUDA backend's code too.
  qrt::cuda::registerTarget();
  static llvm::cl::opt<bool> emitBytecode(
      "emit-bytecode",
      llvm::cl::desc("Write imported modules as MLIR bytecode (weights are "
                     "stored as raw aligned bytes, not hex text)"),
      llvm::cl::init(false));
  static llvm::cl::opt<bool> weightless(
      "weightless",
      llvm::cl::desc("Weightless: --import-onnx and --onnx-to-plan read no "
                     "external weight data (the files need not exist); "
                     "--export-plan and --onnx-to-plan write a plan without "
                     "weight bytes, which the runtime synthesizes (speed "
                     "measurements only)"),
      llvm::cl::init(false));
  static llvm::cl::opt<uint64_t> weightSeed(
      "weight-seed",
      llvm::cl::desc("Seed of a weightless plan's synthesized weights"),
      llvm::cl::init(1));
  static auto exportOptions = [] {
    ExportPlanOptions options;
    options.weightless = weightless;
    options.weightSeed = weightSeed;
    return options;
  };

  static TranslateRegistration importOnnx(
      "import-onnx", "import an ONNX model (.onnx) into the qllm dialect",
      [](const std::shared_ptr<llvm::SourceMgr> &sourceMgr,
         llvm::raw_ostream &output, MLIRContext *context) -> LogicalResult {
        OwningOpRef<ModuleOp> module =
            importMainFile(*sourceMgr, context, weightless);
        if (!module)
          return failure();
        // A weightless module's weights have no values: write none (the
        // module still parses and compiles without them, see
        // qllm/IR/Weightless.h).
        if (emitBytecode) {
          BytecodeWriterConfig config;
          config.setElideResourceDataFlag(weightless);
          return writeBytecodeToFile(*module, output, config);
        }
        OpPrintingFlags flags;
        if (weightless)
          flags.elideLargeResourceString(0);
        module->print(output, flags);
        return success();
      });

  static llvm::cl::list<int64_t> referenceTokens(
      "reference-tokens",
      llvm::cl::desc("Token ids for --reference-logits (comma-separated)"),
      llvm::cl::CommaSeparated);
  static TranslateFromMLIRRegistration referenceLogits(
      "reference-logits",
      "evaluate the model on --reference-tokens with the reference evaluator "
      "and write the logits as raw float32 [tokens, vocab]",
      [](Operation *op, llvm::raw_ostream &output) {
        SmallVector<int64_t> tokens(referenceTokens.begin(),
                                    referenceTokens.end());
        return writeReferenceLogits(op, tokens, output);
      },
      registerInputDialects);

  static llvm::cl::list<std::string> referenceInputs(
      "reference-input",
      llvm::cl::desc("NAME=FILE.npy binding an argument for --reference-run"));
  static llvm::cl::opt<std::string> referenceOutputDir(
      "reference-output-dir",
      llvm::cl::desc("Directory for the .npy results of --reference-run"),
      llvm::cl::init("."));
  static TranslateFromMLIRRegistration referenceRun(
      "reference-run",
      "evaluate the model on .npy inputs (--reference-input NAME=FILE) with "
      "the reference evaluator and write each result as a .npy file",
      [](Operation *op, llvm::raw_ostream &output) {
        SmallVector<std::string> inputs(referenceInputs.begin(),
                                        referenceInputs.end());
        return runReference(op, inputs, referenceOutputDir, output);
      },
      registerInputDialects);

  static TranslateFromMLIRRegistration exportPlanTranslation(
      "export-plan",
      "write a module compiled by quant-compile as a runtime plan (.qplan)",
      [](Operation *op, llvm::raw_ostream &output) -> LogicalResult {
        auto module = dyn_cast<ModuleOp>(op);
        if (!module)
          return op->emitError() << "expected a module";
        return exportPlan(module, output, exportOptions());
      },
      registerInputDialects);

  static llvm::cl::opt<std::string> compileOptions(
      "compile-options",
      llvm::cl::desc("Options of the quant-compile pipeline for "
                     "--onnx-to-plan, e.g. \"method=fp16 max-context=512\""),
      llvm::cl::init(""));
  static TranslateRegistration onnxToPlan(
      "onnx-to-plan",
      "import an ONNX model, compile it (quant-compile with "
      "--compile-options) and write the runtime plan",
      [](const std::shared_ptr<llvm::SourceMgr> &sourceMgr,
         llvm::raw_ostream &output, MLIRContext *context) -> LogicalResult {
        std::unique_ptr<CompileOptions> options =
            CompileOptions::createFromString(compileOptions);
        if (!options)
          return emitError(UnknownLoc::get(context))
                 << "invalid --compile-options '" << compileOptions << "'";
        OwningOpRef<ModuleOp> module =
            importMainFile(*sourceMgr, context, weightless);
        if (!module)
          return failure();
        PassManager pm = PassManager::on<ModuleOp>(context);
        buildCompilePipeline(pm, *options);
        if (failed(pm.run(*module)))
          return failure();
        return exportPlan(*module, output, exportOptions());
      });

  static TranslateRegistration planToJson(
      "plan-to-json",
      "verify a runtime plan (.qplan) and print it as JSON (no weight bytes)",
      [](const std::shared_ptr<llvm::SourceMgr> &sourceMgr,
         llvm::raw_ostream &output, MLIRContext *context) -> LogicalResult {
        const qrt::fb::Plan *plan = verifiedPlan(
            *sourceMgr->getMemoryBuffer(sourceMgr->getMainFileID()), context,
            /*checksums=*/true);
        if (!plan)
          return failure();
        std::ostringstream json;
        qrt::writePlanJson(*plan, json);
        output << json.str();
        return success();
      });

  static TranslateRegistration planCudaSource(
      "plan-cuda-source",
      "verify a runtime plan (.qplan) and print the CUDA C++ generated for it "
      "(compiled with quant-compile{target=cuda})",
      [](const std::shared_ptr<llvm::SourceMgr> &sourceMgr,
         llvm::raw_ostream &output, MLIRContext *context) -> LogicalResult {
        const llvm::MemoryBuffer *buffer =
            sourceMgr->getMemoryBuffer(sourceMgr->getMainFileID());
        const qrt::fb::Plan *plan =
            verifiedPlan(*buffer, context, /*checksums=*/false);
        if (!plan)
          return failure();
        for (const qrt::cuda::ModuleCode &code : qrt::cuda::cudaCodeOf(*plan))
          if (code.format == "cuda-source") {
            output.write(reinterpret_cast<const char *>(code.code), code.size);
            return success();
          }
        return emitError(FileLineColLoc::get(
                   context, buffer->getBufferIdentifier(), 0, 0))
               << "the plan has no CUDA code (compile it with "
                  "quant-compile{... target=cuda})";
      });

  static TranslateFromMLIRRegistration weightReport(
      "weight-report",
      "print each weight's storage format, bytes and bits per weight",
      writeWeightReport, registerInputDialects);
}
