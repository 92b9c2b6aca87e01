//===- GenerateTest.cpp - sampling, documents and perplexity --------------===//
//
// Distributions are checked with a chi-square statistic over many seeded
// draws: with the seeds fixed the tests are deterministic, and the bounds
// (p < 1e-5 under the expected distribution) leave room for any correct
// generator, while a wrong distribution gives statistics in the hundreds.
//
//===----------------------------------------------------------------------===//

#include "TestPlans.h"

#include "qrt/runtime/Generate.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <vector>

using namespace qrt;

namespace {

//===----------------------------------------------------------------------===//
// Sampler
//===----------------------------------------------------------------------===//

std::vector<int64_t> histogram(Sampler &sampler, const std::vector<float> &logits,
                               int draws) {
  std::vector<int64_t> counts(logits.size(), 0);
  for (int i = 0; i < draws; ++i) {
    int32_t id = sampler.sample(logits.data(), int64_t(logits.size()));
    EXPECT_GE(id, 0);
    EXPECT_LT(id, int32_t(logits.size()));
    if (id >= 0 && id < int32_t(logits.size()))
      ++counts[size_t(id)];
  }
  return counts;
}

/// Pearson's chi-square of `counts` against `probabilities` (cells of
/// probability 0 must be empty: they count as infinite).
double chiSquare(const std::vector<int64_t> &counts,
                 const std::vector<double> &probabilities) {
  int64_t total = 0;
  for (int64_t c : counts)
    total += c;
  double chi = 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    double expected = probabilities[i] * double(total);
    if (expected == 0) {
      if (counts[i])
        return INFINITY;
      continue;
    }
    chi += (double(counts[i]) - expected) * (double(counts[i]) - expected) / expected;
  }
  return chi;
}

std::vector<double> softmax(const std::vector<float> &logits, double temperature) {
  double maxLogit = -INFINITY;
  for (float l : logits)
    maxLogit = std::max(maxLogit, double(l));
  std::vector<double> p;
  double sum = 0;
  for (float l : logits) {
    p.push_back(std::exp((double(l) - maxLogit) / temperature));
    sum += p.back();
  }
  for (double &v : p)
    v /= sum;
  return p;
}

// Chi-square quantiles at p = 1e-5 for 1..4 degrees of freedom.
constexpr double kChi2Df1 = 19.5, kChi2Df2 = 23.0, kChi2Df4 = 28.5;

TEST(SamplerTest, GreedyPicksTheLowestIdAmongEqualMaxima) {
  Sampler greedy(0.0f, 0.9f, 123);
  std::vector<float> logits = {1.0f, 3.0f, 3.0f, 2.0f, 3.0f};
  for (int i = 0; i < 10; ++i)
    EXPECT_EQ(greedy.sample(logits.data(), 5), 1);
  std::vector<float> equal(7, -2.5f);
  EXPECT_EQ(greedy.sample(equal.data(), 7), 0);
  std::vector<float> last = {-INFINITY, -1e30f, 5.0f};
  EXPECT_EQ(greedy.sample(last.data(), 3), 2);
  std::vector<float> first = {7.0f, 6.9999995f, 7.0f};
  EXPECT_EQ(greedy.sample(first.data(), 3), 0);
  // A negative temperature is greedy too.
  Sampler negative(-1.0f, 1.0f, 5);
  EXPECT_EQ(negative.sample(logits.data(), 5), 1);
  // Ids are compared as a whole: the max in the middle of a long vector.
  std::vector<float> wide(1000, 0.0f);
  wide[637] = 0.5f;
  wide[900] = 0.5f;
  EXPECT_EQ(greedy.sample(wide.data(), 1000), 637);
}

