//===- Int8KernelsTest.cpp - LLM.int8() matmul against a reference --------===//
//
// cpu::int8Matmul under every kernel build this machine runs (scalar, avx2,
// avx512: with VNNI where the CPU has it) and 1, 2 and 3 threads, against a
// reference written here from the rule in Kernels.h: outlier columns, row
// absmax without the outlier elements, 8-bit activations (the same f32
// product and round-half-even, so the codes are equal), then the integer
// sums exactly in int64 and the rest in double.
//
// Tolerance: |y - ref| <= 1e-5 * (sum |terms|) + 1e-6: the kernels' integer
// sums are exact, so only the few float operations after them differ.
//
// The algorithm itself (against bitsandbytes' rules, on hand-computed cases)
// is checked by the numpy reference, test/e2e/reference/test_bnb_numpy.py;
// the compiler's LLM.int8() weights here (quantizeLlmInt8).
//
//===----------------------------------------------------------------------===//

#include "qrt/core/QuantizedWeight.h"
#include "qrt/cpu/Kernels.h"
#include "KernelTestSupport.h"
#include "quant/Quantize/RoundToNearest.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

using namespace qrt;
using namespace qrt::cpu;

namespace {

IntNScheme int8Scheme(ScaleType scaleType = ScaleType::F32) {
  IntNScheme scheme;
  scheme.bits = 8;
  scheme.groupSize = kPerChannel;
  scheme.symmetric = true;
  scheme.scaleType = scaleType;
  return scheme;
}

struct Reference {
  std::vector<double> y, bound;
  int64_t outliers = 0;
};

/// The reference of int8Matmul (see the file comment).
Reference reference(const std::vector<float> &x, int64_t m,
                    const QuantizedView &w, float threshold) {
  const int64_t n = w.rows, k = w.cols;
  std::vector<float> dequantized(static_cast<size_t>(n * k));
  dequantizeRows(w, 0, n, dequantized.data());
  std::vector<bool> outlier(static_cast<size_t>(k), false);
  for (int64_t t = 0; t < m; ++t)
    for (int64_t c = 0; c < k; ++c)
      if (threshold > 0.0f && std::fabs(x[t * k + c]) >= threshold)
        outlier[c] = true;
  Reference ref;
  for (bool o : outlier)
    ref.outliers += o;
  ref.y.resize(static_cast<size_t>(m * n));
  ref.bound.resize(static_cast<size_t>(m * n));
  for (int64_t t = 0; t < m; ++t) {
    const float *row = x.data() + t * k;
    float absmax = 0.0f;
    for (int64_t c = 0; c < k; ++c)
      if (!(threshold > 0.0f && std::fabs(row[c]) >= threshold))
        absmax = std::max(absmax, std::fabs(row[c]));
    std::vector<int64_t> a(static_cast<size_t>(k), 0);
    if (absmax > 0.0f) {
      const float inverse = 127.0f / absmax;
      for (int64_t c = 0; c < k; ++c)
        if (!outlier[c])
          a[c] = static_cast<int64_t>(std::nearbyint(row[c] * inverse));
    }
    for (int64_t j = 0; j < n; ++j) {
      const float s = w.scale(j, 0);
      int64_t acc = 0;
      double floats = 0, magnitude = 0;
      for (int64_t c = 0; c < k; ++c) {
        const int64_t q = static_cast<int64_t>(w.data[j * k + c]) - 128;
        acc += a[c] * q;
        if (outlier[c]) {
          double term = static_cast<double>(row[c]) * dequantized[j * k + c];
          floats += term;
          magnitude += std::fabs(term);
        }
        magnitude += std::fabs(static_cast<double>(a[c]) * q) *
                     (absmax / 127.0) * s;
      }
      ref.y[t * n + j] = static_cast<double>(acc) * (absmax / 127.0) * s +
                         floats;
      ref.bound[t * n + j] = 1e-5 * magnitude + 1e-6;
    }
  }
  return ref;
}

class Int8KernelsTest : public testing::Test {
protected:
  std::mt19937 rng{20261207};
  int caseIndex = 0;

  static ThreadPool &pool(int threads) { return test::pool(threads); }

  void TearDown() override { setIsa(defaultIsa()); }

  std::vector<float> uniform(int64_t count, float low, float high) {
    return test::uniform(rng, count, low, high);
  }

  /// Random codes (every byte but 0, as the quantizer writes: |q - 128| <=
  /// 127) and scales.
  QuantizedWeight randomWeight(int64_t n, int64_t k) {
    QuantizedWeight weight;
    weight.layout = layoutFor(int8Scheme(), n, k);
    std::uniform_int_distribution<int> code(1, 255);
    std::vector<uint8_t> data(static_cast<size_t>(n * k));
    for (uint8_t &b : data)
      b = static_cast<uint8_t>(code(rng));
    std::vector<uint8_t> scales(static_cast<size_t>(n * 4));
    std::uniform_real_distribution<float> scale(0.001f, 0.01f);
    for (int64_t j = 0; j < n; ++j) {
      float s = scale(rng);
      std::memcpy(scales.data() + 4 * j, &s, 4);
    }
    weight.components = {std::move(data), std::move(scales)};
    return weight;
  }

