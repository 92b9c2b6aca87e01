//===- PatternUtils.h - small helpers shared by the passes ------*- C++ -*-===//

#ifndef QUANT_LIB_PASSES_PATTERNUTILS_H
#define QUANT_LIB_PASSES_PATTERNUTILS_H

#include "qllm/IR/QLLMOps.h"

#include "mlir/IR/Matchers.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "mlir/IR/TypeUtilities.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/SetVector.h"

#include <optional>

namespace mlir::qllm {

/// `type` (a ranked tensor type) with dimension `dim` of size `size`.
inline RankedTensorType withDim(Type type, int64_t dim, int64_t size) {
  auto ranked = cast<RankedTensorType>(type);
  SmallVector<int64_t> shape(ranked.getShape());
  shape[dim] = size;
  return ranked.clone(shape);
}

/// The value of a scalar (or splat) floating-point constant.
inline std::optional<double> scalarFloat(Value value) {
  DenseFPElementsAttr attr;
  if (!value || !matchPattern(value, m_Constant(&attr)) || !attr.isSplat())
    return std::nullopt;
  return attr.getSplatValue<APFloat>().convertToDouble();
}

/// `value` without float-to-float casts around it.
inline Value stripFloatCasts(Value value) {
  while (auto cast = value.getDefiningOp<CastOp>()) {
    if (!isa<FloatType>(getElementTypeOrSelf(cast.getInput().getType())))
      break;
    value = cast.getInput();
  }
  return value;
}

/// For a commutative binary op, binds (a, b) so that `first(a)` holds;
/// returns false if neither order does.
template <typename Pred>
bool orderOperands(Operation *op, Value &a, Value &b, Pred first) {
  Value x = op->getOperand(0), y = op->getOperand(1);
  if (first(x)) {
    a = x;
    b = y;
    return true;
  }
  if (first(y)) {
    a = y;
    b = x;
    return true;
  }
  return false;
}

/// The function arguments `value` depends on (through every operand of its
/// producers), in the order found.
inline llvm::SetVector<BlockArgument> argumentsOf(Value value) {
  llvm::SetVector<BlockArgument> args;
  SmallVector<Value> worklist{value};
  llvm::DenseSet<Value> seen;
  while (!worklist.empty()) {
    Value v = worklist.pop_back_val();
    if (!seen.insert(v).second)
      continue;
    if (auto arg = dyn_cast<BlockArgument>(v)) {
      args.insert(arg);
      continue;
    }
    for (Value operand : v.getDefiningOp()->getOperands())
      worklist.push_back(operand);
  }
  return args;
}

/// Applies raising patterns to a fixed point, removing what dies, without
/// folding (folding is canonicalization's job, run around the raising passes).
inline LogicalResult applyRaisingPatterns(Operation *op,
                                          RewritePatternSet &&patterns) {
  GreedyRewriteConfig config;
  config.enableFolding(false);
  return applyPatternsGreedily(op, std::move(patterns), config);
}

} // namespace mlir::qllm

#endif // QUANT_LIB_PASSES_PATTERNUTILS_H
