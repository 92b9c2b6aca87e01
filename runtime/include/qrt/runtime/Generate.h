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

/// -log softmax(logits)[target], in double.
double negativeLogLikelihood(const float *logits, int64_t vocab,
                             int32_t target);

} // namespace qrt

#endif // QRT_RUNTIME_GENERATE_H
