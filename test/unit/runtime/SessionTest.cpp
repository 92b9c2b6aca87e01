//===- SessionTest.cpp - Sessions against an independent reference --------===//
//
// The tiny decoder of TestPlans runs through a Session and through a
// straightforward double-precision forward written here (full sequence from
// position 0, causal grouped-query attention, RMSNorm, rotary per convention
// or from the tables, SwiGLU, residuals). The reference reads the same weight
// values the plan stores (f16 weights already rounded; quantized projections,
// stored as DequantMatMul components, as qrt::dequantizeRows dequantizes
// them), so the only differences are the kernels' float roundings.
//
// Tolerances:
//   - Session vs reference: |session - reference| <= 2e-5 * max(1, |reference|)
//     per logit. The logits are O(1); float accumulation over k <= 320 terms
//     through a few layers gives about 2e-6, and an RMSNorm that ignored its
//     epsilon (1e-5) would already be off by about 1e-4. Quantized plans too:
//     dequant_matmul computes the same weight floats as dequantizeRows and
//     accumulates in f32 like matmul (measured: at most 1.2e-6 over all
//     schemes and kernel builds), while the quantization itself moves the
//     logits by 0.04 (int8) to 2.4 (int2), so a kernel that misread a code,
//     scale, zero point or g_idx entry would be far outside it.
//   - Decoding token by token vs one prefill vs chunked prefill: 1e-5
//     absolute. These paths use different matmul kernels (GEMV, GEMM) and
//     so round differently, but from identical inputs.
//   - reset(), threads and capacity: identical logits, bit for bit (each
//     output is computed by one thread in a fixed order, whatever the split).
//
//===----------------------------------------------------------------------===//

#include "TestPlans.h"

#include "qrt/cpu/Kernels.h"
#include "qrt/runtime/Session.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <ostream>
#include <random>
#include <string>
#include <vector>

using namespace qrt;
using namespace qrt::test;

