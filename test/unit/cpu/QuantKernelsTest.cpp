//===- QuantKernelsTest.cpp - dequantMatmul against dequantizeRows --------===//
//
// dequantMatmul under every kernel build this machine runs (scalar, avx2,
// avx512) and 1, 2 and 3 threads, against qrt::dequantizeRows followed by a
// matmul in double. Every format: intN of 2, 3, 4 and 8 bits, symmetric and
// asymmetric, groups of 32, 64, 128, per channel and larger than the row,
// act order, f32, f16 and bf16 scales; NF4 with and without double
// quantization. Weights come both from random components (every code, zero
// point and scale code random, so also the unused bits at the end of packed
// rows) and from qrt::quantizeIntN / quantizeFloat4 of random normal weights.
//
// Tolerance: |y - ref| <= 1e-5 * sum_k |x w| + 1e-6. The kernels use the
// very floats dequantizeRows computes (or, on the 8-bit path, scale the
// exact group sums of (q - z) x), so the difference is f32 accumulation
// alone: at least 8 interleaved partial sums of random-signed terms, far
// below the bound for k up to 4109.
//
// The quantizers' round trips are checked against their stated rounding:
// within half a step of the original weight (plus what rounding the scale to
// its stored type can add).
//
//===----------------------------------------------------------------------===//

#include "qrt/core/Half.h"
#include "qrt/core/QuantizedWeight.h"
#include "quant/Quantize/RoundToNearest.h"
#include "qrt/cpu/Kernels.h"
#include "KernelTestSupport.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <random>
#include <sstream>
#include <string>
#include <vector>

using namespace qrt;
using namespace qrt::cpu;

namespace {

const char *isaLabel(Isa isa) {
  return isa == Isa::Scalar ? "scalar" : isa == Isa::Avx2 ? "avx2" : "avx512";
}

/// A weight format: intN or NF4 with its scheme.
struct Format {
  bool nf4 = false;
  IntNScheme intN;
  Float4Scheme nf4Scheme;

  std::string name() const {
    std::ostringstream os;
    auto group = [&](int64_t size) {
      if (size == kPerChannel)
        os << " per channel";
      else
        os << " group " << size;
    };
    if (nf4) {
      os << float4CodesName(nf4Scheme.codes);
      group(nf4Scheme.blockSize);
      if (nf4Scheme.doubleQuant)
        os << " double quant " << nf4Scheme.doubleQuantBlockSize;
      else
        os << " " << scaleTypeName(nf4Scheme.scaleType);
    } else {
      os << "int" << intN.bits << (intN.symmetric ? " sym" : " asym");
      group(intN.groupSize);
      os << (intN.actOrder ? " act order " : " ")
         << scaleTypeName(intN.scaleType);
    }
    return os.str();
  }
};

Format intNFormat(int bits, bool symmetric, int64_t groupSize,
                  ScaleType scaleType, bool actOrder = false) {
  Format f;
  f.intN.bits = bits;
  f.intN.symmetric = symmetric;
  f.intN.groupSize = groupSize;
  f.intN.scaleType = scaleType;
  f.intN.actOrder = actOrder;
  return f;
}

Format nf4Format(int64_t blockSize, bool doubleQuant,
                 ScaleType scaleType = ScaleType::F32,
                 int64_t doubleQuantBlockSize = 256,
                 Float4Codes codes = Float4Codes::NF4) {
  Format f;
  f.nf4 = true;
  f.nf4Scheme.codes = codes;
  f.nf4Scheme.blockSize = blockSize;
  f.nf4Scheme.doubleQuant = doubleQuant;
  f.nf4Scheme.doubleQuantBlockSize = doubleQuantBlockSize;
  f.nf4Scheme.scaleType = scaleType;
  return f;
}

/// Relative rounding error of storing a scale in `type`.
double scaleRounding(ScaleType type) {
  switch (type) {
  case ScaleType::F32:
    return 0x1p-24;
  case ScaleType::F16:
    return 0x1p-11;
  case ScaleType::BF16:
    return 0x1p-8;
  }
  return 0;
}

void storeFloat(float value, ScaleType type, uint8_t *out) {
  if (type == ScaleType::F32) {
    std::memcpy(out, &value, 4);
    return;
  }
  uint16_t bits =
      type == ScaleType::F16 ? floatToHalf(value) : floatToBfloat16(value);
  std::memcpy(out, &bits, 2);
}

class QuantKernelsTest : public testing::Test {
protected:
  std::mt19937 rng{20240917};
  int caseIndex = 0;

