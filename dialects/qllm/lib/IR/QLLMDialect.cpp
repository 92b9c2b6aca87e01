//===- QLLMDialect.cpp - The qllm dialect ---------------------------------===//

#include "qllm/IR/QLLMDialect.h"
#include "qllm/IR/QLLMOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"

using namespace mlir;
using namespace mlir::qllm;

#include "qllm/IR/QLLMDialect.cpp.inc"

void QLLMDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "qllm/IR/QLLMOps.cpp.inc"
      >();
  registerAttributes();
  registerTypes();
}

Operation *QLLMDialect::materializeConstant(OpBuilder &builder, Attribute value,
                                            Type type, Location loc) {
  auto elements = dyn_cast<DenseElementsAttr>(value);
  if (!elements || elements.getType() != type)
    return nullptr;
  return ConstantOp::create(builder, loc, elements);
}
