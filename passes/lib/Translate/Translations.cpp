//===- Translations.cpp - quant-translate registrations -------------------===//

#include "quant/Translate/Translations.h"

#include "qllm/IR/QLLMDialect.h"
#include "quant/Import/OnnxImporter.h"

#include "mlir/Bytecode/BytecodeWriter.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-translate/Translation.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/SourceMgr.h"

using namespace mlir;

static void registerInputDialects(DialectRegistry &registry) {
  registry.insert<qllm::QLLMDialect, func::FuncDialect>();
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

void mlir::qllm::registerQuantTranslations() {
  static llvm::cl::opt<bool> emitBytecode(
      "emit-bytecode",
      llvm::cl::desc("Write imported modules as MLIR bytecode (weights are "
                     "stored as raw aligned bytes, not hex text)"),
      llvm::cl::init(false));

  static TranslateRegistration importOnnx(
      "import-onnx", "import an ONNX model (.onnx) into the qllm dialect",
      [](const std::shared_ptr<llvm::SourceMgr> &sourceMgr,
         llvm::raw_ostream &output, MLIRContext *context) -> LogicalResult {
        const llvm::MemoryBuffer *buffer =
            sourceMgr->getMemoryBuffer(sourceMgr->getMainFileID());
        OwningOpRef<ModuleOp> module = importOnnxModel(
            buffer->getMemBufferRef(), buffer->getBufferIdentifier(), context);
        if (!module)
          return failure();
        if (emitBytecode)
          return writeBytecodeToFile(*module, output);
        module->print(output);
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

  static TranslateFromMLIRRegistration weightReport(
      "weight-report",
      "print each weight's storage format, bytes and bits per weight",
      writeWeightReport, registerInputDialects);
}