  static std::vector<Isa> isas() {
    std::vector<Isa> out;
    for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512})
      if (isaSupported(isa))
        out.push_back(isa);
    return out;
  }

  static ThreadPool &pool(int threads) { return test::pool(threads); }

  void TearDown() override { setIsa(defaultIsa()); }

  std::vector<float> uniform(int64_t count, float low, float high) {
    return test::uniform(rng, count, low, high);
  }

  std::vector<float> normal(int64_t count, float sigma) {
    std::normal_distribution<float> dist(0.0f, sigma);
    std::vector<float> out(static_cast<size_t>(count));
    for (float &value : out)
      value = dist(rng);
    return out;
  }

  /// A weight with random components: random bytes for codes, zero points
  /// and double-quant codes; scales uniform in [0.005, 0.015] rounded to the
  /// scale type; act order: g_idx[c] = perm[c] / groupSize for a random
  /// permutation (every group keeps groupSize columns, scattered).
  QuantizedWeight randomWeight(const Format &format, int64_t rows,
                               int64_t cols) {
    QuantizedWeight weight;
    weight.layout = format.nf4 ? layoutFor(format.nf4Scheme, rows, cols)
                               : layoutFor(format.intN, rows, cols);
    ScaleType scaleType =
        format.nf4 ? format.nf4Scheme.scaleType : format.intN.scaleType;
    std::uniform_int_distribution<int> byte(0, 255);
    std::uniform_real_distribution<float> scale(0.005f, 0.015f);
    for (const Component &c : weight.layout.components) {
      std::vector<uint8_t> bytes(static_cast<size_t>(c.bytes()));
      switch (c.role) {
      case ComponentRole::Data:
      case ComponentRole::ZeroPoints:
        for (uint8_t &b : bytes)
          b = static_cast<uint8_t>(byte(rng));
        break;
      case ComponentRole::Scales:
        if (c.element == ElementKind::U8) { // double-quantized absmax codes
          for (uint8_t &b : bytes)
            b = static_cast<uint8_t>(byte(rng));
        } else {
          unsigned size = elementKindBytes(c.element);
          for (size_t i = 0; i < bytes.size() / size; ++i)
            storeFloat(scale(rng), scaleType, bytes.data() + i * size);
        }
        break;
      case ComponentRole::GroupIndex: {
        std::vector<int32_t> perm(static_cast<size_t>(cols));
        std::iota(perm.begin(), perm.end(), 0);
        std::shuffle(perm.begin(), perm.end(), rng);
        for (int32_t &g : perm)
          g = static_cast<int32_t>(g / format.intN.groupSize);
        std::memcpy(bytes.data(), perm.data(), bytes.size());
        break;
      }
      case ComponentRole::DoubleQuantScales:
        for (size_t i = 0; i < bytes.size() / 4; ++i)
          storeFloat(scale(rng), ScaleType::F32, bytes.data() + 4 * i);
        break;
      case ComponentRole::DoubleQuantOffset:
        storeFloat(0.02f, ScaleType::F32, bytes.data());
        break;
      }
      weight.components.push_back(std::move(bytes));
    }
    return weight;
  }

  QuantizedView viewOf(const QuantizedWeight &weight, const Format &format) {
    return format.nf4 ? weight.view(format.nf4Scheme)
                      : weight.view(format.intN);
  }

  /// The reference of ActivationPrecision::Int8 (Kernels.h), in double from
  /// the stated rule: x rounded to int8 per block of 32 columns, weights as
  /// integers (intN codes minus zero points; NF4/FP4: round(2047 * value),
  /// scale absmax / 2047). bound: 1e-5 of the sum of the terms' magnitudes,
  /// zero points counted apart (the kernels subtract them per group).
  void int8Reference(const QuantizedView &w, const std::vector<float> &x,
                     int64_t m, std::vector<double> &ref,
                     std::vector<double> &bound) {
    const int64_t n = w.rows, k = w.cols, block = 32;
    std::vector<int> a(static_cast<size_t>(k));
    std::vector<float> d(static_cast<size_t>((k + block - 1) / block));
    const bool table = w.kind == QuantizedView::Kind::Float4;
    for (int64_t t = 0; t < m; ++t) {
      const float *row = x.data() + t * k;
      for (int64_t c0 = 0; c0 < k; c0 += block) {
        float absmax = 0.0f;
        for (int64_t c = c0; c < std::min(k, c0 + block); ++c)
          absmax = std::max(absmax, std::fabs(row[c]));
        d[c0 / block] = absmax / 127.0f;
        for (int64_t c = c0; c < std::min(k, c0 + block); ++c)
          a[c] = absmax > 0.0f ? static_cast<int>(std::nearbyint(
                                     row[c] * (127.0f / absmax)))
                               : 0;
      }
      for (int64_t j = 0; j < n; ++j) {
        double sum = 0, magnitude = 0;
        for (int64_t c = 0; c < k; ++c) {
          const int64_t g = w.groupOf(c);
          const int code = unpackCode(w.data + j * w.rowBytes(), c, w.bits());
          double value, zero, scale = w.scale(j, g);
          if (table) {
            value = std::nearbyint(2047.0 *
                                   float4CodeValues(w.float4.codes)[code]);
            zero = 0;
            scale /= 2047.0;
          } else {
            value = code;
            zero = w.zeroPoint(j, g);
          }
          const double factor = scale * d[c / block] * a[c];
          sum += factor * (value - zero);
          magnitude += std::fabs(factor) * (std::fabs(value) + zero);
        }
        ref[t * n + j] = sum;
        bound[t * n + j] = 1e-5 * magnitude + 1e-6;
      }
    }
  }

  /// dequantMatmul of random x [m, cols] with w under every build, with
  /// 1, 2 or 3 threads (in turn), against dequantizeRows and a double
  /// matmul (or int8Reference). Also checks that nothing past y is written.
  void check(const QuantizedView &w, int64_t m, const std::string &what,
             ActivationPrecision activations = ActivationPrecision::F32) {
    const int64_t n = w.rows, k = w.cols;
    std::vector<float> x = uniform(m * k, -1.0f, 1.0f);
    std::vector<double> ref(static_cast<size_t>(m * n)),
        bound(static_cast<size_t>(m * n));
    if (activations == ActivationPrecision::Int8) {
      int8Reference(w, x, m, ref, bound);
    } else {
      std::vector<float> dequantized(static_cast<size_t>(n * k));
      dequantizeRows(w, 0, n, dequantized.data());
      for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < n; ++j) {
          double sum = 0, sumAbs = 0;
          const float *xr = x.data() + i * k, *wr = dequantized.data() + j * k;
          for (int64_t c = 0; c < k; ++c) {
            double product = static_cast<double>(xr[c]) * wr[c];
            sum += product;
            sumAbs += std::fabs(product);
          }
          ref[i * n + j] = sum;
          bound[i * n + j] = 1e-5 * sumAbs + 1e-6;
        }
    }
    const int64_t guard = 16;
    int isaIndex = 0;
    auto run = [&](Isa isa) {
      int threads = 1 + (caseIndex + isaIndex++) % 3;
      std::vector<float> y(static_cast<size_t>(m * n + guard),
                           std::numeric_limits<float>::quiet_NaN());
      dequantMatmul(pool(threads), x.data(), m, w, y.data(), activations);
      SCOPED_TRACE(testing::Message()
                   << what << ", m " << m << " k " << k << " n " << n << ", "
                   << isaLabel(isa) << " ("
                   << (activations == ActivationPrecision::Int8
                           ? int8ActivationKernelName()
                           : "f32 activations")
                   << "), " << threads << " threads");
      for (int64_t e = 0; e < m * n; ++e)
        ASSERT_NEAR(y[e], ref[e], bound[e])
            << "at row " << e / n << " column " << e % n;
      for (int64_t e = m * n; e < m * n + guard; ++e)
        ASSERT_TRUE(std::isnan(y[e])) << "wrote past y at " << e;
    };
    for (Isa isa : isas()) {
      ASSERT_TRUE(setIsa(isa));
      if (activations == ActivationPrecision::Int8)
        test::forEachVnniChoice(int8ActivationKernelName,
                                [&] { run(isa); });
      else
        run(isa);
      if (HasFatalFailure())
        return;
    }
    ++caseIndex;
  }

  /// Every k in {1, 7, 64, 172, 256, 4109} with every n in {1, 3, 67}, m
  /// taking 1, 2, 5 and 33 in turn.
  void checkShapes(const Format &format, bool fromQuantizer = false,
                   ActivationPrecision activations = ActivationPrecision::F32) {
    static const int64_t ks[] = {1, 7, 64, 172, 256, 4096 + 13};
    static const int64_t ns[] = {1, 3, 67};
    static const int64_t ms[] = {1, 2, 5, 33};
    for (int64_t k : ks)
      for (int64_t n : ns) {
        int64_t m = ms[(caseIndex + (fromQuantizer ? 1 : 0)) % 4];
        QuantizedWeight weight;
        if (fromQuantizer) {
          std::vector<float> original = normal(n * k, 0.02f);
          std::string error =
              format.nf4
                  ? quant::quantizeFloat4(format.nf4Scheme, original.data(), n, k, weight)
                  : quant::quantizeIntN(format.intN, original.data(), n, k, weight);
          ASSERT_EQ(error, "") << format.name();
        } else {
          weight = randomWeight(format, n, k);
        }
        check(viewOf(weight, format), m,
              format.name() + (fromQuantizer ? " (quantized)" : " (random)"),
              activations);
        if (HasFatalFailure())
          return;
      }
  }
};