TEST(SamplerTest, SeededSamplingIsReproducible) {
  std::vector<float> logits = {0.1f, 0.4f, -0.3f, 0.2f, 0.0f, 0.3f, -0.1f, 0.05f};
  auto run = [&](uint64_t seed) {
    Sampler sampler(1.0f, 1.0f, seed);
    std::vector<int32_t> ids;
    for (int i = 0; i < 500; ++i)
      ids.push_back(sampler.sample(logits.data(), int64_t(logits.size())));
    return ids;
  };
  std::vector<int32_t> a = run(42), b = run(42), c = run(43);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  // Every id shows up: the draws are not stuck.
  EXPECT_EQ(std::set<int32_t>(a.begin(), a.end()).size(), logits.size());
  // With top-p the same holds.
  Sampler p1(0.8f, 0.7f, 9), p2(0.8f, 0.7f, 9);
  for (int i = 0; i < 200; ++i)
    EXPECT_EQ(p1.sample(logits.data(), 8), p2.sample(logits.data(), 8));
}

TEST(SamplerTest, TopPRestrictsToTheNucleus) {
  // Probabilities 0.3, 0.2, 0.5 at ids 0, 1, 2 (most likely last, so the
  // sampler must sort).
  std::vector<float> logits = {std::log(0.3f), std::log(0.2f), std::log(0.5f)};
  const int draws = 20000;
  {
    // 0.5 < 0.6 <= 0.5 + 0.3: ids 2 and 0, renormalized to 5/8 and 3/8.
    Sampler sampler(1.0f, 0.6f, 1);
    std::vector<int64_t> counts = histogram(sampler, logits, draws);
    EXPECT_EQ(counts[1], 0);
    EXPECT_LT(chiSquare(counts, {3.0 / 8, 0.0, 5.0 / 8}), kChi2Df1);
  }
  {
    // 0.45 <= 0.5: only id 2.
    Sampler sampler(1.0f, 0.45f, 2);
    std::vector<int64_t> counts = histogram(sampler, logits, 2000);
    EXPECT_EQ(counts[2], 2000);
  }
  {
    // 0.9 > 0.8: all three, with their own probabilities.
    Sampler sampler(1.0f, 0.9f, 3);
    std::vector<int64_t> counts = histogram(sampler, logits, draws);
    EXPECT_LT(chiSquare(counts, {0.3, 0.2, 0.5}), kChi2Df2);
  }
  {
    // top-p >= 1: no restriction.
    Sampler sampler(1.0f, 1.0f, 4);
    std::vector<int64_t> counts = histogram(sampler, logits, draws);
    EXPECT_LT(chiSquare(counts, {0.3, 0.2, 0.5}), kChi2Df2);
  }
}

TEST(SamplerTest, TemperatureFollowsTheSoftmax) {
  std::vector<float> logits = {0.0f, 1.0f, 2.0f, 0.5f, -1.0f};
  const int draws = 50000;
  std::map<float, std::vector<int64_t>> counts;
  for (float temperature : {0.5f, 1.0f, 2.0f}) {
    Sampler sampler(temperature, 1.0f, 77);
    counts[temperature] = histogram(sampler, logits, draws);
    EXPECT_LT(chiSquare(counts[temperature], softmax(logits, temperature)), kChi2Df4)
        << "temperature " << temperature;
  }
  // And the temperature matters: the draws at 0.5 do not fit the
  // distribution at 2 (nor at 1).
  EXPECT_GT(chiSquare(counts[0.5f], softmax(logits, 2.0)), 1000.0);
  EXPECT_GT(chiSquare(counts[0.5f], softmax(logits, 1.0)), 1000.0);
}

TEST(SamplerTest, LargeLogitsDoNotOverflow) {
  // exp(1000) overflows: the sampler must shift by the maximum.
  std::vector<float> logits = {1000.0f, 999.0f, -1000.0f,
                               -std::numeric_limits<float>::infinity()};
  Sampler sampler(1.0f, 1.0f, 5);
  std::vector<int64_t> counts = histogram(sampler, logits, 20000);
  double e = std::exp(1.0);
  EXPECT_LT(chiSquare(counts, {e / (e + 1), 1 / (e + 1), 0.0, 0.0}), kChi2Df1);
  std::vector<float> huge = {3e38f, 3e38f};
  Sampler sampler2(1.0f, 1.0f, 6);
  std::vector<int64_t> halves = histogram(sampler2, huge, 10000);
  EXPECT_LT(chiSquare(halves, {0.5, 0.5}), kChi2Df1);
}

