//===- PlanInfo.h - facts about plan-ready IR ------------------*- C++ -*-===//
//
// What the lowering passes and plan export both need to know of plan-ready
// IR beyond its typed attributes (qllm/IR/QLLMPlanAttrs.h): activation
// shapes in the plan's terms, and where a weight operand comes from.
//
//===----------------------------------------------------------------------===//

#ifndef QUANT_PLAN_PLANINFO_H
#define QUANT_PLAN_PLANINFO_H

#include "mlir/IR/Operation.h"
#include "mlir/IR/Value.h"
#include "mlir/Support/LLVM.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/SmallVector.h"

#include <optional>
#include <string>

namespace mlir::qllm {

/// The token dimension of plan shapes (the runtime's -1).
inline constexpr int64_t kTokenDim = -1;

/// Plan shapes of activations: static dimensions as they are, dynamic ones
/// resolved through the arguments' dimension roles (`qllm.dim_roles`, from
/// qllm-classify-dims) to the batch size or the token dimension. A dimension that broadcasting ops take from several
/// operands resolves when all of them agree. Answers are cached, so one
/// PlanShapes serves a whole function in linear time.
class PlanShapes {
public:
  explicit PlanShapes(int64_t batch) : batch(batch) {}

  /// Emits an error at the value and fails for a dimension that is neither
  /// the batch nor the tokens (a past or total length is not an activation
  /// dimension).
  FailureOr<SmallVector<int64_t>> shape(Value value);

  /// The plan size of dimension `dim` of `value`: its static size, the batch,
  /// kTokenDim, or nullopt if it is neither (no error emitted).
  std::optional<int64_t> dimension(Value value, int64_t dim);

private:
  /// The plan size of a dynamic dimension, or nullopt with `why`.
  std::optional<int64_t> resolve(Value value, int64_t dim, std::string &why);

  int64_t batch;
  llvm::DenseMap<std::pair<Value, int64_t>, std::optional<int64_t>> cache;
};

/// For a weight operand (a qllm.weight, or a cast of one marking its storage
/// type): the weight op, else null.
Operation *weightOf(Value value);

/// The value whose bytes `value` shares: through views (reshapes).
Value storageRoot(Value value);

} // namespace mlir::qllm

#endif // QUANT_PLAN_PLANINFO_H