const int64_t kGroupSizes[] = {32, 64, 128, kPerChannel, 8192};

//===----------------------------------------------------------------------===//
// dequantMatmul
//===----------------------------------------------------------------------===//

// The fast paths' formats (4 and 8 bits, groups a multiple of the step or
// whole rows) and their fallbacks (groups larger than the row, act order),
// with every scale type.
TEST_F(QuantKernelsTest, FourAndEightBitsEveryScaleType) {
  for (int bits : {4, 8})
    for (bool symmetric : {true, false})
      for (int64_t groupSize : kGroupSizes)
        for (bool actOrder : {false, true}) {
          if (actOrder && groupSize == kPerChannel)
            continue;
          for (ScaleType scaleType :
               {ScaleType::F16, ScaleType::F32, ScaleType::BF16}) {
            checkShapes(
                intNFormat(bits, symmetric, groupSize, scaleType, actOrder));
            if (HasFatalFailure())
              return;
          }
        }
}

// 2 and 3 bits (the generic path only), the scale type taking each value in
// turn.
TEST_F(QuantKernelsTest, TwoAndThreeBits) {
  const ScaleType types[] = {ScaleType::F16, ScaleType::F32, ScaleType::BF16};
  int turn = 0;
  for (int bits : {2, 3})
    for (bool symmetric : {true, false})
      for (int64_t groupSize : kGroupSizes)
        for (bool actOrder : {false, true}) {
          if (actOrder && groupSize == kPerChannel)
            continue;
          checkShapes(intNFormat(bits, symmetric, groupSize, types[turn++ % 3],
                                 actOrder));
          if (HasFatalFailure())
            return;
        }
}

