//===- PlanCorruptionTest.cpp - truncated and corrupted plans -------------===//
//
// Valid plans from TestPlans, damaged three ways:
//   (a) truncated at every length of the FlatBuffer part and at a stride
//       through the weights;
//   (b) bytes flipped at every position before the weights (the FlatBuffer
//       and its padding; xor 0x01 and 0xFF in one plan, 0x80 in another,
//       0x01 in the quantized one, 0xFF in the CUDA one), and at a stride
//       of 7 through the weights (xor 0x01 and 0xFF);
//   (c) targeted semantic corruptions built with the plan builder.
// The base plans are float (f32, f16), quantized: dequant_matmul steps
// over int4 with zero points, NF4 with double quantization, int4 with act
// order (a g_idx) and int8 per channel (a prefill entry only, to keep the
// flips affordable under ASan), and f32 compiled for the CUDA target (code
// of each format, every step's launches, fused epilogues with buffers of
// their own; the CUDA backend's verifier checks them, registered with the
// core verifier by the backends' registration; the sessions here run on the
// CPU).
// A damaged plan must either be rejected with a message, or, if verifyPlan
// accepts it (a flipped float parameter or name, padding), it must be
// mappable, printable as JSON, and a Session over it must run prefill and
// decode steps without crashing (run this under ASan: tools/scripts/
// test-asan.sh). Truncations, targeted corruptions and flips of weight bytes
// (by the checksum) must all be rejected. Without checksums, a flipped
// weight byte is accepted (any codes, scales and zero points are safe to
// run, and those of the quantized weights do run) unless it puts a g_idx
// entry outside its groups, which the verifier checks.
//
// Verification runs on an exact-size heap copy of each variant, so that
// ASan sees any read past its end.
//
//===----------------------------------------------------------------------===//

#include "TestPlans.h"

#include "qrt/cuda/Executable.h"
#include "qrt/cuda/KernelAbi.h"
#include "qrt/runtime/Backend.h"
#include "qrt/runtime/Session.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <cctype>
#include <cstdint>
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

/// The CUDA backend's verifier of its plan code, registered with the core
/// verifier (the backends' registration does it).
const bool kBackendsRegistered = [] {
  registerBuiltinBackends();
  return true;
}();

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

/// Verifies variants (with or without the weights' checksums) and runs the
/// accepted ones.
class Prober {
public:
  explicit Prober(Tally &tally, bool checksums = true)
      : tally(tally), checksums(checksums) {}

