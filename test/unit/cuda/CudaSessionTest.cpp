//===- CudaSessionTest.cpp - the CUDA session on the emulator -------------===//
//
// The CUDA session runs the tests' tiny decoders (TestPlans.h) with the
// hand-written kernels of TinyCudaKernels.h on the emulator, against the CPU
// session on the same plan: the same logits within 1e-4 (the kernels sum in
// other orders) for prefill in chunks and decode, the same greedy tokens.
// Decode runs as a CUDA graph (captured once, replayed per token) and gives
// the same bits as launching its kernels one by one. Also: what the session
// checks at creation, its device memory (all freed), profiling, and how
// Session::create picks a device on this machine.
//
//===----------------------------------------------------------------------===//

#include "CudaEmulator.h"
#include "TinyCudaKernels.h"

#include "qrt/cuda/CudaSession.h"
#include "qrt/cpu/CpuSession.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>

namespace qrt::test {
namespace {

using cuda::CudaSession;
using cuda::emulator::EmulatorDevice;

/// Logits of the CUDA session within this of the CPU session's.
constexpr float kTolerance = 1e-4f;

/// A plan for the CUDA target: its description and its CUDA executable,
/// each editable before writing.
struct CudaPlan {
  PlanDesc spec;
  cuda::ExecutableDesc code;
  PlanDesc plan() const { return withExecutable(spec, code); }
  /// The source of the executable's "cuda-source" module.
  std::string source() const {
    return std::string(code.modules[0].code.begin(),
                       code.modules[0].code.end());
  }
  void setSource(const std::string &source) {
    code.modules[0].code.assign(source.begin(), source.end());
  }
  /// Launches of the entry in all.
  size_t launches(size_t entry) const {
    size_t count = 0;
    for (const auto &step : code.launches[entry])
      count += step.size();
    return count;
  }
};

std::unique_ptr<OpenedPlan> load(const PlanDesc &spec) {
  std::unique_ptr<OpenedPlan> opened = openPlan(writePlan(spec));
  EXPECT_TRUE(opened->plan) << opened->error;
  return opened;
}

std::unique_ptr<OpenedPlan> load(const CudaPlan &plan) {
  return load(plan.plan());
}

CudaPlan cudaPlanSpec(const TinyConfig &config,
                      const TinyCudaOptions &options = {}) {
  CudaPlan plan;
  plan.spec = tinyPlanSpec(makeTinyModel(config));
  plan.code = tinyCudaExecutable(plan.spec, options);
  return plan;
}

std::vector<int32_t> randomTokens(size_t count, int32_t vocab, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int32_t> dist(0, vocab - 1);
  std::vector<int32_t> tokens(count);
  for (int32_t &t : tokens)
    t = dist(rng);
  return tokens;
}

float maxDifference(const std::vector<float> &a, const std::vector<float> &b) {
  EXPECT_EQ(a.size(), b.size());
  float worst = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i)
    worst = std::max(worst, std::fabs(a[i] - b[i]));
  return worst;
}

int32_t greedy(const std::vector<float> &logits) {
  return int32_t(std::max_element(logits.begin(), logits.end()) -
                 logits.begin());
}

std::unique_ptr<CudaSession> cudaSession(const LoadedPlan &plan,
                                         EmulatorDevice &device,
                                         SessionOptions options = {}) {
  std::string error;
  std::unique_ptr<CudaSession> session =
      CudaSession::create(plan, options, cuda::emulator::borrow(device), error);
  EXPECT_TRUE(session) << error;
  return session;
}

/// Prefill of `prompt` (all logits), then greedy decoding of `steps` tokens,
/// on both sessions; compares logits and tokens.
void compareSessions(Session &cpu, Session &gpu,
                     const std::vector<int32_t> &prompt, int steps) {
  const int64_t vocab = cpu.vocab();
  std::vector<float> cpuLogits(prompt.size() * vocab),
      gpuLogits(prompt.size() * vocab);
  std::string error;
  ASSERT_TRUE(cpu.forward(prompt.data(), int64_t(prompt.size()),
                          cpuLogits.data(), true, error))
      << error;
  ASSERT_TRUE(gpu.forward(prompt.data(), int64_t(prompt.size()),
                          gpuLogits.data(), true, error))
      << error;
  EXPECT_LE(maxDifference(cpuLogits, gpuLogits), kTolerance) << "prefill";
  std::vector<float> cpuLast(cpuLogits.end() - vocab, cpuLogits.end()),
      gpuLast(gpuLogits.end() - vocab, gpuLogits.end());
  for (int i = 0; i < steps; ++i) {
    int32_t a = greedy(cpuLast), b = greedy(gpuLast);
    ASSERT_EQ(a, b) << "generated token " << i;
    ASSERT_TRUE(cpu.forward(&a, 1, cpuLast.data(), false, error)) << error;
    ASSERT_TRUE(gpu.forward(&b, 1, gpuLast.data(), false, error)) << error;
    EXPECT_LE(maxDifference(cpuLast, gpuLast), kTolerance) << "decode " << i;
  }
  EXPECT_EQ(cpu.position(), gpu.position());
}

void runAgainstCpu(const TinyConfig &config, const TinyCudaOptions &options,
                   int64_t context = 0) {
  auto loaded = load(cudaPlanSpec(config, options));
  ASSERT_TRUE(loaded->plan);
  SessionOptions cpuOptions;
  cpuOptions.threads = 1;
  cpuOptions.context = context;
  std::string error;
  auto cpu = CpuSession::create(*loaded->plan, cpuOptions, error);
  ASSERT_TRUE(cpu) << error;
  EmulatorDevice device;
  {
    auto gpu = cudaSession(*loaded->plan, device, cpuOptions);
    ASSERT_TRUE(gpu);
    EXPECT_EQ(gpu->deviceInfo().backend, "cuda");
    EXPECT_EQ(gpu->deviceInfo().name, "CUDA emulator");
    EXPECT_EQ(gpu->context(), cpu->context());
    // 13 tokens: a prefill chunk of 8, then one of 5; then decode.
    std::vector<int32_t> prompt = randomTokens(13, config.vocab, config.seed);
    compareSessions(*cpu, *gpu, prompt, 12);
    // Again from the start: reset() and a fresh KV cache history.
    cpu->reset();
    gpu->reset();
    compareSessions(*cpu, *gpu, randomTokens(3, config.vocab, 99), 4);
    EXPECT_GT(device.liveAllocations(), 0u);
  }
  EXPECT_EQ(device.liveAllocations(), 0u) << "the session leaked memory";
}

TEST(CudaSessionTest, MatchesCpuSessionFloatWeights) {
  TinyConfig config;
  runAgainstCpu(config, {});
}

TEST(CudaSessionTest, MatchesCpuSessionWithoutFusion) {
  TinyConfig config;
  config.seed = 5;
  TinyCudaOptions options;
  options.fuseRotaryK = false;
  options.fuseResidual = false;
  runAgainstCpu(config, options);
}

TEST(CudaSessionTest, MatchesCpuSessionF16TablesRotateHalf) {
  // f16 weights, rotary by tables on half the head (not fusable: every
  // rotary step runs), out of place; a context below the plan's capacity
  // (the kernels must take the KV-cache stride from the parameters).
  TinyConfig config;
  config.weightType = fb::DType::F16;
  config.convention = fb::RotaryConvention::RotateHalf;
  config.rotaryTables = true;
  config.rotaryDim = 2;
  config.rotaryOutOfPlace = true;
  config.heads = 4;
  config.kvHeads = 1;
  config.seed = 3;
  runAgainstCpu(config, {}, /*context=*/40);
}

TEST(CudaSessionTest, ChecksInputLikeTheCpuSession) {
  TinyConfig config;
  config.context = 16;
  auto loaded = load(cudaPlanSpec(config));
  ASSERT_TRUE(loaded->plan);
  EmulatorDevice device;
  auto session = cudaSession(*loaded->plan, device);
  ASSERT_TRUE(session);
  std::string error;
  int32_t bad = config.vocab;
  EXPECT_FALSE(session->forward(&bad, 1, nullptr, false, error));
  EXPECT_EQ(error, "token 32 is outside the vocabulary of 32");
  std::vector<int32_t> tokens = randomTokens(17, config.vocab, 1);
  EXPECT_FALSE(session->forward(tokens.data(), 17, nullptr, false, error));
  EXPECT_EQ(error, "the context is full: 0 + 17 tokens exceed 16 positions");
  EXPECT_EQ(session->position(), 0);
  // Without logits every chunk still runs (and synchronizes).
  EXPECT_TRUE(session->forward(tokens.data(), 16, nullptr, false, error))
      << error;
  EXPECT_EQ(session->position(), 16);
}

TEST(CudaSessionTest, MemoryAndLaunches) {
  TinyConfig config;
  CudaPlan plan = cudaPlanSpec(config);
  const PlanDesc &spec = plan.spec;
  uint64_t weightBytes = 0, arenas = 0;
  for (const WeightDesc &w : spec.weights)
    weightBytes += w.bytes.size();
  for (const EntryDesc &e : spec.entries)
    arenas += e.arenaBytes;
  size_t decodeLaunches = plan.launches(1);
  auto loaded = load(plan);
  ASSERT_TRUE(loaded->plan);
  EmulatorDevice device;
  auto session = cudaSession(*loaded->plan, device);
  ASSERT_TRUE(session);
  SessionMemory memory = session->memory();
  EXPECT_GE(memory.weights, weightBytes);
  EXPECT_LT(memory.weights, weightBytes + 256 * spec.weights.size());
  EXPECT_EQ(memory.arenas, arenas);
  EXPECT_EQ(memory.kvCache, 2ull * config.layers * config.kvHeads *
                                config.context * config.headDim * 4);
  // Weights, arenas, KV cache, staging (position and token ids): four
  // allocations, none per token.
  EXPECT_EQ(device.liveAllocations(), 4u);
  std::string error;
  int32_t token = 3;
  for (int i = 0; i < 5; ++i)
    ASSERT_TRUE(session->forward(&token, 1, nullptr, false, error)) << error;
  EXPECT_EQ(device.liveAllocations(), 4u);
  EXPECT_EQ(session->launches(), 5 * decodeLaunches);
  EXPECT_EQ(device.launches(), 5 * decodeLaunches);
  // Decode: one graph, captured at the first step, launched at every step.
  EXPECT_TRUE(session->usesGraph());
  EXPECT_EQ(session->graphCaptures(), 1u);
  EXPECT_EQ(session->graphLaunches(), 5u);
  EXPECT_EQ(device.graphCaptures(), 1u);
  EXPECT_EQ(device.graphLaunches(), 5u);
  EXPECT_EQ(device.liveGraphs(), 1u);
  session.reset();
  EXPECT_EQ(device.liveGraphs(), 0u) << "the session leaked its graph";
}

/// Prefill of `prompt` then `steps` greedy decode steps; the logits of
/// every step, in order.
std::vector<std::vector<float>>
decodeLogits(Session &session, const std::vector<int32_t> &prompt, int steps) {
  std::vector<std::vector<float>> out;
  const int64_t vocab = session.vocab();
  std::vector<float> logits(prompt.size() * vocab);
  std::string error;
  EXPECT_TRUE(session.forward(prompt.data(), int64_t(prompt.size()),
                              logits.data(), true, error))
      << error;
  out.push_back(logits);
  logits.erase(logits.begin(), logits.end() - vocab);
  for (int i = 0; i < steps; ++i) {
    int32_t next = greedy(logits);
    EXPECT_TRUE(session.forward(&next, 1, logits.data(), false, error))
        << error;
    out.push_back(logits);
  }
  return out;
}

bool sameBits(const std::vector<float> &a, const std::vector<float> &b) {
  return a.size() == b.size() &&
         std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

TEST(CudaSessionTest, DecodeGraphGivesTheBitsOfLaunches) {
  // The decode entry replayed as a graph and launched kernel by kernel: the
  // same logits, bit for bit, at every position (the position comes from
  // device memory, not from the captured parameters); across reset() the
  // graph is kept.
  TinyConfig config;
  config.seed = 11;
  auto loaded = load(cudaPlanSpec(config));
  ASSERT_TRUE(loaded->plan);
  EmulatorDevice graphDevice, plainDevice;
  SessionOptions plainOptions;
  plainOptions.replayDecode = false;
  auto graph = cudaSession(*loaded->plan, graphDevice);
  auto plain = cudaSession(*loaded->plan, plainDevice, plainOptions);
  ASSERT_TRUE(graph && plain);
  EXPECT_TRUE(graph->usesGraph());
  EXPECT_FALSE(plain->usesGraph());
  std::vector<int32_t> prompt = randomTokens(5, config.vocab, 4);
  for (int round = 0; round < 2; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    graph->reset();
    plain->reset();
    auto a = decodeLogits(*graph, prompt, 9);
    auto b = decodeLogits(*plain, prompt, 9);
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i)
      EXPECT_TRUE(sameBits(a[i], b[i])) << "step " << i;
  }
  EXPECT_EQ(graph->graphCaptures(), 1u);
  EXPECT_EQ(graph->graphLaunches(), 18u);
  EXPECT_EQ(graphDevice.graphCaptures(), 1u);
  EXPECT_EQ(graphDevice.graphLaunches(), 18u);
  EXPECT_EQ(plain->graphCaptures(), 0u);
  EXPECT_EQ(plainDevice.graphCaptures(), 0u);
  EXPECT_EQ(graph->launches(), plain->launches());
  EXPECT_EQ(graphDevice.launches(), plainDevice.launches());
}

TEST(CudaSessionTest, DecodeWithoutGraphSupport) {
  // A device without graphs: decode launches its kernels one by one, with
  // the same logits.
  TinyConfig config;
  auto loaded = load(cudaPlanSpec(config));
  ASSERT_TRUE(loaded->plan);
  cuda::emulator::EmulatorOptions options;
  options.graphs = false;
  EmulatorDevice plainDevice(options), graphDevice;
  auto plain = cudaSession(*loaded->plan, plainDevice);
  auto graph = cudaSession(*loaded->plan, graphDevice);
  ASSERT_TRUE(plain && graph);
  EXPECT_FALSE(plain->usesGraph());
  std::vector<int32_t> prompt = randomTokens(3, config.vocab, 8);
  auto a = decodeLogits(*plain, prompt, 4);
  auto b = decodeLogits(*graph, prompt, 4);
  for (size_t i = 0; i < a.size(); ++i)
    EXPECT_TRUE(sameBits(a[i], b[i])) << "step " << i;
  EXPECT_EQ(plain->graphCaptures(), 0u);
  EXPECT_EQ(plainDevice.launches(), graphDevice.launches());
}

TEST(CudaSessionTest, ProfilesKernels) {
  auto loaded = load(cudaPlanSpec(TinyConfig{}));
  ASSERT_TRUE(loaded->plan);
  EmulatorDevice device;
  SessionOptions options;
  options.profile = true;
  auto session = cudaSession(*loaded->plan, device, options);
  ASSERT_TRUE(session);
  std::vector<int32_t> tokens = {1, 2, 3, 4};
  std::vector<float> logits(32);
  std::string error;
  ASSERT_TRUE(session->forward(tokens.data(), 4, logits.data(), false, error))
      << error;
  // Profiling times launches one by one: decode runs without a graph.
  EXPECT_FALSE(session->usesGraph());
  ASSERT_TRUE(session->forward(tokens.data(), 1, logits.data(), false, error))
      << error;
  EXPECT_EQ(session->graphCaptures(), 0u);
  uint64_t calls = 0;
  for (const KernelProfile &p : session->profile())
    calls += p.calls;
  EXPECT_EQ(calls, session->launches());
  EXPECT_GT(calls, 0u);
}

/// What an observer saw of one step: the first input and output, copied.
struct SeenStep {
  size_t step = 0;
  std::vector<float> x, out;
  bool hasInputs = false, hasOutputs = false;
};

class StepCopier : public StepObserver {
public:
  void beforeStep(const StepEvent &event) override {
    current = SeenStep();
    current.step = event.stepIndex;
    current.hasInputs = !event.inputs.empty();
    if (current.hasInputs &&
        event.inputs[0].buffer->kind() == fb::BufferKind::Arena)
      current.x = event.inputs[0].floats();
  }
  void afterStep(const StepEvent &event) override {
    current.hasOutputs = !event.outputs.empty();
    if (current.hasOutputs)
      current.out = event.outputs[0].floats();
    seen.push_back(current);
  }
  SeenStep current;
  std::vector<SeenStep> seen;
};

TEST(CudaSessionTest, ObserverSeesWhatTheCpuSessionSees) {
  // The CUDA session, observed, copies each step's buffers to the host:
  // the same activations as the CPU session's within the tolerance. A
  // matmul that adds the next step's residual shows no output of its own,
  // and the fused add (no launch) no buffers: its sum is the matmul's.
  TinyConfig config;
  CudaPlan plan = cudaPlanSpec(config); // residual adds and key rotaries fused
  auto loaded = load(plan);
  ASSERT_TRUE(loaded->plan);
  SessionOptions options;
  options.threads = 1;
  std::string error;
  auto cpu = CpuSession::create(*loaded->plan, options, error);
  ASSERT_TRUE(cpu) << error;
  EmulatorDevice device;
  auto gpu = cudaSession(*loaded->plan, device, options);
  ASSERT_TRUE(gpu);
  StepCopier cpuSeen, gpuSeen;
  cpu->setObserver(&cpuSeen);
  gpu->setObserver(&gpuSeen);
  std::vector<int32_t> prompt = randomTokens(5, config.vocab, 12);
  std::vector<float> a(config.vocab), b(config.vocab);
  ASSERT_TRUE(cpu->forward(prompt.data(), 5, a.data(), false, error)) << error;
  ASSERT_TRUE(gpu->forward(prompt.data(), 5, b.data(), false, error)) << error;
  int32_t next = 3; // a decode step too: observed, it runs no graph
  ASSERT_TRUE(cpu->forward(&next, 1, a.data(), false, error)) << error;
  ASSERT_TRUE(gpu->forward(&next, 1, b.data(), false, error)) << error;
  EXPECT_LE(maxDifference(a, b), kTolerance);
  EXPECT_EQ(static_cast<CudaSession &>(*gpu).graphLaunches(), 0u);
  ASSERT_EQ(cpuSeen.seen.size(), gpuSeen.seen.size());
  size_t compared = 0, fusedMatmuls = 0, computedElsewhere = 0;
  for (size_t i = 0; i < gpuSeen.seen.size(); ++i) {
    const SeenStep &c = cpuSeen.seen[i], &g = gpuSeen.seen[i];
    ASSERT_EQ(c.step, g.step);
    if (!g.hasInputs) {
      EXPECT_FALSE(g.hasOutputs);
      ++computedElsewhere;
      continue;
    }
    EXPECT_LE(maxDifference(c.x, g.x), kTolerance) << "step " << g.step;
    if (!g.hasOutputs) {
      ++fusedMatmuls;
      continue;
    }
    EXPECT_LE(maxDifference(c.out, g.out), kTolerance) << "step " << g.step;
    ++compared;
  }
  // Two residual adds per layer in each of two entries' runs, and the
  // rotaries of the keys.
  EXPECT_EQ(fusedMatmuls, size_t(2 * config.layers * 2));
  EXPECT_EQ(computedElsewhere, size_t(3 * config.layers * 2));
  EXPECT_GT(compared, 20u);
}

TEST(CudaSessionTest, RefusesPlansItCannotRun) {
  std::string error;
  SessionOptions options;
  // Refused by the session, or already by the plan verifier
  // (LoadedPlan::open, which checks launches too): `error` says why.
  auto create = [&](const PlanDesc &spec) {
    TempFile file;
    file.write(writePlan(spec));
    std::unique_ptr<LoadedPlan> plan = LoadedPlan::openFile(file.path(), error);
    if (!plan)
      return false;
    EmulatorDevice device;
    bool ok = bool(CudaSession::create(*plan, options,
                                       cuda::emulator::borrow(device), error));
    EXPECT_EQ(device.liveAllocations(), 0u);
    return ok;
  };

  // A CPU plan.
  EXPECT_FALSE(create(tinyPlanSpec(makeTinyModel(TinyConfig{}))));
  EXPECT_EQ(error, cuda::kNoCudaCode);
  EXPECT_EQ(error, "the plan has no CUDA code (compile it with "
                   "quant-compile{... target=cuda})");

  // A launch of a kernel the module does not define.
  CudaPlan spec = cudaPlanSpec(TinyConfig{});
  spec.code.launches[1][2][0].function = "no_such_kernel";
  EXPECT_FALSE(create(spec.plan()));
  EXPECT_NE(error.find("layers.0.attention.wq"), std::string::npos) << error;
  EXPECT_NE(error.find("no kernel"), std::string::npos) << error;
  EXPECT_NE(error.find("no_such_kernel"), std::string::npos) << error;

  // A launch without a function, with too many threads.
  spec = cudaPlanSpec(TinyConfig{});
  spec.code.launches[0][0][0].function = "";
  EXPECT_FALSE(create(spec.plan()));
  EXPECT_NE(error.find("tok_embeddings"), std::string::npos) << error;
  EXPECT_NE(error.find("names no function"), std::string::npos) << error;
  spec = cudaPlanSpec(TinyConfig{});
  spec.code.launches[0][1][0].blockX = 2048;
  EXPECT_FALSE(create(spec.plan()));
  EXPECT_NE(error.find("layers.0.attention_norm"), std::string::npos) << error;
  EXPECT_NE(error.find("2048"), std::string::npos) << error;

  // A launch's own buffer outside the arena.
  spec = cudaPlanSpec(TinyConfig{});
  std::vector<cuda::LaunchDesc> *fused = nullptr;
  for (size_t i = 0; i < spec.spec.entries[1].steps.size(); ++i)
    if (spec.spec.entries[1].steps[i].name == "layers.0.attention.wo")
      fused = &spec.code.launches[1][i];
  ASSERT_TRUE(fused);
  ASSERT_EQ(fused->size(), 1u);
  ASSERT_EQ((*fused)[0].buffers.size(), 4u);
  (*fused)[0].buffers[3].offset = spec.spec.entries[1].arenaBytes - 4;
  EXPECT_FALSE(create(spec.plan()));
  EXPECT_NE(error.find("layers.0.attention.wo"), std::string::npos) << error;
  EXPECT_NE(error.find("buffer 3"), std::string::npos) << error;
  EXPECT_NE(error.find(" lies outside the arena of " +
                       std::to_string(spec.spec.entries[1].arenaBytes) +
                       " bytes"),
            std::string::npos)
      << error;

  // An entry whose steps have no launches.
  spec = cudaPlanSpec(TinyConfig{});
  for (auto &step : spec.code.launches[1])
    step.clear();
  EXPECT_FALSE(create(spec.plan()));
  EXPECT_EQ(error, "entry 'decode' has no CUDA launches");

  // Source that does not compile.
  spec = cudaPlanSpec(TinyConfig{});
  spec.setSource(std::string(cuda::kKernelParamsSource) +
                 "#error broken on purpose\n");
  EXPECT_FALSE(create(spec.plan()));
  EXPECT_NE(error.find("broken on purpose"), std::string::npos) << error;

  // Code generated for another kernel ABI (here: the position by value).
  spec = cudaPlanSpec(TinyConfig{});
  std::string source = spec.source();
  const std::string field = "  unsigned long long position_address;";
  size_t at = source.find(field);
  ASSERT_NE(at, std::string::npos);
  source.replace(at, source.find('\n', at) - at, "  int position;");
  spec.setSource(source);
  EXPECT_FALSE(create(spec.plan()));
  EXPECT_EQ(error, "the plan's CUDA code was generated for another kernel ABI "
                   "than this runtime's (qrt/cuda/KernelAbi.h): export the "
                   "plan again");

  // Only a cubin: nothing the emulator can run.
  spec = cudaPlanSpec(TinyConfig{});
  spec.code.modules[0].format = "cubin";
  spec.code.modules[0].arch = "sm_90";
  EXPECT_FALSE(create(spec.plan()));
  EXPECT_EQ(error, "the plan has no \"cuda-source\" code for the emulator");
}

TEST(CudaSessionTest, LaunchFailureNamesTheStep) {
  // A kernel whose barrier cannot complete fails the forward, naming the
  // step; the position does not move.
  CudaPlan spec = cudaPlanSpec(TinyConfig{});
  std::string source = spec.source();
  source += R"(
extern "C" __global__ void stuck(qrt_params p) {
  if (threadIdx.x == 0)
    return;
  __syncthreads();
}
)";
  spec.setSource(source);
  spec.code.kernels.push_back("stuck");
  spec.code.launches[1].back().push_back({"stuck", 1, 0, 64, 0, {}});
  auto loaded = load(spec);
  ASSERT_TRUE(loaded->plan);
  EmulatorDevice device;
  SessionOptions options;
  options.replayDecode = false;
  auto session = cudaSession(*loaded->plan, device, options);
  ASSERT_TRUE(session);
  int32_t token = 1;
  std::string error;
  EXPECT_FALSE(session->forward(&token, 1, nullptr, false, error));
  EXPECT_EQ(error.find("step output (MatMul): kernel stuck (grid 1x1, block "
                       "64): block (0, 0): deadlock: threads 0 exited"),
            0u)
      << error;
  EXPECT_EQ(session->position(), 0);

