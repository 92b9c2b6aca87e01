//===- KernelsTest.cpp - CPU kernels against double-precision references --===//
//
// Every test runs once per kernel build (scalar, avx2, avx512); builds this
// machine cannot run are skipped. References are computed in double from the
// same float (or f16-decoded) inputs, so the only differences are the
// kernels' float roundings, bounded as stated next to each check with
// u = 2^-24 (the unit roundoff of float).
//
//===----------------------------------------------------------------------===//

#include "qrt/cpu/Kernels.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <ostream>
#include <random>
#include <string>
#include <vector>

using namespace qrt::cpu;

namespace qrt::cpu {
// Readable test parameters ("avx512", not a byte dump).
void PrintTo(Isa isa, std::ostream *os) {
  *os << (isa == Isa::Scalar ? "scalar" : isa == Isa::Avx2 ? "avx2" : "avx512");
}
} // namespace qrt::cpu

namespace {

constexpr double kUnitRoundoff = 0x1p-24;

struct MatmulShape {
  int64_t m, k, n;
};

class KernelsTest : public testing::TestWithParam<Isa> {
protected:
  void SetUp() override {
    if (!isaSupported(GetParam()))
      GTEST_SKIP() << "this machine cannot run that build";
    ASSERT_TRUE(setIsa(GetParam()));
  }
  void TearDown() override { setIsa(defaultIsa()); }

  std::mt19937 rng{12345};

  std::vector<float> randomFloats(int64_t count, float low = -1.0f,
                                  float high = 1.0f) {
    std::uniform_real_distribution<float> dist(low, high);
    std::vector<float> out(static_cast<size_t>(count));
    for (float &value : out)
      value = dist(rng);
    return out;
  }

  /// Finite f16 codes of magnitude in [2^-5, 2^2): random sign, exponent and
  /// mantissa.
  std::vector<uint16_t> randomHalves(int64_t count) {
    std::uniform_int_distribution<int> sign(0, 1), exponent(10, 16),
        mantissa(0, 1023);
    std::vector<uint16_t> out(static_cast<size_t>(count));
    for (uint16_t &code : out)
      code = static_cast<uint16_t>(sign(rng) << 15 | exponent(rng) << 10 |
                                   mantissa(rng));
    return out;
  }

  void checkMatmul(const std::vector<MatmulShape> &shapes);
};

std::string isaParamName(const testing::TestParamInfo<Isa> &info) {
  return testing::PrintToString(info.param);
}

INSTANTIATE_TEST_SUITE_P(Isas, KernelsTest,
                         testing::Values(Isa::Scalar, Isa::Avx2, Isa::Avx512),
                         isaParamName);

/// The test's own binary16 decoder, in double.
double halfToDouble(uint16_t code) {
  double sign = code & 0x8000 ? -1.0 : 1.0;
  int exponent = (code >> 10) & 0x1f;
  int mantissa = code & 0x3ff;
  if (exponent == 0x1f)
    return mantissa ? std::numeric_limits<double>::quiet_NaN()
                    : sign * std::numeric_limits<double>::infinity();
  if (exponent == 0)
    return sign * std::ldexp(mantissa, -24);
  return sign * std::ldexp(1024 + mantissa, exponent - 25);
}

//===----------------------------------------------------------------------===//
// matmul
//===----------------------------------------------------------------------===//

/// Runs matmul for each shape, f32 and f16 weights, 1 and 3 threads, and
/// checks every output against a double reference. The bound: each output
/// is a sum of k products that every build splits into at least 8
/// interleaved partial sums (plus at most k / 1024 block additions and a
/// final tree), so the recursive-summation bound applies with depth
/// k / 8 + 32 instead of k: |y - ref| <= (k/8 + 32) * 2u * sum_k |x w|
/// (2u: the product's rounding, when not fused, and the addition's).
void KernelsTest::checkMatmul(const std::vector<MatmulShape> &shapes) {
  ThreadPool pools[] = {ThreadPool(1), ThreadPool(3)};
  for (const MatmulShape &shape : shapes) {
    auto [m, k, n] = shape;
    std::vector<float> x = randomFloats(m * k);
    std::vector<float> wf = randomFloats(n * k);
    std::vector<uint16_t> wh = randomHalves(n * k);
    for (WeightType wtype : {WeightType::F32, WeightType::F16}) {
      std::vector<double> ref(static_cast<size_t>(m * n)),
          bound(static_cast<size_t>(m * n));
      for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < n; ++j) {
          double sum = 0, sumAbs = 0;
          for (int64_t kk = 0; kk < k; ++kk) {
            double w = wtype == WeightType::F32 ? wf[j * k + kk]
                                                : halfToDouble(wh[j * k + kk]);
            sum += x[i * k + kk] * w;
            sumAbs += std::fabs(x[i * k + kk] * w);
          }
          ref[i * n + j] = sum;
          bound[i * n + j] = (k / 8.0 + 32) * 2 * kUnitRoundoff * sumAbs;
        }
      const void *w = wtype == WeightType::F32
                          ? static_cast<const void *>(wf.data())
                          : wh.data();
      for (ThreadPool &pool : pools) {
        std::vector<float> y(static_cast<size_t>(m * n),
                             std::numeric_limits<float>::quiet_NaN());
        matmul(pool, x.data(), m, k, w, wtype, n, y.data());
        SCOPED_TRACE(testing::Message()
                     << "m " << m << " k " << k << " n " << n << " "
                     << (wtype == WeightType::F32 ? "f32" : "f16")
                     << " threads " << pool.size());
        for (int64_t e = 0; e < m * n; ++e)
          ASSERT_NEAR(y[e], ref[e], bound[e])
              << "at row " << e / n << " column " << e % n;
      }
    }
  }
}

