//===- Executable.h - the CUDA backend's code in a plan ---------*- C++ -*-===//
//
// A plan for the CUDA target carries a TargetCode "cuda" whose executable
// is a FlatBuffer of runtime/src/cuda/schema/cuda_executable.fbs: the
// generated code (CUDA C++ source, PTX, cubins per architecture), the
// kernels it defines, and the launches of every step of every entry. The
// compiler writes it with writeExecutable; verifyExecutable checks it
// against the plan before the backend reads it (registered with the core
// verifier by registerTarget, and called again by the CUDA session).
//
//===----------------------------------------------------------------------===//

#ifndef QRT_CUDA_EXECUTABLE_H
#define QRT_CUDA_EXECUTABLE_H

#include "qrt/core/PlanWriter.h"
#include "qrt/core/Targets.h"
#include "qrt/cuda/Device.h"
#include "qrt/cuda/KernelAbi.h"

#include <cstdint>
#include <string>
#include <vector>

namespace qrt::cuda {

namespace schema {
struct Executable;
struct Launch;
} // namespace schema

/// The TargetCode name of the CUDA backend's code.
inline constexpr const char *kTargetName = "cuda";

//===----------------------------------------------------------------------===//
// Writing
//===----------------------------------------------------------------------===//

struct LaunchDesc {
  std::string function;
  uint32_t gridX = 1, tokensPerBlock = 0, blockX = 32, sharedBytes = 0;
  /// The launch's own buffers (a fused epilogue); empty: the step's inputs
  /// then outputs.
  std::vector<BufferDesc> buffers;
};

struct ModuleDesc {
  /// "cuda-source", "ptx", "cubin".
  std::string format;
  /// "" for source, "compute_XY" for PTX, "sm_XY" for a cubin.
  std::string arch;
  std::vector<uint8_t> code;
};

struct ExecutableDesc {
  std::vector<std::string> kernels;
  std::vector<ModuleDesc> modules;
  /// launches[entry][step]: the launches of each step of each plan entry.
  std::vector<std::vector<std::vector<LaunchDesc>>> launches;
};

/// The executable's bytes (a TargetDesc's executable).
std::vector<uint8_t> writeExecutable(const ExecutableDesc &executable);

//===----------------------------------------------------------------------===//
// Reading
//===----------------------------------------------------------------------===//

/// Verifies the CUDA executable of `plan` (whose core is verified): code
/// formats and architectures, kernel names, one launch list per step of
/// every entry, every launch's function, grid, block, shared memory and
/// buffers. False and `error`.
bool verifyExecutable(const fb::Plan &plan, Executable executable,
                      std::string &error);

/// Registers the CUDA target's TargetSupport (verify, JSON, describe) with
/// the core (qrt/core/Targets.h). Idempotent.
void registerTarget();

/// The root of a verified executable.
const schema::Executable &executableRoot(Executable executable);

/// The CUDA code of a verified plan, in the plan's order (empty without a
/// CUDA executable).
std::vector<ModuleCode> cudaCodeOf(const fb::Plan &plan);

/// The verified executable's code in words: "cubin sm_80, sm_90; ptx
/// compute_80; 42 kernels".
std::string describeExecutable(Executable executable);

} // namespace qrt::cuda

#endif // QRT_CUDA_EXECUTABLE_H
