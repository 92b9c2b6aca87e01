//===- DotKernels.cpp - Quantized matmul with 8-bit activations -----------===//
//
// dequantMatmul with ActivationPrecision::Int8: the activations are rounded
// to int8 once per call and multiplied with the weights' integer codes by
// integer dot products, so that a 4-bit or 8-bit GEMV reads its weights at
// memory speed instead of converting each code to f32.
//
// Activations: each row of x is cut into blocks of 32 columns (the last one
// zero-padded); block b gets d[b] = max|x| / 127 and codes
// a[c] = rint(x[c] * (127 / max|x|)) (f32 product, ties to even; 0 for an
// all-zero block).
//
// Weights: each code enters as an integer v[c]: the code itself for intN
// (4 or 8 bits, zero point z[g]), or round(2047 * value) for NF4 and FP4
// (whose scale is then absmax / 2047 and zero point 0: their values within
// 2^-12 of the absmax, 16 times closer than the activations'). With s[g]
// the group scales,
//
//   y = sum_g s[g] * ( sum_{b in g} d[b] * I[b]  -  z[g] * S[g] ),
//   I[b] = sum_{c in b} a[c] * v[c]   (exact, int32),
//   S[g] = sum_{b in g} d[b] * sum_{c in b} a[c].
//
// Groups are whole rows, or 32, 64 or a multiple of 128 columns (a block
// never straddles two). The builds:
//  - AVX-512 VNNI: 64 weight bytes per step, vpdpbusd of unsigned weights
//    with the signed activations: nibbles; 8-bit codes; NF4/FP4 entries
//    + 2048 = 256 h + l, looked up byte by byte (vpshufb), h and l apart
//    (the 2048 moved into z);
//  - AVX2 (and AVX-512 CPUs without VNNI): 32 bytes per step; nibbles (<= 15)
//    by vpmaddubsw directly, 8-bit codes by the sign trick
//    (vpmaddubsw(|v|, sign(a, v)), v = code - 128); NF4/FP4 entries + 2048
//    = 64 h + l, h and l (< 64) looked up apart and multiplied by
//    vpmaddubsw;
//  - AVX-VNNI (AVX2 CPUs with VEX vpdpbusd): the AVX2 steps with AVX-512's
//    products for 8-bit codes and NF4/FP4 (unsigned codes, entries as
//    256 h + l, vpdpbusd), AVX2's for nibbles;
//  - scalar.
// QRT_VNNI=0 (or setVnniEnabled(false)) keeps the VNNI builds out.
// Prefill (m >= kLaneMinTokens) of nibbles and 8-bit codes in the VNNI
// builds runs in block lanes instead of steps: see DotKernels.inc.
// A nibble step takes the low nibbles of its bytes (even columns) and the
// high ones (odd columns) in two registers, so the activations are stored
// in that order: per 2 * kVecBytes columns, the even ones, then the odd
// ones. An int32 lane of a step then holds 8 consecutive columns (4 for
// 8-bit codes), all in one block.
//
//===----------------------------------------------------------------------===//

#include "KernelTable.h"

#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ < 13
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstring>
#include <type_traits>
#include <vector>