// Groups that are not a multiple of any build's step go the generic way.
TEST_F(QuantKernelsTest, OddGroupSizes) {
  for (int64_t groupSize : {1, 8, 16, 48, 100})
    for (int bits : {4, 8}) {
      checkShapes(intNFormat(bits, false, groupSize, ScaleType::F16));
      if (HasFatalFailure())
        return;
    }
}

TEST_F(QuantKernelsTest, NF4AndFP4) {
  for (Float4Codes codes : {Float4Codes::NF4, Float4Codes::FP4})
    for (int64_t blockSize : {64, 32, 128, 100, 8192}) {
      for (ScaleType scaleType :
           {ScaleType::F32, ScaleType::F16, ScaleType::BF16}) {
        checkShapes(nf4Format(blockSize, false, scaleType, 256, codes));
        if (HasFatalFailure())
          return;
      }
      for (int64_t doubleQuantBlock : {256, 7}) {
        checkShapes(nf4Format(blockSize, true, ScaleType::F32,
                              doubleQuantBlock, codes));
        if (HasFatalFailure())
          return;
      }
    }
}

// Weights as the compiler produces them: round to nearest of normal weights
// (act order needs a calibrated method: only random weights cover it).
TEST_F(QuantKernelsTest, QuantizedNormalWeights) {
  for (int bits : {2, 3, 4, 8})
    for (bool symmetric : {true, false})
      for (int64_t groupSize : kGroupSizes) {
        checkShapes(intNFormat(bits, symmetric, groupSize, ScaleType::F16),
                    true);
        if (HasFatalFailure())
          return;
      }
  for (ScaleType scaleType : {ScaleType::F32, ScaleType::BF16}) {
    checkShapes(intNFormat(4, false, 128, scaleType), true);
    checkShapes(intNFormat(8, true, kPerChannel, scaleType), true);
  }
  for (bool doubleQuant : {false, true})
    for (Float4Codes codes : {Float4Codes::NF4, Float4Codes::FP4})
      checkShapes(nf4Format(64, doubleQuant, ScaleType::F32, 256, codes),
                  true);
}

