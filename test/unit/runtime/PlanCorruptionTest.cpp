//===- PlanCorruptionTest.cpp - truncated and corrupted plans -------------===//
//
// Valid plans from TestPlans, damaged three ways:
//   (a) truncated at every length of the FlatBuffer part and at a stride
//       through the weights;
//   (b) bytes flipped at every position before the weights (the FlatBuffer
//       and its padding; xor 0x01 and 0xFF in one plan, 0x80 in another),
//       and at a stride of 7 through the weights (xor 0x01 and 0xFF);
//   (c) targeted semantic corruptions built with the plan builder.
// A damaged plan must either be rejected with a message, or, if verifyPlan
// accepts it (a flipped float parameter or name, padding), it must be
// mappable, printable as JSON, and a Session over it must run prefill and
// decode steps without crashing (run this under ASan: tools/scripts/
// test-asan.sh). Truncations, targeted corruptions and flips of weight bytes
// (by the checksum) must all be rejected.
//
// Verification runs on an exact-size heap copy of each variant, so that
// ASan sees any read past its end.
//
//===----------------------------------------------------------------------===//

#include "TestPlans.h"

#include "qrt/runtime/Session.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

using namespace qrt;
using namespace qrt::test;

namespace {

/// Sessions over accepted variants are created only if their arenas and a KV
/// cache of kSessionContext positions stay below this (a flipped arena size
/// or layer count can ask for gigabytes; that is not memory-unsafe, just
/// more than a unit test should allocate).
constexpr double kMemoryBudget = 64.0 * 1024 * 1024;
constexpr int64_t kSessionContext = 64;

struct Tally {
  size_t tested = 0, rejected = 0, ran = 0, sessionRefused = 0,
         overBudget = 0;
  size_t failures = 0;

  void fail(const std::string &what) {
    // Report the first few; count the rest.
    if (++failures <= 20)
      ADD_FAILURE() << what;
  }
  size_t accepted() const { return tested - rejected; }
  void print(const char *what) const {
    std::printf("[ variants ] %s: %zu tested, %zu rejected, %zu accepted "
                "(%zu ran prefill+decode, %zu refused by Session::create, "
                "%zu over the memory budget, not run)\n",
                what, tested, rejected, accepted(), ran, sessionRefused,
                overBudget);
    std::fflush(stdout);
  }
};

/// Verifies variants and runs the accepted ones.
class Prober {
public:
  explicit Prober(Tally &tally) : tally(tally) {}

  /// True if the variant was accepted. `error` receives the message.
  bool examine(const uint8_t *data, size_t size, const std::string &label,
               std::string &error) {
    ++tally.tested;
    std::unique_ptr<uint8_t[]> copy(new uint8_t[std::max<size_t>(size, 1)]);
    if (size)
      std::memcpy(copy.get(), data, size);
    error.clear();
    if (!verifyPlan(copy.get(), size, /*checksums=*/true, error)) {
      ++tally.rejected;
      if (error.empty())
        tally.fail(label + ": rejected without a message");
      return false;
    }
    // Accepted: it must also print, map from a file, and run.
    std::ostringstream json;
    writePlanJson(*planOf(copy.get()), json);
    if (json.str().empty())
      tally.fail(label + ": no JSON");
    file.write(copy.get(), size);
    std::string openError;
    std::unique_ptr<MappedPlan> plan = MappedPlan::open(file.path(), openError);
    if (!plan) {
      tally.fail(label + ": verifyPlan accepts what MappedPlan::open rejects: " +
                 openError);
      return true;
    }
    run(*plan, label);
    return true;
  }

