//===- ExportCuda.cpp - the CUDA target's code of a plan ------------------===//
//
// The module's generated CUDA C++ (`qllm.cuda_code`, from
// qllm-generate-cuda) compiled with NVRTC for each of its architectures, in
// parallel, and every step's launches (`qllm.cuda_launches`), written as the
// CUDA backend's executable (qrt/cuda/Executable.h).
//
//===----------------------------------------------------------------------===//

#include "quant/Plan/TargetExport.h"

#include "qllm/IR/QLLMOps.h"
#include "qllm/IR/QLLMPlanAttrs.h"
#include "qrt/cuda/Executable.h"
#include "qrt/cuda/KernelAbi.h"
#include "quant/CodeGen/Nvrtc.h"

#include <thread>

using namespace mlir;
using namespace mlir::qllm;

namespace {

/// NVRTC's code for each architecture ("compute_XY": PTX, "sm_XY": cubin).
LogicalResult compile(ModuleOp module, CudaCodeAttr code,
                      std::vector<qrt::cuda::ModuleDesc> &modules) {
  std::string error;
  const cuda::Nvrtc *nvrtc = cuda::Nvrtc::get(error);
  if (!nvrtc)
    return mlir::emitError(module.getLoc())
           << "cannot compile the generated CUDA kernels: " << error;
  std::string source = code.getSource().str();
  std::vector<std::string> archs;
  for (Attribute arch : code.getArchs())
    archs.push_back(cast<StringAttr>(arch).getValue().str());
  std::vector<cuda::CompiledCode> compiled(archs.size());
  std::vector<std::string> errors(archs.size());
  std::vector<char> ok(archs.size(), 0);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < archs.size(); ++i)
    threads.emplace_back([&, i] {
      ok[i] = nvrtc->compile(source, archs[i], compiled[i], errors[i]);
    });
  for (std::thread &t : threads)
    t.join();
  for (size_t i = 0; i < archs.size(); ++i) {
    if (!ok[i])
      return mlir::emitError(module.getLoc()) << errors[i];
    modules.push_back({compiled[i].format, compiled[i].arch,
                       std::vector<uint8_t>(compiled[i].code.begin(),
                                            compiled[i].code.end())});
  }
  return success();
}

/// The launches of one step.
FailureOr<std::vector<qrt::cuda::LaunchDesc>>
launchesOf(const TargetExportContext &context, Operation *op,
           const qrt::StepDesc &step) {
  ArrayAttr attrs = getCudaLaunches(op);
  if (!attrs)
    return op->emitError() << "has no CUDA launch (run qllm-generate-cuda)";
  std::vector<qrt::cuda::LaunchDesc> launches;
  for (Attribute attr : attrs) {
    auto l = cast<CudaLaunchAttr>(attr);
    qrt::cuda::LaunchDesc launch;
    launch.function = l.getFunction().str();
    launch.gridX = static_cast<uint32_t>(l.getGridX());
    launch.tokensPerBlock = static_cast<uint32_t>(l.getTokensPerBlock());
    launch.blockX = static_cast<uint32_t>(l.getBlockX());
    launch.sharedBytes = static_cast<uint32_t>(l.getSharedBytes());
    if (l.getFusedAdd()) {
      // x @ w^T + residual into the add's buffer: the step's inputs, then
      // the add's other operand and its result.
      Value product = op->getResult(0);
      auto add = product.hasOneUse()
                     ? dyn_cast<AddOp>(*product.getUsers().begin())
                     : AddOp();
      if (!add)
        return op->emitError() << "has a fused add but its product is not "
                                  "read by one add";
      Value residual = add.getLhs() == product ? add.getRhs() : add.getLhs();
      launch.buffers = step.inputs;
      for (Value v : {residual, Value(add.getResult())}) {
        FailureOr<qrt::BufferDesc> buffer = context.describe(v, add);
        if (failed(buffer))
          return failure();
        launch.buffers.push_back(*buffer);
      }
    }
    size_t count = !launch.buffers.empty()
                       ? launch.buffers.size()
                       : step.inputs.size() + step.outputs.size();
    if (count > static_cast<size_t>(qrt::cuda::kMaxKernelBuffers))
      return op->emitError()
             << "passes " << count << " buffers to a CUDA kernel (at most "
             << qrt::cuda::kMaxKernelBuffers << ")";
    launches.push_back(std::move(launch));
  }
  return launches;
}

} // namespace

FailureOr<std::optional<qrt::TargetDesc>>
mlir::qllm::exportCudaTarget(const TargetExportContext &context) {
  CudaCodeAttr code = getCudaCode(context.module);
  if (!code)
    return std::optional<qrt::TargetDesc>();
  qrt::cuda::ExecutableDesc executable;
  for (Attribute kernel : code.getKernels())
    executable.kernels.push_back(cast<StringAttr>(kernel).getValue().str());
  // The source first (readers and the emulator), then each architecture.
  executable.modules.push_back(
      {"cuda-source", "",
       std::vector<uint8_t>(code.getSource().begin(), code.getSource().end())});
  for (size_t e = 0; e < context.steps.size(); ++e) {
    std::vector<std::vector<qrt::cuda::LaunchDesc>> entry;
    for (size_t i = 0; i < context.steps[e].size(); ++i) {
      FailureOr<std::vector<qrt::cuda::LaunchDesc>> launches = launchesOf(
          context, context.steps[e][i], (*context.entries)[e].steps[i]);
      if (failed(launches))
        return failure();
      entry.push_back(std::move(*launches));
    }
    executable.launches.push_back(std::move(entry));
  }
  if (failed(compile(context.module, code, executable.modules)))
    return failure();
  return std::optional<qrt::TargetDesc>(
      qrt::TargetDesc{qrt::cuda::kTargetName,
                      qrt::cuda::writeExecutable(executable)});
}