// m == 1: the decode GEMV. k below, at and across the vector widths (8, 16)
// and the register tiles' row counts (4), n = 1 and tile remainders.
TEST_P(KernelsTest, MatmulVector) {
  checkMatmul({{1, 1, 1},
               {1, 7, 5},
               {1, 8, 4},
               {1, 16, 3},
               {1, 17, 13},
               {1, 33, 1},
               {1, 100, 67},
               {1, 1000, 9},
               {1, 4099, 6},
               {1, 256, 1001}});
}

// m > 1: the prefill GEMM. m across the register tile rows (3, 4) and the
// 64-row cache block, k across the 1024-long reduction block, n across the
// tile columns (4, 6).
TEST_P(KernelsTest, MatmulMatrix) {
  checkMatmul({{2, 1, 1},
               {3, 7, 5},
               {4, 16, 6},
               {5, 33, 7},
               {7, 100, 13},
               {17, 15, 1},
               {64, 64, 24},
               {70, 129, 37},
               {3, 1100, 11},
               {9, 2100, 7},
               {65, 1030, 19}});
}

TEST_P(KernelsTest, MatmulWithEmptyReductionWritesZeros) {
  ThreadPool pool(3);
  std::vector<float> y(6, 1.0f);
  float x = 0, w = 0;
  matmul(pool, &x, 2, 0, &w, WeightType::F32, 3, y.data());
  for (float value : y)
    EXPECT_EQ(value, 0.0f);
}

//===----------------------------------------------------------------------===//
// Element-wise kernels
//===----------------------------------------------------------------------===//

// Bound: the sum of squares (positive terms, depth <= dim/8 + 32) is off by
// at most (dim/8 + 32) * 2u relative; the mean, epsilon, sqrt and reciprocal
// add ~2.5u; sqrt halves the sum's error; the two products add 2u.
TEST_P(KernelsTest, RmsNorm) {
  for (int64_t dim : {1, 7, 16, 33, 100, 4101}) {
    const int64_t rows = 3;
    const float epsilon = 1e-5f;
    std::vector<float> x = randomFloats(rows * dim),
                       weight = randomFloats(dim, 0.5f, 1.5f);
    std::vector<float> y(x.size()), inPlace = x;
    rmsNorm(x.data(), rows, dim, weight.data(), epsilon, y.data());
    rmsNorm(inPlace.data(), rows, dim, weight.data(), epsilon, inPlace.data());
    for (int64_t r = 0; r < rows; ++r) {
      double sumSquares = 0;
      for (int64_t i = 0; i < dim; ++i)
        sumSquares += double(x[r * dim + i]) * x[r * dim + i];
      double scale = 1.0 / std::sqrt(sumSquares / dim + epsilon);
      for (int64_t i = 0; i < dim; ++i) {
        double ref = x[r * dim + i] * scale * weight[i];
        double bound =
            ((dim / 8.0 + 32) + 5) * kUnitRoundoff * std::fabs(ref) + 1e-37;
        ASSERT_NEAR(y[r * dim + i], ref, bound)
            << "dim " << dim << " row " << r << " i " << i;
        ASSERT_EQ(inPlace[r * dim + i], y[r * dim + i]);
      }
    }
  }
}