//===----------------------------------------------------------------------===//
// splitDocuments
//===----------------------------------------------------------------------===//

using Docs = std::vector<std::string>;
const std::string kEnd = "<|endoftext|>";

TEST(SplitDocumentsTest, SplitsOnTheSeparator) {
  EXPECT_EQ(splitDocuments("a" + kEnd + "b", kEnd, 0), (Docs{"a", "b"}));
  EXPECT_EQ(splitDocuments("one document", kEnd, 0), (Docs{"one document"}));
  EXPECT_EQ(splitDocuments(kEnd + "a" + kEnd, kEnd, 0), (Docs{"a"}));
  // A partial separator is text.
  EXPECT_EQ(splitDocuments("x<|endof" + kEnd + "y<|", kEnd, 0),
            (Docs{"x<|endof", "y<|"}));
  EXPECT_EQ(splitDocuments("a||b|c", "|", 0), (Docs{"a", "b", "c"}));
}

TEST(SplitDocumentsTest, StripsAndDropsEmptyDocuments) {
  std::string text = "  first doc \n" + kEnd + "\n\n \t" + kEnd + "\r\nsecond\t\v\f" +
                     kEnd + kEnd + "   ";
  EXPECT_EQ(splitDocuments(text, kEnd, 0), (Docs{"first doc", "second"}));
  // Inner whitespace stays.
  EXPECT_EQ(splitDocuments("  a \n\n b  ", kEnd, 0), (Docs{"a \n\n b"}));
  EXPECT_EQ(splitDocuments("", kEnd, 0), Docs{});
  EXPECT_EQ(splitDocuments(" \n\t ", kEnd, 0), Docs{});
  EXPECT_EQ(splitDocuments(kEnd + kEnd, kEnd, 0), Docs{});
}

TEST(SplitDocumentsTest, Limit) {
  std::string text = "a|b|c|d";
  EXPECT_EQ(splitDocuments(text, "|", 2), (Docs{"a", "b"}));
  EXPECT_EQ(splitDocuments(text, "|", 4), (Docs{"a", "b", "c", "d"}));
  EXPECT_EQ(splitDocuments(text, "|", 10), (Docs{"a", "b", "c", "d"}));
  EXPECT_EQ(splitDocuments(text, "|", 0), (Docs{"a", "b", "c", "d"}));
  // Empty documents do not count against the limit.
  EXPECT_EQ(splitDocuments("| |a|| \n|b|c", "|", 2), (Docs{"a", "b"}));
  EXPECT_EQ(splitDocuments("a|b", "|", 1), (Docs{"a"}));
}

TEST(SplitDocumentsTest, EmptySeparatorKeepsOneDocument) {
  // Nothing to split on: the whole (stripped) text is the one document.
  EXPECT_EQ(splitDocuments(" a b ", "", 0), (Docs{"a b"}));
  EXPECT_EQ(splitDocuments("  ", "", 0), Docs{});
}

//===----------------------------------------------------------------------===//
// negativeLogLikelihood
//===----------------------------------------------------------------------===//

/// -log softmax(logits)[target] computed directly in long double (fine for
/// logits of moderate size).
double directNll(const std::vector<float> &logits, int32_t target) {
  long double sum = 0;
  for (float l : logits)
    sum += std::exp(static_cast<long double>(l));
  return static_cast<double>(std::log(sum) - static_cast<long double>(logits[size_t(target)]));
}

TEST(NegativeLogLikelihoodTest, MatchesTheDirectComputation) {
  std::vector<float> logits = {0.5f, -1.25f, 2.0f, 0.0f, 3.5f, -7.0f, 1.0f};
  double total = 0;
  for (int32_t t = 0; t < int32_t(logits.size()); ++t) {
    double nll = negativeLogLikelihood(logits.data(), int64_t(logits.size()), t);
    EXPECT_NEAR(nll, directNll(logits, t), 1e-12) << t;
    EXPECT_GT(nll, 0.0);
    total += std::exp(-nll);
  }
  EXPECT_NEAR(total, 1.0, 1e-12); // the probabilities sum to 1
  std::vector<float> uniform(50, 0.3f);
  EXPECT_NEAR(negativeLogLikelihood(uniform.data(), 50, 17), std::log(50.0), 1e-12);
  std::vector<float> one = {4.0f};
  EXPECT_EQ(negativeLogLikelihood(one.data(), 1, 0), 0.0);
}

