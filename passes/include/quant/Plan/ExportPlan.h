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

namespace llvm {
class raw_ostream;
} // namespace llvm

namespace mlir::qllm {

/// Writes the plan of `module` to `os`. Fails with an error naming the op
/// for IR that is not plan-ready (run quant-compile first); nothing is
/// written then.
LogicalResult exportPlan(ModuleOp module, llvm::raw_ostream &os);

} // namespace mlir::qllm

#endif // QUANT_PLAN_EXPORTPLAN_H