// One float addition: exactly the rounded double sum. Also with y aliasing a
// or b.
TEST_P(KernelsTest, Add) {
  for (int64_t count : {1, 5, 8, 16, 31, 1000}) {
    std::vector<float> a = randomFloats(count), b = randomFloats(count),
                       y(count);
    add(a.data(), b.data(), count, y.data());
    for (int64_t i = 0; i < count; ++i)
      ASSERT_EQ(y[i], static_cast<float>(double(a[i]) + b[i]));
    std::vector<float> intoA = a, intoB = b;
    add(intoA.data(), b.data(), count, intoA.data());
    add(a.data(), intoB.data(), count, intoB.data());
    EXPECT_EQ(intoA, y);
    EXPECT_EQ(intoB, y);
  }
}

// silu(g) * u = g * u / (1 + exp(-g)). The builds' exp is within ~4u (the
// SIMD one: a degree-7 polynomial, truncation < 1e-8); with the product,
// addition and division, 16u relative covers it. Below g = -87 the SIMD exp
// saturates at exp(88.3) instead of overflowing, which leaves |result| below
// 1e-36 |u| where the true value is smaller still: hence the absolute term.
TEST_P(KernelsTest, Swiglu) {
  for (int64_t count : {1, 7, 16, 19, 1000}) {
    std::vector<float> gate = randomFloats(count, -20.0f, 20.0f),
                       up = randomFloats(count, -3, 3);
    const float special[] = {0.0f,  -0.0f,  100.0f, -100.0f,
                             88.0f, -88.0f, 1e-30f, -1e-30f};
    for (size_t i = 0; i < std::size(special) && i < gate.size(); ++i)
      gate[i] = special[i];
    std::vector<float> y(count);
    swiglu(gate.data(), up.data(), count, y.data());
    for (int64_t i = 0; i < count; ++i) {
      double g = gate[i], ref = g * up[i] / (1.0 + std::exp(-g));
      double bound =
          16 * kUnitRoundoff * std::fabs(ref) + 1e-35 * std::fabs(up[i]);
      ASSERT_NEAR(y[i], ref, bound) << "gate " << gate[i] << " up " << up[i];
    }
    std::vector<float> inPlace = gate;
    swiglu(inPlace.data(), up.data(), count, inPlace.data());
    EXPECT_EQ(inPlace, y);
  }
}

//===----------------------------------------------------------------------===//
// embedding
//===----------------------------------------------------------------------===//

TEST_P(KernelsTest, EmbeddingCopiesAndDecodesRowsExactly) {
  for (int64_t dim : {1, 8, 13, 64, 77}) {
    const int64_t vocab = 11;
    std::vector<float> tableF = randomFloats(vocab * dim);
    std::vector<uint16_t> tableH = randomHalves(vocab * dim);
    std::vector<int32_t> ids = {3, 0, 10, 3, 7};
    int64_t count = static_cast<int64_t>(ids.size());
    std::vector<float> outF(count * dim), outH(count * dim);
    ASSERT_TRUE(embedding(tableF.data(), WeightType::F32, vocab, dim,
                          ids.data(), count, outF.data()));
    ASSERT_TRUE(embedding(tableH.data(), WeightType::F16, vocab, dim,
                          ids.data(), count, outH.data()));
    for (int64_t i = 0; i < count; ++i)
      for (int64_t d = 0; d < dim; ++d) {
        ASSERT_EQ(outF[i * dim + d], tableF[ids[i] * dim + d]);
        ASSERT_EQ(outH[i * dim + d], halfToDouble(tableH[ids[i] * dim + d]));
      }
  }
}

// All 65536 codes, including subnormals, infinities, NaNs and -0, through the
// build's f16 conversion.
TEST_P(KernelsTest, EmbeddingDecodesEveryHalfCode) {
  const int64_t dim = 65536;
  std::vector<uint16_t> codes(dim);
  for (int64_t i = 0; i < dim; ++i)
    codes[i] = static_cast<uint16_t>(i);
  std::vector<float> out(dim);
  int32_t id = 0;
  ASSERT_TRUE(
      embedding(codes.data(), WeightType::F16, 1, dim, &id, 1, out.data()));
  for (int64_t i = 0; i < dim; ++i) {
    double ref = halfToDouble(codes[i]);
    if (std::isnan(ref)) {
      ASSERT_TRUE(std::isnan(out[i])) << "code " << i;
    } else {
      ASSERT_EQ(out[i], ref) << "code " << i;
      ASSERT_EQ(std::signbit(out[i]), std::signbit(ref)) << "code " << i;
    }
  }
}

