//===- KernelAbi.h - how the runtime calls generated kernels -*- C++ -*-===//
//
// The contract between the CUDA code generator (passes/lib/CodeGen) and the
// runtime's CUDA backend (runtime/src/cuda): every generated kernel is an
// `extern "C" __global__` function taking one KernelParams by value. The
// runtime fills it per launch (CudaLaunch in the plan):
//   buffers          device addresses of the step's inputs, in the plan's
//                    order, then its outputs (arena offsets resolved,
//                    weights uploaded, Tokens the device copy of the step's
//                    token ids);
//   kvCache          the session's whole KV cache, f32
//                    [layers][k|v][kv_heads][context][head_dim];
//   positionAddress  the device address of an int32 holding the position of
//                    the step's first token, written before each chunk;
//   tokens           tokens of the step; context the KV-cache positions the
//                    session allocated.
// The position is in device memory, not in the parameters, so that a decode
// step's launches are the same for every token: the session captures them
// once into a CUDA graph and replays it (parameters are frozen at capture).
// Everything else (shapes, schemes, layer, strides) is a constant of the
// generated code. No CUDA headers here: the runtime builds without CUDA.
//
//===----------------------------------------------------------------------===//

#ifndef QRT_CUDA_KERNELABI_H
#define QRT_CUDA_KERNELABI_H

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace qrt::cuda {

inline constexpr int kMaxKernelBuffers = 12;

struct KernelParams {
  uint64_t buffers[kMaxKernelBuffers];
  uint64_t kvCache;
  uint64_t positionAddress;
  int32_t tokens;
  int32_t context;
};
static_assert(sizeof(KernelParams) == 120 &&
                  offsetof(KernelParams, positionAddress) == 104 &&
                  offsetof(KernelParams, tokens) == 112 &&
                  offsetof(KernelParams, context) == 116,
              "KernelParams layout changed: change kKernelParamsSource too");

/// The same struct in the generated CUDA C++ (the first thing of every
/// generated module). The runtime refuses a plan whose "cuda-source" code
/// does not contain it verbatim (code generated for another ABI).
inline constexpr const char *kKernelParamsSource =
    "struct qrt_params {\n"
    "  unsigned long long buffers[12];\n"
    "  unsigned long long kv_cache;\n"
    "  unsigned long long position_address; // const int *: first position\n"
    "  int tokens;\n"
    "  int context;\n"
    "};\n";

/// Launch limits of every CUDA GPU the backend targets (sm_80 and later):
/// grid x, grid y, threads per block, and dynamic shared memory without
/// opting in (cuFuncSetAttribute, which the backend does not call). Both
/// plan verifiers hold launches to them: the dialect's (qllm.cuda_launches)
/// and the CUDA backend's (the plan's executable).
inline constexpr uint32_t kMaxGridX = 0x7FFFFFFFu;
inline constexpr uint32_t kMaxGridY = 65535;
inline constexpr uint32_t kMaxBlockX = 1024;
inline constexpr uint32_t kMaxSharedBytes = 48 * 1024;

/// Whether `name` can name a kernel: a C identifier ([A-Za-z_][A-Za-z0-9_]*).
inline bool isKernelName(std::string_view name) {
  if (name.empty())
    return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    if (!letter && (i == 0 || c < '0' || c > '9'))
      return false;
  }
  return true;
}

/// Whether `arch` is "compute_XY" (PTX) or "sm_XY" (a cubin), XY a GPU
/// generation of 2 or 3 digits as NVRTC names them ("sm_90", "sm_100");
/// with `prefix`, only that form.
inline bool isCudaArch(std::string_view arch, std::string_view prefix = {}) {
  std::string_view digits = arch;
  auto consume = [&](std::string_view p) {
    if (digits.substr(0, p.size()) != p)
      return false;
    digits.remove_prefix(p.size());
    return true;
  };
  if (prefix.empty() ? !consume("compute_") && !consume("sm_")
                     : !consume(prefix))
    return false;
  if (digits.size() < 2 || digits.size() > 3 || digits[0] == '0')
    return false;
  for (char c : digits)
    if (c < '0' || c > '9')
      return false;
  return true;
}

} // namespace qrt::cuda

#endif // QRT_CUDA_KERNELABI_H