namespace qrt::cpu {
namespace detail {
namespace {

/// How a format's codes enter the dot products.
enum class DotFormat : uint8_t {
  Nibbles, ///< 4-bit intN: the codes 0..15
  Table,   ///< NF4, FP4: round(kTableScale * value) of the code
  Bytes,   ///< 8-bit intN: the codes 0..255
};

/// NF4 and FP4 values v (|v| <= 1) enter the dot products as the integers
/// round(kTableScale * v), within 2^-12 of the absmax of v; each build
/// splits e = that + kTableBias into two unsigned parts (kTableShift).
constexpr int32_t kTableScale = 2047;
constexpr int32_t kTableBias = 2048;

/// Columns of an activation block.
constexpr int64_t kBlock = 32;
/// Columns the quantized activations are padded to: a whole step of every
/// build.
constexpr int64_t kPadTo = 128;
/// The group size of a per-channel weight: no step reaches a second group.
constexpr int64_t kWholeRow = int64_t(1) << 40;

/// The arguments of one call, shared by all threads.
struct DotMatmulArgs {
  const QuantizedView *w = nullptr;
  DotFormat format = DotFormat::Nibbles;
  int64_t groupSize = 0; ///< kWholeRow for per-channel weights
  const int32_t *table = nullptr; ///< Table: the 16 integer entries
  int64_t m = 0;
  /// [m, xStride] the int8 activations in the build's order, zero past k.
  const int8_t *x = nullptr;
  int64_t xStride = 0;
  /// [m, laneStride]: d of the block of each group of 8 columns (Nibbles,
  /// Table) or 4 (Bytes).
  const float *laneScales = nullptr;
  int64_t laneStride = 0;
  /// [m, groupStride]: S[g], zero past the last group; groupStride is a
  /// multiple of 16 and at least groups + 16.
  const float *groupSums = nullptr;
  int64_t groupStride = 0;
  /// Bytes of one stored scale (1: double-quantized absmax codes).
  int64_t scaleBytes = 0;
  /// Prefill in block lanes (m >= kLaneMinTokens, builds with laneBlocks,
  /// Nibbles and Bytes):
  /// [m, laneXStride] the activations in lane order, zero past k, and
  /// [m, laneXStride / kBlock] each block's d, zero past the last block;
  /// null otherwise (and x, laneScales null when they are set). See
  /// DotKernels.inc, dotLaneTile.
  const int8_t *laneX = nullptr;
  int64_t laneXStride = 0;
  const float *blockScales = nullptr;
};

/// Tokens from which prefill runs in block lanes: below it, building each
/// row block's panel costs more than it saves.
constexpr int64_t kLaneMinTokens = 4;

/// Column (within its block) of byte b of the int32 lane of slot `slot` in
/// the block-lane order: 8-bit codes take 4 consecutive columns per slot;
/// nibbles (intN, NF4, FP4) take their 16 packed bytes 4 at a time, low
/// nibbles (even columns) in slots 0-3, high ones in 4-7.
constexpr int64_t laneColumn(DotFormat format, int slot, int b) {
  return format == DotFormat::Bytes ? 4 * slot + b
                                    : 8 * (slot % 4) + 2 * b + slot / 4;
}

struct DotKernel {
  const char *name;
  /// Bytes per weight load: nibble activations are interleaved in runs of
  /// this many (0: natural column order).
  int vecBytes;
  void (*rows)(const DotMatmulArgs &, int64_t rowBegin, int64_t rowEnd,
               float *y);
  /// Whole blocks of activations: codes in natural order, max|x| and the
  /// codes' sum per block.
  void (*quantizeBlocks)(const float *x, int64_t blocks, int8_t *codes,
                         float *absmax, int32_t *sums);
  /// Blocks per lane group of the block-lane prefill (kDotLanes), 0 where
  /// the build has none.
  int laneBlocks;
};

//===----------------------------------------------------------------------===//
// Scalar
//===----------------------------------------------------------------------===//

void dotRowsScalar(const DotMatmulArgs &a, int64_t rowBegin, int64_t rowEnd,
                   float *y) {
  const QuantizedView &w = *a.w;
  const int64_t k = w.cols, groups = w.groups();
  const int64_t colsPerLane = a.format == DotFormat::Bytes ? 4 : 8;
  std::vector<float> scales(static_cast<size_t>(groups)),
      zeros(static_cast<size_t>(groups));
  std::vector<int32_t> values(static_cast<size_t>(k));
  for (int64_t j = rowBegin; j < rowEnd; ++j) {
    decodeScales(w, j, 0, groups, scales.data());
    if (a.format == DotFormat::Table)
      for (float &s : scales)
        s *= 1.0f / static_cast<float>(kTableScale);
    else
      decodeZeros(w, j, 0, groups, zeros.data());
    const uint8_t *codes = w.data + j * w.rowBytes();
    for (int64_t c = 0; c < k; ++c) {
      const int code = unpackCode(codes, c, w.bits());
      values[c] = a.table ? a.table[code] : code;
    }
    for (int64_t t = 0; t < a.m; ++t) {
      const int8_t *x = a.x + t * a.xStride;
      float sum = 0.0f;
      for (int64_t c0 = 0; c0 < k; c0 += kBlock) {
        int32_t dot = 0;
        for (int64_t c = c0; c < std::min(k, c0 + kBlock); ++c)
          dot += x[c] * values[c];
        const float d = a.laneScales[t * a.laneStride + c0 / colsPerLane];
        sum += scales[c0 / a.groupSize] * d * static_cast<float>(dot);
      }
      if (!a.table)
        for (int64_t g = 0; g < groups; ++g)
          sum -= scales[g] * zeros[g] * a.groupSums[t * a.groupStride + g];
      y[t * w.rows + j] = sum;
    }
  }
}

/// One block of activations by the stated rule (lrintf rounds half to
/// even; |product| <= 127); returns max|x|.
float quantizeBlockScalar(const float *x, int64_t count, int8_t *codes,
                          int32_t *sum) {
  float absmax = 0.0f;
  for (int64_t c = 0; c < count; ++c)
    absmax = std::max(absmax, std::fabs(x[c]));
  const float inverse = absmax > 0.0f ? 127.0f / absmax : 0.0f;
  *sum = 0;
  for (int64_t c = 0; c < count; ++c) {
    codes[c] = static_cast<int8_t>(std::lrintf(x[c] * inverse));
    *sum += codes[c];
  }
  return absmax;
}

void quantizeBlocksScalar(const float *x, int64_t blocks, int8_t *codes,
                          float *absmax, int32_t *sums) {
  for (int64_t b = 0; b < blocks; ++b)
    absmax[b] =
        quantizeBlockScalar(x + kBlock * b, kBlock, codes + kBlock * b, sums + b);
}

#if defined(__x86_64__) || defined(__i386__)

//===----------------------------------------------------------------------===//
// AVX2
//===----------------------------------------------------------------------===//

namespace avx2 {

#define QRT_DOT_TARGET __attribute__((target("avx2,fma,f16c"))) inline

using DI = __m256i;
using DF = __m256;
constexpr int kDotLanes = 8;
constexpr int kVecBytes = 32;
constexpr int kCodeBias = 128;

QRT_DOT_TARGET DI dZeroI() { return _mm256_setzero_si256(); }
QRT_DOT_TARGET DI dLoad(const uint8_t *p) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i *>(p));
}
QRT_DOT_TARGET DI dLoadPartial(const uint8_t *p, int bytes) {
  alignas(32) uint8_t buffer[32] = {};
  std::memcpy(buffer, p, static_cast<size_t>(bytes));
  return dLoad(buffer);
}
QRT_DOT_TARGET DI dLowNibbles(DI b) {
  return _mm256_and_si256(b, _mm256_set1_epi8(0x0f));
}
QRT_DOT_TARGET DI dHighNibbles(DI b) {
  return _mm256_and_si256(_mm256_srli_epi16(b, 4), _mm256_set1_epi8(0x0f));
}
QRT_DOT_TARGET DI dDotNibbles(DI lo, const int8_t *xLo, DI hi,
                              const int8_t *xHi) {
  // Two products of at most 15 * 127 per int16, two int16 added: no
  // saturation.
  const DI pairs = _mm256_add_epi16(
      _mm256_maddubs_epi16(lo, dLoad(reinterpret_cast<const uint8_t *>(xLo))),
      _mm256_maddubs_epi16(hi, dLoad(reinterpret_cast<const uint8_t *>(xHi))));
  return _mm256_madd_epi16(pairs, _mm256_set1_epi16(1));
}
QRT_DOT_TARGET DI dBytesFromCodes(DI b) {
  return _mm256_xor_si256(b, _mm256_set1_epi8(static_cast<char>(0x80)));
}
QRT_DOT_TARGET DI dDotBytes(DI acc, DI v, const int8_t *x) {
  const DI a = dLoad(reinterpret_cast<const uint8_t *>(x));
  const DI pairs =
      _mm256_maddubs_epi16(_mm256_abs_epi8(v), _mm256_sign_epi8(a, v));
  return _mm256_add_epi32(acc, _mm256_madd_epi16(pairs, _mm256_set1_epi16(1)));
}
QRT_DOT_TARGET DI dTable(const int8_t *bytes) {
  return _mm256_broadcastsi128_si256(
      _mm_load_si128(reinterpret_cast<const __m128i *>(bytes)));
}
/// Table: e = 64 h + l (h, l < 64) looked up part by part; vpmaddubsw of
/// each part with the activations, the low and high nibbles' pairs added in
/// int16 (4 products < 64 * 127 each: no saturation), then
/// 64 * (h part) + (l part) by vpmaddwd.
constexpr int kTableShift = 6;
QRT_DOT_TARGET DI dLookup(DI table, DI nibbles) {
  return _mm256_shuffle_epi8(table, nibbles);
}
QRT_DOT_TARGET DI dDotTable(const DI (&v)[4], const int8_t *x) {
  const DI xLo = dLoad(reinterpret_cast<const uint8_t *>(x));
  const DI xHi = dLoad(reinterpret_cast<const uint8_t *>(x + 32));
  const DI low = _mm256_add_epi16(_mm256_maddubs_epi16(v[0], xLo),
                                  _mm256_maddubs_epi16(v[1], xHi));
  const DI high = _mm256_add_epi16(_mm256_maddubs_epi16(v[2], xLo),
                                   _mm256_maddubs_epi16(v[3], xHi));
  return _mm256_add_epi32(_mm256_madd_epi16(high, _mm256_set1_epi16(64)),
                          _mm256_madd_epi16(low, _mm256_set1_epi16(1)));
}
constexpr bool kLanePrefill = false;
QRT_DOT_TARGET DI dGatherI(const uint8_t *base, DI offsets) {
  return _mm256_i32gather_epi32(reinterpret_cast<const int *>(base), offsets,
                                1);
}
QRT_DOT_TARGET void dStoreI(uint8_t *p, DI v) {
  _mm256_storeu_si256(reinterpret_cast<__m256i *>(p), v);
}
QRT_DOT_TARGET DF dToFloat(DI v) { return _mm256_cvtepi32_ps(v); }
QRT_DOT_TARGET DF dFma(DF a, DF b, DF c) { return _mm256_fmadd_ps(a, b, c); }
QRT_DOT_TARGET DF dFnma(DF a, DF b, DF c) { return _mm256_fnmadd_ps(a, b, c); }
QRT_DOT_TARGET DF dMul(DF a, DF b) { return _mm256_mul_ps(a, b); }
QRT_DOT_TARGET DF dAddF(DF a, DF b) { return _mm256_add_ps(a, b); }
QRT_DOT_TARGET DF dLoadF(const float *p) { return _mm256_loadu_ps(p); }
QRT_DOT_TARGET void dStoreF(float *p, DF v) { _mm256_storeu_ps(p, v); }
QRT_DOT_TARGET DF dGatherF(const float *base, DI indices) {
  return _mm256_i32gather_ps(base, indices, 4);
}
QRT_DOT_TARGET DI dBytesToInts(const uint8_t *p) {
  return _mm256_cvtepu8_epi32(
      _mm_loadl_epi64(reinterpret_cast<const __m128i *>(p)));
}
QRT_DOT_TARGET DF dZeroF() { return _mm256_setzero_ps(); }
QRT_DOT_TARGET DF dSet1F(float v) { return _mm256_set1_ps(v); }
QRT_DOT_TARGET float dHsum(DF v) {
  __m128 quarter =
      _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  quarter = _mm_add_ps(quarter, _mm_movehl_ps(quarter, quarter));
  quarter = _mm_add_ss(quarter, _mm_shuffle_ps(quarter, quarter, 1));
  return _mm_cvtss_f32(quarter);
}
QRT_DOT_TARGET DF dSpread(const float *p, DI pattern) {
  return _mm256_permutevar8x32_ps(_mm256_loadu_ps(p), pattern);
}
QRT_DOT_TARGET void dHalvesToFloats(const uint16_t *in, int64_t count,
                                    float *out) {
  int64_t i = 0;
  for (; i + 8 <= count; i += 8)
    _mm256_storeu_ps(out + i, _mm256_cvtph_ps(_mm_loadu_si128(
                                  reinterpret_cast<const __m128i *>(in + i))));
  for (; i < count; ++i)
    out[i] = halfToFloatScalar(in[i]);
}

QRT_DOT_TARGET float dQuantizeBlock(const float *x, int8_t *codes,
                                   int32_t *sum) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  __m256 v[4];
  __m256 m = _mm256_setzero_ps();
  for (int i = 0; i < 4; ++i) {
    v[i] = _mm256_loadu_ps(x + 8 * i);
    m = _mm256_max_ps(m, _mm256_andnot_ps(sign, v[i]));
  }
  __m128 quarter =
      _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
  quarter = _mm_max_ps(quarter, _mm_movehl_ps(quarter, quarter));
  quarter = _mm_max_ss(quarter, _mm_shuffle_ps(quarter, quarter, 1));
  const float absmax = _mm_cvtss_f32(quarter);
  const __m256 inverse = _mm256_set1_ps(absmax > 0.0f ? 127.0f / absmax : 0.0f);
  __m256i q[4];
  for (int i = 0; i < 4; ++i) // round to nearest even, as lrintf
    q[i] = _mm256_cvtps_epi32(_mm256_mul_ps(v[i], inverse));
  // Packing works within 128-bit lanes: bytes come out as q0[0..3] q1[0..3]
  // q2[0..3] q3[0..3] | q0[4..7] ...; the permutation restores the order.
  const __m256i bytes = _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]),
                                           _mm256_packs_epi32(q[2], q[3]));
  _mm256_storeu_si256(
      reinterpret_cast<__m256i *>(codes),
      _mm256_permutevar8x32_epi32(bytes,
                                  _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
  const __m256i total = _mm256_add_epi32(_mm256_add_epi32(q[0], q[1]),
                                         _mm256_add_epi32(q[2], q[3]));
  __m128i half = _mm_add_epi32(_mm256_castsi256_si128(total),
                               _mm256_extracti128_si256(total, 1));
  half = _mm_add_epi32(half, _mm_shuffle_epi32(half, 0x4e));
  half = _mm_add_epi32(half, _mm_shuffle_epi32(half, 0xb1));
  *sum = _mm_cvtsi128_si32(half);
  return absmax;
}

QRT_DOT_TARGET void dBytesToFloats(const uint8_t *in, int64_t count,
                                   float *out) {
  int64_t i = 0;
  for (; i + 8 <= count; i += 8)
    _mm256_storeu_ps(out + i, _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(
                                  _mm_loadl_epi64(
                                      reinterpret_cast<const __m128i *>(in + i)))));
  for (; i < count; ++i)
    out[i] = in[i];
}
QRT_DOT_TARGET void dNibblesToFloats(const uint8_t *in, int64_t count,
                                     float *out) {
  int64_t i = 0;
  for (; i + 8 <= count; i += 8) {
    // 4 bytes: lane k holds byte k; low nibbles to even groups, high to odd.
    int32_t word;
    std::memcpy(&word, in + i / 2, 4);
    const __m128i bytes = _mm_cvtepu8_epi32(_mm_cvtsi32_si128(word));
    const __m128i low = _mm_and_si128(bytes, _mm_set1_epi32(15));
    const __m128i high = _mm_srli_epi32(bytes, 4);
    const __m256i both = _mm256_set_m128i(_mm_unpackhi_epi32(low, high),
                                          _mm_unpacklo_epi32(low, high));
    _mm256_storeu_ps(out + i, _mm256_cvtepi32_ps(both));
  }
  for (; i < count; ++i)
    out[i] = (in[i / 2] >> (4 * (i % 2))) & 15;
}