// Prefill shapes across the 64-row block of x and the 1024-column block of
// the reduction, on the fast formats.
TEST_F(QuantKernelsTest, LargerBatches) {
  const Format formats[] = {
      intNFormat(4, false, 128, ScaleType::F16),
      intNFormat(4, true, 32, ScaleType::F16),
      intNFormat(8, true, kPerChannel, ScaleType::F16),
      intNFormat(8, false, 64, ScaleType::F32),
      nf4Format(64, true),
      nf4Format(64, false, ScaleType::F16, 256, Float4Codes::FP4),
      intNFormat(3, false, 128, ScaleType::F16, true),
  };
  for (const Format &format : formats) {
    QuantizedWeight weight = randomWeight(format, 13, 2100);
    check(viewOf(weight, format), 70, format.name());
    if (HasFatalFailure())
      return;
  }
}

TEST_F(QuantKernelsTest, EveryThreadCountOnTheDecodeShape) {
  Format format = intNFormat(4, false, 128, ScaleType::F16);
  QuantizedWeight weight = randomWeight(format, 301, 4096 + 13);
  for (int threads = 1; threads <= 3; ++threads) {
    caseIndex = threads - 1; // check() adds the build's index
    for (int64_t m : {1, 3})
      check(viewOf(weight, format), m, format.name());
  }
}

//===----------------------------------------------------------------------===//
// dequantMatmul with 8-bit activations
//===----------------------------------------------------------------------===//

