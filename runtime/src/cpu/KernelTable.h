//===- KernelTable.h - One build of the CPU kernels -------------*- C++ -*-===//
//
// Internal to QuantRuntimeCpu. Each instruction-set build (scalar, AVX2,
// AVX-512) fills a KernelTable with the per-thread pieces of the kernels;
// Kernels.cpp validates arguments, splits work across the thread pool and
// calls the table that the dispatcher selected.
//
//===----------------------------------------------------------------------===//

#ifndef QRT_SRC_CPU_KERNELTABLE_H
#define QRT_SRC_CPU_KERNELTABLE_H

#include "qrt/core/QuantizedWeight.h"
#include "qrt/cpu/Kernels.h"

#include <cstdint>
#include <cstring>

namespace qrt::cpu::detail {

/// How dequantMatmul reads a quantized weight.
enum class QuantPath : uint8_t {
  /// Any format: rows are dequantized to f32 by the portable decoder
  /// (dequantizeSegment), then multiplied as f32 rows.
  Generic,
  /// 4-bit codes (intN or NF4), columns in order, groups of whole
  /// nibbleBlocks (or per channel), or of 32 or 64 columns dividing a
  /// nibbleBlock.
  Nibble,
  /// 8-bit intN, columns in order, group size a multiple of the build's
  /// byteChunk (or per channel).
  Byte,
};

/// The arguments of one dequantMatmul call, shared by all threads.
struct QuantMatmulArgs {
  const QuantizedView *w = nullptr;
  QuantPath path = QuantPath::Generic;
  /// Columns per group; w->cols for one group per row.
  int64_t groupSize = 0;
  const float *x = nullptr; ///< [m, w->cols]
  int64_t m = 0;
  /// GEMV on the Nibble path: x transposed in blocks of nibbleBlock = 8 *
  /// lanes columns, column 8i + j of a block at j * lanes + i (the order in
  /// which the kernel takes the nibbles of 32-bit lanes), zero-padded to a
  /// whole block.
  const float *xBlocks = nullptr;
};

struct KernelTable {
  const char *name;
  Isa isa;
  /// Weight rows per GEMV block and per GEMM block: the units in which
  /// matmul splits the n rows of w across threads.
  int gemvRows;
  int gemmRows;

  /// y[j] = x . w[j] for j in [rowBegin, rowEnd); x [k], w [n, k], y [n].
  void (*gemv)(const float *x, int64_t k, const void *w, WeightType wtype,
               int64_t rowBegin, int64_t rowEnd, float *y);
  /// y[i][j] = x[i] . w[j] for i < m, j in [rowBegin, rowEnd); y [m, n].
  void (*gemm)(const float *x, int64_t m, int64_t k, const void *w,
               WeightType wtype, int64_t n, int64_t rowBegin, int64_t rowEnd,
               float *y);
  void (*rmsNormRow)(const float *x, int64_t dim, const float *weight,
                     float epsilon, float *y);
  void (*add)(const float *a, const float *b, int64_t count, float *y);
  void (*swiglu)(const float *gate, const float *up, int64_t count, float *y);
  void (*halfToFloat)(const uint16_t *in, int64_t count, float *out);
  /// One query row against `positions` key and value rows of headDim floats
  /// (consecutive rows of one KV head); `scores` holds `positions` floats.
  void (*attendOne)(const float *q, const float *keys, const float *values,
                    int64_t positions, int64_t headDim, float scale,
                    float *scores, float *out);

