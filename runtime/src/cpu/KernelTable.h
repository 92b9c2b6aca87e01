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

#include "qrt/cpu/Kernels.h"

#include <cstdint>
#include <cstring>

namespace qrt::cpu::detail {

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
};

const KernelTable &scalarKernels();
const KernelTable &avx2Kernels();
const KernelTable &avx512Kernels();

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