#include "DotKernels.inc"

#undef QRT_DOT_TARGET

} // namespace avx2

//===----------------------------------------------------------------------===//
// AVX-VNNI (VEX vpdpbusd on ymm: AVX2 CPUs with VNNI, e.g. Alder Lake,
// Sierra Forest, Zen 5)
//===----------------------------------------------------------------------===//

// The AVX2 build with its products taken by vpdpbusd: 8-bit codes enter
// unsigned (no sign trick), and NF4/FP4 entries split as AVX-512's do
// (256 h + l), two vpdpbusd per part instead of vpmaddubsw, vpaddw and
// vpmaddwd. Nibbles keep AVX2's vpmaddubsw: through vpdpbusd the int4 g32
// symmetric GEMV measured 8-10% slower (Intel Xeon, 1 thread), the int4
// prefill 5-10% faster. Every function here is built with avxvnni enabled (the
// compiler may use VNNI anywhere in them), so it runs only where the CPU
// has it; the primitives shared with AVX2 are inlined into them.
namespace avxvnni {

#define QRT_DOT_TARGET __attribute__((target("avx2,fma,f16c,avxvnni"))) inline

using avx2::DF;
using avx2::DI;
using avx2::kDotLanes;
using avx2::kVecBytes;
constexpr int kCodeBias = 0;
constexpr int kTableShift = 8;
constexpr bool kLanePrefill = true;

using avx2::dAddF;
using avx2::dBytesToFloats;
using avx2::dBytesToInts;
using avx2::dDotNibbles;
using avx2::dFma;
using avx2::dFnma;
using avx2::dGatherF;
using avx2::dGatherI;
using avx2::dHalvesToFloats;
using avx2::dHighNibbles;
using avx2::dHsum;
using avx2::dLoad;
using avx2::dLoadF;
using avx2::dLoadPartial;
using avx2::dLookup;
using avx2::dLowNibbles;
using avx2::dMul;
using avx2::dNibblesToFloats;
using avx2::dQuantizeBlock;
using avx2::dSet1F;
using avx2::dSpread;
using avx2::dStoreF;
using avx2::dStoreI;
using avx2::dTable;
using avx2::dToFloat;
using avx2::dZeroF;
using avx2::dZeroI;

QRT_DOT_TARGET DI dActs(const int8_t *x) {
  return dLoad(reinterpret_cast<const uint8_t *>(x));
}
QRT_DOT_TARGET DI dBytesFromCodes(DI b) { return b; }
QRT_DOT_TARGET DI dDotBytes(DI acc, DI v, const int8_t *x) {
  return _mm256_dpbusd_avx_epi32(acc, v, dActs(x));
}
QRT_DOT_TARGET DI dDotTable(const DI (&v)[4], const int8_t *x) {
  const DI xLo = dActs(x), xHi = dActs(x + 32);
  const DI low = _mm256_dpbusd_avx_epi32(
      _mm256_dpbusd_avx_epi32(_mm256_setzero_si256(), v[0], xLo), v[1], xHi);
  const DI high = _mm256_dpbusd_avx_epi32(
      _mm256_dpbusd_avx_epi32(_mm256_setzero_si256(), v[2], xLo), v[3], xHi);
  return _mm256_add_epi32(_mm256_slli_epi32(high, 8), low);
}

#include "DotKernels.inc"

#undef QRT_DOT_TARGET

} // namespace avxvnni