TEST_P(KernelsTest, EmbeddingRejectsIdsOutsideTheVocabulary) {
  const int64_t vocab = 5, dim = 3;
  std::vector<float> table = randomFloats(vocab * dim);
  std::vector<uint16_t> halves = randomHalves(vocab * dim);
  for (int32_t bad : {-1, 5, 1000, std::numeric_limits<int32_t>::min()}) {
    for (WeightType type : {WeightType::F32, WeightType::F16}) {
      std::vector<int32_t> ids = {1, 4, bad, 2};
      std::vector<float> out(ids.size() * dim, -7.0f);
      const void *data = type == WeightType::F32
                             ? static_cast<const void *>(table.data())
                             : halves.data();
      EXPECT_FALSE(
          embedding(data, type, vocab, dim, ids.data(), 4, out.data()));
      // Rows before the bad id are written; from it on, untouched.
      EXPECT_NE(out[0], -7.0f);
      EXPECT_NE(out[dim], -7.0f);
      for (int64_t e = 2 * dim; e < 4 * dim; ++e)
        EXPECT_EQ(out[e], -7.0f);
    }
  }
}

//===----------------------------------------------------------------------===//
// rotary
//===----------------------------------------------------------------------===//

struct RotaryCase {
  int64_t headDim, rotaryDim;
};

// Bound per rotated element: cos and sin are rounded to float (u/2 each when
// computed from base, exact from tables), a*c and b*s are rounded (u each)
// and subtracted (u): about 4u (|a| + |b|).
TEST_P(KernelsTest, Rotary) {
  const int64_t seq = 3, heads = 4;
  const float base = 10000.0f;
  for (RotaryCase shape :
       {RotaryCase{8, 8}, RotaryCase{10, 6}, RotaryCase{64, 64},
        RotaryCase{64, 32}, RotaryCase{128, 128}, RotaryCase{80, 20}}) {
    auto [headDim, rotaryDim] = shape;
    int64_t half = rotaryDim / 2;
    for (auto convention :
         {RotaryConvention::Interleaved, RotaryConvention::RotateHalf}) {
      for (bool tables : {false, true}) {
        for (int64_t start : {0, 37, 4093}) {
          const int64_t positions = 4096;
          std::vector<float> cosTable, sinTable;
          if (tables) {
            // Arbitrary angles, unrelated to `base`: the kernel must use them.
            std::vector<float> angles =
                randomFloats(positions * half, -4.0f, 4.0f);
            for (float angle : angles) {
              cosTable.push_back(std::cos(angle));
              sinTable.push_back(std::sin(angle));
            }
          }
          std::vector<float> x = randomFloats(seq * heads * headDim), out = x;
          ASSERT_TRUE(rotary(
              out.data(), seq, heads, headDim, rotaryDim, start, convention,
              base, tables ? cosTable.data() : nullptr,
              tables ? sinTable.data() : nullptr, tables ? positions : 0));
          SCOPED_TRACE(
              testing::Message()
              << "headDim " << headDim << " rotaryDim " << rotaryDim << " "
              << (convention == RotaryConvention::Interleaved ? "interleaved"
                                                              : "half")
              << (tables ? " tables" : " base") << " start " << start);
          for (int64_t s = 0; s < seq; ++s) {
            int64_t pos = start + s;
            for (int64_t h = 0; h < heads; ++h) {
              const float *in = x.data() + (s * heads + h) * headDim;
              const float *got = out.data() + (s * heads + h) * headDim;
              for (int64_t i = 0; i < half; ++i) {
                double c, sn;
                if (tables) {
                  c = cosTable[pos * half + i];
                  sn = sinTable[pos * half + i];
                } else {
                  double angle =
                      pos * std::pow(double(base), -2.0 * i / rotaryDim);
                  c = std::cos(angle);
                  sn = std::sin(angle);
                }
                int64_t first =
                    convention == RotaryConvention::Interleaved ? 2 * i : i;
                int64_t second = convention == RotaryConvention::Interleaved
                                     ? 2 * i + 1
                                     : i + half;
                double a = in[first], b = in[second];
                double bound =
                    4 * kUnitRoundoff * (std::fabs(a) + std::fabs(b));
                ASSERT_NEAR(got[first], a * c - b * sn, bound)
                    << "pos " << pos << " i " << i;
                ASSERT_NEAR(got[second], a * sn + b * c, bound)
                    << "pos " << pos << " i " << i;
              }
              for (int64_t d = rotaryDim; d < headDim; ++d)
                ASSERT_EQ(got[d], in[d]) << "pass-through dim " << d;
            }
          }
        }
      }
    }
  }
}

