//===- WeightlessTest.cpp - weightless plans and synthesized weights ------===//
//
// The tiny decoder of TestPlans as a weightless plan (no weight bytes), in
// float and in every quantized storage scheme. The verifier accepts it and
// still rejects what a weightless plan must not have (a size that is not
// its shape's, an offset, a checksum, a truncated or corrupted FlatBuffer);
// LoadedPlan synthesizes the weights from the seed, deterministically and
// independently of the thread count, each in its exact format, checked value
// by value against qrt/core/SyntheticWeights.h:
//   - embedding in [-1, 1], norms 1, matmul weights within 1/sqrt(k), rotary
//     tables the true cos/sin;
//   - quantized components: unused bits of each row's last code byte zero,
//     scales positive, zero points in [2^(b-2), 3 * 2^(b-2)], g_idx[c] =
//     c / group_size, NF4 absmax in [a, 2a], and every dequantized weight
//     within 2a, a = 1/sqrt(cols) (up to the scale type's rounding: 1%);
// and a Session runs it to finite logits of the size such weights give
// (|logit| < 50; about 0.6 typical).
//
//===----------------------------------------------------------------------===//

#include "TestPlans.h"

#include "qrt/core/Half.h"
#include "qrt/core/SyntheticWeights.h"
#include "qrt/runtime/Session.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

using namespace qrt;
using namespace qrt::test;