//===----------------------------------------------------------------------===//
// AVX-512 VNNI
//===----------------------------------------------------------------------===//

namespace avx512 {

#define QRT_DOT_TARGET                                                         \
  __attribute__((target(                                                       \
      "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c"))) inline

using DI = __m512i;
using DF = __m512;
constexpr int kDotLanes = 16;
constexpr int kVecBytes = 64;
constexpr int kCodeBias = 0;

QRT_DOT_TARGET DI dZeroI() { return _mm512_setzero_si512(); }
QRT_DOT_TARGET DI dLoad(const uint8_t *p) { return _mm512_loadu_si512(p); }
QRT_DOT_TARGET DI dLoadPartial(const uint8_t *p, int bytes) {
  return _mm512_maskz_loadu_epi8((__mmask64(1) << bytes) - 1, p);
}
QRT_DOT_TARGET DI dLowNibbles(DI b) {
  return _mm512_and_si512(b, _mm512_set1_epi8(0x0f));
}
QRT_DOT_TARGET DI dHighNibbles(DI b) {
  return _mm512_and_si512(_mm512_srli_epi16(b, 4), _mm512_set1_epi8(0x0f));
}
QRT_DOT_TARGET DI dDotNibbles(DI lo, const int8_t *xLo, DI hi,
                              const int8_t *xHi) {
  return _mm512_dpbusd_epi32(
      _mm512_dpbusd_epi32(_mm512_setzero_si512(), lo, _mm512_loadu_si512(xLo)),
      hi, _mm512_loadu_si512(xHi));
}
QRT_DOT_TARGET DI dBytesFromCodes(DI b) { return b; }
QRT_DOT_TARGET DI dDotBytes(DI acc, DI v, const int8_t *x) {
  return _mm512_dpbusd_epi32(acc, v, _mm512_loadu_si512(x));
}
QRT_DOT_TARGET DI dTable(const int8_t *bytes) {
  return _mm512_broadcast_i32x4(
      _mm_load_si128(reinterpret_cast<const __m128i *>(bytes)));
}
/// Table: e = 256 h + l (bytes h, l) looked up byte by byte; vpdpbusd of
/// each with the activations, then 256 * (h part) + (l part).
constexpr int kTableShift = 8;
QRT_DOT_TARGET DI dLookup(DI table, DI nibbles) {
  return _mm512_shuffle_epi8(table, nibbles);
}
QRT_DOT_TARGET DI dDotTable(const DI (&v)[4], const int8_t *x) {
  const DI xLo = _mm512_loadu_si512(x), xHi = _mm512_loadu_si512(x + 64);
  const DI low = _mm512_dpbusd_epi32(
      _mm512_dpbusd_epi32(_mm512_setzero_si512(), v[0], xLo), v[1], xHi);
  const DI high = _mm512_dpbusd_epi32(
      _mm512_dpbusd_epi32(_mm512_setzero_si512(), v[2], xLo), v[3], xHi);
  return _mm512_add_epi32(_mm512_slli_epi32(high, 8), low);
}
constexpr bool kLanePrefill = true;
QRT_DOT_TARGET DI dGatherI(const uint8_t *base, DI offsets) {
  return _mm512_i32gather_epi32(offsets, base, 1);
}
QRT_DOT_TARGET void dStoreI(uint8_t *p, DI v) { _mm512_storeu_si512(p, v); }
QRT_DOT_TARGET DF dToFloat(DI v) { return _mm512_cvtepi32_ps(v); }
QRT_DOT_TARGET DF dFma(DF a, DF b, DF c) { return _mm512_fmadd_ps(a, b, c); }
QRT_DOT_TARGET DF dFnma(DF a, DF b, DF c) { return _mm512_fnmadd_ps(a, b, c); }
QRT_DOT_TARGET DF dMul(DF a, DF b) { return _mm512_mul_ps(a, b); }
QRT_DOT_TARGET DF dAddF(DF a, DF b) { return _mm512_add_ps(a, b); }
QRT_DOT_TARGET DF dLoadF(const float *p) { return _mm512_loadu_ps(p); }
QRT_DOT_TARGET void dStoreF(float *p, DF v) { _mm512_storeu_ps(p, v); }
QRT_DOT_TARGET DF dGatherF(const float *base, DI indices) {
  return _mm512_i32gather_ps(indices, base, 4);
}
QRT_DOT_TARGET DI dBytesToInts(const uint8_t *p) {
  return _mm512_cvtepu8_epi32(
      _mm_loadu_si128(reinterpret_cast<const __m128i *>(p)));
}
QRT_DOT_TARGET DF dZeroF() { return _mm512_setzero_ps(); }
QRT_DOT_TARGET DF dSet1F(float v) { return _mm512_set1_ps(v); }
QRT_DOT_TARGET float dHsum(DF v) { return _mm512_reduce_add_ps(v); }
QRT_DOT_TARGET DF dSpread(const float *p, DI pattern) {
  return _mm512_permutexvar_ps(pattern, _mm512_loadu_ps(p));
}
QRT_DOT_TARGET void dHalvesToFloats(const uint16_t *in, int64_t count,
                                    float *out) {
  int64_t i = 0;
  for (; i + 16 <= count; i += 16)
    _mm512_storeu_ps(out + i,
                     _mm512_cvtph_ps(_mm256_loadu_si256(
                         reinterpret_cast<const __m256i *>(in + i))));
  for (; i < count; ++i)
    out[i] = halfToFloatScalar(in[i]);
}

QRT_DOT_TARGET float dQuantizeBlock(const float *x, int8_t *codes,
                                   int32_t *sum) {
  const __m512 a = _mm512_loadu_ps(x), b = _mm512_loadu_ps(x + 16);
  const float absmax =
      _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(a), _mm512_abs_ps(b)));
  const __m512 inverse = _mm512_set1_ps(absmax > 0.0f ? 127.0f / absmax : 0.0f);
  // Round to nearest even, as lrintf.
  const __m512i qa = _mm512_cvtps_epi32(_mm512_mul_ps(a, inverse));
  const __m512i qb = _mm512_cvtps_epi32(_mm512_mul_ps(b, inverse));
  _mm_storeu_si128(reinterpret_cast<__m128i *>(codes),
                   _mm512_cvtsepi32_epi8(qa));
  _mm_storeu_si128(reinterpret_cast<__m128i *>(codes + 16),
                   _mm512_cvtsepi32_epi8(qb));
  *sum = _mm512_reduce_add_epi32(_mm512_add_epi32(qa, qb));
  return absmax;
}

