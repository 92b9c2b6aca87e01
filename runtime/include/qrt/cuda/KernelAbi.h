//===- KernelAbi.h - how the runtime calls generated CUDA kernels -*- C++
//-*-===//
//
// The contract between the CUDA code generator (passes/lib/CodeGen) and the
// runtime's CUDA backend (runtime/src/cuda): every generated kernel is an
// `extern "C" __global__` function taking one KernelParams by value. The
// runtime fills it per launch (CudaLaunch in the plan):
//   buffers   device addresses of the step's inputs, in the plan's order,
//             then its outputs (arena offsets resolved, weights uploaded,
//             Tokens the device copy of the step's token ids);
//   kvCache   the session's whole KV cache, f32
//             [layers][k|v][kv_heads][context][head_dim];
//   tokens    tokens of the step, position the first one's position,
//             context the KV-cache positions the session allocated.
// Everything else (shapes, schemes, layer, strides) is a constant of the
// generated code. No CUDA headers here: the runtime builds without CUDA.
//
//===----------------------------------------------------------------------===//

#ifndef QRT_CUDA_KERNELABI_H
#define QRT_CUDA_KERNELABI_H

#include <cstdint>

namespace qrt::cuda {

inline constexpr int kMaxKernelBuffers = 12;

struct KernelParams {
  uint64_t buffers[kMaxKernelBuffers];
  uint64_t kvCache;
  int32_t tokens;
  int32_t position;
  int32_t context;
  int32_t reserved;
};
static_assert(sizeof(KernelParams) == 120, "KernelParams layout changed");

/// The same struct in the generated CUDA C++ (the first thing of every
/// generated module).
inline constexpr const char *kKernelParamsSource =
    "struct qrt_params {\n"
    "  unsigned long long buffers[12];\n"
    "  unsigned long long kv_cache;\n"
    "  int tokens;\n"
    "  int position;\n"
    "  int context;\n"
    "  int reserved;\n"
    "};\n";

} // namespace qrt::cuda

#endif // QRT_CUDA_KERNELABI_H
