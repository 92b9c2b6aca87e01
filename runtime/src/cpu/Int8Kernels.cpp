//===- Int8Kernels.cpp - LLM.int8() integer dot products ------------------===//
//
// The integer part of int8Matmul (Kernels.cpp quantizes the activations):
// for weight rows j and tokens t,
//
//   acc[t][j] = sum_c a[t][c] * (q[j][c] - 128)         (exact, int32)
//   y[t][j]   = s[j] * (acc[t][j] * aScale[t] + sum_o xOut[t][o] * (q[j][c_o] - 128))
//
// with q the stored 8-bit codes (symmetric: zero point 128) and c_o the
// outlier columns, whose activations a[t][c_o] are 0. The outlier sum reads
// the row's codes while they are in cache, so no weight is read twice.
//
// Three builds, chosen by the active ISA:
//  - scalar;
//  - AVX2: 32 codes per step, the sign trick of integer dot products without
//    unsigned operands: maddubs(|a|, sign(q - 128, a)) sums pairs of
//    products into int16 (|a|, |q - 128| <= 127, so a pair is at most 32258:
//    no saturation), madd with ones widens to int32;
//  - AVX-512: 64 codes per step. With VNNI, vpdpbusd multiplies the unsigned
//    codes q by the signed a and accumulates in int32 directly; the 128 * a
//    term is subtracted once per token from its row sum. Without VNNI,
//    the AVX-VNNI or AVX2 kernel runs;
//  - AVX-VNNI (AVX2 CPUs with VEX vpdpbusd): as AVX-512 VNNI on 32 codes.
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
#include <cstring>