// Every supported format: 4-bit intN, NF4, FP4, 8-bit intN; groups of 32,
// 64, 128, 256 and whole rows; every scale type and double quantization;
// random and quantizer-made weights; every shape of checkShapes (k = 1 and 7
// end inside the first block, 172 inside a group, 4109 past the last whole
// step of every build).
TEST_F(QuantKernelsTest, Int8ActivationsEveryFormat) {
  const auto int8 = ActivationPrecision::Int8;
  for (int bits : {4, 8})
    for (bool symmetric : {true, false})
      for (int64_t groupSize : {int64_t(32), int64_t(64), int64_t(128),
                                int64_t(256), kPerChannel}) {
        Format format = intNFormat(bits, symmetric, groupSize, ScaleType::F16);
        ASSERT_TRUE(int8ActivationsSupported(
            viewOf(randomWeight(format, 2, 64), format)));
        checkShapes(format, false, int8);
        checkShapes(format, true, int8);
        if (HasFatalFailure())
          return;
      }
  for (ScaleType scaleType : {ScaleType::F32, ScaleType::BF16}) {
    checkShapes(intNFormat(4, false, 128, scaleType), true, int8);
    checkShapes(intNFormat(8, true, kPerChannel, scaleType), true, int8);
  }
  for (Float4Codes codes : {Float4Codes::NF4, Float4Codes::FP4})
    for (int64_t blockSize : {64, 32, 128}) {
      checkShapes(nf4Format(blockSize, false, ScaleType::F16, 256, codes),
                  false, int8);
      checkShapes(nf4Format(blockSize, true, ScaleType::F32, 256, codes), true,
                  int8);
      if (HasFatalFailure())
        return;
    }
}

TEST_F(QuantKernelsTest, Int8ActivationsLargerBatchesAndThreads) {
  const Format formats[] = {
      intNFormat(4, false, 128, ScaleType::F16),
      intNFormat(4, true, 32, ScaleType::F16),
      intNFormat(8, true, kPerChannel, ScaleType::F16),
      nf4Format(64, true),
  };
  for (const Format &format : formats)
    for (int64_t m : {1, 2, 3, 4, 5, 9, 70}) {
      QuantizedWeight weight = randomWeight(format, 13, 2100);
      check(viewOf(weight, format), m, format.name(),
            ActivationPrecision::Int8);
      if (HasFatalFailure())
        return;
    }
  Format format = intNFormat(4, true, 32, ScaleType::F16);
  QuantizedWeight weight = randomWeight(format, 301, 4096 + 13);
  for (int threads = 1; threads <= 3; ++threads) {
    caseIndex = threads - 1;
    check(viewOf(weight, format), 1, format.name(), ActivationPrecision::Int8);
  }
}

// Blocks that round exactly: codes of x * 127 / max|x| on a tie go to the
// even integer, an all-zero block gives zero, a block's own max gives 127.
TEST_F(QuantKernelsTest, Int8ActivationsRounding) {
  Format format = intNFormat(8, true, kPerChannel, ScaleType::F32);
  const int64_t k = 64;
  QuantizedWeight weight = randomWeight(format, 1, k);
  // One weight row of codes 129 (value 1 * scale) at columns 0 and 1, 128
  // (zero) elsewhere, scale 1: y = the dequantized activations at 0 and 1.
  std::fill(weight.components[0].begin(), weight.components[0].end(), 128);
  weight.components[0][0] = weight.components[0][1] = 129;
  const float one = 1.0f;
  std::memcpy(weight.components[1].data(), &one, 4);
  QuantizedView w = viewOf(weight, format);
  // Block 0: max 127 -> d = 1, 2.5 rounds to 2 and 3.5 to 4 (ties to even).
  std::vector<float> x(k, 0.0f);
  x[0] = 2.5f;
  x[1] = 3.5f;
  x[31] = -127.0f;
  for (Isa isa : isas()) {
    ASSERT_TRUE(setIsa(isa));
    test::forEachVnniChoice(int8ActivationKernelName, [&] {
      float y = -1.0f;
      dequantMatmul(pool(1), x.data(), 1, w, &y, ActivationPrecision::Int8);
      EXPECT_EQ(y, 6.0f) << int8ActivationKernelName();
      // An all-zero block: nothing, not NaN.
      std::vector<float> zeros(k, 0.0f);
      dequantMatmul(pool(1), zeros.data(), 1, w, &y, ActivationPrecision::Int8);
      EXPECT_EQ(y, 0.0f) << int8ActivationKernelName();
    });
  }
}

