//===- Translations.cpp - quant-translate registrations -------------------===//

#include "quant/Translate/Translations.h"

#include "qllm/IR/QLLMDialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-translate/Translation.h"

using namespace mlir;

static void registerInputDialects(DialectRegistry &registry) {
  registry.insert<qllm::QLLMDialect, func::FuncDialect>();
}

void mlir::qllm::registerQuantTranslations() {
  static TranslateFromMLIRRegistration weightReport(
      "weight-report",
      "print each weight's storage format, bytes and bits per weight",
      writeWeightReport, registerInputDialects);
}