namespace {

//===----------------------------------------------------------------------===//
// Helpers
//===----------------------------------------------------------------------===//

IntNScheme intN(int bits, int64_t groupSize, bool symmetric, ScaleType scales,
                bool actOrder = false) {
  return intNScheme(bits, groupSize, symmetric, scales, actOrder);
}

Float4Scheme nf4(int64_t blockSize, ScaleType scales,
              int64_t doubleQuantBlock = 0) {
  return nf4Scheme(blockSize, scales, doubleQuantBlock);
}

/// The tiny decoder with K = 64 and K = 172 (a partial last group for every
/// grouped scheme, and an odd number of 3-bit codes' bits per row).
TinyConfig config(std::vector<WeightScheme> schemes) {
  TinyConfig c;
  c.dim = 64;
  c.hiddenDim = 172;
  c.heads = 4;
  c.kvHeads = 2;
  c.headDim = 16;
  c.layers = 2;
  c.convention = fb::RotaryConvention::RotateHalf;
  c.projectionSchemes = std::move(schemes);
  return c;
}

struct Variant {
  std::string name;
  TinyConfig config;
};

std::ostream &operator<<(std::ostream &os, const Variant &v) {
  return os << v.name;
}

std::vector<Variant> variants() {
  const ScaleType F32 = ScaleType::F32, F16 = ScaleType::F16,
                  BF16 = ScaleType::BF16;
  auto one = [](auto scheme) { return config({WeightScheme::of(scheme)}); };
  TinyConfig f16 = config({});
  f16.weightType = fb::DType::F16;
  TinyConfig tables = config({});
  tables.rotaryTables = true;
  tables.rotaryDim = 8;
  tables.convention = fb::RotaryConvention::Interleaved;
  return {
      {"F32", config({})},
      {"F16", f16},
      {"RotaryTables", tables},
      {"Int8ChannelSymF32", one(intN(8, kPerChannel, true, F32))},
      {"Int8G16AsymBF16", one(intN(8, 16, false, BF16))},
      {"Int4G32AsymF16", one(intN(4, 32, false, F16))},
      {"Int4G64SymF16", one(intN(4, 64, true, F16))},
      {"Int3G16AsymBF16", one(intN(3, 16, false, BF16))},
      {"Int2ChannelAsymF32", one(intN(2, kPerChannel, false, F32))},
      {"Int2G8SymF16", one(intN(2, 8, true, F16))},
      {"Int4ActOrderG32AsymF16", one(intN(4, 32, false, F16, true))},
      {"Int3ActOrderG32SymF16", one(intN(3, 32, true, F16, true))},
      {"NF4B64F32", one(nf4(64, F32))},
      {"NF4B16F16", one(nf4(16, F16))},
      {"NF4B32DoubleQuant48", one(nf4(32, F32, 48))},
  };
}

/// A plan's bytes written to a file and opened.
std::unique_ptr<OpenedPlan> open(const std::vector<uint8_t> &bytes) {
  std::unique_ptr<OpenedPlan> opened = openPlan(bytes);
  EXPECT_TRUE(opened->plan) << opened->error;
  return opened;
}

float loadFloat(const void *data, fb::DType type, size_t i) {
  const auto *bytes = static_cast<const uint8_t *>(data);
  if (type == fb::DType::F32) {
    float v;
    std::memcpy(&v, bytes + 4 * i, 4);
    return v;
  }
  uint16_t h;
  std::memcpy(&h, bytes + 2 * i, 2);
  return type == fb::DType::F16 ? halfToFloat(h) : bfloat16ToFloat(h);
}

/// Floats of weight buffer `b` of `plan`.
std::vector<float> floats(const LoadedPlan &plan, const fb::Buffer *b) {
  const fb::TensorInfo &t = *plan.plan().weights()->Get(b->offset())->tensor();
  std::vector<float> out(tensorElements(t, 0));
  const void *data = plan.weight(static_cast<uint32_t>(b->offset()));
  for (size_t i = 0; i < out.size(); ++i)
    out[i] = loadFloat(data, t.dtype(), i);
  return out;
}

/// Logits of 6 prefill and 3 decode tokens.
std::vector<float> run(const LoadedPlan &plan, int threads = 1) {
  SessionOptions options;
  options.threads = threads;
  std::string error;
  std::unique_ptr<Session> session = Session::create(plan, options, error);
  EXPECT_TRUE(session) << error;
  if (!session)
    return {};
  int64_t vocab = session->vocab();
  std::vector<int32_t> tokens = {1, 0, int32_t(vocab - 1), 7, 3, 11, 5, 2, 9};
  std::vector<float> logits(tokens.size() * size_t(vocab));
  EXPECT_TRUE(session->forward(tokens.data(), 6, logits.data(), true, error))
      << error;
  for (size_t i = 6; i < tokens.size(); ++i)
    EXPECT_TRUE(session->forward(&tokens[i], 1, logits.data() + i * vocab,
                                 false, error))
        << error;
  return logits;
}

/// The weights of a synthesized plan, concatenated.
std::vector<uint8_t> weightBytes(const LoadedPlan &plan) {
  std::vector<uint8_t> out;
  for (uint32_t i = 0; i < plan.plan().weights()->size(); ++i) {
    const auto *p = static_cast<const uint8_t *>(plan.weight(i));
    out.insert(out.end(), p, p + plan.plan().weights()->Get(i)->size());
  }
  return out;
}

//===----------------------------------------------------------------------===//
// Each format
//===----------------------------------------------------------------------===//

class WeightlessPlanTest : public testing::TestWithParam<Variant> {};

TEST_P(WeightlessPlanTest, HoldsNoWeightBytes) {
  PlanDesc spec = tinyPlanSpec(makeTinyModel(GetParam().config));
  std::vector<uint8_t> bytes = weightlessPlanBytes(spec, 7);
  EXPECT_LT(bytes.size(), flatBufferBytes(bytes) + kWeightAlignment);
  std::string error;
  ASSERT_TRUE(verifyPlan(bytes.data(), bytes.size(), true, error)) << error;
  const fb::Plan &plan = *planOf(bytes.data());
  EXPECT_TRUE(plan.weightless());
  EXPECT_EQ(plan.weight_seed(), 7u);
  EXPECT_EQ(plan.weights_size(), 0u);
  ASSERT_EQ(plan.weights()->size(), spec.weights.size());
  for (uint32_t i = 0; i < spec.weights.size(); ++i) {
    EXPECT_EQ(plan.weights()->Get(i)->size(), spec.weights[i].bytes.size());
    EXPECT_EQ(plan.weights()->Get(i)->offset(), 0u);
  }
}

TEST_P(WeightlessPlanTest, SynthesizesEachWeightInItsFormat) {
  std::unique_ptr<OpenedPlan> opened = open(weightlessPlanBytes(
      tinyPlanSpec(makeTinyModel(GetParam().config)), 7));
  ASSERT_TRUE(opened->plan);
  const LoadedPlan &plan = *opened->plan;
  EXPECT_TRUE(plan.weightless());
  EXPECT_GT(plan.syntheticBytes(), 0u);
  int checkedQuantized = 0;
  for (const fb::Entry *entry : *plan.plan().entries())
    for (const fb::Step *step : *entry->steps()) {
      auto in = [&](uint32_t i) { return step->inputs()->Get(i); };
      switch (step->kernel()) {
      case fb::Kernel::Embedding: {
        std::vector<float> table = floats(plan, in(0));
        float lo = 0, hi = 0;
        for (float v : table) {
          ASSERT_TRUE(v >= -1.0f && v <= 1.0f) << v;
          lo = std::min(lo, v);
          hi = std::max(hi, v);
        }
        EXPECT_LT(lo, -0.9f);
        EXPECT_GT(hi, 0.9f);
        break;
      }
      case fb::Kernel::RmsNorm:
        for (float v : floats(plan, in(1)))
          ASSERT_EQ(v, 1.0f);
        break;
      case fb::Kernel::MatMul: {
        int64_t k = in(1)->tensor()->dims()->Get(1);
        float bound = 1.0f / std::sqrt(float(k)), largest = 0;
        for (float v : floats(plan, in(1))) {
          ASSERT_LE(std::fabs(v), bound * 1.001f);
          largest = std::max(largest, std::fabs(v));
        }
        EXPECT_GT(largest, 0.9f * bound);
        break;
      }
      case fb::Kernel::Rotary: {
        if (step->inputs()->size() != 3)
          break;
        std::vector<float> cosTable = floats(plan, in(1)),
                           sinTable = floats(plan, in(2));
        int64_t half = in(1)->tensor()->dims()->Get(1);
        int rotaryDim = step->rotary_dim();
        ASSERT_EQ(half, rotaryDim / 2);
        for (size_t i = 0; i < cosTable.size(); ++i) {
          double angle = double(i / half) *
                         std::pow(10000.0, -2.0 * double(i % half) / rotaryDim);
          ASSERT_NEAR(cosTable[i], std::cos(angle), 1e-6) << i;
          ASSERT_NEAR(sinTable[i], std::sin(angle), 1e-6) << i;
        }
        break;
      }
      case fb::Kernel::DequantMatMul: {
        QuantizedView view;
        std::string error;
        ASSERT_TRUE(quantizedViewOf(step->quant(), view, error)) << error;
        std::vector<const void *> components;
        for (uint32_t c = 1; c < step->inputs()->size(); ++c)
          components.push_back(
              plan.weight(static_cast<uint32_t>(in(c)->offset())));
        ASSERT_TRUE(bindComponents(view, components));
        ++checkedQuantized;
        int bits = view.bits();
        float a = 1.0f / std::sqrt(float(view.cols));
        // Codes: the padding bits of each row's last byte are zero.
        if (int used = int((view.cols * bits) % 8)) {
          for (int64_t r = 0; r < view.rows; ++r)
            ASSERT_EQ(
                view.data[r * view.rowBytes() + view.rowBytes() - 1] >> used, 0)
                << "row " << r;
        }
        for (int64_t r = 0; r < view.rows; ++r)
          for (int64_t g = 0; g < view.groups(); ++g) {
            float s = view.scale(r, g);
            ASSERT_TRUE(std::isfinite(s) && s > 0) << s;
            if (view.kind == QuantizedView::Kind::Float4) {
              ASSERT_GE(s, a * 0.99f);
              ASSERT_LE(s, 2 * a * 1.01f);
            } else {
              ASSERT_LE(s, 2 * a / float((1 << bits) - 1) * 1.01f);
              int z = view.zeroPoint(r, g);
              if (!view.intN.symmetric) {
                ASSERT_GE(z, 1 << (bits - 2));
                ASSERT_LE(z, 3 << (bits - 2));
              }
            }
          }
        if (view.groupIndex) {
          for (int64_t c = 0; c < view.cols; ++c)
            ASSERT_EQ(view.groupIndex[c], c / view.groupSize()) << c;
        }
        std::vector<float> w(size_t(view.rows * view.cols));
        dequantizeRows(view, 0, view.rows, w.data());
        float largest = 0;
        for (float v : w) {
          ASSERT_TRUE(std::isfinite(v));
          ASSERT_LE(std::fabs(v), 2 * a * 1.01f);
          largest = std::max(largest, std::fabs(v));
        }
        EXPECT_GT(largest, 0.5f * a);
        break;
      }
      default:
        break;
      }
    }
  EXPECT_EQ(checkedQuantized > 0, !GetParam().config.projectionSchemes.empty());
}

TEST_P(WeightlessPlanTest, SessionGivesFiniteBoundedLogits) {
  std::unique_ptr<OpenedPlan> opened = open(weightlessPlanBytes(
      tinyPlanSpec(makeTinyModel(GetParam().config)), 7));
  ASSERT_TRUE(opened->plan);
  std::vector<float> logits = run(*opened->plan);
  ASSERT_FALSE(logits.empty());
  double sum = 0, squares = 0;
  for (float v : logits) {
    ASSERT_TRUE(std::isfinite(v));
    ASSERT_LT(std::fabs(v), 50.0f);
    sum += v;
    squares += double(v) * v;
  }
  double mean = sum / double(logits.size());
  EXPECT_GT(squares / double(logits.size()) - mean * mean, 1e-4)
      << "the logits do not vary";
  // Several threads: the same logits, bit for bit.
  EXPECT_EQ(run(*opened->plan, 3), logits);
}

INSTANTIATE_TEST_SUITE_P(Schemes, WeightlessPlanTest,
                         testing::ValuesIn(variants()),
                         [](const testing::TestParamInfo<Variant> &info) {
                           return info.param.name;
                         });

//===----------------------------------------------------------------------===//
// Determinism
//===----------------------------------------------------------------------===//

PlanDesc mixedSpec() {
  return tinyPlanSpec(makeTinyModel(
      config({WeightScheme::of(intN(4, 32, false, ScaleType::F16, true)),
              WeightScheme::of(nf4(32, ScaleType::F32, 48)),
              WeightScheme::of(intN(3, 16, true, ScaleType::BF16))})));
}

TEST(WeightlessSeedTest, SameSeedSameWeightsAndLogits) {
  std::vector<uint8_t> bytes = weightlessPlanBytes(mixedSpec(), 42);
  std::unique_ptr<OpenedPlan> first = open(bytes), second = open(bytes);
  ASSERT_TRUE(first->plan && second->plan);
  EXPECT_EQ(weightBytes(*first->plan), weightBytes(*second->plan));
  EXPECT_EQ(run(*first->plan), run(*second->plan));
}

TEST(WeightlessSeedTest, IndependentOfThreads) {
  std::vector<uint8_t> bytes = weightlessPlanBytes(mixedSpec(), 42);
  const fb::Plan &plan = *planOf(bytes.data());
  SyntheticLayout layout = syntheticLayout(plan);
  std::vector<uint8_t> one(layout.bytes), many(layout.bytes, 0xAB);
  synthesizeWeights(plan, 42, layout, one.data(), 1);
  synthesizeWeights(plan, 42, layout, many.data(), 5);
  for (uint32_t i = 0; i < plan.weights()->size(); ++i)
    EXPECT_EQ(std::memcmp(one.data() + layout.offsets[i],
                          many.data() + layout.offsets[i],
                          plan.weights()->Get(i)->size()),
              0)
        << "weight " << i;
}

TEST(WeightlessSeedTest, OtherSeedOtherWeights) {
  std::unique_ptr<OpenedPlan> first =
                                  open(weightlessPlanBytes(mixedSpec(), 1)),
                              second =
                                  open(weightlessPlanBytes(mixedSpec(), 2));
  ASSERT_TRUE(first->plan && second->plan);
  EXPECT_NE(weightBytes(*first->plan), weightBytes(*second->plan));
  EXPECT_NE(run(*first->plan), run(*second->plan));
}

TEST(WeightlessSeedTest, LayoutIsAlignedAndDisjoint) {
  std::vector<uint8_t> bytes = weightlessPlanBytes(mixedSpec(), 1);
  const fb::Plan &plan = *planOf(bytes.data());
  SyntheticLayout layout = syntheticLayout(plan);
  ASSERT_EQ(layout.offsets.size(), plan.weights()->size());
  uint64_t end = 0;
  for (uint32_t i = 0; i < plan.weights()->size(); ++i) {
    EXPECT_EQ(layout.offsets[i] % kWeightAlignment, 0u);
    EXPECT_GE(layout.offsets[i], end);
    end = layout.offsets[i] + plan.weights()->Get(i)->size();
  }
  EXPECT_GE(layout.bytes, end);
  EXPECT_EQ(layout.bytes % kWeightAlignment, 0u);
}

//===----------------------------------------------------------------------===//
// The verifier
//===----------------------------------------------------------------------===//

/// Verifies `spec` as a weightless plan; the error, or "" if it verifies.
std::string verifyWeightless(const PlanDesc &spec) {
  std::vector<uint8_t> bytes = weightlessPlanBytes(spec, 1);
  std::string error;
  if (verifyPlan(bytes.data(), bytes.size(), true, error))
    return "";
  EXPECT_FALSE(error.empty());
  return error;
}

TEST(WeightlessVerifierTest, RejectsASizeThatIsNotTheShapes) {
  PlanDesc spec = mixedSpec();
  spec.weights[3].size = spec.weights[3].bytes.size() + 4;
  EXPECT_NE(verifyWeightless(spec).find("bytes, its shape"), std::string::npos)
      << verifyWeightless(spec);
}

TEST(WeightlessVerifierTest, RejectsAnOffset) {
  std::vector<uint8_t> bytes = weightlessPlanBytes(mixedSpec(), 1);
  patchWeightOffset(bytes, 2, 64);
  std::string error;
  EXPECT_FALSE(verifyPlan(bytes.data(), bytes.size(), true, error));
  EXPECT_NE(error.find("of a weightless plan has offset 64"),
            std::string::npos)
      << error;
}

TEST(WeightlessVerifierTest, RejectsAChecksum) {
  PlanDesc spec = mixedSpec();
  spec.weights[5].checksum = 0x1234;
  EXPECT_NE(verifyWeightless(spec).find("and checksum 4660"), std::string::npos)
      << verifyWeightless(spec);
}

TEST(WeightlessVerifierTest, StillChecksShapes) {
  // A weight whose shape the step does not read: its size matches its own
  // shape, but not the step's buffer.
  PlanDesc spec = mixedSpec();
  spec.weights[1].dims = {spec.model.dim + 16};
  spec.weights[1].size = uint64_t(spec.model.dim + 16) * 4;
  EXPECT_NE(verifyWeightless(spec).find("does not match weight"),
            std::string::npos)
      << verifyWeightless(spec);
}

TEST(WeightlessVerifierTest, RejectsEveryTruncation) {
  std::vector<uint8_t> bytes = weightlessPlanBytes(mixedSpec(), 1);
  for (size_t size = 0; size < bytes.size(); ++size) {
    std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + size);
    std::string error;
    EXPECT_FALSE(verifyPlan(cut.data(), cut.size(), true, error)) << size;
  }
}

TEST(WeightlessVerifierTest, CorruptedBytesNeverChangeTheWeights) {
  // Every byte of the FlatBuffer flipped in turn: the verifier answers
  // without crashing (run under ASan/UBSan), and what it accepts still
  // synthesizes the same amount of memory (a flipped size or dimension is
  // caught, as a flipped weightless flag: offsets 0 lie outside the region).
  std::vector<uint8_t> bytes = weightlessPlanBytes(mixedSpec(), 1);
  uint64_t expected = syntheticLayout(*planOf(bytes.data())).bytes;
  size_t accepted = 0;
  for (size_t i = 0; i < flatBufferBytes(bytes); ++i) {
    std::vector<uint8_t> copy = bytes;
    copy[i] ^= 0xFF;
    std::string error;
    if (!verifyPlan(copy.data(), copy.size(), true, error))
      continue;
    ++accepted;
    const fb::Plan &plan = *planOf(copy.data());
    ASSERT_TRUE(plan.weightless()) << "byte " << i;
    ASSERT_EQ(syntheticLayout(plan).bytes, expected) << "byte " << i;
  }
  EXPECT_GT(accepted, 0u); // names, parameters, the seed
}

} // namespace
