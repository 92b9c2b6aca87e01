//===- KernelsAvx2.cpp - The AVX2 build of the CPU kernels ----------------===//
//
// 8 float lanes, 16 vector registers: a 3 x 4 GEMM register tile (12
// accumulators, 3 activation vectors, 1 weight vector). Requires avx2, fma
// and f16c (Haswell / Zen 1 and later); the dispatcher checks all three.
//
//===----------------------------------------------------------------------===//

#include "KernelTable.h"

#include <immintrin.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

namespace qrt::cpu::detail {
namespace {

#define QRT_TARGET __attribute__((target("avx2,fma,f16c"))) inline

using V = __m256;
constexpr int kLanes = 8;
constexpr int kGemmRows = 3;
constexpr int kGemmCols = 4;
constexpr int kGemvRows = 4;

// Eight -1 then eight 0: loading 8 lanes at kMaskTable + 8 - count enables
// the first `count` lanes.
alignas(64) const int32_t kMaskTable[16] = {-1, -1, -1, -1, -1, -1, -1, -1,
                                            0,  0,  0,  0,  0,  0,  0,  0};

QRT_TARGET __m256i laneMask(int count) {
  return _mm256_loadu_si256(
      reinterpret_cast<const __m256i *>(kMaskTable + 8 - count));
}

QRT_TARGET V vzero() { return _mm256_setzero_ps(); }
QRT_TARGET V vset1(float value) { return _mm256_set1_ps(value); }
QRT_TARGET V vload(const float *p) { return _mm256_loadu_ps(p); }
QRT_TARGET void vstore(float *p, V v) { _mm256_storeu_ps(p, v); }
QRT_TARGET V vloadPartial(const float *p, int count) {
  return _mm256_maskload_ps(p, laneMask(count));
}
QRT_TARGET void vstorePartial(float *p, V v, int count) {
  _mm256_maskstore_ps(p, laneMask(count), v);
}
QRT_TARGET V vloadHalf(const uint16_t *p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i *>(p)));
}
QRT_TARGET V vloadHalfPartial(const uint16_t *p, int count) {
  // No 16-bit masked load in AVX2: go through a zeroed buffer.
  alignas(16) uint16_t buffer[8] = {};
  std::memcpy(buffer, p, static_cast<size_t>(count) * sizeof(uint16_t));
  return _mm256_cvtph_ps(
      _mm_load_si128(reinterpret_cast<const __m128i *>(buffer)));
}
/// Lanes >= count replaced by `value`.
QRT_TARGET V vmaskedOr(V v, int count, float value) {
  return _mm256_blendv_ps(_mm256_set1_ps(value), v,
                          _mm256_castsi256_ps(laneMask(count)));
}
QRT_TARGET V vadd(V a, V b) { return _mm256_add_ps(a, b); }
QRT_TARGET V vsub(V a, V b) { return _mm256_sub_ps(a, b); }
QRT_TARGET V vmul(V a, V b) { return _mm256_mul_ps(a, b); }
QRT_TARGET V vdiv(V a, V b) { return _mm256_div_ps(a, b); }
QRT_TARGET V vmax(V a, V b) { return _mm256_max_ps(a, b); }
QRT_TARGET V vfma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
QRT_TARGET float vhsum(V v) {
  __m128 quarter =
      _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  quarter = _mm_add_ps(quarter, _mm_movehl_ps(quarter, quarter));
  quarter = _mm_add_ss(quarter, _mm_shuffle_ps(quarter, quarter, 1));
  return _mm_cvtss_f32(quarter);
}
QRT_TARGET float vhmax(V v) {
  __m128 quarter =
      _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  quarter = _mm_max_ps(quarter, _mm_movehl_ps(quarter, quarter));
  quarter = _mm_max_ss(quarter, _mm_shuffle_ps(quarter, quarter, 1));
  return _mm_cvtss_f32(quarter);
}

/// exp(x) = 2^n * exp(r), n = round(x / ln 2), |r| <= ln2 / 2, exp(r) by its
/// Taylor series to r^7 (truncation < 1e-8 relative). Inputs are clamped to
/// [-87.3, 88.3], where 2^n stays a normal float.
QRT_TARGET V vexp(V x) {
  x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.3f)),
                    _mm256_set1_ps(88.3f));
  V n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  // ln 2 in two parts; the high part has 15 significant bits, so n * high is
  // exact.
  V r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693145751953125f), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(1.428606820309417e-06f), r);
  V p = _mm256_set1_ps(1.0f / 5040.0f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 720.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  __m256i bits = _mm256_slli_epi32(
      _mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(p, _mm256_castsi256_ps(bits));
}

#include "SimdKernels.inc"

#undef QRT_TARGET

} // namespace

const KernelTable &avx2Kernels() {
  static const KernelTable table = [] {
    KernelTable kernels{};
    kernels.name = "avx2+fma";
    kernels.isa = Isa::Avx2;
    kernels.gemvRows = kGemvRows;
    kernels.gemmRows = kGemmCols;
    kernels.gemv = gemv;
    kernels.gemm = gemm;
    kernels.rmsNormRow = rmsNormRow;
    kernels.add = add;
    kernels.swiglu = swiglu;
    kernels.halfToFloat = halfToFloat;
    kernels.attendOne = attendOne;
    return kernels;
  }();
  return table;
}

} // namespace qrt::cpu::detail
