//===- TargetExport.h - backend code of a plan ------------------*- C++ -*-===//
//
// What plan export hands a target's exporter: the module, the ops of every
// entry that became plan steps (in the plan's order), and the function that
// turns a value into a plan buffer. A target exporter reads its own module
// attribute (CUDA: `qllm.cuda_code`) and the steps' (CUDA:
// `qllm.cuda_launches`), compiles what it must, and returns its executable
// for the plan's TargetCode, written by its backend's writer.
//
//===----------------------------------------------------------------------===//

#ifndef QUANT_PLAN_TARGETEXPORT_H
#define QUANT_PLAN_TARGETEXPORT_H

#include "qrt/core/PlanWriter.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Support/LLVM.h"

#include <functional>
#include <optional>
#include <vector>

namespace mlir::qllm {

struct TargetExportContext {
  ModuleOp module;
  /// Per plan entry, the ops that are its steps.
  std::vector<SmallVector<Operation *>> steps;
  /// Per plan entry and step, what the plan writes for it.
  const std::vector<::qrt::EntryDesc> *entries = nullptr;
  /// The plan buffer of `value` as `user` reads it (an error at `user` when
  /// it has none).
  std::function<FailureOr<::qrt::BufferDesc>(Value value, Operation *user)>
      describe;
};

/// A target's exporter: its code for the plan, or nullopt when the module
/// has none for it; failure with an error at the module or an op.
using TargetExporter = FailureOr<std::optional<::qrt::TargetDesc>> (*)(
    const TargetExportContext &context);

/// The CUDA target: the CUDA C++ of qllm-generate-cuda compiled with NVRTC
/// for the module's architectures, the kernels, every step's launches
/// (passes/lib/Plan/ExportCuda.cpp).
FailureOr<std::optional<::qrt::TargetDesc>>
exportCudaTarget(const TargetExportContext &context);

} // namespace mlir::qllm

#endif // QUANT_PLAN_TARGETEXPORT_H
