//===- GptqTest.cpp - the GPTQ solver's contract --------------------------===//
//
// The values of the solver are checked against the independent numpy GPTQ
// (test/e2e/gptq-stories260k.test); these tests check its contract on
// hand-made problems: identities that hold for any correct GPTQ, and the
// errors and warnings a user sees.
//
//===----------------------------------------------------------------------===//

#include "quant/Quantize/Gptq.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

using namespace quant;

namespace {

struct Problem {
  int64_t rows, cols;
  std::vector<float> w;
  std::vector<double> h;
};

/// W random, H = 2/n X^T X with correlated X [n, cols].
Problem randomProblem(int64_t rows, int64_t cols, int64_t n, unsigned seed) {
  std::mt19937 random(seed);
  std::normal_distribution<double> normal;
  Problem p{rows, cols, {}, {}};
  for (int64_t i = 0; i < rows * cols; ++i)
    p.w.push_back(static_cast<float>(normal(random)));
  std::vector<double> mix(cols * cols), x(n * cols, 0.0);
  for (double &m : mix)
    m = normal(random);
  for (int64_t t = 0; t < n; ++t) {
    std::vector<double> z(cols);
    for (double &v : z)
      v = normal(random);
    for (int64_t c = 0; c < cols; ++c)
      for (int64_t k = 0; k < cols; ++k)
        x[t * cols + c] += z[k] * mix[k * cols + c];
  }
  p.h.assign(cols * cols, 0.0);
  for (int64_t t = 0; t < n; ++t)
    for (int64_t i = 0; i < cols; ++i)
      for (int64_t j = 0; j < cols; ++j)
        p.h[i * cols + j] += 2.0 / n * x[t * cols + i] * x[t * cols + j];
  return p;
}

std::vector<float> dequantized(const qrt::QuantizedWeight &q,
                               const qrt::IntNScheme &scheme) {
  qrt::QuantizedView view = q.view(scheme);
  std::vector<float> out(view.rows * view.cols);
  qrt::dequantizeRows(view, 0, view.rows, out.data());
  return out;
}

GptqOptions options(int bits, int64_t group, bool actOrder = false) {
  GptqOptions o;
  o.scheme.bits = bits;
  o.scheme.groupSize = group;
  o.scheme.actOrder = actOrder;
  o.threads = 2;
  return o;
}

TEST(Gptq, IdentityHessianIsRoundToNearest) {
  // With H = I, U is diagonal: no error reaches another column.
  Problem p = randomProblem(8, 32, 64, 1);
  std::vector<double> identity(32 * 32, 0.0);
  for (int i = 0; i < 32; ++i)
    identity[i * 32 + i] = 1.0;
  GptqOptions o = options(4, 8);
  qrt::QuantizedWeight gptq, rtn;
  GptqStats stats;
  ASSERT_EQ(quantizeGptq(o, p.w.data(), 8, 32, identity.data(), gptq, stats),
            "");
  ASSERT_EQ(quantizeGptqRtn(o.scheme, false, p.w.data(), 8, 32, nullptr, rtn),
            "");
  EXPECT_EQ(gptq.components, rtn.components);
}

TEST(Gptq, BeatsRoundToNearestOnTheOutputError) {
  Problem p = randomProblem(16, 48, 200, 2);
  for (int bits : {2, 3, 4, 8})
    for (int64_t group : {int64_t(16), qrt::kPerChannel})
      for (bool act : {false, true}) {
        GptqOptions o = options(bits, group, act);
        qrt::QuantizedWeight gptq, rtn;
        GptqStats stats;
        ASSERT_EQ(quantizeGptq(o, p.w.data(), 16, 48, p.h.data(), gptq, stats),
                  "");
        ASSERT_EQ(
            quantizeGptqRtn(o.scheme, false, p.w.data(), 16, 48, nullptr, rtn),
            "");
        qrt::IntNScheme plain = o.scheme;
        plain.actOrder = false;
        double eg =
            outputError(p.w.data(), dequantized(gptq, storedScheme(o)).data(),
                        16, 48, p.h.data());
        double er = outputError(p.w.data(), dequantized(rtn, plain).data(), 16,
                                48, p.h.data());
        EXPECT_LT(eg, er) << bits << " bits, group " << group << ", act "
                          << act;
      }
}

TEST(Gptq, ThreadsDoNotChangeTheResult) {
  Problem p = randomProblem(37, 40, 100, 3);
  qrt::QuantizedWeight one, many;
  GptqStats stats;
  GptqOptions o = options(4, 8, true);
  o.threads = 1;
  ASSERT_EQ(quantizeGptq(o, p.w.data(), 37, 40, p.h.data(), one, stats), "");
  o.threads = 5;
  ASSERT_EQ(quantizeGptq(o, p.w.data(), 37, 40, p.h.data(), many, stats), "");
  EXPECT_EQ(one.components, many.components);
}

TEST(Gptq, StoredSchemeKeepsGroupIndexOnlyForPermutedGroups) {
  GptqOptions o = options(4, 128, true);
  EXPECT_TRUE(storedScheme(o).actOrder);
  o.staticGroups = true;
  EXPECT_FALSE(storedScheme(o).actOrder);
  o = options(4, qrt::kPerChannel, true);
  EXPECT_FALSE(storedScheme(o).actOrder);
  Problem p = randomProblem(4, 16, 50, 4);
  qrt::QuantizedWeight q;
  GptqStats stats;
  o = options(4, 4, true);
  ASSERT_EQ(quantizeGptq(o, p.w.data(), 4, 16, p.h.data(), q, stats), "");
  const qrt::Component *g = q.layout.find(qrt::ComponentRole::GroupIndex);
  ASSERT_NE(g, nullptr);
  // Every group holds 4 columns.
  std::vector<int> count(4, 0);
  for (int c = 0; c < 16; ++c)
    ++count[reinterpret_cast<const int32_t *>(q.components[3].data())[c]];
  EXPECT_EQ(count, std::vector<int>(4, 4));
}

TEST(Gptq, DeadInputsAreZeroAndCounted) {
  Problem p = randomProblem(4, 8, 50, 5);
  for (int i = 0; i < 8; ++i) { // input 3 is always zero
    p.h[3 * 8 + i] = 0;
    p.h[i * 8 + 3] = 0;
  }
  GptqOptions o = options(4, qrt::kPerChannel);
  qrt::QuantizedWeight q;
  GptqStats stats;
  ASSERT_EQ(quantizeGptq(o, p.w.data(), 4, 8, p.h.data(), q, stats), "");
  EXPECT_EQ(stats.deadColumns, 1);
  std::vector<float> d = dequantized(q, storedScheme(o));
  for (int r = 0; r < 4; ++r)
    EXPECT_EQ(d[r * 8 + 3], 0.0f) << "row " << r;
}

TEST(Gptq, NotPositiveDefiniteRaisesTheDampening) {
  Problem p = randomProblem(4, 8, 50, 6);
  p.h[2 * 8 + 2] = -5.0; // a negative eigenvalue
  GptqOptions o = options(4, 4);
  qrt::QuantizedWeight q;
  GptqStats stats;
  ASSERT_EQ(quantizeGptq(o, p.w.data(), 4, 8, p.h.data(), q, stats), "");
  EXPECT_GT(stats.dampRetries, 0);
  EXPECT_GT(stats.dampPercent, o.dampPercent);
}

TEST(Gptq, NamesNonFiniteValuesAndBadOptions) {
  Problem p = randomProblem(4, 8, 50, 7);
  GptqOptions o = options(4, 4);
  qrt::QuantizedWeight q;
  GptqStats stats;
  std::vector<float> w = p.w;
  w[1 * 8 + 5] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_EQ(quantizeGptq(o, w.data(), 4, 8, p.h.data(), q, stats),
            "the weight holds a NaN or infinity at row 1, column 5");
  std::vector<double> h = p.h;
  h[2 * 8 + 6] = std::numeric_limits<double>::infinity();
  EXPECT_EQ(quantizeGptq(o, p.w.data(), 4, 8, h.data(), q, stats),
            "the Hessian holds a NaN or infinity at row 2, column 6");
  o.blockSize = 0;
  EXPECT_EQ(quantizeGptq(o, p.w.data(), 4, 8, p.h.data(), q, stats),
            "block-size must be positive, got 0");
  o = options(5, 4);
  EXPECT_NE(quantizeGptq(o, p.w.data(), 4, 8, p.h.data(), q, stats), "");
}

} // namespace
