//===- QLLMTypes.cpp - qllm types -----------------------------------------===//

#include "qllm/IR/QLLMTypes.h"
#include "qllm/IR/QLLMDialect.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::qllm;

#define GET_TYPEDEF_CLASSES
#include "qllm/IR/QLLMTypes.cpp.inc"

void QLLMDialect::registerTypes() {
  addTypes<
#define GET_TYPEDEF_LIST
#include "qllm/IR/QLLMTypes.cpp.inc"
      >();
}

ParseResult mlir::qllm::parseStaticShape(AsmParser &parser,
                                         SmallVectorImpl<int64_t> &shape) {
  return parser.parseDimensionList(shape, /*allowDynamic=*/false,
                                   /*withTrailingX=*/false);
}

void mlir::qllm::printStaticShape(AsmPrinter &printer, ArrayRef<int64_t> shape) {
  printer.printDimensionList(shape);
}

LogicalResult
QTensorType::verify(function_ref<InFlightDiagnostic()> emitError,
                    ArrayRef<int64_t> shape, QuantSchemeAttrInterface scheme) {
  if (shape.size() != 2)
    return emitError() << "a quantized weight is a [rows, cols] matrix, got "
                       << shape.size() << " dimensions";
  for (int64_t dim : shape)
    if (dim <= 0)
      return emitError() << "quantized weight dimensions must be positive, got "
                         << dim;
  return success();
}
