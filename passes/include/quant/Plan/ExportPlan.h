//===- ExportPlan.h - plan-ready IR to a .qplan file ------------*- C++ -*-===//
//
// The last step of the compiler: a module compiled by quant-compile (entry
// points with kernels and arena offsets, weights in their runtime layout)
// becomes a runtime plan. Export is a walk over the verified plan-ready IR
// (qllm/IR/QLLMPlanAttrs.h) that fills the runtime's plan description
// (qrt/core/PlanWriter.h) and calls the runtime's writer; each backend
// target the module has code for (the CUDA code of qllm-generate-cuda)
// adds its executable through its own exporter (TargetExport.h).
//
//===----------------------------------------------------------------------===//

#ifndef QUANT_PLAN_EXPORTPLAN_H
#define QUANT_PLAN_EXPORTPLAN_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Support/LLVM.h"

#include <cstdint>
#include <vector>

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

/// The plan of `module` in memory (e.g. to run it at once, or from Python).
FailureOr<std::vector<uint8_t>>
exportPlanToMemory(ModuleOp module, const ExportPlanOptions &options = {});

} // namespace mlir::qllm

#endif // QUANT_PLAN_EXPORTPLAN_H
