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

} // namespace qrt::cuda

#endif // QRT_CUDA_KERNELABI_H