  bool examine(const std::vector<uint8_t> &bytes, const std::string &label,
               std::string &error) {
    return examine(bytes.data(), bytes.size(), label, error);
  }

private:
  void run(const MappedPlan &plan, const std::string &label) {
    const fb::Plan &p = plan.plan();
    double bytes = 0;
    for (const fb::Entry *entry : *p.entries())
      bytes += double(entry->arena_bytes());
    if (const fb::KvCache *cache = p.kv_cache())
      bytes += 2.0 * cache->layers() * cache->kv_heads() * cache->head_dim() *
               double(std::min<int64_t>(cache->capacity(), kSessionContext)) * 4;
    if (bytes > kMemoryBudget) {
      ++tally.overBudget;
      return;
    }
    SessionOptions options;
    options.threads = 1;
    options.context = kSessionContext;
    std::string error;
    std::unique_ptr<Session> session = Session::create(plan, options, error);
    if (!session) {
      ++tally.sessionRefused;
      if (error.empty())
        tally.fail(label + ": Session::create failed without a message");
      return;
    }
    ++tally.ran;
    int64_t vocab = std::max<int64_t>(session->vocab(), 1);
    std::vector<int32_t> tokens;
    for (int32_t i = 0; i < 11; ++i)
      tokens.push_back(static_cast<int32_t>((i * 7 + 3) % vocab));
    std::vector<float> logits(size_t(11 * vocab));
    auto step = [&](const int32_t *ids, int64_t count, bool all) {
      error.clear();
      if (!session->forward(ids, count, logits.data(), all, error) &&
          error.empty())
        tally.fail(label + ": forward failed without a message");
    };
    step(tokens.data(), 11, true); // chunked prefill
    step(tokens.data() + 1, 1, false);
    step(tokens.data() + 2, 1, false);
    session->reset();
    step(tokens.data(), 3, false);
  }

