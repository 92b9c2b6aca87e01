//===- KernelsAvx2.cpp - The AVX2 build of the CPU kernels ----------------===//
//
// 8 float lanes, 16 vector registers: a 3 x 4 GEMM register tile (12
// accumulators, 3 activation vectors, 1 weight vector). Requires avx2, fma
// and f16c (Haswell / Zen 1 and later); the dispatcher checks all three.
//
//===----------------------------------------------------------------------===//

#include "KernelTable.h"

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

#define QRT_TARGET __attribute__((target("avx2,fma,f16c"))) inline

using V = __m256;
constexpr int kLanes = 8;
constexpr int kGemmRows = 3;
constexpr int kGemmCols = 4;
constexpr int kGemvRows = 4;
// 2, not 4: a row's Nibble step holds two accumulators and a two-register
// table, and 16 registers do not fit four of them.
constexpr int kQuantGemvRows = 2;

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

using VI = __m256i;
/// 8 bytes, each zero-extended into a 32-bit lane.
QRT_TARGET VI vloadBytes(const uint8_t *p) {
  return _mm256_cvtepu8_epi32(
      _mm_loadl_epi64(reinterpret_cast<const __m128i *>(p)));
}
QRT_TARGET VI vloadBytesPartial(const uint8_t *p, int count) {
  alignas(16) uint8_t buffer[16] = {};
  std::memcpy(buffer, p, static_cast<size_t>(count));
  return _mm256_cvtepu8_epi32(
      _mm_load_si128(reinterpret_cast<const __m128i *>(buffer)));
}
QRT_TARGET VI vshiftRight4(VI v) { return _mm256_srli_epi32(v, 4); }
QRT_TARGET V vtoFloat(VI v) { return _mm256_cvtepi32_ps(v); }
/// 32 bytes as 8 32-bit lanes (lane i: bytes 4i to 4i + 3); the partial
/// form zero-fills from byte `count` (0..32) on.
QRT_TARGET VI vloadBlock(const uint8_t *p) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i *>(p));
}
QRT_TARGET VI vloadBlockPartial(const uint8_t *p, int count) {
  alignas(32) uint8_t buffer[32] = {};
  std::memcpy(buffer, p, static_cast<size_t>(count));
  return _mm256_load_si256(reinterpret_cast<const __m256i *>(buffer));
}
/// Keeps v in a register: stops the compiler from folding v's load into
/// every instruction that reads it (it would reload a block per shift).
QRT_TARGET void vpin(VI &v) { asm("" : "+x"(v)); }
QRT_TARGET VI vshiftRight(VI v, int bits) { return _mm256_srli_epi32(v, bits); }
/// 2^23 + (v & 15) as float, lane-wise.
QRT_TARGET V vnibbleBiased(VI v) {
  return _mm256_castsi256_ps(
      _mm256_or_si256(_mm256_and_si256(v, _mm256_set1_epi32(15)),
                      _mm256_set1_epi32(0x4B000000)));
}
QRT_TARGET VI vloadIndices(const int32_t *p) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i *>(p));
}
/// Lane i: table[index[i]].
QRT_TARGET V vgather(const float *table, VI index) {
  return _mm256_i32gather_ps(table, index, 4);
}
/// Lane i: values[pattern[i]], pattern[i] < 4.
QRT_TARGET V vspread(const float *values, VI pattern) {
  return _mm256_permutevar8x32_ps(_mm256_castps128_ps256(_mm_loadu_ps(values)),
                                  pattern);
}

/// A 16-entry table of floats in two registers.
struct Lut16 {
  V low, high;
};
/// Entries (base[i] - subtract) * scale.
QRT_TARGET Lut16 lutMake(const float *base, float subtract, float scale) {
  V sub = _mm256_set1_ps(subtract), mul = _mm256_set1_ps(scale);
  return {_mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(base), sub), mul),
          _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(base + 8), sub), mul)};
}
/// Lane i: the entry indexed by bits 0-3 of index lane i (higher bits are
/// ignored): both halves permuted by bits 0-2, bit 3 (moved to the sign)
/// picks one.
QRT_TARGET V lutLookup(const Lut16 &lut, VI index) {
  V low = _mm256_permutevar8x32_ps(lut.low, index);
  V high = _mm256_permutevar8x32_ps(lut.high, index);
  return _mm256_blendv_ps(low, high,
                          _mm256_castsi256_ps(_mm256_slli_epi32(index, 28)));
}
/// first, second = even[0], odd[0], even[1], odd[1], ... (2 * kLanes floats).
QRT_TARGET void vinterleave(V even, V odd, V &first, V &second) {
  V low = _mm256_unpacklo_ps(even, odd);  // e0 o0 e1 o1 | e4 o4 e5 o5
  V high = _mm256_unpackhi_ps(even, odd); // e2 o2 e3 o3 | e6 o6 e7 o7
  first = _mm256_permute2f128_ps(low, high, 0x20);
  second = _mm256_permute2f128_ps(low, high, 0x31);
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
  static const KernelTable table = makeKernelTable("avx2+fma", Isa::Avx2);
  return table;
}

} // namespace qrt::cpu::detail
