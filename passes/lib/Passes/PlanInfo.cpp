//===- PlanInfo.cpp - facts about plan-ready IR ---------------------------===//

#include "quant/Plan/PlanInfo.h"

#include "qllm/IR/QLLMOps.h"
#include "qllm/IR/QLLMPlanAttrs.h"
#include "qllm/IR/QLLMShapes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

using namespace mlir;
using namespace mlir::qllm;

std::optional<int64_t> PlanShapes::resolve(Value value, int64_t dim,
                                           std::string &why) {
  auto key = std::make_pair(value, dim);
  if (auto it = cache.find(key); it != cache.end())
    return it->second;
  std::optional<int64_t> size;
  DimRef root = traceDim(value, dim);
  if (auto arg = dyn_cast<BlockArgument>(root.value)) {
    // The role qllm-classify-dims gave the argument's dimension.
    auto func = dyn_cast<func::FuncOp>(arg.getOwner()->getParentOp());
    unsigned index = arg.getArgNumber();
    SmallVector<DimRole> roles =
        func ? getArgDimRoles(func, index) : SmallVector<DimRole>();
    auto names = func ? func.getArgAttrOfType<ArrayAttr>(index, kDimsAttrName)
                      : ArrayAttr();
    StringRef name;
    if (names && root.dim < static_cast<int64_t>(names.size()))
      if (auto s = dyn_cast<StringAttr>(names[root.dim]))
        name = s.getValue();
    if (root.dim >= static_cast<int64_t>(roles.size()))
      why = "the model's input dimensions are not classified (run "
            "qllm-classify-dims)";
    else if (roles[root.dim] == DimRole::batch)
      size = batch;
    else if (roles[root.dim] == DimRole::sequence)
      size = kTokenDim;
    else
      why = "it traces to the input dimension '" +
            (name.empty() ? std::string("?") : name.str()) + "' (" +
            stringifyDimRole(roles[root.dim]).str() + ")";
  } else if (Operation *op = root.value.getDefiningOp();
             op && op->hasTrait<OpTrait::ResultsBroadcastableShape>()) {
    // Several operands carry the dimension: all must agree.
    int64_t rank = cast<RankedTensorType>(root.value.getType()).getRank();
    bool agree = true;
    for (Value operand : op->getOperands()) {
      auto type = cast<RankedTensorType>(operand.getType());
      int64_t d = root.dim - (rank - type.getRank());
      if (d < 0 || type.getDimSize(d) == 1)
        continue;
      std::optional<int64_t> part =
          ShapedType::isDynamic(type.getDimSize(d))
              ? resolve(operand, d, why)
              : std::optional<int64_t>(type.getDimSize(d));
      if (!part || (size && *size != *part)) {
        agree = false;
        break;
      }
      size = part;
    }
    if (!agree) {
      if (why.empty())
        why = "its operands disagree";
      size.reset();
    }
  } else {
    why = "its size is computed";
  }
  cache[key] = size;
  return size;
}

std::optional<int64_t> PlanShapes::dimension(Value value, int64_t dim) {
  int64_t size = cast<RankedTensorType>(value.getType()).getDimSize(dim);
  if (!ShapedType::isDynamic(size))
    return size;
  std::string why;
  return resolve(value, dim, why);
}

FailureOr<SmallVector<int64_t>> PlanShapes::shape(Value value) {
  auto type = cast<RankedTensorType>(value.getType());
  SmallVector<int64_t> shape;
  for (int64_t d = 0; d < type.getRank(); ++d) {
    if (!ShapedType::isDynamic(type.getDimSize(d))) {
      shape.push_back(type.getDimSize(d));
      continue;
    }
    std::string why;
    std::optional<int64_t> size = resolve(value, d, why);
    if (!size)
      return emitError(value.getLoc())
             << "dimension " << d << " of " << type
             << " is neither the batch nor the tokens of a step (" << why
             << "); the runtime cannot size it";
    shape.push_back(*size);
  }
  return shape;
}

Operation *mlir::qllm::weightOf(Value value) {
  if (auto cast = value.getDefiningOp<CastOp>())
    value = cast.getInput();
  if (auto weight = value.getDefiningOp<WeightOp>())
    return weight;
  return nullptr;
}

Value mlir::qllm::storageRoot(Value value) {
  while (auto reshape = value.getDefiningOp<ReshapeOp>())
    value = reshape.getInput();
  return value;
}
