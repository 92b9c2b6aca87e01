//===- KernelSpecs.h - every matmul kernel spec the plan can hold -*- C++
//-*-===//
//
// Shared by the emitter's NVRTC test and its emulated value test: every
// weight storage (f32, f16, intN 2/3/4/8 bits with groups of 32 or 128 or
// per channel, symmetric or not, act order, f32/f16/bf16 scales, NF4 with
// f32/f16/bf16 absmax or double quantization), as GEMV and GEMM, with and
// without the fused residual add, on a shape that takes the 16-byte vector
// paths (K = 256) and one that does not (K = 172).
//
//===----------------------------------------------------------------------===//

#ifndef QUANT_TEST_UNIT_CODEGEN_KERNELSPECS_H
#define QUANT_TEST_UNIT_CODEGEN_KERNELSPECS_H

#include "quant/CodeGen/CudaKernels.h"

#include <vector>

namespace mlir::qllm::cuda {

inline std::vector<MatmulSpec> allMatmuls() {
  std::vector<MatmulSpec> specs;
  auto both = [&](MatmulSpec spec) {
    for (bool gemm : {false, true})
      for (bool add : {false, true}) {
        spec.gemm = gemm;
        spec.addResidual = add;
        specs.push_back(spec);
      }
  };
  for (int64_t cols : {256, 172}) { // vector paths, element paths
    MatmulSpec spec;
    spec.rows = 96;
    spec.cols = cols;
    for (WeightStorage storage : {WeightStorage::F32, WeightStorage::F16}) {
      spec.storage = storage;
      both(spec);
    }
    spec.storage = WeightStorage::IntN;
    for (int bits : {2, 3, 4, 8})
      for (int64_t group : {int64_t(32), int64_t(128), qrt::kPerChannel})
        for (bool symmetric : {false, true}) {
          spec.intN = {};
          spec.intN.bits = bits;
          spec.intN.groupSize = group;
          spec.intN.symmetric = symmetric;
          spec.intN.scaleType = bits == 3   ? qrt::ScaleType::BF16
                                : bits == 8 ? qrt::ScaleType::F32
                                            : qrt::ScaleType::F16;
          both(spec);
        }
    spec.intN = {};
    spec.intN.actOrder = true;
    both(spec);
    spec.storage = WeightStorage::Float4;
    for (qrt::Float4Codes codes : {qrt::Float4Codes::NF4, qrt::Float4Codes::FP4})
      for (bool doubleQuant : {false, true})
        for (qrt::ScaleType scale :
             {qrt::ScaleType::F32, qrt::ScaleType::F16, qrt::ScaleType::BF16}) {
          if (doubleQuant && scale != qrt::ScaleType::F32)
            continue;
          spec.float4 = {};
          spec.float4.codes = codes;
          spec.float4.blockSize = 64;
          spec.float4.doubleQuant = doubleQuant;
          spec.float4.scaleType = scale;
          both(spec);
        }
  }
  return specs;
}

/// LLM.int8() kernels: 8-bit per-channel symmetric weights, thresholds 6 and
/// 0, K a multiple of 4 (word loads) or not, with and without the residual,
/// f32 and f16 scales.
inline std::vector<MatmulSpec> llmInt8Matmuls() {
  std::vector<MatmulSpec> specs;
  for (int64_t cols : {256, 173})
    for (float threshold : {6.0f, 0.0f})
      for (bool add : {false, true}) {
        MatmulSpec spec;
        spec.rows = 70; // not a multiple of the 32 rows of a block
        spec.cols = cols;
        spec.storage = WeightStorage::IntN;
        spec.intN.bits = 8;
        spec.intN.groupSize = qrt::kPerChannel;
        spec.intN.symmetric = true;
        spec.intN.scaleType = add ? qrt::ScaleType::F16 : qrt::ScaleType::F32;
        spec.llmInt8 = true;
        spec.outlierThreshold = threshold;
        spec.addResidual = add;
        specs.push_back(spec);
      }
  return specs;
}

} // namespace mlir::qllm::cuda

#endif // QUANT_TEST_UNIT_CODEGEN_KERNELSPECS_H
