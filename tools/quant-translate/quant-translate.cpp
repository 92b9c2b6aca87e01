//===- quant-translate.cpp - translations into and out of qllm ------------===//

#include "quant/Translate/Translations.h"

#include "mlir/Support/LogicalResult.h"
#include "mlir/Tools/mlir-translate/MlirTranslateMain.h"

int main(int argc, char **argv) {
  mlir::qllm::registerQuantTranslations();
  return mlir::failed(mlir::mlirTranslateMain(
      argc, argv, "quant-translate: translations into and out of qllm\n"));
}