  /// int8Matmul under every build against the reference; returns the
  /// outlier count (equal under every build).
  int64_t check(const std::vector<float> &x, int64_t m, const QuantizedView &w,
                float threshold) {
    const int64_t n = w.rows;
    Reference ref = reference(x, m, w, threshold);
    const int64_t guard = 16;
    int isaIndex = 0;
    for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512}) {
      if (!isaSupported(isa))
        continue;
      EXPECT_TRUE(setIsa(isa));
      test::forEachVnniChoice(int8KernelName, [&] {
        if (HasFailure())
          return;
        int threads = 1 + (caseIndex + isaIndex++) % 3;
        std::vector<float> y(static_cast<size_t>(m * n + guard),
                             std::numeric_limits<float>::quiet_NaN());
        int64_t outliers =
            int8Matmul(pool(threads), x.data(), m, w, threshold, y.data());
        SCOPED_TRACE(testing::Message()
                     << "m " << m << " k " << w.cols << " n " << n
                     << " threshold " << threshold << ", " << int8KernelName()
                     << ", " << threads << " threads");
        EXPECT_EQ(outliers, ref.outliers);
        for (int64_t e = 0; e < m * n; ++e) {
          EXPECT_NEAR(y[e], ref.y[e], ref.bound[e])
              << "at token " << e / n << " row " << e % n;
          if (HasFailure())
            return;
        }
        for (int64_t e = m * n; e < m * n + guard; ++e)
          EXPECT_TRUE(std::isnan(y[e])) << "wrote past y at " << e;
      });
      if (HasFailure())
        return ref.outliers;
    }
    ++caseIndex;
    return ref.outliers;
  }

  /// x uniform in [-1, 1] with `columns` columns set to +-20 in some rows.
  std::vector<float> withOutliers(int64_t m, int64_t k, int columns) {
    std::vector<float> x = uniform(m * k, -1.0f, 1.0f);
    std::uniform_int_distribution<int64_t> col(0, k - 1);
    for (int i = 0; i < columns; ++i) {
      int64_t c = col(rng);
      for (int64_t t = 0; t < m; t += 1 + i % 3)
        x[t * k + c] = (t + i) % 2 ? 20.0f : -20.0f;
    }
    return x;
  }
};

// Odd shapes around the 32- and 64-byte steps and the 4-row tiles, every m
// from 1 to 70 on one shape, with and without outliers.
TEST_F(Int8KernelsTest, ShapesAndBatches) {
  for (int64_t k : {1, 7, 31, 32, 33, 63, 64, 65, 172, 4096 + 13})
    for (int64_t n : {1, 3, 5, 67}) {
      QuantizedWeight weight = randomWeight(n, k);
      QuantizedView w = weight.view(int8Scheme());
      for (int64_t m : {1, 2, 5, 9}) {
        for (float threshold : {0.0f, 6.0f}) {
          check(withOutliers(m, k, k > 8 ? 3 : 1), m, w, threshold);
          if (HasFailure())
            return;
        }
      }
    }
  QuantizedWeight weight = randomWeight(13, 300);
  QuantizedView w = weight.view(int8Scheme());
  for (int64_t m = 1; m <= 70; ++m) {
    check(withOutliers(m, 300, 2), m, w, m % 2 ? 6.0f : 0.0f);
    if (HasFailure())
      return;
  }
}

TEST_F(Int8KernelsTest, EveryThreadCountOnTheDecodeShape) {
  QuantizedWeight weight = randomWeight(301, 4096 + 13);
  QuantizedView w = weight.view(int8Scheme());
  for (int threads = 1; threads <= 3; ++threads) {
    caseIndex = threads - 1;
    for (int64_t m : {1, 3})
      check(withOutliers(m, w.cols, 4), m, w, 6.0f);
  }
}

