//===- CudaKernels.h - CUDA C++ for the kernels of a plan -------*- C++ -*-===//
//
// The CUDA code generator's emitter: each function returns the launch of a
// kernel specialized for one op's shapes, weight scheme and epilogue, and
// adds the kernel's CUDA C++ to the module being built (identical kernels
// are emitted once). qllm-generate-cuda maps ops to these specs; plan export
// compiles source() with NVRTC.
//
// Every kernel is `extern "C" __global__ void NAME(qrt_params p)`, the ABI of
// qrt/cuda/KernelAbi.h: p.buffers holds the step's inputs then its outputs
// (a fused launch lists its own buffers), p.tokens and p.context the step's
// token count and KV-cache positions, and the step's first position is read
// from device memory at p.position_address (the same parameters for every
// decode step: the runtime replays them as a CUDA graph). The code uses a
// small subset of CUDA (static __shared__ arrays, __syncthreads, float warp
// shuffles, no dynamic shared memory, no atomics) so that the runtime's tests
// can also run it on an emulator of the CUDA execution model.
//
//===----------------------------------------------------------------------===//

#ifndef QUANT_CODEGEN_CUDAKERNELS_H
#define QUANT_CODEGEN_CUDAKERNELS_H

#include "qrt/core/WeightFormat.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace mlir::qllm::cuda {

/// A launch of a generated kernel (fb::CudaLaunch).
struct Launch {
  std::string function;
  uint32_t gridX = 1;
  /// Grid y is ceil(tokens / tokensPerBlock), or 1 when 0.
  uint32_t tokensPerBlock = 0;
  uint32_t blockX = 32;
  uint32_t sharedBytes = 0;
};

/// Storage of a matmul's [rows, cols] weight.
enum class WeightStorage { F32, F16, IntN, Float4 };

struct MatmulSpec {
  int64_t rows = 0; ///< N: output features
  int64_t cols = 0; ///< K: the reduction dimension
  WeightStorage storage = WeightStorage::F32;
  qrt::IntNScheme intN;
  qrt::Float4Scheme float4;
  /// A GEMM over many tokens (prefill) instead of a GEMV (one token).
  bool gemm = false;
  /// Epilogue: out = x @ w^T + residual (the buffers after the weight's:
  /// residual, then out).
  bool addResidual = false;
  /// LLM.int8() (an 8-bit per-channel symmetric intN weight): each token's
  /// x quantized to 8 bits by its absmax, integer dot products (dp4a), the
  /// outlier columns (some |x| >= outlierThreshold; none when 0) in f32, as
  /// qrt::cpu::int8Matmul. One kernel for GEMV and GEMM (gemm is ignored).
  bool llmInt8 = false;
  float outlierThreshold = 0.0f;
};

/// The largest reduction dimension of an LLM.int8() kernel (its quantized
/// activations and outlier columns sit in static shared memory).
inline constexpr int64_t kMaxLlmInt8Cols = 32768;

struct RotarySpec {
  int64_t heads = 0, headDim = 0, rotaryDim = 0;
  bool interleaved = false;
  float base = 10000.0f;
  /// cos/sin tables [positions, rotaryDim / 2] as inputs 1 and 2.
  bool tables = false;
  /// Output aliases the input (no copy of the unrotated dimensions).
  bool inPlace = true;
};

struct AttentionSpec {
  int64_t heads = 0, kvHeads = 0, headDim = 0, layer = 0;
  float scale = 1.0f;
  bool causal = true;
};

class CudaModule {
public:
  Launch embedding(int64_t vocab, int64_t dim, bool f16Table);
  Launch rmsNorm(int64_t dim, float epsilon);
  Launch matmul(const MatmulSpec &spec);
  /// An LLM.int8() matmul (spec.llmInt8); matmul() forwards these here.
  Launch llmInt8Matmul(const MatmulSpec &spec);
  Launch rotary(const RotarySpec &spec);
  /// Two launches: append the step's keys and values to the KV cache, then
  /// attend.
  std::vector<Launch> attention(const AttentionSpec &spec);
  Launch add(int64_t dim);
  Launch swiglu(int64_t dim);
  /// out[t, j] = x[t, indices[j]] for j < dim, x rows of `xDim` columns (an
  /// act-order permutation, xDim == dim, or a tensor-parallel rank's part of
  /// one; out must not overlap x).
  Launch gather(int64_t dim, int64_t xDim);

  /// The whole translation unit: prelude, then every kernel.
  std::string source() const;
  /// Names of the kernels, in order of emission.
  std::vector<std::string> kernelNames() const;

private:
  /// Adds a kernel whose text uses @NAME@ for its name; returns the name
  /// (an identical earlier kernel's, if any).
  std::string addKernel(const std::string &stem, const std::string &text);
  /// out[t, c] = BODY over [tokens, dim], inputs a and b.
  Launch elementwise(const std::string &stem, const std::string &comment,
                     const std::string &body, int64_t dim);

  std::vector<std::pair<std::string, std::string>> kernels; // name, text
  std::map<std::string, std::string> byText;
  std::map<std::string, int> stems;
  bool needsFloat4Tables = false;
};

} // namespace mlir::qllm::cuda

#endif // QUANT_CODEGEN_CUDAKERNELS_H
