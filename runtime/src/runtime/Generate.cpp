//===- Generate.cpp - sampling and perplexity over a Session --------------===//

#include "qrt/runtime/Generate.h"

#include <algorithm>
#include <cmath>

namespace qrt {

//===----------------------------------------------------------------------===//
// Sampler
//===----------------------------------------------------------------------===//

Sampler::Sampler(float temperature, float topP, uint64_t seed)
    : temperature_(temperature), topP_(topP),
      state_(seed ^ 0x9E3779B97F4A7C15ull) {}

double Sampler::uniform() {
  // splitmix64: the same sequence on every platform.
  uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return static_cast<double>(z >> 11) * 0x1.0p-53;
}

int32_t Sampler::sample(const float *logits, int64_t vocab) {
  if (temperature_ <= 0) {
    int64_t best = 0;
    for (int64_t i = 1; i < vocab; ++i)
      if (logits[i] > logits[best])
        best = i;
    return static_cast<int32_t>(best);
  }
  float maxLogit = *std::max_element(logits, logits + vocab);
  candidates_.resize(static_cast<size_t>(vocab));
  double sum = 0;
  for (int64_t i = 0; i < vocab; ++i) {
    float p = std::exp((logits[i] - maxLogit) / temperature_);
    candidates_[i] = {p, static_cast<int32_t>(i)};
    sum += p;
  }
  size_t keep = candidates_.size();
  if (topP_ > 0 && topP_ < 1) {
    // Most likely first (ties by id, so the order is deterministic).
    std::sort(candidates_.begin(), candidates_.end(),
              [](const auto &a, const auto &b) {
                return a.first != b.first ? a.first > b.first
                                          : a.second < b.second;
              });
    double cumulative = 0;
    for (size_t i = 0; i < candidates_.size(); ++i) {
      cumulative += candidates_[i].first / sum;
      if (cumulative >= topP_) {
        keep = i + 1;
        break;
      }
    }
    sum = 0;
    for (size_t i = 0; i < keep; ++i)
      sum += candidates_[i].first;
  }
  double r = uniform() * sum, cumulative = 0;
  for (size_t i = 0; i < keep; ++i) {
    cumulative += candidates_[i].first;
    if (r < cumulative)
      return candidates_[i].second;
  }
  return candidates_[keep - 1].second; // rounding at the end of the range
}

//===----------------------------------------------------------------------===//
// Perplexity
//===----------------------------------------------------------------------===//

std::vector<std::string> splitDocuments(const std::string &text,
                                        const std::string &separator,
                                        size_t limit) {
  std::vector<std::string> documents;
  size_t start = 0;
  while (start <= text.size() && (limit == 0 || documents.size() < limit)) {
    // Fix (found by test/unit/runtime/GenerateTest): an empty separator
    // matched at `start` forever (an endless loop); it now splits nothing.
    size_t end = separator.empty() ? std::string::npos
                                   : text.find(separator, start);
    if (end == std::string::npos)
      end = text.size();
    size_t first = start, last = end;
    auto space = [](char c) {
      return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\v' ||
             c == '\f';
    };
    while (first < last && space(text[first]))
      ++first;
    while (last > first && space(text[last - 1]))
      --last;
    if (last > first)
      documents.push_back(text.substr(first, last - first));
    if (end == text.size())
      break;
    start = end + separator.size();
  }
  return documents;
}

double PerplexityResult::perplexity() const { return std::exp(meanNll()); }

double negativeLogLikelihood(const float *logits, int64_t vocab,
                             int32_t target) {
  double maxLogit = logits[0];
  for (int64_t i = 1; i < vocab; ++i)
    maxLogit = std::max(maxLogit, static_cast<double>(logits[i]));
  double sum = 0;
  for (int64_t i = 0; i < vocab; ++i)
    sum += std::exp(static_cast<double>(logits[i]) - maxLogit);
  return std::log(sum) + maxLogit - static_cast<double>(logits[target]);
}

bool evaluatePerplexity(
    Session &session, const text::Tokenizer &tokenizer,
    const std::vector<std::string> &documents, PerplexityResult &result,
    std::string &error,
    const std::function<void(size_t, const PerplexityResult &)> &progress) {
  std::vector<float> logits;
  for (size_t d = 0; d < documents.size(); ++d) {
    std::vector<int32_t> tokens = {tokenizer.bos()};
    std::vector<int32_t> text = tokenizer.encode(documents[d]);
    tokens.insert(tokens.end(), text.begin(), text.end());
    if (static_cast<int64_t>(tokens.size()) > session.context())
      tokens.resize(static_cast<size_t>(session.context()));
    int64_t count = static_cast<int64_t>(tokens.size());
    logits.resize(static_cast<size_t>(count * session.vocab()));
    session.reset();
    if (!session.forward(tokens.data(), count, logits.data(), true, error)) {
      error = "document " + std::to_string(d + 1) + ": " + error;
      return false;
    }
    for (int64_t t = 0; t + 1 < count; ++t)
      result.nll += negativeLogLikelihood(logits.data() + t * session.vocab(),
                                          session.vocab(), tokens[t + 1]);
    result.tokens += count - 1;
    ++result.documents;
    if (progress)
      progress(d + 1, result);
  }
  session.reset();
  return true;
}

} // namespace qrt