  /// Columns of one Nibble-path GEMV step (8 per 32-bit lane) and of one
  /// Byte-path step; 0 where the build has no such path (every format then
  /// takes the Generic one).
  int nibbleBlock;
  int byteChunk;
  /// Weight rows per dequantMatmul GEMV block.
  int quantGemvRows;
  /// Fused dequantize-GEMV (args.m == 1) of weight rows [rowBegin, rowEnd):
  /// y[j] = x . dequantize(w)[j].
  void (*quantGemv)(const QuantMatmulArgs &args, int64_t rowBegin,
                    int64_t rowEnd, float *y);
  /// The batched form: y[i][j] for i < args.m, j in [rowBegin, rowEnd);
  /// y [m, w->rows].
  void (*quantGemm)(const QuantMatmulArgs &args, int64_t rowBegin,
                    int64_t rowEnd, float *y);
};

/// The arguments of the integer part of int8Matmul (Int8Kernels.cpp), shared
/// by all threads.
struct Int8MatmulArgs {
  const uint8_t *codes = nullptr; ///< [n, k] 8-bit codes, zero point 128
  const float *scales = nullptr;  ///< [n] the weight rows' scales, f32
  int64_t n = 0, k = 0;
  int64_t m = 0;
  /// [m, kPadded] the 8-bit activations (0 in outlier columns and past k);
  /// kPadded is a multiple of 64.
  const int8_t *activations = nullptr;
  int64_t kPadded = 0;
  const int32_t *activationSums = nullptr; ///< [m] sum of each row
  const float *activationScales = nullptr; ///< [m] absmax / 127
  /// The outlier columns and x in them, [m, outliers].
  const int32_t *outlierCols = nullptr;
  int64_t outliers = 0;
  const float *xOutliers = nullptr;
};

/// The integer kernel of one build: y[t][j] for every token and rows
/// [rowBegin, rowEnd); y [m, n].
struct Int8Kernel {
  const char *name;
  void (*rows)(const Int8MatmulArgs &args, int64_t rowBegin, int64_t rowEnd,
               float *y);
};
/// The best integer kernel of `isa` on this CPU (AVX-512 with VNNI, else
/// the AVX2 one; scalar).
Int8Kernel int8KernelFor(Isa isa);

/// dequantMatmul with ActivationPrecision::Int8 (DotKernels.cpp); w has
/// rows and columns, int8ActivationsSupported(w).
void dotMatmul(ThreadPool &pool, const float *x, int64_t m,
               const QuantizedView &w, float *y);

/// Items per chunk of a parallel loop so that a chunk holds at least ~64K
/// multiply-adds (or bytes moved): below that, waking a thread costs more
/// than it saves.
inline int64_t grainFor(int64_t workPerItem) {
  constexpr int64_t kMinWorkPerChunk = 1 << 16;
  const int64_t work = workPerItem > 1 ? workPerItem : 1;
  return kMinWorkPerChunk / work > 1 ? kMinWorkPerChunk / work : 1;
}

const KernelTable &scalarKernels();
const KernelTable &avx2Kernels();
const KernelTable &avx512Kernels();

/// The portable decoder of quantized weights (KernelsScalar.cpp), used by
/// every build for the Generic path and for the parts of group parameters
/// that are not worth vectorizing.
///
/// Scales (NF4: absmax, decoded from its 8-bit code with double quant) of
/// groups [g0, g1) of `row`, as f32 into out[g - g0].
void decodeScales(const QuantizedView &w, int64_t row, int64_t g0, int64_t g1,
                  float *out);
/// Zero points of groups [g0, g1) of `row` as f32 into out[g - g0]
/// (2^(bits-1) when symmetric, 0 for NF4).
void decodeZeros(const QuantizedView &w, int64_t row, int64_t g0, int64_t g1,
                 float *out);
/// Columns [c0, c1) of `row` dequantized into out[c - c0], with the same
/// float operations as qrt::dequantizeRows, given the row's scales and zero
/// points of groups [g0, ...) as decodeScales and decodeZeros write them
/// (every group that a column in [c0, c1) belongs to).
void dequantizeSegment(const QuantizedView &w, int64_t row, int64_t c0,
                       int64_t c1, const float *scales, const float *zeros,
                       int64_t g0, float *out);

/// IEEE binary16 to binary32, exact for every code (subnormals, infinities;
/// NaNs stay NaN with the quiet bit set, as F16C does).
inline float halfToFloatScalar(uint16_t h) {
  uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  uint32_t exponent = (h >> 10) & 0x1fu;
  uint32_t mantissa = h & 0x3ffu;
  uint32_t bits;
  if (exponent == 0x1f) {
    bits = sign | 0x7f800000u | (mantissa << 13) | (mantissa ? 0x400000u : 0u);
  } else if (exponent != 0) {
    bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {
    bits = sign;
  } else {
    // Subnormal: mantissa * 2^-24. Shift the leading one up to bit 10.
    int shift = 0;
    while (!(mantissa & 0x400u)) {
      mantissa <<= 1;
      ++shift;
    }
    bits = sign | (static_cast<uint32_t>(113 - shift) << 23) |
           ((mantissa & 0x3ffu) << 13);
  }
  float out;
  std::memcpy(&out, &bits, sizeof out);
  return out;
}

} // namespace qrt::cpu::detail

#endif // QRT_SRC_CPU_KERNELTABLE_H
