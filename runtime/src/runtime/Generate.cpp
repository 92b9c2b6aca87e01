//===- Generate.cpp - sampling and perplexity over a Session --------------===//

#include "qrt/runtime/Generate.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

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

bool readDocuments(const std::string &path, const std::string &separator,
                   size_t limit, std::vector<std::string> &documents,
                   std::string &error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = path + ": cannot read: " + std::strerror(errno);
    return false;
  }
  std::stringstream text;
  text << in.rdbuf();
  documents = splitDocuments(text.str(), separator, limit);
  if (documents.empty()) {
    error = path + ": no documents";
    return false;
  }
  return true;
}

double PerplexityResult::perplexity() const { return std::exp(meanNll()); }

namespace {

/// log(sum(exp(logits))) in double, shifted by the maximum.
double logSumExp(const float *logits, int64_t vocab) {
  double maxLogit = logits[0];
  for (int64_t i = 1; i < vocab; ++i)
    maxLogit = std::max(maxLogit, static_cast<double>(logits[i]));
  double sum = 0;
  for (int64_t i = 0; i < vocab; ++i)
    sum += std::exp(static_cast<double>(logits[i]) - maxLogit);
  return std::log(sum) + maxLogit;
}

} // namespace

double negativeLogLikelihood(const float *logits, int64_t vocab,
                             int32_t target) {
  return logSumExp(logits, vocab) - static_cast<double>(logits[target]);
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

//===----------------------------------------------------------------------===//
// KL divergence
//===----------------------------------------------------------------------===//

namespace {

/// log softmax of `logits` into `out`, in double.
void logSoftmax(const float *logits, int64_t vocab, std::vector<double> &out) {
  out.resize(static_cast<size_t>(vocab));
  const double logSum = logSumExp(logits, vocab);
  for (int64_t i = 0; i < vocab; ++i)
    out[i] = static_cast<double>(logits[i]) - logSum;
}

int64_t argmax(const float *logits, int64_t vocab) {
  int64_t best = 0;
  for (int64_t i = 1; i < vocab; ++i)
    if (logits[i] > logits[best])
      best = i;
  return best;
}

} // namespace

double KlDivergenceResult::meanKl() const {
  double sum = 0;
  for (double v : kl)
    sum += v;
  return kl.empty() ? 0 : sum / static_cast<double>(kl.size());
}

double KlDivergenceResult::klStandardError() const {
  const size_t n = kl.size();
  if (n < 2)
    return 0;
  const double mean = meanKl();
  double squares = 0;
  for (double v : kl)
    squares += (v - mean) * (v - mean);
  return std::sqrt(squares / static_cast<double>(n - 1) /
                   static_cast<double>(n));
}

double KlDivergenceResult::klQuantile(double q) const {
  if (kl.empty())
    return 0;
  std::vector<double> sorted = kl;
  size_t rank = static_cast<size_t>(
      std::ceil(std::clamp(q, 0.0, 1.0) * static_cast<double>(sorted.size())));
  rank = std::clamp<size_t>(rank, 1, sorted.size()) - 1;
  std::nth_element(sorted.begin(), sorted.begin() + static_cast<long>(rank),
                   sorted.end());
  return sorted[rank];
}

double KlDivergenceResult::topAgreement() const {
  return kl.empty() ? 0
                    : static_cast<double>(sameTop) /
                          static_cast<double>(kl.size());
}

double KlDivergenceResult::perplexityBase() const {
  return kl.empty() ? 0 : std::exp(nllBase / static_cast<double>(kl.size()));
}

double KlDivergenceResult::perplexityPlan() const {
  return kl.empty() ? 0 : std::exp(nllPlan / static_cast<double>(kl.size()));
}

double KlDivergenceResult::deltaPerplexity() const {
  return perplexityPlan() - perplexityBase();
}

std::pair<double, double>
KlDivergenceResult::deltaPerplexityInterval(double z) const {
  const double n = static_cast<double>(kl.size());
  if (n < 2)
    return {deltaPerplexity(), deltaPerplexity()};
  const double mean = sumDiff / n;
  const double variance =
      std::max(0.0, (sumDiffSquared - n * mean * mean) / (n - 1));
  const double se = std::sqrt(variance / n);
  const double base = perplexityBase();
  return {base * std::expm1(mean - z * se), base * std::expm1(mean + z * se)};
}

bool evaluateKlDivergence(
    Session &base, Session &plan, const text::Tokenizer &tokenizer,
    const std::vector<std::string> &documents, KlDivergenceResult &result,
    std::string &error,
    const std::function<void(size_t, const KlDivergenceResult &)> &progress) {
  const int64_t vocab = plan.vocab();
  if (base.vocab() != vocab) {
    error = "the base plan's vocabulary (" + std::to_string(base.vocab()) +
            " tokens) differs from the plan's (" + std::to_string(vocab) + ")";
    return false;
  }
  const int64_t context = std::min(base.context(), plan.context());
  std::vector<float> baseLogits, planLogits;
  std::vector<double> logBase, logPlan;
  for (size_t d = 0; d < documents.size(); ++d) {
    std::vector<int32_t> tokens = {tokenizer.bos()};
    std::vector<int32_t> text = tokenizer.encode(documents[d]);
    tokens.insert(tokens.end(), text.begin(), text.end());
    if (static_cast<int64_t>(tokens.size()) > context)
      tokens.resize(static_cast<size_t>(context));
    const int64_t count = static_cast<int64_t>(tokens.size());
    baseLogits.resize(static_cast<size_t>(count * vocab));
    planLogits.resize(static_cast<size_t>(count * vocab));
    base.reset();
    plan.reset();
    if (!base.forward(tokens.data(), count, baseLogits.data(), true, error)) {
      error = "document " + std::to_string(d + 1) + ", base plan: " + error;
      return false;
    }
    if (!plan.forward(tokens.data(), count, planLogits.data(), true, error)) {
      error = "document " + std::to_string(d + 1) + ": " + error;
      return false;
    }
    for (int64_t t = 0; t + 1 < count; ++t) {
      const float *b = baseLogits.data() + t * vocab;
      const float *p = planLogits.data() + t * vocab;
      logSoftmax(b, vocab, logBase);
      logSoftmax(p, vocab, logPlan);
      double kl = 0;
      for (int64_t v = 0; v < vocab; ++v)
        kl += std::exp(logBase[v]) * (logBase[v] - logPlan[v]);
      result.kl.push_back(kl);
      const int32_t next = tokens[t + 1];
      const double nllBase = -logBase[next], nllPlan = -logPlan[next];
      result.nllBase += nllBase;
      result.nllPlan += nllPlan;
      result.sumDiff += nllPlan - nllBase;
      result.sumDiffSquared += (nllPlan - nllBase) * (nllPlan - nllBase);
      result.sameTop += argmax(b, vocab) == argmax(p, vocab);
    }
    ++result.documents;
    if (progress)
      progress(d + 1, result);
  }
  base.reset();
  plan.reset();
  return true;
}

} // namespace qrt
