//===- Generate.h - sampling and perplexity over a Session ------*- C++ -*-===//
//
// What quant-run does with a session, as a library: choose next tokens
// (greedy, or temperature with nucleus/top-p sampling from a seeded,
// platform-independent generator) and measure perplexity on text documents
// by the protocol of the shared data's README.
//
//===----------------------------------------------------------------------===//

#ifndef QRT_RUNTIME_GENERATE_H
#define QRT_RUNTIME_GENERATE_H

#include "qrt/runtime/Session.h"
#include "qrt/text/Tokenizer.h"

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace qrt {

/// Picks the next token from logits.
class Sampler {
public:
  /// temperature <= 0: greedy (the lowest id among equal maxima). Otherwise
  /// softmax(logits / temperature), restricted to the smallest set of most
  /// likely tokens whose probability reaches topP (topP >= 1: all).
  Sampler(float temperature, float topP, uint64_t seed);
  int32_t sample(const float *logits, int64_t vocab);

private:
  double uniform(); // [0, 1), 53 random bits
  float temperature_, topP_;
  uint64_t state_;
  std::vector<std::pair<float, int32_t>> candidates_;
};

/// The documents of a text split on `separator` (e.g. `<|endoftext|>`),
/// each stripped of surrounding whitespace, empty ones dropped, at most
/// `limit` (0: all).
std::vector<std::string> splitDocuments(const std::string &text,
                                        const std::string &separator,
                                        size_t limit);

/// The documents of the text file `path` (splitDocuments). False and
/// `error` (naming the file) if it cannot be read or has no document.
bool readDocuments(const std::string &path, const std::string &separator,
                   size_t limit, std::vector<std::string> &documents,
                   std::string &error);

struct PerplexityResult {
  int64_t documents = 0;
  /// Predicted tokens (each document's tokens after the first).
  int64_t tokens = 0;
  /// Summed negative log-likelihood (natural log).
  double nll = 0;
  double meanNll() const { return tokens ? nll / tokens : 0; }
  double perplexity() const;
};

/// For each document: BOS + encode(document), truncated to the session's
/// context, run from position 0 with every token's logits; sums -log p of
/// each next token (log-softmax in double). `progress(done, result)` is
/// called after each document. False and `error` if a forward fails.
bool evaluatePerplexity(
    Session &session, const text::Tokenizer &tokenizer,
    const std::vector<std::string> &documents, PerplexityResult &result,
    std::string &error,
    const std::function<void(size_t, const PerplexityResult &)> &progress = {});

/// How far a plan's next-token distributions are from a base plan's over
/// the same tokens (llama.cpp's --kl-divergence): per predicted token t,
/// KL(base || plan) = sum_v p_base(v) (log p_base(v) - log p_plan(v)), both
/// log-softmaxes in double; whether the two argmaxes agree; and both
/// negative log-likelihoods of the actual next token.
struct KlDivergenceResult {
  int64_t documents = 0;
  /// KL of every predicted token, in order.
  std::vector<double> kl;
  /// Summed NLL of base and plan, and of the squared per-token difference
  /// d = nll_plan - nll_base (its mean and standard error give the change
  /// of perplexity).
  double nllBase = 0, nllPlan = 0, sumDiff = 0, sumDiffSquared = 0;
  int64_t sameTop = 0;

  int64_t tokens() const { return static_cast<int64_t>(kl.size()); }
  double meanKl() const;
  /// Standard error of meanKl (sample standard deviation / sqrt(tokens)).
  double klStandardError() const;
  /// The q-quantile of the per-token KL (q in [0, 1], nearest rank).
  double klQuantile(double q) const;
  /// Fraction of tokens whose argmax (lowest id among equal maxima) agree.
  double topAgreement() const;
  double perplexityBase() const;
  double perplexityPlan() const;
  /// perplexityPlan - perplexityBase, and its confidence interval at
  /// `z` standard errors of the mean paired NLL difference:
  /// perplexityBase * (exp(mean d +- z se) - 1).
  double deltaPerplexity() const;
  std::pair<double, double> deltaPerplexityInterval(double z = 1.96) const;
};

/// For each document (as evaluatePerplexity: BOS + encode, truncated to the
/// smaller context), the logits of every token from `base` and from `plan`,
/// compared token by token in memory (nothing is written). The sessions
/// must have the same vocabulary. `progress(done, result)` after each
/// document. False and `error` if a forward fails.
bool evaluateKlDivergence(
    Session &base, Session &plan, const text::Tokenizer &tokenizer,
    const std::vector<std::string> &documents, KlDivergenceResult &result,
    std::string &error,
    const std::function<void(size_t, const KlDivergenceResult &)> &progress =
        {});

/// -log softmax(logits)[target], in double.
double negativeLogLikelihood(const float *logits, int64_t vocab,
                             int32_t target);

} // namespace qrt

#endif // QRT_RUNTIME_GENERATE_H