namespace qrt::cpu::detail {
namespace {

/// The floats of a tile of outputs: y[t][j] for tokens [t0, t0 + mt) and
/// rows [j0, j0 + nr), given their exact integer sums acc[r][t].
template <int NR, int MT>
inline void finishTile(const Int8MatmulArgs &args, int64_t j0, int nr,
                       int64_t t0, int mt, const int32_t (&acc)[NR][MT],
                       float *y) {
  for (int r = 0; r < nr; ++r) {
    const int64_t j = j0 + r;
    const uint8_t *row = args.codes + j * args.k;
    for (int t = 0; t < mt; ++t) {
      float outliers = 0.0f;
      const float *xo = args.xOutliers + (t0 + t) * args.outliers;
      for (int64_t o = 0; o < args.outliers; ++o)
        outliers += xo[o] * static_cast<float>(
                                static_cast<int>(row[args.outlierCols[o]]) -
                                128);
      y[(t0 + t) * args.n + j] =
          args.scales[j] * (static_cast<float>(acc[r][t]) *
                                args.activationScales[t0 + t] +
                            outliers);
    }
  }
}

/// The first codes of the tile's rows and activations of its tokens (the
/// last one repeated past nr and mt: the extra sums are computed, not
/// written).
template <int NR, int MT> struct TileRows {
  const uint8_t *rows[NR];
  const int8_t *acts[MT];
  TileRows(const Int8MatmulArgs &args, int64_t j0, int nr, int64_t t0,
           int mt) {
    for (int r = 0; r < NR; ++r)
      rows[r] = args.codes + (j0 + std::min(r, nr - 1)) * args.k;
    for (int t = 0; t < MT; ++t)
      acts[t] = args.activations + (t0 + std::min(t, mt - 1)) * args.kPadded;
  }
};

using TileFn = void (*)(const Int8MatmulArgs &, int64_t j0, int nr,
                        int64_t t0, int mt, float *y);

/// Rows [rowBegin, rowEnd) in tiles of NR, each against every token in tiles
/// of MT (the rows stay in cache while the tokens pass).
template <int NR, int MT>
void forEachTile(TileFn tile, const Int8MatmulArgs &args, int64_t rowBegin,
                 int64_t rowEnd, float *y) {
  for (int64_t j = rowBegin; j < rowEnd; j += NR) {
    const int nr = static_cast<int>(std::min<int64_t>(NR, rowEnd - j));
    for (int64_t t = 0; t < args.m; t += MT)
      tile(args, j, nr, t, static_cast<int>(std::min<int64_t>(MT, args.m - t)),
           y);
  }
}

//===----------------------------------------------------------------------===//
// Scalar
//===----------------------------------------------------------------------===//

void int8RowsScalar(const Int8MatmulArgs &args, int64_t rowBegin,
                    int64_t rowEnd, float *y) {
  for (int64_t j = rowBegin; j < rowEnd; ++j) {
    const uint8_t *row = args.codes + j * args.k;
    for (int64_t t = 0; t < args.m; ++t) {
      const int8_t *a = args.activations + t * args.kPadded;
      int32_t acc[1][1] = {{0}};
      for (int64_t c = 0; c < args.k; ++c)
        acc[0][0] += static_cast<int32_t>(a[c]) *
                     (static_cast<int32_t>(row[c]) - 128);
      finishTile<1, 1>(args, j, 1, t, 1, acc, y);
    }
  }
}

#if defined(__x86_64__) || defined(__i386__)

//===----------------------------------------------------------------------===//
// AVX2
//===----------------------------------------------------------------------===//

#define QRT_AVX2 __attribute__((target("avx2,fma,f16c")))

QRT_AVX2 inline int32_t hsum256(__m256i v) {
  __m128i x = _mm_add_epi32(_mm256_castsi256_si128(v),
                            _mm256_extracti128_si256(v, 1));
  x = _mm_add_epi32(x, _mm_shuffle_epi32(x, _MM_SHUFFLE(1, 0, 3, 2)));
  x = _mm_add_epi32(x, _mm_shuffle_epi32(x, _MM_SHUFFLE(2, 3, 0, 1)));
  return _mm_cvtsi128_si32(x);
}

/// 32 codes of a row from column c as signed q - 128 (zero past k).
QRT_AVX2 inline __m256i loadSignedCodes(const uint8_t *row, int64_t c,
                                        int64_t k) {
  __m256i q;
  if (c + 32 <= k) {
    q = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(row + c));
  } else {
    alignas(32) uint8_t tail[32];
    std::memset(tail, 128, sizeof tail);
    std::memcpy(tail, row + c, static_cast<size_t>(k - c));
    q = _mm256_load_si256(reinterpret_cast<const __m256i *>(tail));
  }
  return _mm256_xor_si256(q, _mm256_set1_epi8(static_cast<char>(0x80)));
}

template <int NR, int MT>
QRT_AVX2 void int8TileAvx2(const Int8MatmulArgs &args, int64_t j0, int nr,
                           int64_t t0, int mt, float *y) {
  const __m256i ones = _mm256_set1_epi16(1);
  __m256i acc[NR][MT];
  for (int r = 0; r < NR; ++r)
    for (int t = 0; t < MT; ++t)
      acc[r][t] = _mm256_setzero_si256();
  const TileRows<NR, MT> p(args, j0, nr, t0, mt);
  for (int64_t c = 0; c < args.k; c += 32) {
    __m256i w[NR];
    for (int r = 0; r < NR; ++r)
      w[r] = loadSignedCodes(p.rows[r], c, args.k);
    for (int t = 0; t < MT; ++t) {
      const __m256i a =
          _mm256_loadu_si256(reinterpret_cast<const __m256i *>(p.acts[t] + c));
      const __m256i magnitude = _mm256_sign_epi8(a, a);
      for (int r = 0; r < NR; ++r) {
        __m256i pairs =
            _mm256_maddubs_epi16(magnitude, _mm256_sign_epi8(w[r], a));
        acc[r][t] =
            _mm256_add_epi32(acc[r][t], _mm256_madd_epi16(pairs, ones));
      }
    }
  }
  int32_t sums[NR][MT];
  for (int r = 0; r < NR; ++r)
    for (int t = 0; t < MT; ++t)
      sums[r][t] = hsum256(acc[r][t]);
  finishTile<NR, MT>(args, j0, nr, t0, mt, sums, y);
}

QRT_AVX2 void int8RowsAvx2(const Int8MatmulArgs &args, int64_t rowBegin,
                           int64_t rowEnd, float *y) {
  if (args.m == 1)
    forEachTile<4, 1>(int8TileAvx2<4, 1>, args, rowBegin, rowEnd, y);
  else
    forEachTile<4, 2>(int8TileAvx2<4, 2>, args, rowBegin, rowEnd, y);
}

#undef QRT_AVX2

//===----------------------------------------------------------------------===//
// AVX-VNNI (VEX vpdpbusd on ymm: AVX2 CPUs with VNNI, e.g. Alder Lake, Zen 5)
//===----------------------------------------------------------------------===//

// Its own tile, not a template shared with the AVX2 one: a function built
// with avxvnni enabled may use VNNI anywhere (the compiler vectorizes the
// epilogue's loops with it), which the AVX2 build must never run.
#define QRT_AVXVNNI __attribute__((target("avx2,fma,avxvnni")))

/// 32 unsigned codes of a row from column c (zero past k: they meet the
/// zero padding of the activations).
QRT_AVXVNNI inline __m256i loadCodes(const uint8_t *row, int64_t c, int64_t k) {
  if (c + 32 <= k)
    return _mm256_loadu_si256(reinterpret_cast<const __m256i *>(row + c));
  alignas(32) uint8_t tail[32] = {};
  std::memcpy(tail, row + c, static_cast<size_t>(k - c));
  return _mm256_load_si256(reinterpret_cast<const __m256i *>(tail));
}

template <int NR, int MT>
QRT_AVXVNNI void int8TileAvxVnni(const Int8MatmulArgs &args, int64_t j0,
                                 int nr, int64_t t0, int mt, float *y) {
  __m256i acc[NR][MT];
  for (int r = 0; r < NR; ++r)
    for (int t = 0; t < MT; ++t)
      acc[r][t] = _mm256_setzero_si256();
  const TileRows<NR, MT> p(args, j0, nr, t0, mt);
  for (int64_t c = 0; c < args.k; c += 32) {
    __m256i w[NR];
    for (int r = 0; r < NR; ++r)
      w[r] = loadCodes(p.rows[r], c, args.k);
    for (int t = 0; t < MT; ++t) {
      const __m256i a =
          _mm256_loadu_si256(reinterpret_cast<const __m256i *>(p.acts[t] + c));
      for (int r = 0; r < NR; ++r)
        acc[r][t] = _mm256_dpbusd_avx_epi32(acc[r][t], w[r], a);
    }
  }
  int32_t sums[NR][MT];
  for (int t = 0; t < MT; ++t) {
    const int32_t bias = 128 * args.activationSums[t0 + std::min(t, mt - 1)];
    for (int r = 0; r < NR; ++r)
      sums[r][t] = hsum256(acc[r][t]) - bias;
  }
  finishTile<NR, MT>(args, j0, nr, t0, mt, sums, y);
}

QRT_AVXVNNI void int8RowsAvxVnni(const Int8MatmulArgs &args, int64_t rowBegin,
                                 int64_t rowEnd, float *y) {
  if (args.m == 1)
    forEachTile<4, 1>(int8TileAvxVnni<4, 1>, args, rowBegin, rowEnd, y);
  else
    forEachTile<4, 2>(int8TileAvxVnni<4, 2>, args, rowBegin, rowEnd, y);
}

#undef QRT_AVXVNNI

//===----------------------------------------------------------------------===//
// AVX-512 VNNI
//===----------------------------------------------------------------------===//

#define QRT_VNNI                                                               \
  __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma")))

template <int NR, int MT>
QRT_VNNI void int8TileVnni(const Int8MatmulArgs &args, int64_t j0, int nr,
                           int64_t t0, int mt, float *y) {
  __m512i acc[NR][MT];
  for (int r = 0; r < NR; ++r)
    for (int t = 0; t < MT; ++t)
      acc[r][t] = _mm512_setzero_si512();
  const TileRows<NR, MT> p(args, j0, nr, t0, mt);
  for (int64_t c = 0; c < args.k; c += 64) {
    // Past k the codes load as zeros and meet the zero padding of a.
    const __mmask64 mask = c + 64 <= args.k
                               ? ~__mmask64(0)
                               : (__mmask64(1) << (args.k - c)) - 1;
    __m512i w[NR];
    for (int r = 0; r < NR; ++r)
      w[r] = _mm512_maskz_loadu_epi8(mask, p.rows[r] + c);
    for (int t = 0; t < MT; ++t) {
      const __m512i a = _mm512_loadu_si512(p.acts[t] + c);
      for (int r = 0; r < NR; ++r)
        acc[r][t] = _mm512_dpbusd_epi32(acc[r][t], w[r], a);
    }
  }
  int32_t sums[NR][MT];
  for (int t = 0; t < MT; ++t) {
    const int32_t bias = 128 * args.activationSums[t0 + std::min(t, mt - 1)];
    for (int r = 0; r < NR; ++r)
      sums[r][t] = _mm512_reduce_add_epi32(acc[r][t]) - bias;
  }
  finishTile<NR, MT>(args, j0, nr, t0, mt, sums, y);
}

QRT_VNNI void int8RowsVnni(const Int8MatmulArgs &args, int64_t rowBegin,
                           int64_t rowEnd, float *y) {
  if (args.m == 1)
    forEachTile<4, 1>(int8TileVnni<4, 1>, args, rowBegin, rowEnd, y);
  else
    forEachTile<4, 4>(int8TileVnni<4, 4>, args, rowBegin, rowEnd, y);
}

#undef QRT_VNNI

#endif // x86

} // namespace

Int8Kernel int8KernelFor(Isa isa) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  const bool vnni = vnniEnabled();
  if (isa == Isa::Avx512 && vnni && __builtin_cpu_supports("avx512vnni"))
    return {"avx512-vnni", int8RowsVnni};
  if ((isa == Isa::Avx512 || isa == Isa::Avx2) && vnni &&
      __builtin_cpu_supports("avxvnni"))
    return {"avx-vnni", int8RowsAvxVnni};
  if (isa == Isa::Avx512 || isa == Isa::Avx2)
    return {"avx2", int8RowsAvx2};
#endif
  (void)isa;
  return {"scalar", int8RowsScalar};
}

} // namespace qrt::cpu::detail