// The AVX2 forms (this target includes avx2).
QRT_DOT_TARGET void dBytesToFloats(const uint8_t *in, int64_t count,
                                   float *out) {
  int64_t i = 0;
  for (; i + 16 <= count; i += 16)
    _mm512_storeu_ps(out + i, _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(
                                  _mm_loadu_si128(
                                      reinterpret_cast<const __m128i *>(in + i)))));
  for (; i < count; ++i)
    out[i] = in[i];
}
QRT_DOT_TARGET void dNibblesToFloats(const uint8_t *in, int64_t count,
                                     float *out) {
  avx2::dNibblesToFloats(in, count, out);
}

#include "DotKernels.inc"

#undef QRT_DOT_TARGET

} // namespace avx512

#endif // x86

DotKernel dotKernelFor(Isa isa) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  const bool vnni = vnniEnabled();
  if (isa == Isa::Avx512 && vnni && __builtin_cpu_supports("avx512vnni"))
    return {"avx512-vnni", avx512::kVecBytes, avx512::dotRows,
            avx512::dotQuantizeBlocks, avx512::kDotLanes};
  if ((isa == Isa::Avx512 || isa == Isa::Avx2) && vnni &&
      __builtin_cpu_supports("avxvnni"))
    return {"avx-vnni", avxvnni::kVecBytes, avxvnni::dotRows,
            avxvnni::dotQuantizeBlocks, avxvnni::kDotLanes};
  if (isa == Isa::Avx512 || isa == Isa::Avx2)
    return {"avx2", avx2::kVecBytes, avx2::dotRows, avx2::dotQuantizeBlocks,
            0};
