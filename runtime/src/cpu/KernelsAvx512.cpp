//===- KernelsAvx512.cpp - The AVX-512 build of the CPU kernels -----------===//
//
// 16 float lanes, 32 vector registers: a 4 x 6 GEMM register tile (24
// accumulators). Tails use masked loads and stores. Requires avx512f,
// avx512bw and avx512vl (every AVX-512 CPU since Skylake-SP), fma and f16c;
// the dispatcher checks all of them.
//
//===----------------------------------------------------------------------===//

#include "KernelTable.h"

// GCC 12's avx512fintrin.h initializes _mm256_undefined_pd() and friends from
// themselves, which -Wuninitialized flags once the intrinsics are inlined
// into -O3 code (GCC bug 105593, fixed in GCC 13).
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ < 13
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <vector>

namespace qrt::cpu::detail {
namespace {

#define QRT_TARGET                                                             \
  __attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma,f16c"))) inline

using V = __m512;
constexpr int kLanes = 16;
constexpr int kGemmRows = 4;
constexpr int kGemmCols = 6;
constexpr int kGemvRows = 4;
constexpr int kQuantGemvRows = 4;

QRT_TARGET __mmask16 laneMask(int count) {
  return static_cast<__mmask16>((1u << count) - 1u);
}

QRT_TARGET V vzero() { return _mm512_setzero_ps(); }
QRT_TARGET V vset1(float value) { return _mm512_set1_ps(value); }
QRT_TARGET V vload(const float *p) { return _mm512_loadu_ps(p); }
QRT_TARGET void vstore(float *p, V v) { _mm512_storeu_ps(p, v); }
QRT_TARGET V vloadPartial(const float *p, int count) {
  return _mm512_maskz_loadu_ps(laneMask(count), p);
}
QRT_TARGET void vstorePartial(float *p, V v, int count) {
  _mm512_mask_storeu_ps(p, laneMask(count), v);
}
QRT_TARGET V vloadHalf(const uint16_t *p) {
  return _mm512_cvtph_ps(
      _mm256_loadu_si256(reinterpret_cast<const __m256i *>(p)));
}
QRT_TARGET V vloadHalfPartial(const uint16_t *p, int count) {
  return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(laneMask(count), p));
}
/// Lanes >= count replaced by `value`.
QRT_TARGET V vmaskedOr(V v, int count, float value) {
  return _mm512_mask_mov_ps(_mm512_set1_ps(value), laneMask(count), v);
}
QRT_TARGET V vadd(V a, V b) { return _mm512_add_ps(a, b); }
QRT_TARGET V vsub(V a, V b) { return _mm512_sub_ps(a, b); }
QRT_TARGET V vmul(V a, V b) { return _mm512_mul_ps(a, b); }
QRT_TARGET V vdiv(V a, V b) { return _mm512_div_ps(a, b); }
QRT_TARGET V vmax(V a, V b) { return _mm512_max_ps(a, b); }
QRT_TARGET V vfma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
QRT_TARGET float vhsum(V v) {
  __m256 half = _mm256_add_ps(
      _mm512_castps512_ps256(v),
      _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
  __m128 quarter =
      _mm_add_ps(_mm256_castps256_ps128(half), _mm256_extractf128_ps(half, 1));
  quarter = _mm_add_ps(quarter, _mm_movehl_ps(quarter, quarter));
  quarter = _mm_add_ss(quarter, _mm_shuffle_ps(quarter, quarter, 1));
  return _mm_cvtss_f32(quarter);
}
QRT_TARGET float vhmax(V v) { return _mm512_reduce_max_ps(v); }

using VI = __m512i;
/// 16 bytes, each zero-extended into a 32-bit lane.
QRT_TARGET VI vloadBytes(const uint8_t *p) {
  return _mm512_cvtepu8_epi32(
      _mm_loadu_si128(reinterpret_cast<const __m128i *>(p)));
}
QRT_TARGET VI vloadBytesPartial(const uint8_t *p, int count) {
  return _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(laneMask(count), p));
}
QRT_TARGET VI vshiftRight4(VI v) { return _mm512_srli_epi32(v, 4); }
QRT_TARGET V vtoFloat(VI v) { return _mm512_cvtepi32_ps(v); }
/// 64 bytes as 16 32-bit lanes (lane i: bytes 4i to 4i + 3); the partial
/// form zero-fills from byte `count` (0..64) on.
QRT_TARGET VI vloadBlock(const uint8_t *p) { return _mm512_loadu_si512(p); }
QRT_TARGET VI vloadBlockPartial(const uint8_t *p, int count) {
  __mmask64 mask = count >= 64 ? ~__mmask64(0) : (__mmask64(1) << count) - 1;
  return _mm512_maskz_loadu_epi8(mask, p);
}
/// Keeps v in a register: stops the compiler from folding v's load into
/// every instruction that reads it (it would reload a block per shift).
QRT_TARGET void vpin(VI &v) { asm("" : "+v"(v)); }
QRT_TARGET VI vshiftRight(VI v, int bits) { return _mm512_srli_epi32(v, bits); }
/// 2^23 + (v & 15) as float, lane-wise: one ternary-logic op.
QRT_TARGET V vnibbleBiased(VI v) {
  return _mm512_castsi512_ps(_mm512_ternarylogic_epi32(
      v, _mm512_set1_epi32(15), _mm512_set1_epi32(0x4B000000), 0xEA));
}
QRT_TARGET VI vloadIndices(const int32_t *p) { return _mm512_loadu_si512(p); }
/// Lane i: table[index[i]].
QRT_TARGET V vgather(const float *table, VI index) {
  return _mm512_i32gather_ps(index, table, 4);
}
/// Lane i: values[pattern[i]], pattern[i] < 4.
QRT_TARGET V vspread(const float *values, VI pattern) {
  return _mm512_permutexvar_ps(pattern,
                               _mm512_castps128_ps512(_mm_loadu_ps(values)));
}

/// A 16-entry table of floats in one register.
struct Lut16 {
  V table;
};
/// Entries (base[i] - subtract) * scale.
QRT_TARGET Lut16 lutMake(const float *base, float subtract, float scale) {
  return {_mm512_mul_ps(
      _mm512_sub_ps(_mm512_loadu_ps(base), _mm512_set1_ps(subtract)),
      _mm512_set1_ps(scale))};
}
/// Lane i: the entry indexed by bits 0-3 of index lane i (higher bits are
/// ignored).
QRT_TARGET V lutLookup(const Lut16 &lut, VI index) {
  return _mm512_permutexvar_ps(index, lut.table);
}
/// first, second = even[0], odd[0], even[1], odd[1], ... (2 * kLanes floats).
QRT_TARGET void vinterleave(V even, V odd, V &first, V &second) {
  const VI low =
      _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const VI high = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13,
                                    29, 14, 30, 15, 31);
  first = _mm512_permutex2var_ps(even, low, odd);
  second = _mm512_permutex2var_ps(even, high, odd);
}

/// exp(x) = 2^n * exp(r), n = round(x / ln 2), |r| <= ln2 / 2, exp(r) by its
/// Taylor series to r^7 (truncation < 1e-8 relative). Inputs are clamped to
/// [-87.3, 88.3], where 2^n stays a normal float.
QRT_TARGET V vexp(V x) {
  x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-87.3f)),
                    _mm512_set1_ps(88.3f));
  V n = _mm512_roundscale_ps(
      _mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
      _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  // ln 2 in two parts; the high part has 15 significant bits, so n * high is
  // exact.
  V r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693145751953125f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.428606820309417e-06f), r);
  V p = _mm512_set1_ps(1.0f / 5040.0f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 720.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  __m512i bits = _mm512_slli_epi32(
      _mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23);
  return _mm512_mul_ps(p, _mm512_castsi512_ps(bits));
}

#include "SimdKernels.inc"

#undef QRT_TARGET

} // namespace

const KernelTable &avx512Kernels() {
  static const KernelTable table = makeKernelTable("avx512f", Isa::Avx512);
  return table;
}

} // namespace qrt::cpu::detail
