//===- DriverDeviceTest.cpp - the real CUDA device code, on a fake driver -===//
//
// The runtime's driver-API device (runtime/src/cuda/DriverDevice.cpp) and
// Session::create's device choice, through a stand-in libcuda
// (FakeCudaDriver.cpp: the driver API over the CUDA emulator) that main()
// names in QRT_CUDA_DRIVER: loading and probing the driver, the primary
// context and stream, the module choice (the cubin of the device's sm_XY,
// else the newest PTX it can JIT, else a clear error), launches with their
// KernelParams, event profiling, asynchronous launch errors, memory freed,
// CUDA graphs (stream capture, instantiation, graph launches, what may not
// be captured). The session's results are compared with the CPU session's,
// and decode as a graph with decode launched kernel by kernel (bit for bit).
//
//===----------------------------------------------------------------------===//

#include "TinyCudaKernels.h"

#include "qrt/cuda/CudaSession.h"
#include "qrt/cpu/CpuSession.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>

#ifndef QRT_FAKE_CUDA_DRIVER
#error "QRT_FAKE_CUDA_DRIVER must name the fake driver library"
#endif

namespace qrt::test {
namespace {

/// The fake driver's test hooks (the runtime loaded it already).
struct FakeHooks {
  size_t (*liveAllocations)() = nullptr;
  int (*retainedContexts)() = nullptr;
  void (*resetError)() = nullptr;
  void (*graphCounts)(uint64_t *, uint64_t *, uint64_t *, uint64_t *) = nullptr;
  FakeHooks() {
    void *library = ::dlopen(QRT_FAKE_CUDA_DRIVER, RTLD_NOW | RTLD_NOLOAD);
    if (!library)
      library = ::dlopen(QRT_FAKE_CUDA_DRIVER, RTLD_NOW);
    liveAllocations = reinterpret_cast<size_t (*)()>(
        ::dlsym(library, "qrt_fake_cuda_live_allocations"));
    retainedContexts = reinterpret_cast<int (*)()>(
        ::dlsym(library, "qrt_fake_cuda_retained_contexts"));
    resetError = reinterpret_cast<void (*)()>(
        ::dlsym(library, "qrt_fake_cuda_reset_error"));
    graphCounts = reinterpret_cast<void (*)(uint64_t *, uint64_t *, uint64_t *,
                                            uint64_t *)>(
        ::dlsym(library, "qrt_fake_cuda_graph_counts"));
  }
};

/// The fake driver's graph counters.
struct GraphCounts {
  uint64_t captures = 0, instantiations = 0, launches = 0, live = 0;
};
GraphCounts graphCounts();

FakeHooks &hooks() {
  static FakeHooks h;
  return h;
}

GraphCounts graphCounts() {
  GraphCounts c;
  hooks().graphCounts(&c.captures, &c.instantiations, &c.launches, &c.live);
  return c;
}

/// The tiny decoder with the tests' kernels, its source stored as the
/// cubin for `cubinArch`, a broken cubin for `brokenArch`, and as PTX for
/// compute_80 (the fake driver compiles any image as source).
/// A plan and its CUDA executable, editable before writing.
struct GpuPlan {
  PlanDesc spec;
  cuda::ExecutableDesc code;
};

/// The tiny decoder with the test kernels as source, a cubin for
/// `cubinArch` (the fake driver "loads" the source under any format), a
/// broken cubin for `brokenArch`, and PTX for compute_80.
GpuPlan gpuPlanSpec(const TinyConfig &config, const std::string &cubinArch,
                    const std::string &brokenArch) {
  GpuPlan plan;
  plan.spec = tinyPlanSpec(makeTinyModel(config));
  plan.code = tinyCudaExecutable(plan.spec);
  cuda::ModuleDesc source = plan.code.modules[0];
  cuda::ModuleDesc cubin = source, broken = source, ptx = source;
  cubin.format = "cubin";
  cubin.arch = cubinArch;
  broken.format = "cubin";
  broken.arch = brokenArch;
  std::string bad = "BROKEN";
  broken.code.assign(bad.begin(), bad.end());
  ptx.format = "ptx";
  ptx.arch = "compute_80";
  plan.code.modules = {source, broken, cubin, ptx};
  return plan;
}

std::unique_ptr<OpenedPlan> load(const GpuPlan &plan) {
  std::unique_ptr<OpenedPlan> opened =
      openPlan(writePlan(withExecutable(plan.spec, plan.code)));
  EXPECT_TRUE(opened->plan) << opened->error;
  return opened;
}

void setArch(const char *arch) { ::setenv("QRT_FAKE_CUDA_ARCH", arch, 1); }

class DriverDeviceTest : public ::testing::Test {
protected:
  void SetUp() override {
    setArch("90");
    hooks().resetError();
  }
  void TearDown() override {
    EXPECT_EQ(hooks().liveAllocations(), 0u) << "device memory leaked";
    EXPECT_EQ(hooks().retainedContexts(), 0) << "a context is still held";
    EXPECT_EQ(graphCounts().live, 0u) << "a graph was not destroyed";
  }
};

TEST_F(DriverDeviceTest, ProbeDescribesTheGpu) {
  cuda::CudaProbe probe = cuda::probeCuda();
  ASSERT_TRUE(probe.usable) << probe.error;
  EXPECT_TRUE(probe.driver);
  EXPECT_EQ(probe.name, "Fake CUDA GPU");
  EXPECT_EQ(probe.arch, "sm_90");
  EXPECT_EQ(probe.description, "Fake CUDA GPU, sm_90, 1.0 GiB, 4 SMs, "
                               "driver 12.4");
}

TEST_F(DriverDeviceTest, SessionMatchesCpu) {
  TinyConfig config;
  auto loaded = load(gpuPlanSpec(config, "sm_90", "sm_80"));
  ASSERT_TRUE(loaded->plan);
  SessionOptions options;
  options.threads = 1;
  std::string error;
  auto cpu = CpuSession::create(*loaded->plan, options, error);
  ASSERT_TRUE(cpu) << error;
  options.device = "auto";
  auto gpu = Session::create(*loaded->plan, options, error);
  ASSERT_TRUE(gpu) << error;
  DeviceInfo info = gpu->deviceInfo();
  EXPECT_EQ(info.backend, "cuda");
  EXPECT_EQ(info.name, "Fake CUDA GPU");
  EXPECT_EQ(info.reason, "the plan has CUDA code and Fake CUDA GPU is present");
  EXPECT_GT(hooks().liveAllocations(), 0u);

  std::vector<int32_t> prompt = {1, 7, 3, 30, 12, 5, 9, 9, 2, 4, 17};
  const int64_t vocab = cpu->vocab();
  std::vector<float> a(prompt.size() * vocab), b(prompt.size() * vocab);
  ASSERT_TRUE(cpu->forward(prompt.data(), int64_t(prompt.size()), a.data(),
                           true, error))
      << error;
  ASSERT_TRUE(gpu->forward(prompt.data(), int64_t(prompt.size()), b.data(),
                           true, error))
      << error;
  float worst = 0;
  for (size_t i = 0; i < a.size(); ++i)
    worst = std::max(worst, std::fabs(a[i] - b[i]));
  EXPECT_LE(worst, 1e-4f);
  for (int step = 0; step < 6; ++step) {
    int32_t next =
        int32_t(std::max_element(a.end() - vocab, a.end()) - (a.end() - vocab));
    ASSERT_TRUE(
        cpu->forward(&next, 1, a.data() + a.size() - vocab, false, error));
    ASSERT_TRUE(
        gpu->forward(&next, 1, b.data() + b.size() - vocab, false, error))
        << error;
    for (int64_t v = 0; v < vocab; ++v)
      EXPECT_NEAR(a[a.size() - vocab + v], b[b.size() - vocab + v], 1e-4f);
  }
  gpu.reset();
}

TEST_F(DriverDeviceTest, ModuleIsTheCubinOfTheArchElseThePtx) {
  SessionOptions options;
  options.device = "cuda";
  std::string error;
  auto loaded = load(gpuPlanSpec(TinyConfig{}, "sm_90", "sm_80"));
  ASSERT_TRUE(loaded->plan);
  int32_t token = 1;

  // sm_80: its cubin, which is broken; the JIT log comes with the error.
  setArch("80");
  EXPECT_FALSE(Session::create(*loaded->plan, options, error));
  EXPECT_EQ(error, "cuModuleLoadDataEx(cubin sm_80): CUDA_ERROR_INVALID_IMAGE "
                   "(device kernel image is invalid): fake JIT: the image is "
                   "broken");

  // sm_86: no cubin, the PTX for compute_80.
  setArch("86");
  auto session = Session::create(*loaded->plan, options, error);
  ASSERT_TRUE(session) << error;
  EXPECT_TRUE(session->forward(&token, 1, nullptr, false, error)) << error;
  session.reset();

  // sm_75: older than every piece of code.
  setArch("75");
  EXPECT_FALSE(Session::create(*loaded->plan, options, error));
  EXPECT_EQ(error, "the plan has no CUDA code for sm_75 (cubin: sm_80, sm_90; "
                   "PTX: compute_80, for later GPUs)");
}

TEST_F(DriverDeviceTest, ProfilesWithEvents) {
  auto loaded = load(gpuPlanSpec(TinyConfig{}, "sm_90", "sm_80"));
  ASSERT_TRUE(loaded->plan);
  SessionOptions options;
  options.device = "cuda";
  options.profile = true;
  std::string error;
  auto session = Session::create(*loaded->plan, options, error);
  ASSERT_TRUE(session) << error;
  auto *cuda = dynamic_cast<cuda::CudaSession *>(session.get());
  ASSERT_TRUE(cuda);
  std::vector<int32_t> tokens = {1, 2, 3};
  std::vector<float> logits(32);
  ASSERT_TRUE(session->forward(tokens.data(), 3, logits.data(), false, error))
      << error;
  ASSERT_TRUE(session->forward(tokens.data(), 1, logits.data(), false, error))
      << error;
  uint64_t calls = 0;
  std::vector<KernelProfile> profile = cuda->profile();
  for (const KernelProfile &p : profile) {
    calls += p.calls;
    EXPECT_GE(p.microseconds, 0.0);
  }
  EXPECT_EQ(calls, cuda->launches());
  ASSERT_FALSE(profile.empty());
  for (size_t i = 1; i < profile.size(); ++i)
    EXPECT_GE(profile[i - 1].microseconds, profile[i].microseconds);
}

TEST_F(DriverDeviceTest, LaunchFailuresShowAtSynchronization) {
  GpuPlan spec = gpuPlanSpec(TinyConfig{}, "sm_90", "sm_80");
  for (cuda::ModuleDesc &m : spec.code.modules) {
    if (m.code.size() < 10)
      continue; // the broken cubin
    std::string source(m.code.begin(), m.code.end());
    source += "extern \"C\" __global__ void stuck(qrt_params) {\n"
              "  if (threadIdx.x == 0) return;\n  __syncthreads();\n}\n";
    m.code.assign(source.begin(), source.end());
  }
  spec.code.kernels.push_back("stuck");
  spec.code.launches[1].back().push_back({"stuck", 1, 0, 64, 0, {}});
  size_t launches = 0;
  for (const auto &step : spec.code.launches[1])
    launches += step.size();
  auto loaded = load(spec);
  ASSERT_TRUE(loaded->plan);
  // Kernel by kernel, and in a graph.
  for (bool graph : {false, true}) {
    SCOPED_TRACE(graph ? "graph" : "launches");
    SessionOptions options;
    options.device = "cuda";
    options.replayDecode = graph;
    std::string error;
    auto session = Session::create(*loaded->plan, options, error);
    ASSERT_TRUE(session) << error;
    int32_t token = 1;
    std::vector<float> logits(32);
    EXPECT_FALSE(session->forward(&token, 1, logits.data(), false, error));
    EXPECT_EQ(error, "entry 'decode' (" + std::to_string(launches) +
                         " launches" + (graph ? " in a CUDA graph" : "") +
                         "): cuStreamSynchronize: CUDA_ERROR_LAUNCH_FAILED "
                         "(unspecified launch failure)");
    EXPECT_EQ(session->position(), 0);
    hooks().resetError(); // a real context would stay broken
  }
}

TEST_F(DriverDeviceTest, DecodeGraphGivesTheBitsOfLaunches) {
  // Decode as a graph (stream capture at the first decode step, one
  // cuGraphLaunch per token) and kernel by kernel: the same logits, bit for
  // bit, over several tokens; one capture and instantiation per session.
  TinyConfig config;
  config.seed = 21;
  auto loaded = load(gpuPlanSpec(config, "sm_90", "sm_80"));
  ASSERT_TRUE(loaded->plan);
  const GraphCounts before = graphCounts();
  std::vector<std::vector<float>> results[2];
  uint64_t launches[2] = {};
  for (bool graph : {false, true}) {
    SessionOptions options;
    options.device = "cuda";
    options.replayDecode = graph;
    std::string error;
    auto session = Session::create(*loaded->plan, options, error);
    ASSERT_TRUE(session) << error;
    auto &cuda = dynamic_cast<cuda::CudaSession &>(*session);
    EXPECT_EQ(cuda.usesGraph(), graph);
    const int64_t vocab = session->vocab();
    std::vector<int32_t> prompt = {1, 9, 4, 22};
    std::vector<float> logits(vocab);
    ASSERT_TRUE(session->forward(prompt.data(), int64_t(prompt.size()),
                                 logits.data(), false, error))
        << error;
    for (int step = 0; step < 8; ++step) {
      int32_t next = int32_t(std::max_element(logits.begin(), logits.end()) -
                             logits.begin());
      ASSERT_TRUE(session->forward(&next, 1, logits.data(), false, error))
          << error;
      results[graph].push_back(logits);
    }
    EXPECT_EQ(cuda.graphCaptures(), graph ? 1u : 0u);
    EXPECT_EQ(cuda.graphLaunches(), graph ? 8u : 0u);
    launches[graph] = cuda.launches();
    if (graph) {
      GraphCounts now = graphCounts();
      EXPECT_EQ(now.captures - before.captures, 1u);
      EXPECT_EQ(now.instantiations - before.instantiations, 1u);
      EXPECT_EQ(now.launches - before.launches, 8u);
      // The executable graph lives with the session; the captured one was
      // destroyed after instantiation.
      EXPECT_EQ(now.live, 1u);
    }
  }
  EXPECT_EQ(launches[0], launches[1]);
  ASSERT_EQ(results[0].size(), results[1].size());
  for (size_t i = 0; i < results[0].size(); ++i)
    EXPECT_EQ(std::memcmp(results[0][i].data(), results[1][i].data(),
                          results[0][i].size() * sizeof(float)),
              0)
        << "decode step " << i;
}

TEST_F(DriverDeviceTest, GraphCaptureTakesOnlyLaunches) {
  std::string error;
  std::unique_ptr<cuda::Device> device = cuda::openCudaDevice(error);
  ASSERT_TRUE(device) << error;
  ASSERT_TRUE(device->supportsGraphs());
  uint64_t address = 0;
  ASSERT_TRUE(device->allocate(64, address, error)) << error;
  int32_t value = 7;
  // A copy during the capture fails and invalidates it.
  ASSERT_TRUE(device->beginCapture(error)) << error;
  EXPECT_FALSE(device->beginCapture(error));
  EXPECT_EQ(error, "a graph capture is already under way");
  EXPECT_FALSE(device->copyToDevice(address, &value, 4, error));
  EXPECT_EQ(error, "cuMemcpyHtoDAsync(4 bytes): "
                   "CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED (operation not "
                   "permitted when stream is capturing)");
  cuda::Graph graph = nullptr;
  EXPECT_FALSE(device->endCapture(graph, error));
  EXPECT_EQ(error, "cuStreamEndCapture: CUDA_ERROR_STREAM_CAPTURE_INVALIDATED "
                   "(operation failed due to a previous error during "
                   "capture)");
  EXPECT_EQ(graph, nullptr);
  EXPECT_FALSE(device->endCapture(graph, error));
  EXPECT_EQ(error, "no graph capture is under way");
  EXPECT_FALSE(device->launchGraph(nullptr, error));
  EXPECT_EQ(error, "launch of a graph the device does not have");
  // An empty capture is a graph that does nothing.
  ASSERT_TRUE(device->beginCapture(error)) << error;
  ASSERT_TRUE(device->endCapture(graph, error)) << error;
  ASSERT_TRUE(device->launchGraph(graph, error)) << error;
  ASSERT_TRUE(device->synchronize(error)) << error;
  EXPECT_EQ(graphCounts().live, 1u);
  device->destroyGraph(graph);
  EXPECT_EQ(graphCounts().live, 0u);
  // Profiling times launches one by one: no capture then.
  device->setProfiling(true);
  EXPECT_FALSE(device->beginCapture(error));
  EXPECT_EQ(error, "no graph capture while profiling (launches are timed one "
                   "by one)");
  // A graph still held when the device goes is destroyed with it.
  device->setProfiling(false);
  ASSERT_TRUE(device->beginCapture(error)) << error;
  ASSERT_TRUE(device->endCapture(graph, error)) << error;
  device.reset();
}

TEST_F(DriverDeviceTest, DeviceErrorsNameTheCall) {
  std::string error;
  std::unique_ptr<cuda::Device> device = cuda::openCudaDevice(error);
  ASSERT_TRUE(device) << error;
  EXPECT_EQ(device->name(), "Fake CUDA GPU");
  uint64_t address = 0;
  EXPECT_FALSE(device->allocate(uint64_t(2) << 30, address, error));
  EXPECT_EQ(error, "cuMemAlloc(2147483648 bytes): CUDA_ERROR_OUT_OF_MEMORY "
                   "(out of memory)");
  cuda::Function f = nullptr;
  EXPECT_FALSE(device->function("k", f, error));
  EXPECT_EQ(error, "no CUDA module is loaded");
  // Memory still allocated when the device goes is freed.
  ASSERT_TRUE(device->allocate(4096, address, error)) << error;
  double gbPerSecond = 0;
  ASSERT_TRUE(
      cuda::measureCopyBandwidth(*device, 1 << 20, 2, gbPerSecond, error))
      << error;
  EXPECT_GT(gbPerSecond, 0.0);
  EXPECT_EQ(hooks().liveAllocations(), 1u);
}

} // namespace
} // namespace qrt::test

int main(int argc, char **argv) {
  // Before anything loads the driver (once per process).
  ::setenv("QRT_CUDA_DRIVER", QRT_FAKE_CUDA_DRIVER, 1);
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