#endif
  (void)isa;
  return {"scalar", 0, dotRowsScalar, quantizeBlocksScalar, 0};
}

/// A row of codes in natural order put in the order of a kernel that loads
/// vecBytes weight bytes at a time (Nibbles, Table): per 2 * vecBytes
/// columns, the even ones, then the odd ones. `count` is a multiple of
/// 2 * vecBytes.
#if defined(__x86_64__) || defined(__i386__)
__attribute__((target("ssse3")))
#endif
void interleaveForNibbles(const int8_t *natural, int64_t count,
                          int64_t vecBytes, int8_t *out) {
  for (int64_t c0 = 0; c0 < count; c0 += 2 * vecBytes) {
    int64_t i = 0;
#if defined(__x86_64__) || defined(__i386__)
    // 16 columns at a time: their 8 even ones, then their 8 odd ones.
    const __m128i split =
        _mm_setr_epi8(0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15);
    for (; i + 16 <= 2 * vecBytes; i += 16) {
      const __m128i v = _mm_shuffle_epi8(
          _mm_loadu_si128(
              reinterpret_cast<const __m128i *>(natural + c0 + i)),
          split);
      _mm_storel_epi64(reinterpret_cast<__m128i *>(out + c0 + i / 2), v);
      _mm_storel_epi64(
          reinterpret_cast<__m128i *>(out + c0 + vecBytes + i / 2),
          _mm_unpackhi_epi64(v, v));
    }
#endif
    for (; i < 2 * vecBytes; ++i)
      out[c0 + (i % 2) * vecBytes + i / 2] = natural[c0 + i];
  }
}