  // In a graph the failure shows at the graph's launch, with the launch.
  session = cudaSession(*loaded->plan, device);
  ASSERT_TRUE(session);
  const size_t launches = device.launches();
  EXPECT_FALSE(session->forward(&token, 1, nullptr, false, error));
  size_t count = spec.launches(1);
  EXPECT_EQ(error, "entry 'decode' (" + std::to_string(count) +
                       " launches in a CUDA graph): graph launch " +
                       std::to_string(count) + " of " + std::to_string(count) +
                       ": kernel stuck (grid 1x1, block 64): block (0, 0): "
                       "deadlock: threads 0 exited; threads 1-63 wait in "
                       "__syncthreads() (of 64 threads)");
  EXPECT_EQ(device.launches() - launches, count - 1);
  EXPECT_EQ(session->position(), 0);
}

TEST(CudaSessionTest, CreatePicksTheDevice) {
  // A CPU plan: auto runs the CPU and says why; cuda fails on this machine
  // without a GPU (no driver or no device), and with a GPU for the plan.
  auto loaded = load(tinyPlanSpec(makeTinyModel(TinyConfig{})));
  ASSERT_TRUE(loaded->plan);
  SessionOptions options;
  options.threads = 1;
  std::string error;
  auto session = Session::create(*loaded->plan, options, error);
  ASSERT_TRUE(session) << error;
  EXPECT_EQ(session->deviceInfo().backend, "cpu");
  EXPECT_EQ(session->deviceInfo().reason, "the plan has no CUDA code");
  EXPECT_EQ(session->deviceInfo().threads, 1);

  options.device = "cpu";
  session = Session::create(*loaded->plan, options, error);
  ASSERT_TRUE(session) << error;
  EXPECT_EQ(session->deviceInfo().reason, "");

  options.device = "cuda";
  cuda::CudaProbe probe = cuda::probeCuda();
  EXPECT_FALSE(Session::create(*loaded->plan, options, error));
  if (probe.usable)
    EXPECT_EQ(error, cuda::kNoCudaCode);
  else
    EXPECT_EQ(error, probe.error);

  // A plan with CUDA code but only emulator source: auto takes the CPU
  // here (no GPU), and a real GPU cannot load it.
  auto cudaPlan = load(cudaPlanSpec(TinyConfig{}));
  ASSERT_TRUE(cudaPlan->plan);
  EXPECT_TRUE(cuda::hasCudaCode(cudaPlan->plan->plan()));
  options.device = "auto";
  if (!probe.usable) {
    session = Session::create(*cudaPlan->plan, options, error);
    ASSERT_TRUE(session) << error;
    EXPECT_EQ(session->deviceInfo().backend, "cpu");
    EXPECT_EQ(session->deviceInfo().reason, probe.error);
  } else {
    EXPECT_FALSE(Session::create(*cudaPlan->plan, options, error));
    EXPECT_NE(error.find("the plan has no CUDA code for sm_"),
              std::string::npos)
        << error;
  }
}

TEST(CudaSessionTest, ProbeExplainsAMissingDriver) {
  cuda::CudaProbe probe = cuda::probeCuda();
  if (probe.usable) {
    EXPECT_TRUE(probe.driver);
    EXPECT_EQ(probe.arch.rfind("sm_", 0), 0u);
    GTEST_SKIP() << "a GPU is present: " << probe.description;
  }
  EXPECT_TRUE(probe.error.rfind("no CUDA driver (", 0) == 0 ||
              probe.error == "no CUDA device")
      << probe.error;
  std::string error;
  EXPECT_FALSE(cuda::openCudaDevice(error));
  EXPECT_EQ(error, probe.error);
}

} // namespace
} // namespace qrt::test
