//===- plan-loader-fuzzer.cpp - libFuzzer target of the plan loader -------===//
//
// Feeds arbitrary bytes to the runtime as a plan (.qplan): verification with
// and without weight checksums (the backends registered, so the CUDA
// executable's verifier runs too), the JSON view of an accepted plan, the
// plan opened from memory, and a CPU session over it running a prefill and
// a decode step. Any input must be rejected with a message or run: never a
// crash, a hang or a sanitizer report. Built with -DQUANT_ENABLE_FUZZING=ON
// (clang; a runtime-only build suffices); run by tools/scripts/fuzz-plan.sh,
// seeded by plan-fuzzer-seeds.
//
//===----------------------------------------------------------------------===//

#include "qrt/core/Plan.h"
#include "qrt/runtime/Backend.h"
#include "qrt/runtime/Session.h"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

namespace {

/// Sessions are created only for plans whose arenas and KV cache (at the
/// session's context) stay below this: a damaged size may ask for gigabytes,
/// which is not unsafe, only slow.
constexpr double kMemoryBudget = 8.0 * 1024 * 1024;
constexpr int64_t kContext = 32;

void run(const qrt::LoadedPlan &plan) {
  const qrt::fb::Plan &p = plan.plan();
  double bytes = 0;
  for (const qrt::fb::Entry *entry : *p.entries())
    bytes += double(entry->arena_bytes());
  if (const qrt::fb::KvCache *cache = p.kv_cache())
    bytes += 2.0 * cache->layers() * cache->kv_heads() * cache->head_dim() *
             double(std::min<int64_t>(cache->capacity(), kContext)) * 4;
  if (bytes > kMemoryBudget)
    return;
  qrt::SessionOptions options;
  options.device = "cpu";
  options.threads = 1;
  options.context = kContext;
  std::string error;
  std::unique_ptr<qrt::Session> session =
      qrt::Session::create(plan, options, error);
  if (!session) {
    if (error.empty())
      std::abort(); // a refusal must say why
    return;
  }
  int64_t vocab = std::max<int64_t>(session->vocab(), 1);
  std::vector<int32_t> tokens;
  for (int32_t i = 0; i < 5; ++i)
    tokens.push_back(static_cast<int32_t>((i * 7 + 3) % vocab));
  std::vector<float> logits(static_cast<size_t>(5 * vocab));
  if (!session->forward(tokens.data(), 5, logits.data(), true, error) &&
      error.empty())
    std::abort();
  int32_t next = 1 % static_cast<int32_t>(vocab);
  if (!session->forward(&next, 1, logits.data(), false, error) &&
      error.empty())
    std::abort();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const bool registered = [] {
    qrt::registerBuiltinBackends();
    return true;
  }();
  (void)registered;
  // A plan is read from a page-aligned mapping or aligned memory; the
  // fuzzer's buffer is copied to such memory (exactly `size` bytes: ASan
  // sees any read past the end).
  std::vector<uint8_t> bytes(data, data + size);
  std::string error;
  bool checked = qrt::verifyPlan(bytes.data(), bytes.size(), true, error);
  if (!checked && error.empty())
    std::abort();
  qrt::VerifyOptions unchecked;
  unchecked.checksums = false;
  std::unique_ptr<qrt::LoadedPlan> plan =
      qrt::LoadedPlan::openMemory(std::move(bytes), error, unchecked);
  if (!plan) {
    if (error.empty() || checked)
      std::abort(); // verified with checksums, so it must open without
    return 0;
  }
  std::ostringstream json;
  qrt::writePlanJson(plan->plan(), json);
  (void)qrt::quantizedFigures(plan->plan());
  run(*plan);
  return 0;
}