TEST(NegativeLogLikelihoodTest, LargeLogitsDoNotOverflow) {
  // exp(1000) is inf in double: a direct computation overflows.
  std::vector<float> logits = {1000.0f, 1001.0f, 999.0f};
  double expected1 = std::log(std::exp(-1.0) + 1.0 + std::exp(-2.0));
  EXPECT_NEAR(negativeLogLikelihood(logits.data(), 3, 1), expected1, 1e-12);
  EXPECT_NEAR(negativeLogLikelihood(logits.data(), 3, 2), expected1 + 2.0, 1e-12);
  std::vector<float> shifted = {-1000.0f, -999.0f, -1001.0f};
  EXPECT_NEAR(negativeLogLikelihood(shifted.data(), 3, 1), expected1, 1e-12);
  std::vector<float> larger = {20000.0f, 20001.0f, 19999.0f};
  EXPECT_NEAR(negativeLogLikelihood(larger.data(), 3, 1), expected1, 1e-9);
  // Near the top of the float range (log 2 is below the double ulp of 3e38,
  // so only finiteness is asked of the most likely token), and a target far
  // below the maximum.
  std::vector<float> extreme = {3e38f, 3e38f, -3e38f};
  double top = negativeLogLikelihood(extreme.data(), 3, 0);
  EXPECT_TRUE(std::isfinite(top));
  EXPECT_GE(top, 0.0);
  EXPECT_LT(top, 1e24);
  double far = negativeLogLikelihood(extreme.data(), 3, 2);
  EXPECT_TRUE(std::isfinite(far));
  EXPECT_NEAR(far, 6e38, 1e32);
}

//===----------------------------------------------------------------------===//
// evaluatePerplexity
//===----------------------------------------------------------------------===//

/// Bytes as tokens: id = 3 + byte % (vocab - 3); BOS 1, EOS 2.
class ByteTokenizer : public text::Tokenizer {
public:
  explicit ByteTokenizer(int32_t vocab) : vocab_(vocab) {}
  std::vector<int32_t> encode(const std::string &text) const override {
    std::vector<int32_t> ids;
    for (unsigned char c : text)
      ids.push_back(3 + int32_t(c) % (vocab_ - 3));
    return ids;
  }
  std::string decodeToken(int32_t, int32_t) const override { return ""; }
  int32_t vocabSize() const override { return vocab_; }
  int32_t bos() const override { return 1; }
  int32_t eos() const override { return 2; }
  std::string piece(int32_t) const override { return ""; }

private:
  int32_t vocab_;
};