namespace {

//===----------------------------------------------------------------------===//
// The reference forward
//===----------------------------------------------------------------------===//

using Vec = std::vector<double>;

/// y = W x, W [n, k] row-major.
Vec matvec(const std::vector<float> &w, const Vec &x, size_t n) {
  size_t k = x.size();
  Vec y(n, 0.0);
  for (size_t j = 0; j < n; ++j)
    for (size_t i = 0; i < k; ++i)
      y[j] += double(w[j * k + i]) * x[i];
  return y;
}

Vec rmsNorm(const Vec &x, const std::vector<float> &weight, float epsilon) {
  double sum = 0;
  for (double v : x)
    sum += v * v;
  double scale = 1.0 / std::sqrt(sum / double(x.size()) + double(epsilon));
  Vec y(x.size());
  for (size_t i = 0; i < x.size(); ++i)
    y[i] = x[i] * scale * double(weight[i]);
  return y;
}

/// Rotates the heads of one token at `position` in place.
void rotate(const TinyModel &m, Vec &x, int64_t heads, int64_t position) {
  const TinyConfig &c = m.config;
  int64_t rd = c.effectiveRotaryDim(), half = rd / 2;
  for (int64_t h = 0; h < heads; ++h) {
    double *head = x.data() + h * c.headDim;
    for (int64_t i = 0; i < half; ++i) {
      double cs, sn;
      if (c.rotaryTables) {
        cs = m.cosTable[position * half + i];
        sn = m.sinTable[position * half + i];
      } else {
        double angle = double(position) *
                       std::pow(double(c.rotaryBase), -2.0 * double(i) / double(rd));
        cs = std::cos(angle);
        sn = std::sin(angle);
      }
      int64_t a = c.convention == fb::RotaryConvention::Interleaved ? 2 * i : i;
      int64_t b = c.convention == fb::RotaryConvention::Interleaved ? 2 * i + 1
                                                                     : i + half;
      double x0 = head[a], x1 = head[b];
      head[a] = x0 * cs - x1 * sn;
      head[b] = x0 * sn + x1 * cs;
    }
  }
}

/// Logits [tokens.size()][vocab] of the whole sequence from position 0.
std::vector<Vec> referenceForward(const TinyModel &m,
                                  const std::vector<int32_t> &tokens) {
  const TinyConfig &c = m.config;
  size_t T = tokens.size(), d = c.dim, hd = c.headDim;
  size_t qDim = size_t(c.heads) * hd, kvDim = size_t(c.kvHeads) * hd;
  size_t group = size_t(c.heads / c.kvHeads);
  std::vector<Vec> x(T);
  for (size_t t = 0; t < T; ++t)
    x[t] = Vec(m.embedding.begin() + tokens[t] * d,
               m.embedding.begin() + (tokens[t] + 1) * d);
  for (const TinyModel::Layer &layer : m.layers) {
    std::vector<Vec> q(T), k(T), v(T);
    for (size_t t = 0; t < T; ++t) {
      Vec h = rmsNorm(x[t], layer.attentionNorm, c.epsilon);
      q[t] = matvec(layer.wq, h, qDim);
      k[t] = matvec(layer.wk, h, kvDim);
      v[t] = matvec(layer.wv, h, kvDim);
      rotate(m, q[t], c.heads, int64_t(t));
      rotate(m, k[t], c.kvHeads, int64_t(t));
    }
    for (size_t t = 0; t < T; ++t) {
      Vec attended(qDim, 0.0);
      for (size_t head = 0; head < size_t(c.heads); ++head) {
        size_t kvHead = head / group;
        Vec scores(t + 1);
        double maxScore = -INFINITY;
        for (size_t s = 0; s <= t; ++s) {
          double dot = 0;
          for (size_t i = 0; i < hd; ++i)
            dot += q[t][head * hd + i] * k[s][kvHead * hd + i];
          scores[s] = double(c.effectiveScale()) * dot;
          maxScore = std::max(maxScore, scores[s]);
        }
        double sum = 0;
        for (double &score : scores)
          sum += (score = std::exp(score - maxScore));
        for (size_t s = 0; s <= t; ++s)
          for (size_t i = 0; i < hd; ++i)
            attended[head * hd + i] += scores[s] / sum * v[s][kvHead * hd + i];
      }
      Vec projected = matvec(layer.wo, attended, d);
      for (size_t i = 0; i < d; ++i)
        x[t][i] += projected[i];
      Vec h = rmsNorm(x[t], layer.ffnNorm, c.epsilon);
      Vec gate = matvec(layer.w1, h, size_t(c.hiddenDim));
      Vec up = matvec(layer.w3, h, size_t(c.hiddenDim));
      for (size_t i = 0; i < gate.size(); ++i)
        gate[i] = gate[i] / (1.0 + std::exp(-gate[i])) * up[i];
      Vec down = matvec(layer.w2, gate, d);
      for (size_t i = 0; i < d; ++i)
        x[t][i] += down[i];
    }
  }
  std::vector<Vec> logits(T);
  for (size_t t = 0; t < T; ++t)
    logits[t] = matvec(m.output, rmsNorm(x[t], m.finalNorm, c.epsilon),
                       size_t(c.vocab));
  return logits;
}

//===----------------------------------------------------------------------===//
// Helpers
//===----------------------------------------------------------------------===//

/// A plan written to a temporary file and mapped.
struct TinyPlan {
  TinyModel model;
  TempFile file;
  std::unique_ptr<LoadedPlan> plan;
};

std::unique_ptr<TinyPlan> load(const TinyConfig &config) {
  auto loaded = std::make_unique<TinyPlan>();
  loaded->model = makeTinyModel(config);
  loaded->file.write(writePlan(tinyPlanSpec(loaded->model)));
  std::string error;
  loaded->plan = LoadedPlan::openFile(loaded->file.path(), error);
  EXPECT_TRUE(loaded->plan) << error;
  return loaded;
}

std::unique_ptr<Session> makeSession(const LoadedPlan &plan, int threads = 1,
                                     int64_t context = 0) {
  SessionOptions options;
  options.threads = threads;
  options.context = context;
  std::string error;
  std::unique_ptr<Session> session = Session::create(plan, options, error);
  EXPECT_TRUE(session) << error;
  return session;
}

std::vector<int32_t> randomTokens(size_t count, int32_t vocab, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int32_t> dist(0, vocab - 1);
  std::vector<int32_t> tokens(count);
  for (int32_t &t : tokens)
    t = dist(rng);
  // The ends of the vocabulary, where an off-by-one would read outside the
  // embedding table.
  if (count > 2) {
    tokens[1] = 0;
    tokens[2] = vocab - 1;
  }
  return tokens;
}

/// Runs `tokens` in pieces of the given sizes (cycled) and returns every
/// token's logits [tokens][vocab].
std::vector<float> runInPieces(Session &session,
                               const std::vector<int32_t> &tokens,
                               const std::vector<int64_t> &pieces) {
  std::vector<float> logits(tokens.size() * session.vocab());
  std::string error;
  size_t done = 0;
  for (size_t i = 0; done < tokens.size(); ++i) {
    int64_t n = std::min<int64_t>(pieces[i % pieces.size()],
                                  int64_t(tokens.size() - done));
    EXPECT_TRUE(session.forward(tokens.data() + done, n,
                                logits.data() + done * session.vocab(), true,
                                error))
        << error;
    done += size_t(n);
  }
  EXPECT_EQ(session.position(), int64_t(tokens.size()));
  return logits;
}

/// Max |a - b| / max(1, |b|) between the session's and the reference's
/// logits.
double relativeError(const std::vector<float> &logits,
                     const std::vector<Vec> &reference) {
  double worst = 0;
  size_t vocab = reference.at(0).size();
  EXPECT_EQ(logits.size(), reference.size() * vocab);
  for (size_t t = 0; t < reference.size(); ++t)
    for (size_t i = 0; i < vocab; ++i) {
      double ref = reference[t][i];
      double got = logits[t * vocab + i];
      double err = std::isfinite(got) ? std::abs(got - ref) / std::max(1.0, std::abs(ref))
                                      : INFINITY;
      worst = std::max(worst, err);
    }
  return worst;
}

/// The logits are not all alike (a broken kernel that zeroes everything
/// would otherwise match itself).
void expectInformative(const std::vector<Vec> &reference) {
  double lo = INFINITY, hi = -INFINITY;
  for (const Vec &row : reference)
    for (double v : row) {
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
  EXPECT_GT(hi - lo, 1.0) << "the reference logits are degenerate";
}

constexpr double kReferenceTolerance = 2e-5;
constexpr double kPathTolerance = 1e-5;

//===----------------------------------------------------------------------===//
// Session vs reference, per model variant
//===----------------------------------------------------------------------===//

struct Variant {
  const char *name;
  TinyConfig config;
};

void PrintTo(const Variant &variant, std::ostream *os) { *os << variant.name; }

TinyConfig variant(fb::DType weights, fb::RotaryConvention convention,
                   bool tables) {
  TinyConfig c;
  c.weightType = weights;
  c.convention = convention;
  c.rotaryTables = tables;
  return c;
}

std::vector<Variant> variants() {
  using fb::DType;
  using fb::RotaryConvention;
  std::vector<Variant> out = {
      {"F32InterleavedBase", variant(DType::F32, RotaryConvention::Interleaved, false)},
      {"F32RotateHalfTables", variant(DType::F32, RotaryConvention::RotateHalf, true)},
      {"F16RotateHalfBase", variant(DType::F16, RotaryConvention::RotateHalf, false)},
      {"F16InterleavedTables", variant(DType::F16, RotaryConvention::Interleaved, true)},
  };
  // Half the head dims rotated, a base other than 10000, a custom scale.
  Variant partial{"F32PartialRotaryCustomScale",
                  variant(DType::F32, RotaryConvention::RotateHalf, false)};
  partial.config.headDim = 8;
  partial.config.rotaryDim = 4;
  partial.config.rotaryBase = 500.0f;
  partial.config.attentionScale = 0.6f;
  partial.config.seed = 7;
  out.push_back(partial);
  Variant partialTables{"F16PartialRotaryTablesInterleaved",
                        variant(DType::F16, RotaryConvention::Interleaved, true)};
  partialTables.config.headDim = 8;
  partialTables.config.rotaryDim = 6;
  partialTables.config.rotaryBase = 100.0f;
  partialTables.config.seed = 8;
  out.push_back(partialTables);
  // Multi-query attention (one KV head), three layers, rotary out of place.
  Variant mqa{"F32MultiQueryOutOfPlace",
              variant(DType::F32, RotaryConvention::Interleaved, false)};
  mqa.config.kvHeads = 1;
  mqa.config.layers = 3;
  mqa.config.rotaryOutOfPlace = true;
  mqa.config.seed = 9;
  out.push_back(mqa);
  return out;
}

class SessionReferenceTest : public testing::TestWithParam<Variant> {};

TEST_P(SessionReferenceTest, PrefillMatchesReference) {
  const TinyConfig &config = GetParam().config;
  auto loaded = load(config);
  ASSERT_TRUE(loaded->plan);
  auto session = makeSession(*loaded->plan);
  ASSERT_TRUE(session);
  EXPECT_EQ(session->vocab(), config.vocab);
  EXPECT_EQ(session->context(), config.context);

  // 21 tokens: chunks of 8, 8 and 5 through the prefill entry.
  std::vector<int32_t> tokens = randomTokens(21, config.vocab, config.seed);
  std::vector<Vec> reference = referenceForward(loaded->model, tokens);
  expectInformative(reference);
  std::vector<float> logits = runInPieces(*session, tokens, {21});
  double error = relativeError(logits, reference);
  EXPECT_LE(error, kReferenceTolerance);
  char figure[32];
  std::snprintf(figure, sizeof(figure), "%.3g", error);
  RecordProperty("max_relative_error", figure);
}

TEST_P(SessionReferenceTest, DecodeMatchesPrefill) {
  const TinyConfig &config = GetParam().config;
  auto loaded = load(config);
  ASSERT_TRUE(loaded->plan);
  std::vector<int32_t> tokens = randomTokens(config.prefillTokens, config.vocab,
                                             config.seed + 100);
  // One prefill step of exactly max_tokens vs one decode step per token.
  auto prefill = makeSession(*loaded->plan);
  auto decode = makeSession(*loaded->plan);
  std::vector<float> prefilled = runInPieces(*prefill, tokens, {config.prefillTokens});
  std::vector<float> decoded = runInPieces(*decode, tokens, {1});
  EXPECT_LE(maxAbsDifference(decoded, prefilled), kPathTolerance);
  EXPECT_LE(relativeError(decoded, referenceForward(loaded->model, tokens)),
            kReferenceTolerance);
}

TEST_P(SessionReferenceTest, ChunkedPrefillMatchesTokenByToken) {
  const TinyConfig &config = GetParam().config;
  auto loaded = load(config);
  ASSERT_TRUE(loaded->plan);
  std::vector<int32_t> tokens = randomTokens(45, config.vocab, config.seed + 200);
  auto byToken = makeSession(*loaded->plan);
  std::vector<float> expected = runInPieces(*byToken, tokens, {1});
  // All at once (5 full chunks + 5), and in uneven pieces that mix decode
  // steps with partial and multiple prefill chunks.
  for (std::vector<int64_t> pieces :
       {std::vector<int64_t>{45}, {3, 1, 17, 8, 2}, {9}, {7, 1}}) {
    auto session = makeSession(*loaded->plan);
    std::vector<float> logits = runInPieces(*session, tokens, pieces);
    EXPECT_LE(maxAbsDifference(logits, expected), kPathTolerance)
        << "pieces of " << pieces[0] << "...";
  }
}

INSTANTIATE_TEST_SUITE_P(Variants, SessionReferenceTest,
                         testing::ValuesIn(variants()),
                         [](const testing::TestParamInfo<Variant> &info) {
                           return std::string(info.param.name);
                         });

TEST(SessionTest, EveryKernelBuildMatchesReference) {
  TinyConfig config =
      variant(fb::DType::F16, fb::RotaryConvention::RotateHalf, true);
  auto loaded = load(config);
  ASSERT_TRUE(loaded->plan);
  std::vector<int32_t> tokens = randomTokens(12, config.vocab, 3);
  std::vector<Vec> reference = referenceForward(loaded->model, tokens);
  int tested = 0;
  for (cpu::Isa isa : {cpu::Isa::Scalar, cpu::Isa::Avx2, cpu::Isa::Avx512}) {
    if (!cpu::setIsa(isa))
      continue;
    ++tested;
    auto session = makeSession(*loaded->plan);
    EXPECT_LE(relativeError(runInPieces(*session, tokens, {12}), reference),
              kReferenceTolerance)
        << cpu::isaName();
    session->reset();
    EXPECT_LE(relativeError(runInPieces(*session, tokens, {1}), reference),
              kReferenceTolerance)
        << cpu::isaName();
  }
  cpu::setIsa(cpu::defaultIsa());
  EXPECT_GE(tested, 1);
}

//===----------------------------------------------------------------------===//
// Quantized projections (DequantMatMul) against the reference
//===----------------------------------------------------------------------===//

IntNScheme intN(int bits, int64_t groupSize, bool symmetric, ScaleType scales,
                bool actOrder = false) {
  return intNScheme(bits, groupSize, symmetric, scales, actOrder);
}

Float4Scheme nf4(int64_t blockSize, ScaleType scales, int64_t doubleQuantBlock = 0) {
  return nf4Scheme(blockSize, scales, doubleQuantBlock);
}

/// The tiny decoder with K = 64 (dim, and heads * head_dim) and K = 172
/// (hidden: not a multiple of any group size below, so every grouped scheme
/// has a partial last group in w2), quantized in `schemes`.
TinyConfig quantizedConfig(std::vector<WeightScheme> schemes, uint32_t seed) {
  TinyConfig c;
  c.dim = 64;
  c.hiddenDim = 172;
  c.heads = 4;
  c.kvHeads = 2;
  c.headDim = 16;
  c.layers = 2;
  c.convention = fb::RotaryConvention::RotateHalf;
  c.projectionSchemes = std::move(schemes);
  c.seed = seed;
  return c;
}

std::vector<Variant> quantizedVariants() {
  const ScaleType F32 = ScaleType::F32, F16 = ScaleType::F16,
                  BF16 = ScaleType::BF16;
  auto one = [](auto scheme) {
    return std::vector<WeightScheme>{WeightScheme::of(scheme)};
  };
  return {
      {"Int8ChannelSymF32", quantizedConfig(one(intN(8, kPerChannel, true, F32)), 21)},
      {"Int4G32AsymF16", quantizedConfig(one(intN(4, 32, false, F16)), 22)},
      // 172 = 2 * 64 + 44.
      {"Int4G64SymF16", quantizedConfig(one(intN(4, 64, true, F16)), 23)},
      {"Int3G16AsymBF16", quantizedConfig(one(intN(3, 16, false, BF16)), 24)},
      {"Int2ChannelAsymF32", quantizedConfig(one(intN(2, kPerChannel, false, F32)), 25)},
      {"Int4ActOrderG32AsymF16",
       quantizedConfig(one(intN(4, 32, false, F16, true)), 26)},
      {"NF4B64F32", quantizedConfig(one(nf4(64, F32)), 27)},
      // wq: 64 rows * 2 blocks = 128 absmax values, 3 second-level blocks of
      // 48 (the last partial); w2: 64 * 6 = 384, 8 blocks.
      {"NF4B32DoubleQuant48", quantizedConfig(one(nf4(32, F32, 48)), 28)},
      // Several schemes in one plan (each step binds its own weight), and
      // the combinations the list above leaves out: 8-bit groups, symmetric
      // act order, NF4 with f16/bf16 absmax, 2-bit groups.
      {"Mixed",
       quantizedConfig({WeightScheme::of(intN(8, 16, false, BF16)),
                        WeightScheme::of(intN(3, 32, true, F16, true)),
                        WeightScheme::of(nf4(16, F16)),
                        WeightScheme::of(intN(2, 8, true, F16)),
                        WeightScheme::of(nf4(64, BF16)),
                        WeightScheme::of(nf4(64, F32, 5)),
                        WeightScheme::of(intN(4, kPerChannel, false, BF16))},
                       29)},
  };
}

class QuantizedSessionTest : public testing::TestWithParam<Variant> {};

TEST_P(QuantizedSessionTest, PrefillAndDecodeMatchReference) {
  // A prefill of 8 tokens (one chunk of the prefill entry: the batched
  // dequant_matmul), then 5 decode steps (its GEMV), under every kernel build
  // this machine has. The reference multiplies by the dequantized weights
  // (qrt::dequantizeRows) in double; the kernels compute the same weight
  // floats and differ only in float accumulation, as in the f32 variants
  // (K <= 172 here), so the same tolerance applies.
  const TinyConfig &config = GetParam().config;
  auto loaded = load(config);
  ASSERT_TRUE(loaded->plan);
  std::vector<int32_t> tokens = randomTokens(13, config.vocab, config.seed);
  std::vector<Vec> reference = referenceForward(loaded->model, tokens);
  expectInformative(reference);
  int tested = 0;
  double worst = 0;
  for (cpu::Isa isa : {cpu::Isa::Scalar, cpu::Isa::Avx2, cpu::Isa::Avx512}) {
    if (!cpu::setIsa(isa))
      continue;
    ++tested;
    auto session = makeSession(*loaded->plan);
    ASSERT_TRUE(session);
    std::vector<float> logits = runInPieces(*session, tokens, {8, 1});
    double error = relativeError(logits, reference);
    EXPECT_LE(error, kReferenceTolerance) << cpu::isaName();
    worst = std::max(worst, error);
  }
  cpu::setIsa(cpu::defaultIsa());
  EXPECT_GE(tested, 1);
  char figure[32];
  std::snprintf(figure, sizeof(figure), "%.3g", worst);
  RecordProperty("max_relative_error", figure);
}

TEST_P(QuantizedSessionTest, DecodeWithTheCacheEqualsRecompute) {
  // After a prefill of 6 tokens, each of 6 decode steps (one token against
  // the KV cache) gives what a fresh session computes for the whole sequence
  // so far in one forward (prefill chunks of 8 and up to 4).
  const TinyConfig &config = GetParam().config;
  auto loaded = load(config);
  ASSERT_TRUE(loaded->plan);
  std::vector<int32_t> tokens = randomTokens(12, config.vocab, config.seed + 300);
  auto cached = makeSession(*loaded->plan);
  ASSERT_TRUE(cached);
  std::string error;
  ASSERT_TRUE(cached->forward(tokens.data(), 6, nullptr, false, error)) << error;
  std::vector<float> decoded(config.vocab), recomputed(config.vocab);
  for (size_t n = 7; n <= tokens.size(); ++n) {
    ASSERT_TRUE(cached->forward(tokens.data() + n - 1, 1, decoded.data(), false,
                                error))
        << error;
    auto fresh = makeSession(*loaded->plan);
    ASSERT_TRUE(fresh->forward(tokens.data(), int64_t(n), recomputed.data(),
                               false, error))
        << error;
    EXPECT_LE(maxAbsDifference(decoded, recomputed), kPathTolerance)
        << "after " << n << " tokens";
  }
}

INSTANTIATE_TEST_SUITE_P(Schemes, QuantizedSessionTest,
                         testing::ValuesIn(quantizedVariants()),
                         [](const testing::TestParamInfo<Variant> &info) {
                           return std::string(info.param.name);
                         });

TEST(QuantizedSessionTest, QuantizedModelIsCloseToTheFloatOne) {
  // The plan builder's quantization (act order included, whose components
  // TestPlans writes itself) really approximates the float weights: every
  // dequantized value lies within about one quantization step of its
  // original (intN: the group's scale, 1.25x for the scale's rounding to
  // f16/bf16 at the ends of an asymmetric range; NF4: 0.16 of the block's
  // absmax, the largest gap between NF4 codes being 0.304 (from -1 to
  // -0.696), plus the error of the stored or double-quantized absmax). A g_idx that pointed columns at the
  // wrong groups' scales would break this.
  for (const Variant &variant : quantizedVariants()) {
    SCOPED_TRACE(variant.name);
    TinyModel model = makeTinyModel(variant.config);
    for (const TinyModel::Layer &layer : model.layers) {
      const std::vector<float> *dequantized[7] = {
          &layer.wq, &layer.wk, &layer.wv, &layer.wo,
          &layer.w1, &layer.w3, &layer.w2};
      ASSERT_EQ(layer.quantized.size(), 7u);
      for (int p = 0; p < 7; ++p) {
        const TinyModel::QuantizedProjection &q = layer.quantized[p];
        QuantizedView view = viewOf(q.scheme, q.weight);
        // The exact absmax of each (row, group).
        std::vector<double> absmax(size_t(view.rows * view.groups()), 0.0);
        for (int64_t r = 0; r < view.rows; ++r)
          for (int64_t c = 0; c < view.cols; ++c) {
            double &m = absmax[size_t(r * view.groups() + view.groupOf(c))];
            m = std::max(m, std::abs(double(q.original[r * view.cols + c])));
          }
        double worst = 0;
        bool changed = false;
        for (int64_t r = 0; r < view.rows; ++r)
          for (int64_t c = 0; c < view.cols; ++c) {
            int64_t g = view.groupOf(c);
            double original = q.original[r * view.cols + c];
            double value = (*dequantized[p])[r * view.cols + c];
            double stored = view.scale(r, g);
            double exact = absmax[size_t(r * view.groups() + g)];
            // NF4: |code| <= 1, so a wrong absmax adds at most its error.
            double step = view.kind == QuantizedView::Kind::Float4
                              ? 0.16 * exact + std::abs(stored - exact)
                              : 1.25 * std::abs(stored);
            worst = std::max(worst, std::abs(value - original) /
                                        std::max(step, 1e-30));
            changed = changed || value != original;
          }
        EXPECT_LE(worst, 1.0) << q.scheme.name() << " projection " << p;
        EXPECT_TRUE(changed) << q.scheme.name();
        if (view.groupIndex) {
          // A real permutation: not the natural order, every group full.
          std::vector<int64_t> members(size_t(view.groups()), 0);
          bool natural = true;
          for (int64_t c = 0; c < view.cols; ++c) {
            ++members[size_t(view.groupIndex[c])];
            natural = natural && view.groupIndex[c] == c / view.groupSize();
          }
          EXPECT_FALSE(natural);
          for (int64_t g = 0; g + 1 < view.groups(); ++g)
            EXPECT_EQ(members[size_t(g)], view.groupSize());
        }
      }
    }
  }
}

TEST(QuantizedSessionTest, ThreadsDoNotChangeTheLogits) {
  // Large enough that the dequant_matmul kernels split their rows across
  // threads; each output is still computed by one thread in a fixed order.
  TinyConfig config = quantizedConfig(
      {WeightScheme::of(intN(4, 32, false, ScaleType::F16)),
       WeightScheme::of(nf4(64, ScaleType::F32, 64)),
       WeightScheme::of(intN(3, 16, false, ScaleType::BF16, true)),
       WeightScheme::of(intN(8, kPerChannel, true, ScaleType::F32))},
      31);
  config.dim = 128;
  config.hiddenDim = 320;
  config.layers = 1;
  config.heads = 8;
  config.headDim = 16;
  config.vocab = 256;
  config.prefillTokens = 16;
  auto loaded = load(config);
  ASSERT_TRUE(loaded->plan);
  std::vector<int32_t> tokens = randomTokens(20, config.vocab, 32);
  auto one = makeSession(*loaded->plan, 1);
  auto four = makeSession(*loaded->plan, 4);
  std::vector<float> single = runInPieces(*one, tokens, {17, 1, 2});
  std::vector<float> multi = runInPieces(*four, tokens, {17, 1, 2});
  EXPECT_EQ(single, multi);
  EXPECT_LE(relativeError(multi, referenceForward(loaded->model, tokens)),
            kReferenceTolerance);
}

//===----------------------------------------------------------------------===//
// Logits outputs
//===----------------------------------------------------------------------===//

TEST(SessionTest, LastLogitsAndNoLogits) {
  TinyConfig config;
  auto loaded = load(config);
  ASSERT_TRUE(loaded->plan);
  std::vector<int32_t> tokens = randomTokens(11, config.vocab, 4);
  auto all = makeSession(*loaded->plan);
  std::vector<float> every = runInPieces(*all, tokens, {11});

  std::string error;
  auto last = makeSession(*loaded->plan);
  std::vector<float> lastLogits(config.vocab, -1.0f);
  ASSERT_TRUE(last->forward(tokens.data(), 11, lastLogits.data(), false, error))
      << error;
  EXPECT_EQ(std::vector<float>(every.end() - config.vocab, every.end()), lastLogits);

  // Without logits the tokens still enter the cache.
  auto none = makeSession(*loaded->plan);
  ASSERT_TRUE(none->forward(tokens.data(), 10, nullptr, false, error)) << error;
  EXPECT_EQ(none->position(), 10);
  ASSERT_TRUE(none->forward(tokens.data() + 10, 1, lastLogits.data(), false, error))
      << error;
  EXPECT_LE(maxAbsDifference(lastLogits, std::vector<float>(every.end() - config.vocab,
                                                            every.end())),
            kPathTolerance);

  // Zero tokens: nothing happens.
  EXPECT_TRUE(none->forward(tokens.data(), 0, nullptr, false, error));
  EXPECT_EQ(none->position(), 11);
}

//===----------------------------------------------------------------------===//
// Positions, errors and reset
//===----------------------------------------------------------------------===//

TEST(SessionTest, ResetRestartsAtPositionZero) {
  TinyConfig config;
  auto loaded = load(config);
  ASSERT_TRUE(loaded->plan);
  auto session = makeSession(*loaded->plan);
  std::vector<int32_t> first = randomTokens(30, config.vocab, 5);
  std::vector<int32_t> second = randomTokens(9, config.vocab, 6);

  std::vector<float> before = runInPieces(*session, first, {30});
  session->reset();
  EXPECT_EQ(session->position(), 0);
  std::vector<float> again = runInPieces(*session, first, {30});
  EXPECT_EQ(before, again);

  // A shorter sequence after reset: the positions the first one left in the
  // cache must not be attended.
  session->reset();
  std::vector<float> shorter = runInPieces(*session, second, {4, 1});
  auto fresh = makeSession(*loaded->plan);
  EXPECT_EQ(shorter, runInPieces(*fresh, second, {4, 1}));
  EXPECT_LE(relativeError(shorter, referenceForward(loaded->model, second)),
            kReferenceTolerance);
}

TEST(SessionTest, FullContextIsAnErrorThatKeepsThePosition) {
  TinyConfig config;
  auto loaded = load(config);
  ASSERT_TRUE(loaded->plan);
  std::vector<int32_t> tokens = randomTokens(size_t(config.context), config.vocab, 7);
  auto whole = makeSession(*loaded->plan);
  std::vector<float> expected = runInPieces(*whole, tokens, {config.context});
  EXPECT_EQ(whole->position(), config.context);

  auto session = makeSession(*loaded->plan);
  std::string error;
  std::vector<float> logits(tokens.size() * config.vocab);
  ASSERT_TRUE(session->forward(tokens.data(), 60, logits.data(), true, error));
  // 60 + 5 > 64: refused, position unchanged, logits untouched.
  std::vector<float> sentinel(5 * config.vocab, 42.0f);
  EXPECT_FALSE(session->forward(tokens.data() + 60, 5, sentinel.data(), true, error));
  EXPECT_NE(error, "");
  EXPECT_EQ(session->position(), 60);
  EXPECT_EQ(sentinel, std::vector<float>(5 * config.vocab, 42.0f));
  // The remaining 4 positions still work, and give what one pass gives.
  ASSERT_TRUE(session->forward(tokens.data() + 60, 4,
                               logits.data() + 60 * config.vocab, true, error))
      << error;
  EXPECT_EQ(session->position(), config.context);
  EXPECT_LE(maxAbsDifference(logits, expected), kPathTolerance);
  error.clear();
  EXPECT_FALSE(session->forward(tokens.data(), 1, nullptr, false, error));
  EXPECT_NE(error, "");
  EXPECT_EQ(session->position(), config.context);
}

TEST(SessionTest, TokenOutsideTheVocabularyIsAnError) {
  TinyConfig config;
  auto loaded = load(config);
  ASSERT_TRUE(loaded->plan);
  std::vector<int32_t> tokens = randomTokens(12, config.vocab, 8);
  auto session = makeSession(*loaded->plan);
  std::string error;
  ASSERT_TRUE(session->forward(tokens.data(), 3, nullptr, false, error));
  for (int32_t bad : {-1, config.vocab, config.vocab + 1000, INT32_MIN, INT32_MAX}) {
    for (size_t at : {size_t(0), size_t(4), size_t(8)}) {
      std::vector<int32_t> withBad(tokens.begin() + 3, tokens.end());
      withBad[at] = bad;
      error.clear();
      EXPECT_FALSE(session->forward(withBad.data(), int64_t(withBad.size()),
                                    nullptr, false, error))
          << "token " << bad;
      EXPECT_NE(error, "");
      EXPECT_EQ(session->position(), 3);
    }
    error.clear();
    EXPECT_FALSE(session->forward(&bad, 1, nullptr, false, error));
    EXPECT_NE(error, "");
    EXPECT_EQ(session->position(), 3);
  }
  // The refused tokens changed nothing.
  std::vector<float> logits(9 * config.vocab);
  ASSERT_TRUE(session->forward(tokens.data() + 3, 9, logits.data(), true, error));
  std::vector<Vec> reference = referenceForward(loaded->model, tokens);
  reference.erase(reference.begin(), reference.begin() + 3);
  EXPECT_LE(relativeError(logits, reference), kReferenceTolerance);
}

TEST(SessionTest, RotaryTablesShorterThanTheContext) {
  // Tables of 16 positions in a 64-position cache: a step that reaches
  // position 16 fails, and the whole forward leaves the position where it
  // was, even though its first chunks ran.
  TinyConfig config = variant(fb::DType::F32, fb::RotaryConvention::RotateHalf, true);
  config.tablePositions = 16;
  auto loaded = load(config);
  ASSERT_TRUE(loaded->plan);
  std::vector<int32_t> tokens = randomTokens(20, config.vocab, 9);
  auto session = makeSession(*loaded->plan);
  std::string error;
  EXPECT_FALSE(session->forward(tokens.data(), 20, nullptr, false, error));
  EXPECT_NE(error.find("rotary"), std::string::npos) << error;
  EXPECT_EQ(session->position(), 0);
  std::vector<float> logits = runInPieces(*session, std::vector<int32_t>(
                                                        tokens.begin(), tokens.begin() + 16),
                                          {5});
  EXPECT_LE(relativeError(logits, referenceForward(
                                      loaded->model,
                                      std::vector<int32_t>(tokens.begin(),
                                                           tokens.begin() + 16))),
            kReferenceTolerance);
  error.clear();
  EXPECT_FALSE(session->forward(tokens.data() + 16, 1, nullptr, false, error));
  EXPECT_NE(error, "");
  EXPECT_EQ(session->position(), 16);
}

//===----------------------------------------------------------------------===//
// Options
//===----------------------------------------------------------------------===//

TEST(SessionTest, SmallerContextIsHonoured) {
  TinyConfig config;
  auto loaded = load(config);
  ASSERT_TRUE(loaded->plan);
  std::vector<int32_t> tokens = randomTokens(10, config.vocab, 10);
  auto full = makeSession(*loaded->plan);
  std::vector<float> expected = runInPieces(*full, tokens, {10});
  const uint64_t perPosition = 2ull * config.layers * config.kvHeads *
                               config.headDim * sizeof(float);
  EXPECT_EQ(full->memory().kvCache, perPosition * config.context);

  for (int64_t context : {10, 5, 1}) {
    auto session = makeSession(*loaded->plan, 1, context);
    ASSERT_TRUE(session);
    EXPECT_EQ(session->context(), context);
    EXPECT_EQ(session->memory().kvCache, perPosition * context);
    // Another cache layout (capacity `context`), the same values; contexts
    // below the prefill's max_tokens shorten its chunks.
    std::vector<int32_t> head(tokens.begin(), tokens.begin() + context);
    std::vector<float> logits = runInPieces(*session, head, {context});
    EXPECT_LE(maxAbsDifference(logits, std::vector<float>(expected.begin(),
                                                          expected.begin() +
                                                              context * config.vocab)),
              kPathTolerance)
        << "context " << context;
    std::string error;
    EXPECT_FALSE(session->forward(tokens.data(), 1, nullptr, false, error));
    EXPECT_NE(error, "");
    EXPECT_EQ(session->position(), context);
  }
  // A larger request is capped at the plan's capacity.
  auto capped = makeSession(*loaded->plan, 1, 4 * config.context);
  EXPECT_EQ(capped->context(), config.context);
}

TEST(SessionTest, ThreadsDoNotChangeTheLogits) {
  // Large enough that the kernels split their work across threads (the tiny
  // model runs every kernel inline).
  TinyConfig config = variant(fb::DType::F16, fb::RotaryConvention::RotateHalf, false);
  config.dim = 128;
  config.hiddenDim = 320;
  config.layers = 1;
  config.heads = 8;
  config.kvHeads = 2;
  config.headDim = 16;
  config.vocab = 512;
  config.prefillTokens = 16;
  config.seed = 11;
  auto loaded = load(config);
  ASSERT_TRUE(loaded->plan);
  std::vector<int32_t> tokens = randomTokens(40, config.vocab, 12);
  auto one = makeSession(*loaded->plan, 1);
  auto four = makeSession(*loaded->plan, 4);
  ASSERT_EQ(four->deviceInfo().threads, 4);
  std::vector<float> single = runInPieces(*one, tokens, {17, 1, 1, 21});
  std::vector<float> multi = runInPieces(*four, tokens, {17, 1, 1, 21});
  EXPECT_EQ(single, multi);
  EXPECT_LE(relativeError(multi, referenceForward(loaded->model, tokens)),
            kReferenceTolerance);
}

TEST(SessionTest, MemoryAccountsForArenasAndCache) {
  TinyConfig config;
  auto loaded = load(config);
  ASSERT_TRUE(loaded->plan);
  auto session = makeSession(*loaded->plan);
  uint64_t arenas = 0;
  for (const fb::Entry *entry : *loaded->plan->plan().entries())
    arenas += entry->arena_bytes();
  EXPECT_EQ(session->memory().arenas, arenas);
  EXPECT_GT(arenas, 0u);
}

TEST(SessionTest, PlanWithoutKvCacheCannotRun) {
  PlanDesc spec = tinyPlanSpec(makeTinyModel(TinyConfig{}));
  spec.kvCache.reset();
  // Without a cache the attention steps cannot verify: drop them, the plan
  // is then valid but has nothing to keep positions in.
  for (EntryDesc &entry : spec.entries)
    entry.steps.erase(std::remove_if(entry.steps.begin(), entry.steps.end(),
                                     [](const StepDesc &s) {
                                       return s.kernel == fb::Kernel::Attention;
                                     }),
                      entry.steps.end());
  TempFile file;
  file.write(writePlan(spec));
  std::string error;
  auto plan = LoadedPlan::openFile(file.path(), error);
  ASSERT_TRUE(plan) << error;
  SessionOptions options;
  options.threads = 1;
  EXPECT_FALSE(Session::create(*plan, options, error));
  EXPECT_NE(error, "");
}

} // namespace