/// One row of natural-order activation codes (zero past k, `cols` a
/// multiple of lanes * kBlock) in block-lane order: per group of `lanes`
/// blocks, slot s (of 8) is `lanes` int32 lanes, lane i holding 4 columns
/// of block i (laneColumn).
void toLaneOrder(const int8_t *natural, int64_t cols, DotFormat format,
                 int lanes, int8_t *out) {
  const int64_t groupCols = lanes * kBlock;
  for (int64_t c0 = 0; c0 < cols; c0 += groupCols)
    for (int slot = 0; slot < 8; ++slot)
      for (int i = 0; i < lanes; ++i)
        for (int b = 0; b < 4; ++b)
          out[c0 + (slot * lanes + i) * 4 + b] =
              natural[c0 + i * kBlock + laneColumn(format, slot, b)];
}

} // namespace
} // namespace detail

bool int8ActivationsSupported(const QuantizedView &w) {
  return !w.groupIndex && (w.kind == QuantizedView::Kind::Float4
                               ? qrt::int8ActivationsSupported(w.float4)
                               : qrt::int8ActivationsSupported(w.intN));
}

const char *int8ActivationKernelName() {
  return detail::dotKernelFor(activeIsa()).name;
}

namespace detail {

void dotMatmul(ThreadPool &pool, const float *x, int64_t m,
               const QuantizedView &w, float *y) {
  assert(int8ActivationsSupported(w));
  const int64_t n = w.rows, k = w.cols, groups = w.groups();
  const DotKernel kernel = dotKernelFor(activeIsa());
  DotMatmulArgs a;
  a.w = &w;
  a.format = w.kind == QuantizedView::Kind::Float4 ? DotFormat::Table
             : w.intN.bits == 8                    ? DotFormat::Bytes
                                                   : DotFormat::Nibbles;
  a.groupSize = w.groupSize() == kPerChannel ? kWholeRow : w.groupSize();
  int32_t table[16];
  if (a.format == DotFormat::Table) {
    const float *values = float4CodeValues(w.float4.codes);
    for (int i = 0; i < 16; ++i)
      table[i] = static_cast<int32_t>(
          std::lrintf(static_cast<float>(kTableScale) * values[i]));
    a.table = table;
  }
  a.m = m;
  a.xStride = (k + kPadTo - 1) / kPadTo * kPadTo;
  const int64_t colsPerLane = a.format == DotFormat::Bytes ? 4 : 8;
  a.laneStride = a.xStride / colsPerLane;
  a.groupStride = (groups + 31) / 16 * 16;
  const ScaleType scaleType = w.kind == QuantizedView::Kind::IntN
                                  ? w.intN.scaleType
                                  : w.float4.scaleType;
  a.scaleBytes = w.kind == QuantizedView::Kind::Float4 && w.float4.doubleQuant
                     ? 1
                 : scaleType == ScaleType::F32 ? 4
                                               : 2;

  // Prefill in block lanes where the build has it (DotKernels.inc,
  // dotLaneTile): the activations also in lane order, padded to whole lane
  // groups, and each block's d. Not for NF4/FP4: their two-part entries
  // made the lane tiles 10-15% slower than the step tiles (whole-model
  // prefill, Intel Xeon, AVX-512, 1 thread).
  const bool inLanes = kernel.laneBlocks > 0 && m >= kLaneMinTokens &&
                       a.format != DotFormat::Table;
  const int64_t laneCols = kernel.laneBlocks * kBlock;
  a.laneXStride = inLanes ? (k + laneCols - 1) / laneCols * laneCols : 0;
  const int64_t blockStride = a.laneXStride / kBlock;

  // The quantized activations, in the calling thread's scratch: in the step
  // tiles' order with each lane's d, or (inLanes) in lane order with each
  // block's d; the group sums either way.
  thread_local std::vector<int8_t> codes, natural;
  thread_local std::vector<float> scales, groupSums, absmax;
  thread_local std::vector<int32_t> sums;
  const int64_t blocks = (k + kBlock - 1) / kBlock, whole = k / kBlock;
  const int64_t codeStride = inLanes ? a.laneXStride : a.xStride;
  const int64_t scaleStride = inLanes ? blockStride : a.laneStride;
  codes.resize(static_cast<size_t>(m * codeStride));
  natural.resize(static_cast<size_t>(codeStride));
  scales.assign(static_cast<size_t>(m * scaleStride), 0.0f);
  groupSums.assign(static_cast<size_t>(m * a.groupStride), 0.0f);
  absmax.resize(static_cast<size_t>(blocks));
  sums.resize(static_cast<size_t>(blocks));
  const bool reorder =
      inLanes || (a.format != DotFormat::Bytes && kernel.vecBytes > 0);
  // Columns of one scale: a lane of the step tiles, or a block.
  const int64_t scaleCols = inLanes ? kBlock : colsPerLane;
  for (int64_t t = 0; t < m; ++t) {
    const float *row = x + t * k;
    int8_t *q = codes.data() + t * codeStride;
    int8_t *out = reorder ? natural.data() : q;
    std::fill(out + whole * kBlock, out + codeStride, int8_t(0));
    kernel.quantizeBlocks(row, whole, out, absmax.data(), sums.data());
    if (whole < blocks)
      absmax[whole] = quantizeBlockScalar(row + whole * kBlock,
                                          k - whole * kBlock,
                                          out + whole * kBlock, &sums[whole]);
    if (inLanes)
      toLaneOrder(out, codeStride, a.format, kernel.laneBlocks, q);
    else if (reorder)
      interleaveForNibbles(out, codeStride, kernel.vecBytes, q);
    float *scale = scales.data() + t * scaleStride;
    float *groupSum = groupSums.data() + t * a.groupStride;
    for (int64_t b = 0; b < blocks; ++b) {
      const float d = absmax[b] / 127.0f;
      std::fill(scale + b * kBlock / scaleCols,
                scale + (b + 1) * kBlock / scaleCols, d);
      groupSum[b * kBlock / a.groupSize] += d * static_cast<float>(sums[b]);
    }
  }
  a.groupSums = groupSums.data();
  if (inLanes) {
    a.laneX = codes.data();
    a.blockScales = scales.data();
  } else {
    a.x = codes.data();
    a.laneScales = scales.data();
  }

  constexpr int64_t kRows = 4;
  pool.parallelFor((n + kRows - 1) / kRows, grainFor(kRows * k * m),
                   [&](int64_t begin, int64_t end) {
                     kernel.rows(a, begin * kRows, std::min(n, end * kRows),
                                 y);
                   });
}

} // namespace detail
} // namespace qrt::cpu