TEST_P(KernelsTest, RotaryRejectsPositionsOutsideTheTables) {
  const int64_t seq = 2, heads = 2, headDim = 8, positions = 10;
  std::vector<float> cosTable(positions * 4, 1.0f),
      sinTable(positions * 4, 0.0f);
  std::vector<float> x = randomFloats(seq * heads * headDim), out = x;
  for (int64_t start : {9, 10, 100, -1}) {
    EXPECT_FALSE(rotary(out.data(), seq, heads, headDim, headDim, start,
                        RotaryConvention::RotateHalf, 10000.0f, cosTable.data(),
                        sinTable.data(), positions))
        << "start " << start;
    EXPECT_EQ(out, x);
  }
  EXPECT_TRUE(rotary(out.data(), seq, heads, headDim, headDim, 8,
                     RotaryConvention::RotateHalf, 10000.0f, cosTable.data(),
                     sinTable.data(), positions));
  // Odd or too large rotary dims, and negative positions from `base`.
  EXPECT_FALSE(rotary(out.data(), seq, heads, headDim, 7, 0,
                      RotaryConvention::Interleaved, 10000.0f, nullptr, nullptr,
                      0));
  EXPECT_FALSE(rotary(out.data(), seq, heads, headDim, 10, 0,
                      RotaryConvention::Interleaved, 10000.0f, nullptr, nullptr,
                      0));
  EXPECT_FALSE(rotary(out.data(), seq, heads, headDim, 8, -3,
                      RotaryConvention::Interleaved, 10000.0f, nullptr, nullptr,
                      0));
  EXPECT_EQ(out, x); // cos 1, sin 0 above: the identity rotation
}

//===----------------------------------------------------------------------===//
// KV cache and attention
//===----------------------------------------------------------------------===//

TEST_P(KernelsTest, AppendKvWritesOnlyTheNewPositions) {
  const int64_t kvHeads = 3, headDim = 5, capacity = 9;
  const float sentinel = -123.0f;
  for (int64_t past : {0, 4}) {
    for (int64_t seq : {1, 5}) {
      std::vector<float> cache(kvHeads * capacity * headDim, sentinel);
      std::vector<float> fresh = randomFloats(seq * kvHeads * headDim);
      appendKv(fresh.data(), seq, kvHeads, headDim, past, capacity,
               cache.data());
      for (int64_t h = 0; h < kvHeads; ++h)
        for (int64_t p = 0; p < capacity; ++p)
          for (int64_t d = 0; d < headDim; ++d) {
            float got = cache[(h * capacity + p) * headDim + d];
            if (p >= past && p < past + seq)
              ASSERT_EQ(got, fresh[((p - past) * kvHeads + h) * headDim + d]);
            else
              ASSERT_EQ(got, sentinel);
          }
    }
  }
}

struct AttentionShape {
  int64_t heads, kvHeads, headDim;
};