  /// True if the variant was accepted. `error` receives the message.
  bool examine(const uint8_t *data, size_t size, const std::string &label,
               std::string &error) {
    ++tally.tested;
    std::unique_ptr<uint8_t[]> copy(new uint8_t[std::max<size_t>(size, 1)]);
    if (size)
      std::memcpy(copy.get(), data, size);
    error.clear();
    if (!verifyPlan(copy.get(), size, checksums, error)) {
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
    std::unique_ptr<LoadedPlan> plan =
        LoadedPlan::openFile(file.path(), openError, VerifyOptions{checksums});
    if (!plan) {
      tally.fail(label + ": verifyPlan accepts what LoadedPlan::open rejects: " +
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
  void run(const LoadedPlan &plan, const std::string &label) {
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
    // The CPU session, also for plans with CUDA code (which would run on a
    // GPU if this machine had one): their CUDA launches are only verified.
    options.device = "cpu";
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
  bool checksums;
  TempFile file;
};

struct Base {
  const char *name;
  std::vector<uint8_t> bytes;
  /// Xor masks applied to every byte before the weights.
  std::vector<uint8_t> masks;
};

/// The projections of a quantized plan cycle through these: int4 with zero
/// points, NF4 double-quantized (16 rows * 2 blocks = 32 absmax values in 7
/// second-level blocks), int4 act order (a g_idx), int8 per channel (f32
/// scales).
std::vector<WeightScheme> quantizedSchemes() {
  IntNScheme int4;
  int4.bits = 4;
  int4.groupSize = 8;
  int4.symmetric = false;
  int4.scaleType = ScaleType::F16;
  Float4Scheme nf4;
  nf4.blockSize = 8;
  nf4.doubleQuant = true;
  nf4.doubleQuantBlockSize = 5;
  IntNScheme actOrder = int4;
  actOrder.groupSize = 4;
  actOrder.actOrder = true;
  IntNScheme int8;
  int8.bits = 8;
  int8.groupSize = kPerChannel;
  int8.symmetric = true;
  int8.scaleType = ScaleType::F32;
  return {WeightScheme::of(int4), WeightScheme::of(nf4),
          WeightScheme::of(actOrder), WeightScheme::of(int8)};
}

/// The CUDA executable of `spec`, laid out as the compiler writes one
/// (passes/lib/Plan/ExportCuda.cpp): a launch list for every step, one
/// launch per step but two for attention (the KV append, then attention); a
/// matmul followed by the add of its product runs the add in its epilogue,
/// with buffers of its own (its inputs, the residual, the sum), and the
/// add's list is empty. Modules: cuda-source, PTX for compute_80, a cubin
/// for sm_90. The code is a placeholder: the verifier does not read it, and
/// these tests run plans on the CPU.
cuda::ExecutableDesc cudaExecutableFor(const PlanDesc &spec) {
  cuda::ExecutableDesc executable;
  std::vector<std::string> &kernels = executable.kernels;
  auto launch = [&](std::string function, uint32_t gridX,
                    uint32_t tokensPerBlock, uint32_t blockX) {
    if (std::find(kernels.begin(), kernels.end(), function) == kernels.end())
      kernels.push_back(function);
    cuda::LaunchDesc l;
    l.function = std::move(function);
    l.gridX = gridX;
    l.tokensPerBlock = tokensPerBlock;
    l.blockX = blockX;
    return l;
  };
  auto isMatMul = [](const StepDesc &s) {
    return s.kernel == fb::Kernel::MatMul ||
           s.kernel == fb::Kernel::DequantMatMul;
  };
  for (const EntryDesc &entry : spec.entries) {
    const bool decode = entry.maxTokens == 1;
    const std::string suffix = "_" + entry.name;
    std::vector<std::vector<cuda::LaunchDesc>> steps(entry.steps.size());
    for (size_t i = 0; i < entry.steps.size(); ++i) {
      const StepDesc &s = entry.steps[i];
      if (i > 0 && !steps[i - 1].empty() && !steps[i - 1][0].buffers.empty())
        continue; // the add fused into the matmul before: an empty list
      std::string kind = fb::EnumNameKernel(s.kernel);
      std::transform(kind.begin(), kind.end(), kind.begin(),
                     [](unsigned char c) { return std::tolower(c); });
      if (s.kernel == fb::Kernel::Attention) {
        steps[i] = {launch("qrt_kv_append" + suffix, uint32_t(s.kvHeads), 1, 32),
                    launch("qrt_attention" + suffix, uint32_t(s.heads), 1, 128)};
        continue;
      }
      if (!isMatMul(s)) {
        steps[i] = {launch("qrt_" + kind + suffix, 1, 1, 64)};
        continue;
      }
      uint32_t rows = uint32_t(s.outputs[0].dims.back());
      cuda::LaunchDesc l =
          decode ? launch("qrt_" + kind + suffix, (rows + 3) / 4, 0, 128)
                 : launch("qrt_" + kind + suffix, 1, 32, 256);
      if (i + 1 < entry.steps.size()) {
        const StepDesc &add = entry.steps[i + 1];
        if (add.kernel == fb::Kernel::Add &&
            add.inputs[1].kind == fb::BufferKind::Arena &&
            add.inputs[1].offset == s.outputs[0].offset) {
          l = launch("qrt_" + kind + "_add" + suffix, l.gridX,
                     l.tokensPerBlock, l.blockX);
          l.buffers = s.inputs;
          l.buffers.push_back(add.inputs[0]);
          l.buffers.push_back(add.outputs[0]);
        }
      }
      steps[i] = {l};
    }
    executable.launches.push_back(std::move(steps));
  }
  auto bytes = [](const std::string &text) {
    return std::vector<uint8_t>(text.begin(), text.end());
  };
  executable.modules = {
      {"cuda-source", "", bytes("// the generated CUDA C++\n")},
      {"ptx", "compute_80", bytes(".version 8.0\n")},
      {"cubin", "sm_90", {0x7f, 'E', 'L', 'F'}}};
  return executable;
}

/// `spec` with cudaExecutableFor's executable as its CUDA code.
PlanDesc withCuda(PlanDesc spec) {
  cuda::ExecutableDesc executable = cudaExecutableFor(spec);
  return withExecutable(std::move(spec), executable);
}

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
  TinyConfig quantized; // wq int4, wk nf4, wv act order, wo int8, w1 int4...
  quantized.layers = 1;
  quantized.projectionSchemes = quantizedSchemes();
  quantized.seed = 3;
  PlanDesc quantizedSpec = tinyPlanSpec(makeTinyModel(quantized));
  // Only the prefill entry, which then also runs the 1-token steps (the
  // GEMV): every dequant_matmul structure in half the FlatBuffer.
  quantizedSpec.entries.resize(1);
  // f32 for the CUDA target: its code, kernel lists and launches; the
  // prefill entry only, as above.
  TinyConfig cuda = base;
  cuda.seed = 4;
  PlanDesc cudaSpec = tinyPlanSpec(makeTinyModel(cuda));
  cudaSpec.entries.resize(1);
  return {{"f16+tables", tinyPlanBytes(tables), {0x01, 0xFF}},
          {"f32+base", tinyPlanBytes(base), {0x80}},
          {"quantized", writePlan(quantizedSpec), {0x01}},
          {"cuda", writePlan(withCuda(cudaSpec)), {0xFF}}};
}

/// [begin, end) and name of every weight's bytes, and the start of the
/// weight region.
struct WeightRanges {
  struct Range {
    uint64_t begin, end;
    std::string name;
  };
  uint64_t regionBegin = 0;
  std::vector<Range> ranges;
  /// The weight holding `position`, or nullptr (padding).
  const Range *find(uint64_t position) const {
    for (const Range &r : ranges)
      if (position >= r.begin && position < r.end)
        return &r;
    return nullptr;
  }
};

WeightRanges rangesOf(const std::vector<uint8_t> &bytes) {
  WeightRanges layout;
  const fb::Plan *plan = planOf(bytes.data());
  layout.regionBegin = plan->weights_offset();
  for (const fb::WeightInfo *w : *plan->weights())
    layout.ranges.push_back(
        {w->offset(), w->offset() + w->size(), w->name()->str()});
  return layout;
}

bool endsWith(const std::string &s, const std::string &suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

/// Whether `name` is a component of a quantized weight.
bool isComponent(const std::string &name) {
  for (ComponentRole role :
       {ComponentRole::Data, ComponentRole::Scales, ComponentRole::ZeroPoints,
        ComponentRole::GroupIndex, ComponentRole::DoubleQuantScales,
        ComponentRole::DoubleQuantOffset})
    if (endsWith(name, std::string(".") + componentRoleName(role)))
      return true;
  return false;
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
  EXPECT_EQ(tally.ran, 4u);
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
        if (LoadedPlan::openFile(file.path(), openError) || openError.empty())
          tally.fail(label + ": LoadedPlan::open accepted or gave no message");
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
  Tally header, weights, unchecked;
  Prober headerProber(header), weightProber(weights),
      uncheckedProber(unchecked, /*checksums=*/false);
  size_t weightFlips = 0, checksumRejections = 0, uncheckedAccepted = 0,
         groupIndexRejections = 0, cudaRejections = 0;
  for (const Base &base : basePlans()) {
    std::vector<uint8_t> bytes = base.bytes;
    WeightRanges layout = rangesOf(bytes);
    // Every byte before the weight region: the FlatBuffer and its padding.
    for (uint64_t pos = 0; pos < layout.regionBegin; ++pos)
      for (uint8_t mask : base.masks) {
        bytes[pos] ^= mask;
        std::string error;
        bool accepted = headerProber.examine(bytes,
                                             std::string(base.name) + " byte " +
                                                 std::to_string(pos) + " ^ " +
                                                 std::to_string(mask),
                                             error);
        // Rejected by the checks of CUDA code and launches.
        if (!accepted && (error.find("target code ") != std::string::npos ||
                          error.find(" launch") != std::string::npos ||
                          error.find("CUDA launch list") != std::string::npos))
          ++cudaRejections;
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
        if (const WeightRanges::Range *weight = layout.find(pos)) {
          ++weightFlips;
          if (accepted)
            weights.fail(label + ": a weight flip passed the checksum");
          else if (error.find("checksum") == std::string::npos)
            weights.fail(label + ": rejected, but not by the checksum: " + error);
          else
            ++checksumRejections;
          // Without the checksum: quantized components are run (garbage
          // codes, scales, zero points, double-quant values); other weights
          // only verified.
          std::string uncheckedError;
          bool uncheckedOk =
              isComponent(weight->name)
                  ? uncheckedProber.examine(bytes, label + " (unchecked)",
                                            uncheckedError)
                  : verifyPlan(bytes.data(), bytes.size(), /*checksums=*/false,
                               uncheckedError);
          if (uncheckedOk)
            ++uncheckedAccepted;
          else if (endsWith(weight->name, ".g_idx") &&
                   uncheckedError.find("g_idx[") != std::string::npos)
            ++groupIndexRejections;
          else
            weights.fail(label + ": rejected without the checksum: " +
                         uncheckedError);
        }
        bytes[pos] ^= mask;
      }
  }
  header.print("flips before the weights");
  weights.print("flips in the weight region");
  unchecked.print("flips in quantized components, without checksums");
  std::printf("[ variants ] flips rejected by the CUDA checks: %zu\n",
              cudaRejections);
  std::printf("[ variants ] weight-byte flips: %zu, rejected by the checksum: "
              "%zu; without it: %zu accepted, %zu rejected by the g_idx "
              "check\n",
              weightFlips, checksumRejections, uncheckedAccepted,
              groupIndexRejections);
  EXPECT_EQ(header.failures, 0u);
  EXPECT_EQ(weights.failures, 0u);
  EXPECT_EQ(unchecked.failures, 0u);
  EXPECT_GT(header.tested, 4 * 8000u);
  // Most flips break the structure; some (names, float parameters,
  // padding) are accepted, and those ran.
  EXPECT_GT(header.rejected, header.tested / 2);
  EXPECT_GT(header.ran, 0u);
  EXPECT_GT(cudaRejections, 100u);
  EXPECT_GT(weightFlips, 500u);
  EXPECT_EQ(checksumRejections, weightFlips);
  EXPECT_EQ(uncheckedAccepted + groupIndexRejections, weightFlips);
  // Some flips hit a g_idx entry's high byte (0xFF makes it negative), and
  // many quantized components ran.
  EXPECT_GT(groupIndexRejections, 0u);
  EXPECT_GT(unchecked.ran, 100u);
}

//===----------------------------------------------------------------------===//
// (c) Targeted corruptions
//===----------------------------------------------------------------------===//

StepDesc &stepOf(PlanDesc &spec, size_t entry, fb::Kernel kernel, size_t nth = 0) {
  for (StepDesc &step : spec.entries.at(entry).steps)
    if (step.kernel == kernel && nth-- == 0)
      return step;
  throw std::logic_error("no such step");
}

size_t weightNamed(const PlanDesc &spec, const std::string &name) {
  for (size_t i = 0; i < spec.weights.size(); ++i)
    if (spec.weights[i].name == name)
      return i;
  throw std::logic_error("no weight " + name);
}

/// A KV cache of 2^22 layers x 2^10 heads x 2^10 dims x 2^22 positions:
/// 2^64 floats, 0 in 64-bit arithmetic.
PlanDesc overflowingKvCachePlan() {
  PlanDesc spec;
  spec.model.vocab = 1;
  spec.kvCache->layers = 1 << 22;
  spec.kvCache->kvHeads = 1 << 10;
  spec.kvCache->headDim = 1 << 10;
  spec.kvCache->capacity = 1 << 22;
  EntryDesc entry;
  entry.name = "decode";
  entry.maxTokens = 1;
  entry.arenaBytes = 4 << 20;
  BufferDesc heads{fb::BufferKind::Arena, 0, fb::DType::F32, {1, -1, 1024, 1024}};
  StepDesc attention;
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
PlanDesc overflowingArenaPlan() {
  PlanDesc spec;
  spec.model.vocab = 1;
  spec.kvCache->layers = spec.kvCache->kvHeads = spec.kvCache->headDim = 1;
  spec.kvCache->capacity = 1 << 29;
  EntryDesc entry;
  entry.name = "prefill";
  entry.maxTokens = 1 << 29;
  entry.arenaBytes = uint64_t(1) << 31;
  BufferDesc huge{fb::BufferKind::Arena, 0, fb::DType::F32, {1, -1, int64_t(1) << 33}};
  StepDesc add;
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
  std::function<void(PlanDesc &)> edit;
  /// Applied to the serialized bytes, after `edit`.
  std::function<void(std::vector<uint8_t> &)> editBytes = {};
  /// Starts from this plan instead of the tiny one.
  std::function<PlanDesc()> make = {};
  /// A plan for the CUDA target: its executable, edited (after `edit`),
  /// becomes the plan's CUDA code.
  std::function<void(PlanDesc &, cuda::ExecutableDesc &)> editCuda = {};
};

std::vector<Corruption> corruptions() {
  using K = fb::Kernel;
  const size_t P = 0, D = 1; // prefill, decode entries
  return {
      // Arena buffers.
      {"arena offset past the arena", "outside the arena",
       [=](PlanDesc &s) {
         stepOf(s, P, K::MatMul).outputs[0].offset = s.entries[P].arenaBytes;
       }},
      {"arena buffer crossing the arena end", "outside the arena",
       [=](PlanDesc &s) { s.entries[P].logits.offset = s.entries[P].arenaBytes - 64; }},
      {"arena offset not a multiple of 4", "outside the arena",
       [=](PlanDesc &s) { stepOf(s, D, K::Add).inputs[1].offset += 2; }},
      {"arena smaller than its buffers", "outside the arena",
       [=](PlanDesc &s) { s.entries[D].arenaBytes -= 4; }},
      {"f16 activation", "activations are f32",
       [=](PlanDesc &s) { stepOf(s, P, K::SwiGlu).inputs[0].dtype = fb::DType::F16; }},
      // Weights.
      {"weight index out of range", "refers to weight",
       [=](PlanDesc &s) { stepOf(s, P, K::MatMul, 3).inputs[1].offset = s.weights.size(); }},
      {"weight index 2^40", "refers to weight",
       [=](PlanDesc &s) { stepOf(s, D, K::RmsNorm).inputs[1].offset = uint64_t(1) << 40; }},
      {"buffer shape differs from its weight", "does not match weight",
       [=](PlanDesc &s) { stepOf(s, P, K::MatMul).inputs[1].dims[1] += 1; }},
      {"buffer type differs from its weight", "does not match weight",
       [=](PlanDesc &s) { stepOf(s, D, K::MatMul, 2).inputs[1].dtype = fb::DType::F16; }},
      {"weight shape disagrees with its bytes", "holds",
       [=](PlanDesc &s) { s.weights[weightNamed(s, "output")].dims[0] = 31; }},
      {"weight size field", "holds",
       [=](PlanDesc &s) { s.weights[3].size = s.weights[3].bytes.size() + 64; }},
      {"matmul contraction mismatch", "contraction",
       [=](PlanDesc &s) {
         // layers.0.feed_forward.w1 stored as [16, 24] (same bytes).
         size_t w = weightNamed(s, "layers.0.feed_forward.w1");
         s.weights[w].dims = {16, 24};
         for (EntryDesc &e : s.entries)
           for (StepDesc &step : e.steps)
             for (BufferDesc &b : step.inputs)
               if (b.kind == fb::BufferKind::Weight && b.offset == w)
                 b.dims = {16, 24};
       }},
      {"misaligned weight offset", "outside the weight region",
       [](PlanDesc &) {},
       [](std::vector<uint8_t> &b) { patchWeightOffset(b, 4, 4); }},
      {"weight inside the FlatBuffer", "outside the weight region",
       [](PlanDesc &) {},
       [](std::vector<uint8_t> &b) { patchWeightOffset(b, 0, -64); }},
      {"weight past the end of the file", "outside the weight region",
       [](PlanDesc &) {},
       [](std::vector<uint8_t> &b) {
         patchWeightOffset(b, planOf(b.data())->weights()->size() - 1,
                           1 << 20);
       }},
      {"bad checksum", "checksum",
       [=](PlanDesc &s) {
         s.weights[5].checksum =
             checksum64(s.weights[5].bytes.data(), s.weights[5].bytes.size()) ^ 1;
       }},
      {"unknown element type", "unknown element type",
       [=](PlanDesc &s) { s.weights[2].dtype = static_cast<fb::DType>(99); }},
      // Versions and identity.
      {"version 0", "version", [=](PlanDesc &s) { s.version = 0; }},
      {"version 2", "version", [=](PlanDesc &s) { s.version = kPlanVersion + 1; }},
      {"version 2^32-1", "version", [=](PlanDesc &s) { s.version = 0xFFFFFFFFu; }},
      {"not a plan", "not a plan", [](PlanDesc &) {},
       [](std::vector<uint8_t> &b) { std::memcpy(b.data() + 8, "QPLM", 4); /* after size, root */ }},
      {"size prefix past the end", "truncated", [](PlanDesc &) {},
       [](std::vector<uint8_t> &b) {
         uint32_t n = uint32_t(b.size());
         std::memcpy(b.data(), &n, 4);
       }},
      // The KV cache and attention.
      {"layer >= cache layers", "KV cache",
       [=](PlanDesc &s) {
         stepOf(s, P, K::Attention, 1).layer = s.kvCache->layers;
       }},
      {"negative layer", "KV cache",
       [=](PlanDesc &s) { stepOf(s, D, K::Attention).layer = -1; }},
      {"cache smaller than max_tokens", "more tokens than the KV cache",
       [=](PlanDesc &s) { s.kvCache->capacity = s.entries[P].maxTokens - 1; }},
      {"cache KV heads differ", "KV cache",
       [=](PlanDesc &s) { s.kvCache->kvHeads = 4; }},
      {"f16 KV cache", "KV cache description",
       [=](PlanDesc &s) { s.kvCache->dtype = fb::DType::F16; }},
      {"heads not a multiple of KV heads", "head counts",
       [=](PlanDesc &s) { stepOf(s, P, K::Attention).heads = 3; }},
      {"non-causal attention", "causal",
       [=](PlanDesc &s) { stepOf(s, D, K::Attention).causal = false; }},
      {"attention query shape", "attention shapes",
       [=](PlanDesc &s) { stepOf(s, P, K::Attention).inputs[0].dims = {1, -1, 2, 8}; }},
      // Other steps.
      {"unknown kernel", "unknown kernel",
       [=](PlanDesc &s) { s.entries[D].steps[3].kernel = static_cast<K>(99); }},
      {"odd rotary_dim", "rotary",
       [=](PlanDesc &s) { stepOf(s, P, K::Rotary).rotaryDim = 3; }},
      {"rotary tables of the wrong width", "rotary tables",
       [=](PlanDesc &s) { stepOf(s, P, K::Rotary, 1).rotaryDim = 2; }},
      {"rotary without tables or base", "positive base",
       [=](PlanDesc &s) {
         StepDesc &r = stepOf(s, D, K::Rotary);
         r.inputs.resize(1);
         r.rotaryBase = 0;
       }},
      {"unknown rotary convention", "convention",
       [=](PlanDesc &s) {
         stepOf(s, P, K::Rotary).convention = static_cast<fb::RotaryConvention>(7);
       }},
      {"output into a weight", "writes outside the arena",
       [=](PlanDesc &s) {
         StepDesc &norm = stepOf(s, P, K::RmsNorm);
         norm.outputs[0] = norm.inputs[1];
         norm.inputs[0].dims = norm.inputs[1].dims;
       }},
      {"tokens as int64", "token ids",
       [=](PlanDesc &s) { stepOf(s, P, K::Embedding).inputs[1].dtype = fb::DType::I64; }},
      {"embedding of an arena buffer", "embedding takes",
       [=](PlanDesc &s) {
         stepOf(s, P, K::Embedding).inputs[1] =
             BufferDesc{fb::BufferKind::Arena, 0, fb::DType::F32, {1, -1}};
       }},
      {"elementwise shapes differ", "one shape",
       [=](PlanDesc &s) { stepOf(s, P, K::Add).inputs[1].dims = {1, -1, 8}; }},
      {"logits not over the vocabulary", "logits",
       [=](PlanDesc &s) { s.model.vocab -= 1; }},
      {"no entries", "entry points",
       [=](PlanDesc &s) { s.entries.clear(); }},
      {"max_tokens 0", "entry point is invalid",
       [=](PlanDesc &s) { s.entries[D].maxTokens = 0; }},

      // Found by these tests (each passed verification before the fix in
      // runtime/src/core/Plan.cpp, and crashed or read out of bounds in a
      // Session).
      // (At the end of the arena, so that reading more than one row
      // overflows the arena's allocation.)
      {"logits without a token dimension", "logits",
       [=](PlanDesc &s) {
         s.entries[P].logits.dims = {1, s.model.vocab};
         s.entries[P].logits.offset =
             s.entries[P].arenaBytes - 4 * s.model.vocab;
       }},
      {"logits of rank 0", "logits",
       [=](PlanDesc &s) { s.entries[D].logits.dims = {}; }},
      {"embedding output without a token dimension", "embedding output",
       [=](PlanDesc &s) {
         BufferDesc &out = stepOf(s, P, K::Embedding).outputs[0];
         out.dims = {1, s.model.dim};
         out.offset = s.entries[P].arenaBytes - 4 * s.model.dim;
       }},
      {"add reads the token ids", "arena",
       [=](PlanDesc &s) {
         StepDesc &add = stepOf(s, P, K::Add);
         BufferDesc tokens{fb::BufferKind::Tokens, uint64_t(1) << 40, fb::DType::I32, {-1}};
         add.inputs = {tokens, tokens};
         add.outputs[0].dims = {-1};
       }},
      {"matmul reads a weight as its activation", "arena",
       [=](PlanDesc &s) {
         StepDesc &mm = stepOf(s, D, K::MatMul);
         mm.inputs[0] = stepOf(s, D, K::RmsNorm).inputs[1]; // a [dim] weight
         mm.outputs[0].dims = {mm.inputs[1].dims[0]};
       }},
      {"f16 rms_norm weight", "rms_norm weight",
       [=](PlanDesc &s) {
         size_t w = weightNamed(s, "norm");
         s.weights[w].dtype = fb::DType::F16;
         s.weights[w].bytes.resize(s.weights[w].bytes.size() / 2);
         for (EntryDesc &e : s.entries)
           e.steps[e.steps.size() - 2].inputs[1].dtype = fb::DType::F16;
       }},
      {"rotary sin table shorter than cos", "rotary tables",
       [=](PlanDesc &s) {
         size_t w = weightNamed(s, "rope.sin");
         s.weights[w].dims[0] /= 2;
         s.weights[w].bytes.resize(s.weights[w].bytes.size() / 2);
         for (EntryDesc &e : s.entries)
           for (StepDesc &step : e.steps)
             if (step.kernel == K::Rotary)
               step.inputs[2].dims[0] /= 2;
       }},
      {"rms_norm over an empty dimension", "rms_norm",
       [=](PlanDesc &s) {
         WeightDesc empty;
         empty.name = "empty";
         empty.dims = {0};
         s.weights.push_back(empty);
         StepDesc &norm = s.entries[P].steps[s.entries[P].steps.size() - 2];
         norm.inputs[0].dims = {1, -1, 0};
         norm.inputs[1] = {fb::BufferKind::Weight, s.weights.size() - 1,
                           fb::DType::F32, {0}};
         norm.outputs[0].dims = {1, -1, 0};
       }},
      {"matmul over an empty contraction", "matmul",
       [=](PlanDesc &s) {
         WeightDesc empty;
         empty.name = "empty";
         empty.dims = {int64_t(s.model.vocab), 0};
         s.weights.push_back(empty);
         StepDesc &out = s.entries[D].steps.back();
         out.inputs[0].dims = {1, -1, 0};
         out.inputs[1] = {fb::BufferKind::Weight, s.weights.size() - 1,
                          fb::DType::F32, {int64_t(s.model.vocab), 0}};
       }},
      {"KV cache size overflows 64 bits", "KV cache", [](PlanDesc &) {}, {},
       overflowingKvCachePlan},
      {"arena buffer size overflows 64 bits", "step 0", [](PlanDesc &) {}, {},
       overflowingArenaPlan},
  };
}

/// The base of the quantized targeted corruptions: the tiny decoder (two
/// layers, rotary tables) with its projections in quantizedSchemes(). In
/// layer 0: wq int4 g8 asym f16 [16, 16] (data [16, 8], scales [16, 2],
/// zero points [16, 1]); wk NF4 b8 double-quantized [8, 16] (data [8, 8],
/// scale codes [8, 2], double-quant scales [4], offset []); wv int4 g4 act
/// order [8, 16] (4 groups; g_idx [16]); wo int8 per channel sym f32
/// [16, 16]; w1 int4; w3 NF4; w2 act order [16, 24] (6 groups).
PlanDesc quantizedTargetPlan() {
  TinyConfig config;
  config.rotaryTables = true;
  config.projectionSchemes = quantizedSchemes();
  return tinyPlanSpec(makeTinyModel(config));
}

StepDesc &stepNamed(PlanDesc &spec, size_t entry, const std::string &name) {
  for (StepDesc &step : spec.entries.at(entry).steps)
    if (step.name == name)
      return step;
  throw std::logic_error("no step " + name);
}

/// Gives weight `w` another type and shape (its bytes resized), in the
/// weight and in every buffer that refers to it: the plan stays consistent
/// up to the step that reads it.
void retypeWeight(PlanDesc &s, size_t w, fb::DType dtype,
                  std::vector<int64_t> dims) {
  uint64_t elements = 1;
  for (int64_t d : dims)
    elements *= uint64_t(d);
  s.weights[w].dtype = dtype;
  s.weights[w].dims = dims;
  s.weights[w].bytes.resize(elements * dtypeBytes(dtype), 0x11);
  for (EntryDesc &e : s.entries)
    for (StepDesc &step : e.steps)
      for (BufferDesc &b : step.inputs)
        if (b.kind == fb::BufferKind::Weight && b.offset == w) {
          b.dtype = dtype;
          b.dims = dims;
        }
}

/// Sets g_idx[column] of weight `name` + ".g_idx" (its checksum follows).
void setGroup(PlanDesc &s, const std::string &name, int64_t column,
              int32_t group) {
  WeightDesc &w = s.weights[weightNamed(s, name + ".g_idx")];
  std::memcpy(w.bytes.data() + 4 * column, &group, 4);
}

std::vector<Corruption> quantizedCorruptions() {
  const size_t P = 0, D = 1; // prefill, decode entries
  const std::string wq = "layers.0.attention.wq", wk = "layers.0.attention.wk",
                    wv = "layers.0.attention.wv", wo = "layers.0.attention.wo",
                    w2 = "layers.0.feed_forward.w2";
  auto quant = [=](PlanDesc &s, size_t entry, const std::string &name) -> QuantDesc & {
    return *stepNamed(s, entry, name).quant;
  };
  std::vector<Corruption> list = {
      // The group index, entry by entry.
      {"g_idx entry -1", "g_idx[5] = -1 is not a group of the weight (4 groups)",
       [=](PlanDesc &s) { setGroup(s, wv, 5, -1); }},
      {"g_idx entry == groups", "g_idx[0] = 4 is not a group of the weight (4 groups)",
       [=](PlanDesc &s) { setGroup(s, wv, 0, 4); }},
      {"g_idx entry INT32_MIN", "g_idx[23] = -2147483648 is not a group",
       [=](PlanDesc &s) { setGroup(s, w2, 23, INT32_MIN); }},
      {"g_idx entry INT32_MAX", "g_idx[12] = 2147483647 is not a group",
       [=](PlanDesc &s) { setGroup(s, w2, 12, INT32_MAX); }},
      // The scheme.
      {"no quant table", "no quantization scheme",
       [=](PlanDesc &s) { stepNamed(s, P, wq).quant.reset(); }},
      {"bits 5", "bits must be 2, 3, 4 or 8, got 5",
       [=](PlanDesc &s) { quant(s, P, wq).bits = 5; }},
      {"bits 0", "bits must be 2, 3, 4 or 8, got 0",
       [=](PlanDesc &s) { quant(s, D, wo).bits = 0; }},
      {"bits -4", "bits must be 2, 3, 4 or 8, got -4",
       [=](PlanDesc &s) { quant(s, P, wv).bits = -4; }},
      {"group_size 0", "group size must be positive or per_channel, got 0",
       [=](PlanDesc &s) { quant(s, P, wq).groupSize = 0; }},
      {"group_size -2", "group size must be positive or per_channel, got -2",
       [=](PlanDesc &s) { quant(s, D, wq).groupSize = -2; }},
      {"NF4 block size 0", "block size must be positive, got 0",
       [=](PlanDesc &s) { quant(s, P, wk).groupSize = 0; }},
      {"NF4 block size -1 (per channel is intN's)", "block size must be positive, got -1",
       [=](PlanDesc &s) { quant(s, P, wk).groupSize = -1; }},
      {"act order per channel", "act_order needs a group size",
       [=](PlanDesc &s) { quant(s, P, wv).groupSize = kPerChannel; }},
      {"double_quant block size 0",
       "double-quantization block size must be positive, got 0",
       [=](PlanDesc &s) { quant(s, P, wk).doubleQuantBlockSize = 0; }},
      {"double_quant block size -5",
       "double-quantization block size must be positive, got -5",
       [=](PlanDesc &s) { quant(s, D, wk).doubleQuantBlockSize = -5; }},
      {"rows 0", "the quantized weight's shape [0, 16] is invalid",
       [=](PlanDesc &s) { quant(s, P, wq).rows = 0; }},
      {"cols 0", "the quantized weight's shape [16, 0] is invalid",
       [=](PlanDesc &s) { quant(s, P, wq).cols = 0; }},
      {"rows -16", "the quantized weight's shape [-16, 16] is invalid",
       [=](PlanDesc &s) { quant(s, D, wo).rows = -16; }},
      {"rows 2^40", "is invalid",
       [=](PlanDesc &s) { quant(s, P, wk).rows = int64_t(1) << 40; }},
      {"cols 2^31 + 1", "is invalid",
       [=](PlanDesc &s) { quant(s, P, wv).cols = (int64_t(1) << 31) + 1; }},
      {"cols INT64_MIN", "is invalid",
       [=](PlanDesc &s) { quant(s, P, wv).cols = INT64_MIN; }},
      // 2^31 rows pass the bound, not the components' shapes.
      {"rows 2^31", "input 1 must be the data weight, u8 [2147483648, 8]",
       [=](PlanDesc &s) { quant(s, P, wq).rows = int64_t(1) << 31; }},
      {"scale_type U8", "scale type is not f32, f16 or bf16",
       [=](PlanDesc &s) { quant(s, P, wq).scaleType = fb::DType::U8; }},
      {"scale_type I64", "scale type is not f32, f16 or bf16",
       [=](PlanDesc &s) { quant(s, P, wo).scaleType = fb::DType::I64; }},
      {"scale_type 99", "scale type is not f32, f16 or bf16",
       [=](PlanDesc &s) { quant(s, D, wk).scaleType = static_cast<fb::DType>(99); }},
      {"unknown quantization kind", "unknown quantization kind 9",
       [=](PlanDesc &s) { quant(s, P, wq).kind = static_cast<fb::QuantKind>(9); }},
      {"NF4 with 8 bits", "NF4 codes have 4 bits, got 8",
       [=](PlanDesc &s) { quant(s, P, wk).bits = 8; }},
      {"NF4 with act order", "NF4 has no act order",
       [=](PlanDesc &s) { quant(s, D, wk).actOrder = true; }},
      {"intN with double quantization", "intN weights have no double quantization",
       [=](PlanDesc &s) { quant(s, P, wq).doubleQuant = true; }},
      // LLM.int8() steps.
      {"int8_matmul of an int4 weight",
       "int8_matmul (LLM.int8()) needs an 8-bit per-channel symmetric weight",
       [=](PlanDesc &s) { stepNamed(s, P, wq).kernel = fb::Kernel::Int8MatMul; }},
      {"int8_matmul of an NF4 weight",
       "int8_matmul (LLM.int8()) needs an 8-bit per-channel symmetric weight",
       [=](PlanDesc &s) { stepNamed(s, D, wk).kernel = fb::Kernel::Int8MatMul; }},
      {"negative outlier threshold",
       "the outlier threshold must be finite and >= 0, got -1",
       [=](PlanDesc &s) {
         StepDesc &step = stepNamed(s, P, wo);
         step.kernel = fb::Kernel::Int8MatMul;
         step.outlierThreshold = -1.0f;
       }},
      {"infinite outlier threshold",
       "the outlier threshold must be finite and >= 0, got inf",
       [=](PlanDesc &s) {
         StepDesc &step = stepNamed(s, D, wo);
         step.kernel = fb::Kernel::Int8MatMul;
         step.outlierThreshold = std::numeric_limits<float>::infinity();
       }},
      // 8-bit activations where no kernel has them.
      {"int8_activations of an act-order weight",
       "int8_activations: the weight's scheme has no 8-bit-activation kernel",
       [=](PlanDesc &s) { stepNamed(s, P, wv).int8Activations = true; }},
      {"int8_activations with groups of 8",
       "int8_activations: the weight's scheme has no 8-bit-activation kernel",
       [=](PlanDesc &s) { stepNamed(s, D, wq).int8Activations = true; }},
      {"int8_activations on an int8_matmul",
       "only dequant_matmul takes int8_activations",
       [=](PlanDesc &s) {
         StepDesc &step = stepNamed(s, P, wo);
         step.kernel = fb::Kernel::Int8MatMul;
         step.int8Activations = true;
       }},
      // The number of components.
      {"zero points missing", "dequant_matmul takes x and the 3 components",
       [=](PlanDesc &s) {
         auto &in = stepNamed(s, P, wq).inputs;
         in.erase(in.begin() + 3);
       }},
      {"one component too many", "dequant_matmul takes x and the 3 components",
       [=](PlanDesc &s) {
         auto &in = stepNamed(s, D, wq).inputs;
         in.push_back(in[2]);
       }},
      {"no components", "dequant_matmul takes x and the 4 components",
       [=](PlanDesc &s) { stepNamed(s, P, wv).inputs.resize(1); }},
      {"no inputs", "dequant_matmul takes x and the 4 components",
       [=](PlanDesc &s) { stepNamed(s, P, wk).inputs.clear(); }},
      {"two outputs", "dequant_matmul takes x and the 2 components",
       [=](PlanDesc &s) {
         StepDesc &step = stepNamed(s, P, wo);
         step.outputs.push_back(step.outputs[0]);
       }},
      {"asymmetric weight declared symmetric", "takes x and the 2 components",
       [=](PlanDesc &s) { quant(s, P, wq).symmetric = true; }},
      {"symmetric weight declared asymmetric", "takes x and the 3 components",
       [=](PlanDesc &s) { quant(s, P, wo).symmetric = false; }},
      {"double-quantized weight declared plain", "takes x and the 2 components",
       [=](PlanDesc &s) { quant(s, P, wk).doubleQuant = false; }},
      {"act-order weight declared in order", "takes x and the 3 components",
       [=](PlanDesc &s) { quant(s, D, wv).actOrder = false; }},
      // Each component's type, shape and kind.
      {"f32 scales for f16", "input 2 must be the scales weight, f16 [16, 2], not a weight f32 [16, 2]",
       [=](PlanDesc &s) {
         retypeWeight(s, weightNamed(s, wq + ".scales"), fb::DType::F32, {16, 2});
       }},
      {"scale_type disagrees with the stored scales",
       "input 2 must be the scales weight, bf16 [16, 2]",
       [=](PlanDesc &s) { quant(s, P, wq).scaleType = fb::DType::BF16; }},
      {"f16 scales for f32", "input 2 must be the scales weight, f32 [16, 1]",
       [=](PlanDesc &s) {
         retypeWeight(s, weightNamed(s, wo + ".scales"), fb::DType::F16, {16, 1});
       }},
      {"int64 g_idx", "input 4 must be the g_idx weight, i32 [16]",
       [=](PlanDesc &s) {
         retypeWeight(s, weightNamed(s, wv + ".g_idx"), fb::DType::I64, {16});
       }},
      {"f32 codes", "input 1 must be the data weight, u8 [8, 8]",
       [=](PlanDesc &s) {
         retypeWeight(s, weightNamed(s, wk + ".data"), fb::DType::F32, {8, 8});
       }},
      {"codes one byte short a row", "input 1 must be the data weight, u8 [16, 8], not a weight u8 [16, 7]",
       [=](PlanDesc &s) {
         retypeWeight(s, weightNamed(s, wq + ".data"), fb::DType::U8, {16, 7});
       }},
      {"codes flattened", "input 1 must be the data weight, u8 [16, 16]",
       [=](PlanDesc &s) {
         retypeWeight(s, weightNamed(s, wo + ".data"), fb::DType::U8, {256});
       }},
      {"zero points of the wrong shape", "input 3 must be the zero_points weight, u8 [16, 1]",
       [=](PlanDesc &s) {
         retypeWeight(s, weightNamed(s, wq + ".zero_points"), fb::DType::U8, {16, 2});
       }},
      {"g_idx one entry short", "input 4 must be the g_idx weight, i32 [16]",
       [=](PlanDesc &s) {
         retypeWeight(s, weightNamed(s, wv + ".g_idx"), fb::DType::I32, {15});
       }},
      {"double-quant scales one short", "input 3 must be the double_quant_scales weight, f32 [4]",
       [=](PlanDesc &s) {
         retypeWeight(s, weightNamed(s, wk + ".double_quant_scales"), fb::DType::F32, {3});
       }},
      {"double-quant offset not a scalar",
       "input 4 must be the double_quant_offset weight, f32 [], not a weight f32 [1]",
       [=](PlanDesc &s) {
         retypeWeight(s, weightNamed(s, wk + ".double_quant_offset"), fb::DType::F32, {1});
       }},
      {"group size of other scales", "input 2 must be the scales weight, f16 [16, 1]",
       [=](PlanDesc &s) { quant(s, P, wq).groupSize = 16; }},
      {"double-quant block of other scales",
       "input 3 must be the double_quant_scales weight, f32 [6]",
       [=](PlanDesc &s) { quant(s, P, wk).doubleQuantBlockSize = 3; }},
      {"rows of other components", "input 1 must be the data weight, u8 [8, 8]",
       [=](PlanDesc &s) { quant(s, P, wq).rows = 8; }},
      {"scales in the arena",
       "input 2 must be the scales weight, f32 [16, 1], not an arena buffer f32 [16, 1]",
       [=](PlanDesc &s) {
         stepNamed(s, P, wo).inputs[2] =
             BufferDesc{fb::BufferKind::Arena, 0, fb::DType::F32, {16, 1}};
       }},
      {"codes in the arena", "activations are f32",
       [=](PlanDesc &s) {
         stepNamed(s, D, wq).inputs[1] =
             BufferDesc{fb::BufferKind::Arena, 0, fb::DType::U8, {16, 8}};
       }},
      {"g_idx from the tokens", "input 4 must be the g_idx weight, i32 [16], not the tokens",
       [=](PlanDesc &s) {
         stepNamed(s, P, wv).inputs[4] =
             BufferDesc{fb::BufferKind::Tokens, 0, fb::DType::I32, {-1}};
       }},
      {"codes of another projection", "input 1 must be the data weight, u8 [16, 8]",
       [=](PlanDesc &s) {
         stepNamed(s, P, wq).inputs[1].offset = weightNamed(s, wo + ".data");
         stepNamed(s, P, wq).inputs[1].dims = {16, 16};
       }},
      {"a float weight as the codes", "input 1 must be the data weight",
       [=](PlanDesc &s) {
         StepDesc &step = stepNamed(s, P, wq);
         step.inputs[1] = {fb::BufferKind::Weight, weightNamed(s, "norm"),
                           fb::DType::F32, {16}};
       }},
      {"component index out of range", "refers to weight",
       [=](PlanDesc &s) { stepNamed(s, P, wk).inputs[2].offset = s.weights.size(); }},
      // x and the output.
      {"x from a weight", "input 0 must be an arena activation",
       [=](PlanDesc &s) {
         StepDesc &step = stepNamed(s, P, wo);
         step.inputs[0] = step.inputs[1];
       }},
      {"x's last dimension is not cols", "dequant_matmul contraction sizes differ",
       [=](PlanDesc &s) { stepNamed(s, P, wq).inputs[0].dims = {1, -1, 15}; }},
      {"x's last dimension is not cols (decode)", "dequant_matmul contraction sizes differ",
       [=](PlanDesc &s) { stepNamed(s, D, w2).inputs[0].dims = {1, -1, 16}; }},
      {"output's last dimension is not rows",
       "the dequant_matmul output must be [..., rows]",
       [=](PlanDesc &s) { stepNamed(s, P, wk).outputs[0].dims = {1, -1, 16}; }},
      {"output without the token dimension",
       "the dequant_matmul output must be [..., rows]",
       [=](PlanDesc &s) { stepNamed(s, P, wv).outputs[0].dims = {1, 8}; }},
      {"output into a weight", "writes outside the arena",
       [=](PlanDesc &s) {
         StepDesc &step = stepNamed(s, P, wo);
         step.outputs[0] = step.inputs[2];
       }},
      // Found by the byte flips under UBSan (fixed in Plan.cpp): the empty
      // dims of a scalar (the double-quant offset) are not 8-byte aligned
      // (FlatBuffers 2.0 does not align an empty vector's elements); one
      // more in its length made a 1-element int64 vector that the FlatBuffers
      // verifier accepts and the plan verifier then read misaligned.
      {"scalar's dims grown to one element",
       "layers.0.attention.wk.double_quant_offset'", [](PlanDesc &) {},
       [](std::vector<uint8_t> &b) {
         for (const fb::WeightInfo *w : *planOf(b.data())->weights())
           if (w->name()->str() == "layers.0.attention.wk.double_quant_offset") {
             size_t at = size_t(reinterpret_cast<const uint8_t *>(w->tensor()->dims()) -
                                b.data());
             uint32_t one = 1;
             std::memcpy(b.data() + at, &one, 4);
           }
       }},
  };
  for (Corruption &c : list)
    c.make = quantizedTargetPlan;
  return list;
}

/// The base of the CUDA targeted corruptions: the tiny decoder (two layers,
/// rotary tables), whose CUDA executable is cudaExecutableFor's (modules 0:
/// cuda-source, 1: ptx compute_80, 2: cubin sm_90). Steps of each entry: 0
/// tok_embeddings, 1 layers.0.attention_norm, 2-4 wq, wk, wv, 5-6 rotary, 7
/// attention (two launches), 8 wo (its add fused), 9 attention.residual (no
/// launch), ...
PlanDesc cudaTargetPlan() {
  TinyConfig config;
  config.rotaryTables = true;
  return tinyPlanSpec(makeTinyModel(config));
}

/// A one-layer CUDA plan whose prefill entry takes 131070 tokens, in
/// launches of 2 tokens per block: a grid y of 65535, the most CUDA allows.
/// (The arenas and the KV cache are only sizes here: nothing is allocated.)
PlanDesc longPrefillPlan() {
  TinyConfig config;
  config.layers = 1;
  config.prefillTokens = 131070;
  config.context = 131070;
  return tinyPlanSpec(makeTinyModel(config));
}

/// A CPU plan (no targets) of the tiny decoder.
PlanDesc cpuTargetPlan() { return cudaTargetPlan(); }

void tokensPerBlock(cuda::ExecutableDesc &x, size_t entry, uint32_t n) {
  for (auto &step : x.launches[entry])
    for (cuda::LaunchDesc &launch : step)
      launch.tokensPerBlock = n;
}

std::vector<Corruption> cudaCorruptions() {
  const size_t P = 0, D = 1; // prefill, decode entries
  using X = cuda::ExecutableDesc;
  // Steps by name (the same indices in both entries).
  auto index = [](const PlanDesc &s, const std::string &name) {
    for (size_t i = 0; i < s.entries[0].steps.size(); ++i)
      if (s.entries[0].steps[i].name == name)
        return i;
    throw std::logic_error("no step " + name);
  };
  auto launch = [=](const PlanDesc &s, X &x, size_t entry,
                    const std::string &step, size_t n = 0) -> cuda::LaunchDesc & {
    return x.launches.at(entry).at(index(s, step)).at(n);
  };
  const std::string wq = "layers.0.attention.wq", wo = "layers.0.attention.wo",
                    attention = "layers.0.attention",
                    residual = "layers.0.attention.residual";
  // The buffers of decode's fused wo launch: x, w, the residual, the sum.
  auto fused = [=](const PlanDesc &s, X &x, size_t b) -> BufferDesc & {
    return launch(s, x, D, wo).buffers.at(b);
  };
  auto cudaEdit = [](std::function<void(PlanDesc &, X &)> edit) { return edit; };
  auto none = [](PlanDesc &) {};
  std::vector<Corruption> list = {
      // The TargetCode (the core verifier).
      {"target missing", "target code 0 names no target", none,
       [](std::vector<uint8_t> &) {}, {},
       cudaEdit([](PlanDesc &s, X &) { s.targets.push_back({"", {1, 2, 3}}); })},
      {"empty executable", "target code 0 (cuda) has no executable", none, {},
       {}, cudaEdit([](PlanDesc &s, X &) {
         s.targets.push_back({"cuda", {}});
       })},
      {"two CUDA executables",
       "target code 1 (cuda): the plan has a second executable for 'cuda'",
       none, {}, {}, cudaEdit([](PlanDesc &s, X &x) {
         s.targets.push_back({"cuda", cuda::writeExecutable(x)});
         s.targets.push_back({"cuda", cuda::writeExecutable(x)});
       })},
      {"not a CUDA executable",
       "target code 0 (cuda): not a CUDA executable (no QCUD identifier)",
       none, {}, {}, cudaEdit([](PlanDesc &s, X &) {
         s.targets.push_back({"cuda", std::vector<uint8_t>(64, 0x5A)});
       })},
      {"executable truncated",
       "target code 0 (cuda): the CUDA executable's FlatBuffer is malformed",
       none, {}, {}, cudaEdit([](PlanDesc &s, X &x) {
         std::vector<uint8_t> bytes = cuda::writeExecutable(x);
         bytes.resize(bytes.size() / 2);
         s.targets.push_back({"cuda", bytes});
       })},
      // Modules.
      {"format missing", "target code 0 (cuda): module 2 has no format", none,
       {}, {}, cudaEdit([](PlanDesc &, X &x) { x.modules[2].format = ""; })},
      {"unknown CUDA format",
       "module 1 (fatbin compute_80): unknown CUDA code format 'fatbin' "
       "(cuda-source, ptx or cubin)",
       none, {}, {}, cudaEdit([](PlanDesc &, X &x) { x.modules[1].format = "fatbin"; })},
      {"format in capitals", "unknown CUDA code format 'PTX'", none, {}, {},
       cudaEdit([](PlanDesc &, X &x) { x.modules[1].format = "PTX"; })},
      {"source without code", "module 0 (cuda-source) has no code", none, {},
       {}, cudaEdit([](PlanDesc &, X &x) { x.modules[0].code.clear(); })},
      {"cubin without code", "module 2 (cubin sm_90) has no code", none, {},
       {}, cudaEdit([](PlanDesc &, X &x) { x.modules[2].code.clear(); })},
      {"no modules", "the executable has no code", none, {}, {},
       cudaEdit([](PlanDesc &, X &x) { x.modules.clear(); })},
      {"ptx without an architecture",
       "module 1 (ptx): ptx needs an architecture (compute_XY)", none, {}, {},
       cudaEdit([](PlanDesc &, X &x) { x.modules[1].arch = ""; })},
      {"cubin without an architecture",
       "module 2 (cubin): cubin needs an architecture (sm_XY)", none, {}, {},
       cudaEdit([](PlanDesc &, X &x) { x.modules[2].arch = ""; })},
      {"ptx for a real architecture",
       "module 1 (ptx sm_80): the architecture 'sm_80' is not compute_XY",
       none, {}, {}, cudaEdit([](PlanDesc &, X &x) { x.modules[1].arch = "sm_80"; })},
      {"cubin for a virtual architecture",
       "the architecture 'compute_90' is not sm_XY", none, {}, {},
       cudaEdit([](PlanDesc &, X &x) { x.modules[2].arch = "compute_90"; })},
      {"architecture of one digit", "the architecture 'sm_9' is not sm_XY",
       none, {}, {}, cudaEdit([](PlanDesc &, X &x) { x.modules[2].arch = "sm_9"; })},
      {"architecture of four digits", "the architecture 'sm_1000' is not",
       none, {}, {}, cudaEdit([](PlanDesc &, X &x) { x.modules[2].arch = "sm_1000"; })},
      {"architecture with a leading zero", "the architecture 'sm_090' is not",
       none, {}, {}, cudaEdit([](PlanDesc &, X &x) { x.modules[2].arch = "sm_090"; })},
      {"architecture with a suffix",
       "the architecture 'compute_90a' is not compute_XY", none, {}, {},
       cudaEdit([](PlanDesc &, X &x) { x.modules[1].arch = "compute_90a"; })},
      {"architecture of the prefix only", "the architecture 'sm_' is not",
       none, {}, {}, cudaEdit([](PlanDesc &, X &x) { x.modules[2].arch = "sm_"; })},
      {"source with an architecture",
       "module 0 (cuda-source sm_90): CUDA source has no architecture", none,
       {}, {}, cudaEdit([](PlanDesc &, X &x) { x.modules[0].arch = "sm_90"; })},
      {"two cuda-sources",
       "module 3 (cuda-source): the executable has a second cuda-source", none,
       {}, {}, cudaEdit([](PlanDesc &, X &x) { x.modules.push_back(x.modules[0]); })},
      {"two cubins for one architecture",
       "module 3 (cubin sm_90): the executable has a second cubin sm_90", none,
       {}, {}, cudaEdit([](PlanDesc &, X &x) { x.modules.push_back(x.modules[2]); })},
      // Kernels.
      {"no kernels", "the executable lists no kernels", none, {}, {},
       cudaEdit([](PlanDesc &, X &x) { x.kernels.clear(); })},
      {"empty kernel name", "kernel 2 '' is not a C identifier", none, {}, {},
       cudaEdit([](PlanDesc &, X &x) { x.kernels[2] = ""; })},
      {"kernel name starting with a digit",
       "kernel 0 '1qrt' is not a C identifier", none, {}, {},
       cudaEdit([](PlanDesc &, X &x) { x.kernels[0] = "1qrt"; })},
      {"kernel name with a dash", "kernel 1 'qrt-gemv' is not a C identifier",
       none, {}, {}, cudaEdit([](PlanDesc &, X &x) { x.kernels[1] = "qrt-gemv"; })},
      {"kernel name with a NUL", "is not a C identifier", none, {}, {},
       cudaEdit([](PlanDesc &, X &x) {
         x.kernels[1] += std::string(1, '\0') + "x";
       })},
      {"kernel listed twice",
       "kernel 'qrt_rmsnorm_prefill' is listed twice", none, {}, {},
       cudaEdit([](PlanDesc &, X &x) { x.kernels.push_back("qrt_rmsnorm_prefill"); })},
      // Launch lists: one per step of every entry.
      {"launches for one entry of two",
       "the executable has launches for 1 entries, the plan has 2", none, {},
       {}, cudaEdit([](PlanDesc &, X &x) { x.launches.pop_back(); })},
      {"a step without a launch list",
       "entry 'decode' has 33 steps, the executable launches 32", none, {}, {},
       cudaEdit([](PlanDesc &, X &x) { x.launches[1].pop_back(); })},
      {"launch lists for a step too many",
       "entry 'prefill' has 33 steps, the executable launches 34", none, {}, {},
       cudaEdit([](PlanDesc &, X &x) { x.launches[0].emplace_back(); })},
      // Launches.
      {"launch names no function",
       "entry 'prefill' step 0 (tok_embeddings) launch 0 names no function",
       none, {}, {},
       cudaEdit([](PlanDesc &, X &x) { x.launches[0][0][0].function = ""; })},
      {"function the code does not define",
       "entry 'decode' step 2 (layers.0.attention.wq) launch 0 "
       "(no_such_kernel): the executable has no kernel 'no_such_kernel'",
       none, {}, {}, cudaEdit([=](PlanDesc &s, X &x) {
         launch(s, x, D, wq).function = "no_such_kernel";
       })},
      {"second launch's function unknown",
       "entry 'prefill' step 7 (layers.0.attention) launch 1 "
       "(qrt_attention): the executable has no kernel",
       none, {}, {}, cudaEdit([=](PlanDesc &s, X &x) {
         launch(s, x, P, attention, 1).function = "qrt_attention";
       })},
      {"function of another case", "has no kernel 'QRT_EMBEDDING_PREFILL'",
       none, {}, {}, cudaEdit([](PlanDesc &, X &x) {
         x.launches[0][0][0].function = "QRT_EMBEDDING_PREFILL";
       })},
      {"grid_x 0",
       "entry 'decode' step 10 (layers.0.ffn_norm) launch 0 "
       "(qrt_rmsnorm_decode): grid_x 0 is not in [1, 2147483647]",
       none, {}, {}, cudaEdit([=](PlanDesc &s, X &x) {
         launch(s, x, D, "layers.0.ffn_norm").gridX = 0;
       })},
      {"grid_x 2^31", "grid_x 2147483648 is not in [1, 2147483647]", none, {},
       {}, cudaEdit([=](PlanDesc &s, X &x) {
         launch(s, x, D, wq).gridX = 0x80000000u;
       })},
      {"grid_x 2^32-1", "grid_x 4294967295 is not in [1, 2147483647]", none,
       {}, {}, cudaEdit([=](PlanDesc &s, X &x) {
         launch(s, x, P, attention, 1).gridX = 0xFFFFFFFFu;
       })},
      {"block_x 0",
       "entry 'prefill' step 7 (layers.0.attention) launch 0 "
       "(qrt_kv_append_prefill): block_x 0 is not in [1, 1024]",
       none, {}, {}, cudaEdit([=](PlanDesc &s, X &x) {
         launch(s, x, P, attention).blockX = 0;
       })},
      {"block_x 1025", "block_x 1025 is not in [1, 1024]", none, {}, {},
       cudaEdit([=](PlanDesc &s, X &x) { launch(s, x, D, wq).blockX = 1025; })},
      {"block_x 2^32-1", "block_x 4294967295 is not in [1, 1024]", none, {},
       {}, cudaEdit([=](PlanDesc &s, X &x) {
         launch(s, x, P, wq).blockX = 0xFFFFFFFFu;
       })},
      {"tokens_per_block 1 for 131070 tokens",
       "entry 'prefill' step 2 (layers.0.attention.wq) launch 0 "
       "(qrt_matmul_prefill): tokens_per_block 1 makes a grid y of 131070 "
       "for 131070 tokens (at most 65535)",
       none, {}, longPrefillPlan, cudaEdit([=](PlanDesc &s, X &x) {
         tokensPerBlock(x, P, 2);
         launch(s, x, P, wq).tokensPerBlock = 1;
       })},
      {"shared_bytes 48 KiB + 1",
       "entry 'decode' step 8 (layers.0.attention.wo) launch 0 "
       "(qrt_matmul_add_decode): shared_bytes 49153 exceeds 49152 (48 KiB)",
       none, {}, {}, cudaEdit([=](PlanDesc &s, X &x) {
         launch(s, x, D, wo).sharedBytes = 48 * 1024 + 1;
       })},
      {"shared_bytes 2^32-1", "shared_bytes 4294967295 exceeds 49152", none,
       {}, {}, cudaEdit([=](PlanDesc &s, X &x) {
         launch(s, x, P, wq).sharedBytes = 0xFFFFFFFFu;
       })},
      // The launch's own buffers (checked as the core checks a step's).
      {"13 buffers",
       "entry 'decode' step 8 (layers.0.attention.wo) launch 0 "
       "(qrt_matmul_add_decode): has 13 buffers (a kernel takes at most 12)",
       none, {}, {}, cudaEdit([=](PlanDesc &s, X &x) {
         std::vector<BufferDesc> &b = launch(s, x, D, wo).buffers;
         while (b.size() < 13)
           b.push_back(b[0]);
       })},
      {"own buffer past the arena's end",
       "entry 'decode' step 8 (layers.0.attention.wo) launch 0 "
       "(qrt_matmul_add_decode) buffer 3 [",
       none, {}, {}, cudaEdit([=](PlanDesc &s, X &x) {
         fused(s, x, 3).offset = s.entries[D].arenaBytes - 4;
       })},
      {"own buffer offset 2^63",
       "buffer 2 [9223372036854775808, +64) lies outside the arena", none, {},
       {}, cudaEdit([=](PlanDesc &s, X &x) {
         fused(s, x, 2).offset = uint64_t(1) << 63;
       })},
      {"own buffer offset not a multiple of 4", "buffer 0 [", none, {}, {},
       cudaEdit([=](PlanDesc &s, X &x) { fused(s, x, 0).offset += 2; })},
      {"own buffer larger than the arena", "lies outside the arena of", none,
       {}, {}, cudaEdit([=](PlanDesc &s, X &x) {
         fused(s, x, 3).dims = {1, -1, int64_t(1) << 30};
       })},
      {"own buffer of f16 activations",
       "(qrt_matmul_add_decode) buffer 2: activations are f32", none, {}, {},
       cudaEdit([=](PlanDesc &s, X &x) {
         fused(s, x, 2).dtype = fb::DType::F16;
       })},
      {"own buffer of a weight out of range",
       "(qrt_matmul_add_decode) buffer 1 refers to weight 4096 of ", none, {},
       {}, cudaEdit([=](PlanDesc &s, X &x) { fused(s, x, 1).offset = 4096; })},
      {"own buffer of another weight's shape",
       "(qrt_matmul_add_decode) buffer 1 does not match weight "
       "'layers.0.attention.wo'",
       none, {}, {},
       cudaEdit([=](PlanDesc &s, X &x) { fused(s, x, 1).dims = {16, 15}; })},
      {"own buffer of int64 token ids",
       "(qrt_matmul_add_decode) buffer 0: token ids are int32 [tokens]", none,
       {}, {}, cudaEdit([=](PlanDesc &s, X &x) {
         fused(s, x, 0) = {fb::BufferKind::Tokens, 0, fb::DType::I64, {-1}};
       })},
      {"own buffer of an unknown kind", "buffer 2 has an unknown buffer kind 7",
       none, {}, {}, cudaEdit([=](PlanDesc &s, X &x) {
         fused(s, x, 2).kind = static_cast<fb::BufferKind>(7);
       })},
      {"own buffer of a negative dimension", "buffer 3 has dimension -5", none,
       {}, {}, cudaEdit([=](PlanDesc &s, X &x) {
         fused(s, x, 3).dims = {1, -5, 16};
       })},
      {"own buffer of two token dimensions",
       "buffer 3 has more than one token dimension", none, {}, {},
       cudaEdit([=](PlanDesc &s, X &x) { fused(s, x, 3).dims = {-1, -1, 16}; })},
  };
  for (Corruption &c : list)
    if (!c.make)
      c.make = cudaTargetPlan;
  return list;
}

/// The plan of a corruption: its base, edited, written (with the edited
/// CUDA executable for a CUDA one), the bytes edited.
std::vector<uint8_t> corruptedBytes(const Corruption &c, const PlanDesc &base) {
  PlanDesc spec = c.make ? c.make() : base;
  c.edit(spec);
  if (c.editCuda) {
    cuda::ExecutableDesc executable = cudaExecutableFor(spec);
    c.editCuda(spec, executable);
    // An edit that adds its own TargetCode replaces the executable.
    if (spec.targets.empty())
      spec = withExecutable(std::move(spec), executable);
  }
  std::vector<uint8_t> bytes = writePlan(spec);
  if (c.editBytes)
    c.editBytes(bytes);
  return bytes;
}

TEST(PlanCorruptionTest, TargetedCorruptionsAreRejected) {
  TinyConfig config; // f32, rotary tables: every kind of input is present
  config.rotaryTables = true;
  const PlanDesc base = tinyPlanSpec(makeTinyModel(config));
  TempFile file;
  size_t tested = 0, rejected = 0;
  std::vector<Corruption> all = corruptions();
  for (Corruption &c : quantizedCorruptions())
    all.push_back(std::move(c));
  for (Corruption &c : cudaCorruptions())
    all.push_back(std::move(c));
  for (const Corruption &c : all) {
    SCOPED_TRACE(c.name);
    std::vector<uint8_t> bytes = corruptedBytes(c, base);
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
    EXPECT_FALSE(LoadedPlan::openFile(file.path(), openError));
    // From memory too.
    std::string memoryError;
    EXPECT_FALSE(LoadedPlan::openMemory(bytes, memoryError));
    EXPECT_NE(memoryError.find(error), std::string::npos) << memoryError;
    EXPECT_NE(openError.find(file.path()), std::string::npos) << openError;
    EXPECT_NE(openError.find(error), std::string::npos) << openError;
  }
  std::printf("[ variants ] targeted corruptions: %zu tested, %zu rejected\n",
              tested, rejected);
  EXPECT_EQ(rejected, tested);
}

/// The long prefill plan at its limit: 2 tokens per block, a grid y of
/// 65535.
std::vector<uint8_t> longPrefillCudaBytes() {
  PlanDesc spec = longPrefillPlan();
  cuda::ExecutableDesc executable = cudaExecutableFor(spec);
  tokensPerBlock(executable, 0, 2);
  return writePlan(withExecutable(std::move(spec), executable));
}

TEST(PlanCorruptionTest, UntouchedBaseOfTheTargetedCorruptionsIsAccepted) {
  // Every corruption above starts from one of these plans, which are valid
  // and run: the rejections are due to the edits.
  TinyConfig config;
  config.rotaryTables = true;
  Tally tally;
  Prober prober(tally);
  std::string error;
  EXPECT_TRUE(prober.examine(tinyPlanBytes(config), "float", error)) << error;
  EXPECT_TRUE(prober.examine(writePlan(quantizedTargetPlan()), "quantized",
                             error))
      << error;
  EXPECT_TRUE(
      prober.examine(writePlan(withCuda(cudaTargetPlan())), "cuda", error))
      << error;
  EXPECT_TRUE(prober.examine(writePlan(cpuTargetPlan()), "cpu", error))
      << error;
  EXPECT_EQ(tally.ran, 4u);
  // Too large to run here (its arenas), but valid.
  std::vector<uint8_t> longPrefill = longPrefillCudaBytes();
  EXPECT_TRUE(verifyPlan(longPrefill.data(), longPrefill.size(), true, error))
      << error;
  EXPECT_EQ(tally.failures, 0u);
}

TEST(PlanCorruptionTest, CudaLaunchLimitsAndOtherTargetsAreAccepted) {
  // A CUDA plan at each launch limit, with code for an unknown target beside
  // (skipped, whatever it holds: later targets must not break older
  // readers); and a CPU plan with code for an unknown target only.
  PlanDesc spec = cudaTargetPlan();
  cuda::ExecutableDesc x = cudaExecutableFor(spec);
  const size_t P = 0, D = 1;
  // Steps 2-4: wq, wk, wv; 7: attention; 8: wo (fused).
  x.launches[D][2][0].gridX = 0x7FFFFFFFu;
  x.launches[P][2][0].blockX = 1024;
  x.launches[P][3][0].blockX = 1;
  x.launches[P][4][0].tokensPerBlock = 0;
  x.launches[D][7][1].sharedBytes = 48 * 1024;
  std::vector<BufferDesc> &own = x.launches[D][8][0].buffers;
  ASSERT_FALSE(own.empty());
  while (own.size() < size_t(cuda::kMaxKernelBuffers))
    own.push_back(own[0]);
  TargetDesc other{"metal", {'n', 'o', 't', ' ', 'a', ' ', 'p', 'l', 'a', 'n'}};
  spec.targets.push_back(other);
  spec = withExecutable(std::move(spec), x);
  PlanDesc cpu = cpuTargetPlan();
  cpu.targets = {other};

  Tally tally;
  Prober prober(tally);
  std::string error;
  EXPECT_TRUE(prober.examine(writePlan(spec), "cuda at the limits", error))
      << error;
  EXPECT_TRUE(prober.examine(writePlan(cpu), "cpu, other target", error))
      << error;
  EXPECT_EQ(tally.ran, 2u);
  EXPECT_EQ(tally.failures, 0u);
}

TEST(PlanCorruptionTest, RotaryOverlappingItsInputRuns) {
  // Arena buffers may overlap: a rotary whose output starts 16 bytes into
  // its input is a valid plan (wrong values, but safe). Found by these
  // tests: Session copied the input with memcpy, undefined for overlapping
  // ranges (ASan: memcpy-param-overlap); it now uses memmove.
  TinyConfig config;
  PlanDesc spec = tinyPlanSpec(makeTinyModel(config));
  for (size_t entry = 0; entry < spec.entries.size(); ++entry)
    stepOf(spec, entry, fb::Kernel::Rotary).outputs[0].offset += 16;
  Tally tally;
  Prober prober(tally);
  std::string error;
  EXPECT_TRUE(prober.examine(writePlan(spec), "overlapping rotary", error))
      << error;
  EXPECT_EQ(tally.ran, 1u);
  EXPECT_EQ(tally.failures, 0u);
}

} // namespace