// The outlier rule at its edges: |x| equal to the threshold is an outlier;
// a column with one outlier token is taken out for every token, the other
// values of that column still counting in their rows' absmax; inputs with
// no outlier and with nothing but outliers.
TEST_F(Int8KernelsTest, OutlierEdges) {
  QuantizedWeight weight = randomWeight(9, 40);
  QuantizedView w = weight.view(int8Scheme());
  std::vector<float> x = uniform(3 * 40, -1.0f, 1.0f);
  x[0 * 40 + 5] = 6.0f;  // equal to the threshold
  x[1 * 40 + 5] = 2.5f;  // the row's absmax, in an outlier column
  x[2 * 40 + 17] = -7.0f;
  EXPECT_EQ(check(x, 3, w, 6.0f), 2);
  EXPECT_EQ(check(x, 3, w, 0.0f), 0);
  EXPECT_EQ(check(uniform(4 * 40, -1.0f, 1.0f), 4, w, 6.0f), 0);
  std::vector<float> all = uniform(2 * 40, 6.0f, 9.0f);
  for (size_t i = 0; i < all.size(); i += 3)
    all[i] = -all[i];
  EXPECT_EQ(check(all, 2, w, 6.0f), 40);
  EXPECT_EQ(check(std::vector<float>(2 * 40, 0.0f), 2, w, 6.0f), 0);
}

// Large activations in a few columns: with the decomposition (6.0) the error
// against the f32 product with the same weights is far below plain 8-bit
// activations (0), whose row scales the outliers blow up.
TEST_F(Int8KernelsTest, DecompositionMattersWithOutliers) {
  const int64_t m = 8, k = 512, n = 64;
  QuantizedWeight weight = randomWeight(n, k);
  QuantizedView w = weight.view(int8Scheme());
  std::vector<float> x = withOutliers(m, k, 4);
  std::vector<float> dequantized(static_cast<size_t>(n * k));
  dequantizeRows(w, 0, n, dequantized.data());
  auto error = [&](float threshold) {
    std::vector<float> y(static_cast<size_t>(m * n));
    int8Matmul(pool(1), x.data(), m, w, threshold, y.data());
    double squares = 0;
    for (int64_t t = 0; t < m; ++t)
      for (int64_t j = 0; j < n; ++j) {
        double exact = 0;
        for (int64_t c = 0; c < k; ++c)
          exact += static_cast<double>(x[t * k + c]) * dequantized[j * k + c];
        squares += (y[t * n + j] - exact) * (y[t * n + j] - exact);
      }
    return std::sqrt(squares);
  };
  const double decomposed = error(6.0f), plain = error(0.0f);
  RecordProperty("error_threshold_6", std::to_string(decomposed));
  RecordProperty("error_threshold_0", std::to_string(plain));
  EXPECT_LT(decomposed * 10, plain)
      << "threshold 6: " << decomposed << ", threshold 0: " << plain;
}

// The compiler's LLM.int8() weights: codes round(w * (127 / absmax)) (f32
// product, ties to even) + 128, scale absmax / 127.
TEST_F(Int8KernelsTest, LlmInt8Weights) {
  const int64_t rows = 4, cols = 6;
  // Row 0: absmax 127, so w * (127 / absmax) = w exactly: ties 0.5 -> 0,
  // 1.5 -> 2, -2.5 -> -2. Row 1: zeros. Row 2: one value. Row 3: negative
  // absmax.
  std::vector<float> w = {127.0f, 0.5f,  1.5f, -2.5f, 3.0f,  -127.0f,
                          0.0f,   0.0f,  0.0f, 0.0f,  0.0f,  0.0f,
                          0.0f,   0.0f,  2.0f, 0.0f,  0.0f,  0.0f,
                          -4.0f,  1.0f,  2.0f, 3.0f,  -1.0f, 0.5f};
  QuantizedWeight out;
  ASSERT_EQ(quant::quantizeLlmInt8(int8Scheme(), w.data(), rows, cols, out),
            "");
  QuantizedView view = out.view(int8Scheme());
  auto code = [&](int64_t r, int64_t c) {
    return static_cast<int>(view.data[r * cols + c]) - 128;
  };
  const int row0[] = {127, 0, 2, -2, 3, -127};
  for (int c = 0; c < 6; ++c)
    EXPECT_EQ(code(0, c), row0[c]) << "column " << c;
  EXPECT_EQ(view.scale(0, 0), 127.0f / 127.0f);
  for (int c = 0; c < 6; ++c)
    EXPECT_EQ(code(1, c), 0);
  EXPECT_EQ(view.scale(1, 0), 0.0f);
  EXPECT_EQ(code(2, 2), 127);
  EXPECT_EQ(view.scale(2, 0), 2.0f / 127.0f);
  const float inverse = 127.0f / 4.0f;
  for (int c = 0; c < 6; ++c)
    EXPECT_EQ(code(3, c),
              static_cast<int>(std::nearbyint(w[3 * cols + c] * inverse)));
  EXPECT_EQ(view.scale(3, 0), 4.0f / 127.0f);
  // Not the int8 scheme: refused.
  IntNScheme asymmetric = int8Scheme();
  asymmetric.symmetric = false;
  EXPECT_NE(quant::quantizeLlmInt8(asymmetric, w.data(), rows, cols, out), "");
}

} // namespace