// What has no integer path is refused by int8ActivationsSupported.
TEST_F(QuantKernelsTest, Int8ActivationsSupportedFormats) {
  auto supported = [&](const Format &format) {
    QuantizedWeight weight = randomWeight(format, 2, 256);
    return int8ActivationsSupported(viewOf(weight, format));
  };
  EXPECT_TRUE(supported(intNFormat(4, false, 512, ScaleType::F16)));
  EXPECT_TRUE(supported(nf4Format(64, true)));
  EXPECT_FALSE(supported(intNFormat(3, false, 128, ScaleType::F16)));
  EXPECT_FALSE(supported(intNFormat(2, true, 32, ScaleType::F16)));
  EXPECT_FALSE(supported(intNFormat(4, false, 128, ScaleType::F16, true)));
  EXPECT_FALSE(supported(intNFormat(4, false, 96, ScaleType::F16)));
  EXPECT_FALSE(supported(intNFormat(8, false, 16, ScaleType::F16)));
  EXPECT_FALSE(supported(nf4Format(100, false)));
}

//===----------------------------------------------------------------------===//
// Quantizer round trips
//===----------------------------------------------------------------------===//

/// Round to nearest puts each weight within half a step s/2 of its code's
/// value. Symmetric codes never clamp (|w| / s <= 2^(bits-1) - 1 up to the
/// scale's rounding, which stays below half a step). Asymmetric ones clamp
/// at the range ends when the stored scale rounds down: at most
/// (2^bits - 1) * (its relative rounding) steps more.
TEST_F(QuantKernelsTest, IntNRoundTripWithinHalfAStep) {
  const int64_t rows = 5, cols = 300;
  for (int bits : {2, 3, 4, 8})
    for (bool symmetric : {true, false})
      for (int64_t groupSize : {int64_t(32), int64_t(128), kPerChannel})
        for (ScaleType scaleType :
             {ScaleType::F32, ScaleType::F16, ScaleType::BF16}) {
          Format format = intNFormat(bits, symmetric, groupSize, scaleType);
          SCOPED_TRACE(format.name());
          std::vector<float> original = normal(rows * cols, 0.02f);
          QuantizedWeight weight;
          ASSERT_EQ(
              quant::quantizeIntN(format.intN, original.data(), rows, cols, weight),
              "");
          QuantizedView view = viewOf(weight, format);
          std::vector<float> back(static_cast<size_t>(rows * cols));
          dequantizeRows(view, 0, rows, back.data());
          double clampSteps =
              symmetric ? 0.0 : ((1 << bits) - 1) * scaleRounding(scaleType);
          for (int64_t r = 0; r < rows; ++r)
            for (int64_t c = 0; c < cols; ++c) {
              double s = view.scale(r, view.groupOf(c));
              // 1e-4 steps: the float roundings of w / s and (q - z) * s.
              double tolerance = s * (0.5 + clampSteps + 1e-4) + 1e-9;
              ASSERT_LE(std::fabs(back[r * cols + c] - original[r * cols + c]),
                        tolerance)
                  << "row " << r << " column " << c;
            }
        }
}

/// NF4 picks the nearest of the 16 values of w / absmax: within half the
/// widest gap (between -1 and -0.696: 0.152) times absmax, plus the stored
/// absmax's rounding. Double quantization stores absmax - mean as the
/// nearest value of the dynamic map times the block's scale c: within half
/// the map's widest gap near +-1 (0.9 / 64 / 2 < 0.00704) times c.
TEST_F(QuantKernelsTest, NF4RoundTripWithinHalfAGap) {
  const int64_t rows = 6, cols = 333, blockSize = 64;
  for (bool doubleQuant : {false, true})
    for (ScaleType scaleType :
         {ScaleType::F32, ScaleType::F16, ScaleType::BF16}) {
      if (doubleQuant && scaleType != ScaleType::F32)
        continue;
      Format format = nf4Format(blockSize, doubleQuant, scaleType, 16);
      SCOPED_TRACE(format.name());
      std::vector<float> original = normal(rows * cols, 0.02f);
      QuantizedWeight weight;
      ASSERT_EQ(
          quant::quantizeFloat4(format.nf4Scheme, original.data(), rows, cols, weight),
          "");
      QuantizedView view = viewOf(weight, format);
      std::vector<float> back(static_cast<size_t>(rows * cols));
      dequantizeRows(view, 0, rows, back.data());
      const int64_t blocks = view.groups();
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t b = 0; b < blocks; ++b) {
          int64_t begin = b * blockSize,
                  end = std::min(cols, begin + blockSize);
          double absmax = 0;
          for (int64_t c = begin; c < end; ++c)
            absmax =
                std::max(absmax, std::fabs(double(original[r * cols + c])));
          double stored = view.scale(r, b);
          double scaleError =
              doubleQuant
                  ? 0.00704 * view.doubleQuantScales[(r * blocks + b) / 16] +
                        1e-7 * absmax
                  : scaleRounding(scaleType) * absmax;
          ASSERT_NEAR(stored, absmax, scaleError)
              << "row " << r << " block " << b;
          for (int64_t c = begin; c < end; ++c)
            ASSERT_NEAR(back[r * cols + c], original[r * cols + c],
                        0.1520 * absmax + scaleError + 1e-9)
                << "row " << r << " column " << c;
        }
    }
}

