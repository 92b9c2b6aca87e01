//===- ExportPlan.h - plan-ready IR to a .qplan file ------------*- C++ -*-===//
//
// The last step of the compiler: a module compiled by quant-compile (entry
// points with kernels and arena offsets, weights in their runtime layout)
// becomes a runtime plan, the FlatBuffer of runtime/schema/plan.fbs followed
// by the weights at 64-byte aligned offsets with checksums.
//
//===----------------------------------------------------------------------===//

#ifndef QUANT_PLAN_EXPORTPLAN_H
#define QUANT_PLAN_EXPORTPLAN_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Support/LLVM.h"

#include <cstdint>

namespace llvm {
class raw_ostream;
} // namespace llvm

namespace mlir::qllm {

/// How exportPlan writes a plan.
struct ExportPlanOptions {
  /// A weightless plan: every weight's name, type and size but no bytes
  /// (offsets and checksums 0); the runtime synthesizes the weights from
  /// `weightSeed` (qrt/core/SyntheticWeights.h). Speed measurements only. A
  /// weightless module (qllm/IR/Weightless.h) exports only this way.
  bool weightless = false;
  uint64_t weightSeed = 1;
};

/// Writes the plan of `module` to `os`. Fails with an error naming the op
/// for IR that is not plan-ready (run quant-compile first); nothing is
/// written then.
LogicalResult exportPlan(ModuleOp module, llvm::raw_ostream &os,
                         const ExportPlanOptions &options = {});

} // namespace mlir::qllm

#endif // QUANT_PLAN_EXPORTPLAN_H