TEST(PerplexityTest, SumsTheNextTokenLikelihoods) {
  test::TinyConfig config;
  test::TempFile file;
  file.write(test::tinyPlanBytes(config));
  std::string error;
  auto plan = LoadedPlan::openFile(file.path(), error);
  ASSERT_TRUE(plan) << error;
  SessionOptions options;
  options.threads = 1;
  auto session = Session::create(*plan, options, error);
  ASSERT_TRUE(session) << error;
  ByteTokenizer tokenizer(config.vocab);

  // The third document is longer than the context (64): it is truncated.
  std::vector<std::string> documents = {"hello world", "a",
                                        std::string(100, 'x') + "yz"};
  // Expected: the same documents decoded token by token, -log p summed
  // from each step's logits.
  double expectedNll = 0;
  int64_t expectedTokens = 0;
  for (const std::string &doc : documents) {
    std::vector<int32_t> tokens = {tokenizer.bos()};
    for (int32_t id : tokenizer.encode(doc))
      tokens.push_back(id);
    tokens.resize(std::min<size_t>(tokens.size(), size_t(config.context)));
    session->reset();
    std::vector<float> logits(size_t(config.vocab));
    for (size_t t = 0; t < tokens.size(); ++t) {
      ASSERT_TRUE(session->forward(&tokens[t], 1, logits.data(), false, error));
      if (t + 1 < tokens.size()) {
        double maxLogit = -INFINITY, sum = 0;
        for (float l : logits)
          maxLogit = std::max(maxLogit, double(l));
        for (float l : logits)
          sum += std::exp(double(l) - maxLogit);
        expectedNll += std::log(sum) + maxLogit - double(logits[size_t(tokens[t + 1])]);
      }
    }
    expectedTokens += int64_t(tokens.size()) - 1;
  }
  // 11 + 1 predicted tokens, and 63 of the truncated third document.
  EXPECT_EQ(expectedTokens, 11 + 1 + 63);

  std::vector<size_t> progress;
  PerplexityResult result;
  ASSERT_TRUE(evaluatePerplexity(*session, tokenizer, documents, result, error,
                                 [&](size_t done, const PerplexityResult &r) {
                                   progress.push_back(done);
                                   EXPECT_EQ(r.documents, int64_t(done));
                                 }))
      << error;
  EXPECT_EQ(result.documents, 3);
  EXPECT_EQ(result.tokens, expectedTokens);
  EXPECT_NEAR(result.nll, expectedNll, 1e-4 * expectedTokens);
  EXPECT_NEAR(result.perplexity(), std::exp(expectedNll / double(expectedTokens)),
              1e-3);
  EXPECT_GT(result.perplexity(), 1.0);
  EXPECT_EQ(progress, (std::vector<size_t>{1, 2, 3}));
  EXPECT_EQ(session->position(), 0);
}

TEST(PerplexityTest, EmptyResult) {
  PerplexityResult result;
  EXPECT_EQ(result.meanNll(), 0.0);
  EXPECT_EQ(result.perplexity(), 1.0);
}

//===----------------------------------------------------------------------===//
// evaluateKlDivergence
//===----------------------------------------------------------------------===//

// A plan against itself: KL 0 everywhere, every argmax agrees, no change of
// perplexity. Against another plan (other weights): KL per token equal to
// the direct sum over the two plans' softmaxes, decoded token by token.
TEST(KlDivergenceTest, AgainstItselfAndAnotherPlan) {
  test::TinyConfig config;
  test::TempFile baseFile, otherFile;
  baseFile.write(test::tinyPlanBytes(config));
  test::TinyConfig other = config;
  other.seed = config.seed + 1;
  otherFile.write(test::tinyPlanBytes(other));
  std::string error;
  auto basePlan = LoadedPlan::openFile(baseFile.path(), error);
  auto otherPlan = LoadedPlan::openFile(otherFile.path(), error);
  ASSERT_TRUE(basePlan && otherPlan) << error;
  SessionOptions options;
  options.threads = 1;
  auto base = Session::create(*basePlan, options, error);
  auto same = Session::create(*basePlan, options, error);
  auto plan = Session::create(*otherPlan, options, error);
  ASSERT_TRUE(base && same && plan) << error;
  ByteTokenizer tokenizer(config.vocab);
  std::vector<std::string> documents = {"hello world", "ab"};

  KlDivergenceResult itself;
  ASSERT_TRUE(evaluateKlDivergence(*base, *same, tokenizer, documents, itself,
                                   error))
      << error;
  EXPECT_EQ(itself.tokens(), 11 + 2);
  EXPECT_EQ(itself.documents, 2);
  EXPECT_NEAR(itself.meanKl(), 0.0, 1e-12);
  EXPECT_EQ(itself.topAgreement(), 1.0);
  EXPECT_NEAR(itself.deltaPerplexity(), 0.0, 1e-9);

  // The expected values, token by token.
  std::vector<double> expected;
  int agree = 0;
  for (const std::string &doc : documents) {
    std::vector<int32_t> tokens = {tokenizer.bos()};
    for (int32_t id : tokenizer.encode(doc))
      tokens.push_back(id);
    base->reset();
    plan->reset();
    std::vector<float> lb(size_t(config.vocab)), lp(size_t(config.vocab));
    for (size_t t = 0; t + 1 < tokens.size(); ++t) {
      ASSERT_TRUE(base->forward(&tokens[t], 1, lb.data(), false, error));
      ASSERT_TRUE(plan->forward(&tokens[t], 1, lp.data(), false, error));
      double kl = 0;
      for (int32_t v = 0; v < config.vocab; ++v) {
        double logB = -negativeLogLikelihood(lb.data(), config.vocab, v);
        double logP = -negativeLogLikelihood(lp.data(), config.vocab, v);
        kl += std::exp(logB) * (logB - logP);
      }
      expected.push_back(kl);
      agree += std::max_element(lb.begin(), lb.end()) - lb.begin() ==
               std::max_element(lp.begin(), lp.end()) - lp.begin();
    }
  }
  KlDivergenceResult result;
  std::vector<size_t> progress;
  ASSERT_TRUE(evaluateKlDivergence(
      *base, *plan, tokenizer, documents, result, error,
      [&](size_t done, const KlDivergenceResult &) { progress.push_back(done); }))
      << error;
  ASSERT_EQ(result.kl.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i)
    EXPECT_NEAR(result.kl[i], expected[i], 1e-4 * expected[i] + 1e-7) << i;
  EXPECT_GT(result.meanKl(), 0.0);
  EXPECT_EQ(result.sameTop, agree);
  EXPECT_EQ(progress, (std::vector<size_t>{1, 2}));
  EXPECT_EQ(base->position(), 0);
  EXPECT_EQ(plan->position(), 0);
}