// bitsandbytes' FP4 rule (dQuantizeFP4): every code value maps back to its
// code (but -0, which is 0); a value on a midpoint between two magnitudes
// takes the smaller one, anything above it the larger; the sign bit only for
// x < 0. The numpy reference checks the same rule independently
// (test/e2e/reference/test_bnb_numpy.py).
TEST_F(QuantKernelsTest, FP4Codes) {
  for (int code = 0; code < 16; ++code)
    EXPECT_EQ(quant::fp4Code(kFP4Codes[code]), code == 8 ? 0 : code)
        << "code " << code;
  // Magnitude codes in ascending value: 0, 0.0625, 2, 3, 4, 6, 8, 12 (/ 12),
  // and bitsandbytes' pivot literals between them.
  const uint8_t ascending[] = {0, 1, 6, 7, 4, 5, 2, 3};
  const float pivots[] = {0.00260417f, 0.0859375f, 0.20833333f, 0.29166667f,
                          0.4166667f,  0.583333f,  0.8333333f};
  for (int i = 0; i < 7; ++i) {
    EXPECT_EQ(quant::fp4Code(pivots[i]), ascending[i]) << "pivot " << i;
    EXPECT_EQ(quant::fp4Code(std::nextafter(pivots[i], 2.0f)),
              ascending[i + 1])
        << "above pivot " << i;
    EXPECT_EQ(quant::fp4Code(-pivots[i]), ascending[i] + 8)
        << "pivot " << i << " negated";
  }
  EXPECT_EQ(quant::fp4Code(0.0f), 0);
  EXPECT_EQ(quant::fp4Code(-0.0f), 0);
  EXPECT_EQ(quant::fp4Code(-1e-9f), 8);
  EXPECT_EQ(quant::fp4Code(1.0f), 3);
  EXPECT_EQ(quant::fp4Code(-1.0f), 11);
  // A block through the quantizer: w * (1 / absmax), absmax kept exactly.
  Float4Scheme scheme;
  scheme.codes = Float4Codes::FP4;
  scheme.blockSize = 4;
  const float w[] = {-3.0f, 0.875f, 0.0f, 1.5f, 0.0f, 0.0f, 0.0f, 0.0f};
  QuantizedWeight out;
  ASSERT_EQ(quant::quantizeFloat4(scheme, w, 1, 8, out), "");
  QuantizedView view = out.view(scheme);
  const float inverse = 1.0f / 3.0f;
  EXPECT_EQ(unpackCode(view.data, 0, 4), 11);
  EXPECT_EQ(unpackCode(view.data, 1, 4), quant::fp4Code(0.875f * inverse));
  EXPECT_EQ(unpackCode(view.data, 2, 4), 0);
  EXPECT_EQ(unpackCode(view.data, 3, 4), 5); // 0.5 exactly
  EXPECT_EQ(view.scale(0, 0), 3.0f);
  EXPECT_EQ(view.scale(0, 1), 0.0f);
  for (int c = 4; c < 8; ++c)
    EXPECT_EQ(unpackCode(view.data, c, 4), 0);
}

} // namespace