// The kernel's error has three parts, each bounded as a multiple of max|v|
// (the output is a convex combination of value rows):
//  - scores: scale * q.k with the matmul bound, eps_s = (headDim/8 + 32) * 2u
//    * scale * sum|q k|; softmax turns a score error eps_s into a relative
//    weight error of at most 2 eps_s;
//  - exp (within ~4u), the sum of weights and the normalization: 16u;
//  - the weighted sum of T value rows, accumulated in sequence: 2T u.
// Positions beyond past + seq hold NaN: reading them would poison the result.
TEST_P(KernelsTest, Attention) {
  ThreadPool pools[] = {ThreadPool(1), ThreadPool(3)};
  const int64_t capacity = 64;
  for (AttentionShape shape :
       {AttentionShape{8, 2, 8}, AttentionShape{8, 1, 12},
        AttentionShape{8, 2, 64}, AttentionShape{8, 1, 80},
        AttentionShape{4, 4, 128}, AttentionShape{8, 2, 128}}) {
    auto [heads, kvHeads, headDim] = shape;
    float scale = 1.0f / std::sqrt(static_cast<float>(headDim));
    for (int64_t past : {0, 5, 40}) {
      for (int64_t seq : {1, 4}) {
        int64_t total = past + seq;
        std::vector<float> q = randomFloats(seq * heads * headDim, -2, 2);
        std::vector<float> keys =
            randomFloats(kvHeads * capacity * headDim, -2, 2);
        std::vector<float> values = randomFloats(kvHeads * capacity * headDim);
        for (int64_t h = 0; h < kvHeads; ++h)
          for (int64_t p = total; p < capacity; ++p)
            for (int64_t d = 0; d < headDim; ++d) {
              keys[(h * capacity + p) * headDim + d] =
                  std::numeric_limits<float>::quiet_NaN();
              values[(h * capacity + p) * headDim + d] =
                  std::numeric_limits<float>::quiet_NaN();
            }
        for (bool causal : {true, false}) {
          std::vector<double> ref(seq * heads * headDim), bound(seq * heads);
          for (int64_t s = 0; s < seq; ++s)
            for (int64_t h = 0; h < heads; ++h) {
              int64_t kvHead = h / (heads / kvHeads);
              int64_t positions = causal ? past + s + 1 : total;
              const float *qRow = q.data() + (s * heads + h) * headDim;
              std::vector<double> scores(positions);
              double maximum = -INFINITY, maxAbsDot = 0, maxAbsValue = 0;
              for (int64_t t = 0; t < positions; ++t) {
                const float *kRow =
                    keys.data() + (kvHead * capacity + t) * headDim;
                double dot = 0, absDot = 0;
                for (int64_t d = 0; d < headDim; ++d) {
                  dot += double(qRow[d]) * kRow[d];
                  absDot += std::fabs(double(qRow[d]) * kRow[d]);
                }
                scores[t] = scale * dot;
                maximum = std::max(maximum, scores[t]);
                maxAbsDot = std::max(maxAbsDot, absDot);
              }
              double sum = 0;
              for (double &score : scores)
                sum += score = std::exp(score - maximum);
              for (int64_t d = 0; d < headDim; ++d) {
                double acc = 0;
                for (int64_t t = 0; t < positions; ++t) {
                  double v = values[(kvHead * capacity + t) * headDim + d];
                  acc += scores[t] * v;
                  maxAbsValue = std::max(maxAbsValue, std::fabs(v));
                }
                ref[(s * heads + h) * headDim + d] = acc / sum;
              }
              double scoreError =
                  (headDim / 8.0 + 32) * 2 * kUnitRoundoff * scale * maxAbsDot;
              bound[s * heads + h] =
                  (2 * scoreError + (16 + 2.0 * positions) * kUnitRoundoff) *
                  maxAbsValue;
            }
          for (ThreadPool &pool : pools) {
            std::vector<float> out(seq * heads * headDim,
                                   std::numeric_limits<float>::quiet_NaN());
            attention(pool, q.data(), keys.data(), values.data(), capacity, seq,
                      past, heads, kvHeads, headDim, scale, causal, out.data());
            SCOPED_TRACE(testing::Message()
                         << "heads " << heads << "/" << kvHeads << " headDim "
                         << headDim << " past " << past << " seq " << seq
                         << (causal ? " causal" : "") << " threads "
                         << pool.size());
            for (int64_t e = 0; e < seq * heads * headDim; ++e)
              ASSERT_NEAR(out[e], ref[e], bound[e / headDim])
                  << "query " << e / headDim / heads << " head "
                  << e / headDim % heads;
          }
        }
      }
    }
  }
}

//===----------------------------------------------------------------------===//
// Dispatch
//===----------------------------------------------------------------------===//

TEST_P(KernelsTest, IsaNameNamesTheActiveBuild) {
  EXPECT_EQ(activeIsa(), GetParam());
  const char *expected = GetParam() == Isa::Scalar ? "scalar"
                         : GetParam() == Isa::Avx2 ? "avx2+fma"
                                                   : "avx512f";
  EXPECT_STREQ(isaName(), expected);
}

TEST(KernelDispatch, UnsupportedBuildsAreRefused) {
  EXPECT_TRUE(isaSupported(Isa::Scalar));
  for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512}) {
    Isa before = activeIsa();
    EXPECT_EQ(setIsa(isa), isaSupported(isa));
    EXPECT_EQ(activeIsa(), isaSupported(isa) ? isa : before);
  }
  setIsa(defaultIsa());
  // An AVX-512 machine also runs AVX2.
  if (isaSupported(Isa::Avx512)) {
    EXPECT_TRUE(isaSupported(Isa::Avx2));
  }
}

} // namespace
