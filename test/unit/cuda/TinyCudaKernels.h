//===- TinyCudaKernels.h - hand-written CUDA for the test plans -*- C++ -*-===//
//
// A small code generator of the tests' own, independent of the compiler's
// (passes/lib/CodeGen): it gives every step of a test plan (TestPlans.h,
// float and f16 weights; no DequantMatMul) a naive CUDA C++ kernel with the
// step's shapes as constants, in a CUDA executable (qrt/cuda/Executable.h)
// with a "cuda-source" module, so a CudaSession can run the plan and be
// compared with the CPU session. The
// kernels use what the real generator may use: static __shared__ arrays,
// __syncthreads, float warp shuffles, grids over tokens with
// tokens_per_block 1, 4 and 0, two launches in one step (attention: append
// to the KV cache, then attend), steps with no launch (the rotary of the
// keys, done by the attention's append when fuseRotaryK; residual adds done
// by the matmul before, whose launch lists its own buffers, when
// fuseResidual).
//
//===----------------------------------------------------------------------===//

#ifndef QRT_TEST_UNIT_CUDA_TINYCUDAKERNELS_H
#define QRT_TEST_UNIT_CUDA_TINYCUDAKERNELS_H

#include "../runtime/TestPlans.h"

#include "qrt/cuda/Executable.h"

#include <string>

namespace qrt::test {

struct TinyCudaOptions {
  /// The rotary of an attention's keys runs in the attention's append
  /// launch, the rotary step has none (only for rotary by base, in place).
  bool fuseRotaryK = true;
  /// A residual add right after a matmul runs in the matmul's launch, which
  /// lists its own buffers (x, weight, residual, output); the add has none.
  bool fuseResidual = true;
};

/// The CUDA executable of `spec`'s steps. Throws std::logic_error for a step
/// it has no kernel for.
cuda::ExecutableDesc tinyCudaExecutable(const PlanDesc &spec,
                                        const TinyCudaOptions &options = {});

/// Adds that executable to `spec`; returns the generated source.
std::string attachTinyCudaKernels(PlanDesc &spec,
                                  const TinyCudaOptions &options = {});

} // namespace qrt::test

#endif // QRT_TEST_UNIT_CUDA_TINYCUDAKERNELS_H