  Tally &tally;
  TempFile file;
};

struct Base {
  const char *name;
  std::vector<uint8_t> bytes;
  /// Xor masks applied to every byte before the weights.
  std::vector<uint8_t> masks;
};

/// One-layer models: every kernel, and half the FlatBuffer of two layers
/// (every byte of it is flipped; the verifier's cost per variant dominates
/// under ASan).
std::vector<Base> basePlans() {
  TinyConfig tables;
  tables.layers = 1;
  tables.weightType = fb::DType::F16;
  tables.convention = fb::RotaryConvention::RotateHalf;
  tables.rotaryTables = true;
  TinyConfig base; // f32, interleaved, rotary by base
  base.layers = 1;
  base.seed = 2;
  return {{"f16+tables", tinyPlanBytes(tables), {0x01, 0xFF}},
          {"f32+base", tinyPlanBytes(base), {0x80}}};
}

/// [begin, end) of every weight's bytes, and the start of the weight region.
struct WeightLayout {
  uint64_t regionBegin = 0;
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  bool inWeight(uint64_t position) const {
    for (auto [begin, end] : ranges)
      if (position >= begin && position < end)
        return true;
    return false;
  }
};

WeightLayout layoutOf(const std::vector<uint8_t> &bytes) {
  WeightLayout layout;
  const fb::Plan *plan = planOf(bytes.data());
  layout.regionBegin = plan->weights_offset();
  for (const fb::WeightInfo *w : *plan->weights())
    layout.ranges.push_back({w->offset(), w->offset() + w->size()});
  return layout;
}

TEST(PlanCorruptionTest, BasePlansAreAcceptedAndRun) {
  Tally tally;
  Prober prober(tally);
  for (const Base &base : basePlans()) {
    std::string error;
    EXPECT_TRUE(prober.examine(base.bytes, base.name, error)) << error;
    // The harness would hide damage if a plan's FlatBuffer covered the file.
    EXPECT_LT(flatBufferBytes(base.bytes), base.bytes.size());
  }
  EXPECT_EQ(tally.ran, 2u);
  EXPECT_EQ(tally.failures, 0u);
}

//===----------------------------------------------------------------------===//
// (a) Truncation
//===----------------------------------------------------------------------===//

TEST(PlanCorruptionTest, EveryTruncationIsRejected) {
  Tally tally;
  Prober prober(tally);
  TempFile file;
  for (const Base &base : basePlans()) {
    const std::vector<uint8_t> &bytes = base.bytes;
    std::vector<size_t> lengths;
    size_t fbEnd = flatBufferBytes(bytes);
    for (size_t n = 0; n <= fbEnd + 128 && n < bytes.size(); ++n)
      lengths.push_back(n);
    for (size_t n = fbEnd + 129; n < bytes.size(); n += 29)
      lengths.push_back(n);
    for (size_t n = bytes.size() - 16; n < bytes.size(); ++n)
      lengths.push_back(n);
    for (size_t i = 0; i < lengths.size(); ++i) {
      size_t n = lengths[i];
      std::string label = std::string(base.name) + " cut at " + std::to_string(n);
      std::string error;
      if (prober.examine(bytes.data(), n, label, error))
        tally.fail(label + ": accepted");
      // Through the file loader too, for a sample (and the tiny files).
      if (n < 16 || i % 50 == 0) {
        file.write(bytes.data(), n);
        std::string openError;
        if (MappedPlan::open(file.path(), openError) || openError.empty())
          tally.fail(label + ": MappedPlan::open accepted or gave no message");
      }
    }
  }
  tally.print("truncations");
  EXPECT_EQ(tally.rejected, tally.tested);
  EXPECT_EQ(tally.failures, 0u);
  EXPECT_GT(tally.tested, 1000u);
}

//===----------------------------------------------------------------------===//
// (b) Byte flips
//===----------------------------------------------------------------------===//

TEST(PlanCorruptionTest, ByteFlipsAreRejectedOrRunSafely) {
  Tally header, weights;
  Prober headerProber(header), weightProber(weights);
  size_t weightFlips = 0, checksumRejections = 0, uncheckedAccepted = 0;
  for (const Base &base : basePlans()) {
    std::vector<uint8_t> bytes = base.bytes;
    WeightLayout layout = layoutOf(bytes);
    // Every byte before the weight region: the FlatBuffer and its padding.
    for (uint64_t pos = 0; pos < layout.regionBegin; ++pos)
      for (uint8_t mask : base.masks) {
        bytes[pos] ^= mask;
        std::string error;
        headerProber.examine(bytes, std::string(base.name) + " byte " +
                                        std::to_string(pos) + " ^ " +
                                        std::to_string(mask),
                             error);
        bytes[pos] ^= mask;
      }
    // A stride through the weights: the checksum must catch every flip of
    // a weight's bytes (and only the checksum: without it the plan is fine).
    for (uint64_t pos = layout.regionBegin; pos < bytes.size(); pos += 7)
      for (uint8_t mask : {uint8_t(0x01), uint8_t(0xFF)}) {
        bytes[pos] ^= mask;
        std::string label = std::string(base.name) + " weight byte " +
                            std::to_string(pos) + " ^ " + std::to_string(mask);
        std::string error;
        bool accepted = weightProber.examine(bytes, label, error);
        if (layout.inWeight(pos)) {
          ++weightFlips;
          if (accepted)
            weights.fail(label + ": a weight flip passed the checksum");
          else if (error.find("checksum") == std::string::npos)
            weights.fail(label + ": rejected, but not by the checksum: " + error);
          else
            ++checksumRejections;
          std::string unchecked;
          if (verifyPlan(bytes.data(), bytes.size(), /*checksums=*/false, unchecked))
            ++uncheckedAccepted;
        }
        bytes[pos] ^= mask;
      }
  }
  header.print("flips before the weights");
  weights.print("flips in the weight region");
  std::printf("[ variants ] weight-byte flips: %zu, rejected by the checksum: "
              "%zu\n",
              weightFlips, checksumRejections);
  EXPECT_EQ(header.failures, 0u);
  EXPECT_EQ(weights.failures, 0u);
  EXPECT_GT(header.tested, 3 * 8000u);
  // Most flips break the structure; some (names, float parameters,
  // padding) are accepted, and those ran.
  EXPECT_GT(header.rejected, header.tested / 2);
  EXPECT_GT(header.ran, 0u);
  EXPECT_GT(weightFlips, 500u);
  EXPECT_EQ(checksumRejections, weightFlips);
  EXPECT_EQ(uncheckedAccepted, weightFlips);
}

//===----------------------------------------------------------------------===//
// (c) Targeted corruptions
//===----------------------------------------------------------------------===//

StepSpec &stepOf(PlanSpec &spec, size_t entry, fb::Kernel kernel, size_t nth = 0) {
  for (StepSpec &step : spec.entries.at(entry).steps)
    if (step.kernel == kernel && nth-- == 0)
      return step;
  throw std::logic_error("no such step");
}

size_t weightNamed(const PlanSpec &spec, const std::string &name) {
  for (size_t i = 0; i < spec.weights.size(); ++i)
    if (spec.weights[i].name == name)
      return i;
  throw std::logic_error("no weight " + name);
}

/// A KV cache of 2^22 layers x 2^10 heads x 2^10 dims x 2^22 positions:
/// 2^64 floats, 0 in 64-bit arithmetic.
PlanSpec overflowingKvCachePlan() {
  PlanSpec spec;
  spec.vocab = 1;
  spec.cacheLayers = 1 << 22;
  spec.cacheKvHeads = 1 << 10;
  spec.cacheHeadDim = 1 << 10;
  spec.cacheCapacity = 1 << 22;
  EntrySpec entry;
  entry.name = "decode";
  entry.maxTokens = 1;
  entry.arenaBytes = 4 << 20;
  BufferSpec heads{fb::BufferKind::Arena, 0, fb::DType::F32, {1, -1, 1024, 1024}};
  StepSpec attention;
  attention.kernel = fb::Kernel::Attention;
  attention.inputs = {heads, heads, heads};
  attention.outputs = {heads};
  attention.causal = true;
  attention.heads = attention.kvHeads = attention.headDim = 1024;
  attention.scale = 1.0f;
  entry.steps.push_back(attention);
  entry.logits = {fb::BufferKind::Arena, 0, fb::DType::F32, {1, -1, 1}};
  spec.entries.push_back(entry);
  return spec;
}

/// An Add over [1, tokens, 2^33] with max_tokens 2^29: 2^64 bytes, 0 in
/// 64-bit arithmetic.
PlanSpec overflowingArenaPlan() {
  PlanSpec spec;
  spec.vocab = 1;
  spec.cacheLayers = spec.cacheKvHeads = spec.cacheHeadDim = 1;
  spec.cacheCapacity = 1 << 29;
  EntrySpec entry;
  entry.name = "prefill";
  entry.maxTokens = 1 << 29;
  entry.arenaBytes = uint64_t(1) << 31;
  BufferSpec huge{fb::BufferKind::Arena, 0, fb::DType::F32, {1, -1, int64_t(1) << 33}};
  StepSpec add;
  add.kernel = fb::Kernel::Add;
  add.inputs = {huge, huge};
  add.outputs = {huge};
  entry.steps.push_back(add);
  entry.logits = {fb::BufferKind::Arena, 0, fb::DType::F32, {1, -1, 1}};
  spec.entries.push_back(entry);
  return spec;
}

struct Corruption {
  const char *name;
  /// Part of the expected message.
  const char *message;
  std::function<void(PlanSpec &)> edit;
  /// Applied to the serialized bytes, after `edit`.
  std::function<void(std::vector<uint8_t> &)> editBytes = {};
  /// Starts from this plan instead of the tiny one.
  std::function<PlanSpec()> make = {};
};

std::vector<Corruption> corruptions() {
  using K = fb::Kernel;
  const size_t P = 0, D = 1; // prefill, decode entries
  return {
      // Arena buffers.
      {"arena offset past the arena", "outside the arena",
       [=](PlanSpec &s) {
         stepOf(s, P, K::MatMul).outputs[0].offset = s.entries[P].arenaBytes;
       }},
      {"arena buffer crossing the arena end", "outside the arena",
       [=](PlanSpec &s) { s.entries[P].logits.offset = s.entries[P].arenaBytes - 64; }},
      {"arena offset not a multiple of 4", "outside the arena",
       [=](PlanSpec &s) { stepOf(s, D, K::Add).inputs[1].offset += 2; }},
      {"arena smaller than its buffers", "outside the arena",
       [=](PlanSpec &s) { s.entries[D].arenaBytes -= 4; }},
      {"f16 activation", "activations are f32",
       [=](PlanSpec &s) { stepOf(s, P, K::SwiGlu).inputs[0].dtype = fb::DType::F16; }},
      // Weights.
      {"weight index out of range", "refers to weight",
       [=](PlanSpec &s) { stepOf(s, P, K::MatMul, 3).inputs[1].offset = s.weights.size(); }},
      {"weight index 2^40", "refers to weight",
       [=](PlanSpec &s) { stepOf(s, D, K::RmsNorm).inputs[1].offset = uint64_t(1) << 40; }},
      {"buffer shape differs from its weight", "does not match weight",
       [=](PlanSpec &s) { stepOf(s, P, K::MatMul).inputs[1].dims[1] += 1; }},
      {"buffer type differs from its weight", "does not match weight",
       [=](PlanSpec &s) { stepOf(s, D, K::MatMul, 2).inputs[1].dtype = fb::DType::F16; }},
      {"weight shape disagrees with its bytes", "holds",
       [=](PlanSpec &s) { s.weights[weightNamed(s, "output")].dims[0] = 31; }},
      {"weight size field", "holds",
       [=](PlanSpec &s) { s.weights[3].size = s.weights[3].bytes.size() + 64; }},
      {"matmul contraction mismatch", "contraction",
       [=](PlanSpec &s) {
         // layers.0.feed_forward.w1 stored as [16, 24] (same bytes).
         size_t w = weightNamed(s, "layers.0.feed_forward.w1");
         s.weights[w].dims = {16, 24};
         for (EntrySpec &e : s.entries)
           for (StepSpec &step : e.steps)
             for (BufferSpec &b : step.inputs)
               if (b.kind == fb::BufferKind::Weight && b.offset == w)
                 b.dims = {16, 24};
       }},
      {"misaligned weight offset", "outside the weight region",
       [=](PlanSpec &s) { s.weights[4].offsetDelta = 4; }},
      {"weight inside the FlatBuffer", "outside the weight region",
       [=](PlanSpec &s) { s.weights[0].offsetDelta = -64; }},
      {"weight past the end of the file", "outside the weight region",
       [=](PlanSpec &s) { s.weights.back().offsetDelta = 1 << 20; }},
      {"bad checksum", "checksum",
       [=](PlanSpec &s) {
         s.weights[5].checksum =
             checksum64(s.weights[5].bytes.data(), s.weights[5].bytes.size()) ^ 1;
       }},
      {"unknown element type", "unknown element type",
       [=](PlanSpec &s) { s.weights[2].dtype = static_cast<fb::DType>(99); }},
      // Versions and identity.
      {"version 0", "version", [=](PlanSpec &s) { s.version = 0; }},
      {"version 2", "version", [=](PlanSpec &s) { s.version = kPlanVersion + 1; }},
      {"version 2^32-1", "version", [=](PlanSpec &s) { s.version = 0xFFFFFFFFu; }},
      {"not a plan", "not a plan", [](PlanSpec &) {},
       [](std::vector<uint8_t> &b) { std::memcpy(b.data() + 8, "QPLM", 4); /* after size, root */ }},
      {"size prefix past the end", "truncated", [](PlanSpec &) {},
       [](std::vector<uint8_t> &b) {
         uint32_t n = uint32_t(b.size());
         std::memcpy(b.data(), &n, 4);
       }},
      // The KV cache and attention.
      {"layer >= cache layers", "KV cache",
       [=](PlanSpec &s) { stepOf(s, P, K::Attention, 1).layer = s.cacheLayers; }},
      {"negative layer", "KV cache",
       [=](PlanSpec &s) { stepOf(s, D, K::Attention).layer = -1; }},
      {"cache smaller than max_tokens", "more tokens than the KV cache",
       [=](PlanSpec &s) { s.cacheCapacity = s.entries[P].maxTokens - 1; }},
      {"cache KV heads differ", "KV cache",
       [=](PlanSpec &s) { s.cacheKvHeads = 4; }},
      {"f16 KV cache", "KV cache description",
       [=](PlanSpec &s) { s.cacheDtype = fb::DType::F16; }},
      {"heads not a multiple of KV heads", "head counts",
       [=](PlanSpec &s) { stepOf(s, P, K::Attention).heads = 3; }},
      {"non-causal attention", "causal",
       [=](PlanSpec &s) { stepOf(s, D, K::Attention).causal = false; }},
      {"attention query shape", "attention shapes",
       [=](PlanSpec &s) { stepOf(s, P, K::Attention).inputs[0].dims = {1, -1, 2, 8}; }},
      // Other steps.
      {"unknown kernel", "unknown kernel",
       [=](PlanSpec &s) { s.entries[D].steps[3].kernel = static_cast<K>(99); }},
      {"odd rotary_dim", "rotary",
       [=](PlanSpec &s) { stepOf(s, P, K::Rotary).rotaryDim = 3; }},
      {"rotary tables of the wrong width", "rotary tables",
       [=](PlanSpec &s) { stepOf(s, P, K::Rotary, 1).rotaryDim = 2; }},
      {"rotary without tables or base", "positive base",
       [=](PlanSpec &s) {
         StepSpec &r = stepOf(s, D, K::Rotary);
         r.inputs.resize(1);
         r.rotaryBase = 0;
       }},
      {"unknown rotary convention", "convention",
       [=](PlanSpec &s) {
         stepOf(s, P, K::Rotary).convention = static_cast<fb::RotaryConvention>(7);
       }},
      {"output into a weight", "writes outside the arena",
       [=](PlanSpec &s) {
         StepSpec &norm = stepOf(s, P, K::RmsNorm);
         norm.outputs[0] = norm.inputs[1];
         norm.inputs[0].dims = norm.inputs[1].dims;
       }},
      {"tokens as int64", "token ids",
       [=](PlanSpec &s) { stepOf(s, P, K::Embedding).inputs[1].dtype = fb::DType::I64; }},
      {"embedding of an arena buffer", "embedding takes",
       [=](PlanSpec &s) {
         stepOf(s, P, K::Embedding).inputs[1] =
             BufferSpec{fb::BufferKind::Arena, 0, fb::DType::F32, {1, -1}};
       }},
      {"elementwise shapes differ", "one shape",
       [=](PlanSpec &s) { stepOf(s, P, K::Add).inputs[1].dims = {1, -1, 8}; }},
      {"logits not over the vocabulary", "logits",
       [=](PlanSpec &s) { s.vocab -= 1; }},
      {"no entries", "entry points",
       [=](PlanSpec &s) { s.entries.clear(); }},
      {"max_tokens 0", "entry point is invalid",
       [=](PlanSpec &s) { s.entries[D].maxTokens = 0; }},

      // Found by these tests (each passed verification before the fix in
      // runtime/src/core/Plan.cpp, and crashed or read out of bounds in a
      // Session).
      // (At the end of the arena, so that reading more than one row
      // overflows the arena's allocation.)
      {"logits without a token dimension", "logits",
       [=](PlanSpec &s) {
         s.entries[P].logits.dims = {1, s.vocab};
         s.entries[P].logits.offset = s.entries[P].arenaBytes - 4 * s.vocab;
       }},
      {"logits of rank 0", "logits",
       [=](PlanSpec &s) { s.entries[D].logits.dims = {}; }},
      {"embedding output without a token dimension", "embedding output",
       [=](PlanSpec &s) {
         BufferSpec &out = stepOf(s, P, K::Embedding).outputs[0];
         out.dims = {1, s.dim};
         out.offset = s.entries[P].arenaBytes - 4 * s.dim;
       }},
      {"add reads the token ids", "arena",
       [=](PlanSpec &s) {
         StepSpec &add = stepOf(s, P, K::Add);
         BufferSpec tokens{fb::BufferKind::Tokens, uint64_t(1) << 40, fb::DType::I32, {-1}};
         add.inputs = {tokens, tokens};
         add.outputs[0].dims = {-1};
       }},
      {"matmul reads a weight as its activation", "arena",
       [=](PlanSpec &s) {
         StepSpec &mm = stepOf(s, D, K::MatMul);
         mm.inputs[0] = stepOf(s, D, K::RmsNorm).inputs[1]; // a [dim] weight
         mm.outputs[0].dims = {mm.inputs[1].dims[0]};
       }},
      {"f16 rms_norm weight", "rms_norm weight",
       [=](PlanSpec &s) {
         size_t w = weightNamed(s, "norm");
         s.weights[w].dtype = fb::DType::F16;
         s.weights[w].bytes.resize(s.weights[w].bytes.size() / 2);
         for (EntrySpec &e : s.entries)
           e.steps[e.steps.size() - 2].inputs[1].dtype = fb::DType::F16;
       }},
      {"rotary sin table shorter than cos", "rotary tables",
       [=](PlanSpec &s) {
         size_t w = weightNamed(s, "rope.sin");
         s.weights[w].dims[0] /= 2;
         s.weights[w].bytes.resize(s.weights[w].bytes.size() / 2);
         for (EntrySpec &e : s.entries)
           for (StepSpec &step : e.steps)
             if (step.kernel == K::Rotary)
               step.inputs[2].dims[0] /= 2;
       }},
      {"rms_norm over an empty dimension", "rms_norm",
       [=](PlanSpec &s) {
         WeightSpec empty;
         empty.name = "empty";
         empty.dims = {0};
         s.weights.push_back(empty);
         StepSpec &norm = s.entries[P].steps[s.entries[P].steps.size() - 2];
         norm.inputs[0].dims = {1, -1, 0};
         norm.inputs[1] = {fb::BufferKind::Weight, s.weights.size() - 1,
                           fb::DType::F32, {0}};
         norm.outputs[0].dims = {1, -1, 0};
       }},
      {"matmul over an empty contraction", "matmul",
       [=](PlanSpec &s) {
         WeightSpec empty;
         empty.name = "empty";
         empty.dims = {int64_t(s.vocab), 0};
         s.weights.push_back(empty);
         StepSpec &out = s.entries[D].steps.back();
         out.inputs[0].dims = {1, -1, 0};
         out.inputs[1] = {fb::BufferKind::Weight, s.weights.size() - 1,
                          fb::DType::F32, {int64_t(s.vocab), 0}};
       }},
      {"KV cache size overflows 64 bits", "KV cache", [](PlanSpec &) {}, {},
       overflowingKvCachePlan},
      {"arena buffer size overflows 64 bits", "step 0", [](PlanSpec &) {}, {},
       overflowingArenaPlan},
  };
}

TEST(PlanCorruptionTest, TargetedCorruptionsAreRejected) {
  TinyConfig config; // f32, rotary tables: every kind of input is present
  config.rotaryTables = true;
  const PlanSpec base = tinyPlanSpec(makeTinyModel(config));
  TempFile file;
  size_t tested = 0, rejected = 0;
  for (const Corruption &c : corruptions()) {
    SCOPED_TRACE(c.name);
    PlanSpec spec = c.make ? c.make() : base;
    c.edit(spec);
    std::vector<uint8_t> bytes = serializePlan(spec);
    if (c.editBytes)
      c.editBytes(bytes);
    ++tested;
    std::string error;
    std::vector<uint8_t> exact(bytes); // exact size for ASan
    bool ok = verifyPlan(exact.data(), exact.size(), true, error);
    EXPECT_FALSE(ok) << "accepted";
    if (ok)
      continue;
    ++rejected;
    EXPECT_NE(error.find(c.message), std::string::npos)
        << "expected a message with '" << c.message << "', got: " << error;
    file.write(bytes);
    std::string openError;
    EXPECT_FALSE(MappedPlan::open(file.path(), openError));
    EXPECT_NE(openError.find(file.path()), std::string::npos) << openError;
    EXPECT_NE(openError.find(error), std::string::npos) << openError;
  }
  std::printf("[ variants ] targeted corruptions: %zu tested, %zu rejected\n",
              tested, rejected);
  EXPECT_EQ(rejected, tested);
}

TEST(PlanCorruptionTest, UntouchedBaseOfTheTargetedCorruptionsIsAccepted) {
  // Every corruption above starts from this plan, which is valid: the
  // rejections are due to the edits.
  TinyConfig config;
  config.rotaryTables = true;
  std::vector<uint8_t> bytes = tinyPlanBytes(config);
  std::string error;
  EXPECT_TRUE(verifyPlan(bytes.data(), bytes.size(), true, error)) << error;
}

TEST(PlanCorruptionTest, RotaryOverlappingItsInputRuns) {
  // Arena buffers may overlap: a rotary whose output starts 16 bytes into
  // its input is a valid plan (wrong values, but safe). Found by these
  // tests: Session copied the input with memcpy, undefined for overlapping
  // ranges (ASan: memcpy-param-overlap); it now uses memmove.
  TinyConfig config;
  PlanSpec spec = tinyPlanSpec(makeTinyModel(config));
  for (size_t entry = 0; entry < spec.entries.size(); ++entry)
    stepOf(spec, entry, fb::Kernel::Rotary).outputs[0].offset += 16;
  Tally tally;
  Prober prober(tally);
  std::string error;
  EXPECT_TRUE(prober.examine(serializePlan(spec), "overlapping rotary", error))
      << error;
  EXPECT_EQ(tally.ran, 1u);
  EXPECT_EQ(tally.failures, 0u);
}

} // namespace