// The summary statistics of given per-token values.
TEST(KlDivergenceTest, Statistics) {
  KlDivergenceResult r;
  for (int i = 1; i <= 100; ++i)
    r.kl.push_back(i / 100.0); // 0.01 .. 1.00
  EXPECT_NEAR(r.meanKl(), 0.505, 1e-12);
  // The sample variance of 1..n is n (n + 1) / 12.
  double sd = std::sqrt(100.0 * 101.0 / 12.0) / 100.0;
  EXPECT_NEAR(r.klStandardError(), sd / 10.0, 1e-12);
  EXPECT_NEAR(r.klQuantile(0.99), 0.99, 1e-12);
  EXPECT_NEAR(r.klQuantile(1.0), 1.0, 1e-12);
  EXPECT_NEAR(r.klQuantile(0.0), 0.01, 1e-12);
  // Perplexities from the summed NLLs; the change's interval holds it.
  r.nllBase = 100 * std::log(2.0);
  r.nllPlan = 100 * std::log(2.5);
  r.sumDiff = r.nllPlan - r.nllBase;
  r.sumDiffSquared = 100 * std::pow(std::log(1.25), 2) + 1.0; // some spread
  r.sameTop = 90;
  EXPECT_NEAR(r.perplexityBase(), 2.0, 1e-12);
  EXPECT_NEAR(r.perplexityPlan(), 2.5, 1e-12);
  EXPECT_NEAR(r.deltaPerplexity(), 0.5, 1e-12);
  EXPECT_NEAR(r.topAgreement(), 0.9, 1e-12);
  auto [low, high] = r.deltaPerplexityInterval();
  EXPECT_LT(low, 0.5);
  EXPECT_GT(high, 0.5);
  // se = sqrt(var / n), var = (sum d^2 - n mean^2) / (n - 1) = 1 / 99.
  double se = std::sqrt(1.0 / 99.0 / 100.0);
  EXPECT_NEAR(low, 2.0 * std::expm1(std::log(1.25) - 1.96 * se), 1e-9);
  EXPECT_NEAR(high, 2.0 * std::expm1(std::log(1.25) + 1.96 * se), 1e-9);
  KlDivergenceResult empty;
  EXPECT_EQ(empty.meanKl(), 0.0);
  EXPECT_EQ(empty.klQuantile(0.99), 0.0);
}

} // namespace
