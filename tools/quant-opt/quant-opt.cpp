//===- quant-opt.cpp - the qllm optimizer driver --------------------------===//

#include "qllm/IR/QLLMDialect.h"
#include "quant/Passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "mlir/Transforms/Passes.h"

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  registry.insert<mlir::qllm::QLLMDialect, mlir::func::FuncDialect>();

  mlir::qllm::registerQLLMPasses();
  mlir::qllm::registerQuantPipelines();
  mlir::registerCanonicalizerPass();
  mlir::registerCSEPass();

  return mlir::asMainReturnCode(mlir::MlirOptMain(
      argc, argv, "quant-opt: passes and pipelines over the qllm dialect\n",
      registry));
}
