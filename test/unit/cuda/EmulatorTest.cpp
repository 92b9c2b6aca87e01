//===- EmulatorTest.cpp - the CUDA emulator on hand-written kernels -------===//
//
// The emulator must give kernels a GPU's guarantees: shared memory shared by
// a block, __syncthreads ordering the block, warp shuffles and votes with
// CUDA's lane arithmetic (width included), the launch's KernelParams and
// grid; and it must report, not hang on, a barrier that cannot complete.
//
//===----------------------------------------------------------------------===//

#include "CudaEmulator.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <map>

namespace qrt::cuda::emulator {
namespace {

class EmulatorTest : public ::testing::Test {
protected:
  void TearDown() override {
    for (uint64_t a : allocated_)
      device.free(a);
    EXPECT_EQ(device.liveAllocations(), 0u);
  }

  /// Loads kKernelParamsSource + `kernels`; fails the test on an error.
  void load(const std::string &kernels) {
    std::string error;
    ASSERT_TRUE(
        device.loadSource(std::string(kKernelParamsSource) + kernels, error))
        << error;
  }

  template <class T> uint64_t upload(const std::vector<T> &values) {
    uint64_t address = 0;
    std::string error;
    EXPECT_TRUE(device.allocate(values.size() * sizeof(T), address, error))
        << error;
    EXPECT_TRUE(device.copyToDevice(address, values.data(),
                                    values.size() * sizeof(T), error))
        << error;
    allocated_.push_back(address);
    return address;
  }
  template <class T> uint64_t zeros(size_t count) {
    return upload(std::vector<T>(count, T(0)));
  }
  template <class T> std::vector<T> download(uint64_t address, size_t count) {
    std::vector<T> out(count);
    std::string error;
    EXPECT_TRUE(
        device.copyToHost(out.data(), address, count * sizeof(T), error))
        << error;
    return out;
  }

  /// Launches `name`; returns false with `error` on failure.
  bool launch(const std::string &name, uint32_t gridX, uint32_t gridY,
              uint32_t blockX, const KernelParams &params, std::string &error) {
    Function f = nullptr;
    if (!device.function(name, f, error))
      return false;
    return device.launch(f, gridX, gridY, blockX, 0, params, error);
  }

  EmulatorDevice device;
  std::vector<uint64_t> allocated_;
};

TEST_F(EmulatorTest, BlockReductionThroughSharedMemory) {
  load(R"(
extern "C" __global__ void block_sum(qrt_params p) {
  __shared__ float partial[256];
  const float *x = (const float *)p.buffers[0];
  float *out = (float *)p.buffers[1];
  int t = threadIdx.x, i = blockIdx.x * blockDim.x + t;
  partial[t] = i < p.tokens ? x[i] : 0.0f;
  __syncthreads();
  for (int s = blockDim.x / 2; s > 0; s >>= 1) {
    if (t < s)
      partial[t] += partial[t + s];
    __syncthreads();
  }
  if (t == 0)
    out[blockIdx.x] = partial[0];
}
)");
  const int n = 1000, block = 256, grid = 4;
  std::vector<float> x(n);
  for (int i = 0; i < n; ++i)
    x[i] = float(i % 17) - 5.0f; // integers: every order sums exactly
  KernelParams params = {};
  params.buffers[0] = upload(x);
  params.buffers[1] = zeros<float>(grid);
  params.tokens = n;
  std::string error;
  ASSERT_TRUE(launch("block_sum", grid, 1, block, params, error)) << error;
  std::vector<float> sums = download<float>(params.buffers[1], grid);
  for (int b = 0; b < grid; ++b) {
    float expected = 0;
    for (int i = b * block; i < std::min(n, (b + 1) * block); ++i)
      expected += x[i];
    EXPECT_EQ(sums[b], expected) << "block " << b;
  }
}

TEST_F(EmulatorTest, SyncthreadsOrdersTheBlock) {
  // Each thread reads what its neighbour wrote before the barrier; without
  // the barrier's suspension thread t would read slot t + 1 before thread
  // t + 1 ran (the previous block's value, or zero).
  load(R"(
extern "C" __global__ void neighbour(qrt_params p) {
  __shared__ int slots[128];
  int *out = (int *)p.buffers[0];
  int t = threadIdx.x;
  slots[t] = t + 1000 * (int)blockIdx.x;
  __syncthreads();
  int next = slots[(t + 1) % blockDim.x];
  __syncthreads();
  slots[t] = -next;
  __syncthreads();
  out[blockIdx.x * blockDim.x + t] = next + slots[(t + 2) % blockDim.x];
}
)");
  const int block = 128, grid = 3;
  KernelParams params = {};
  params.buffers[0] = zeros<int>(block * grid);
  std::string error;
  ASSERT_TRUE(launch("neighbour", grid, 1, block, params, error)) << error;
  std::vector<int> out = download<int>(params.buffers[0], block * grid);
  for (int b = 0; b < grid; ++b)
    for (int t = 0; t < block; ++t) {
      int next = (t + 1) % block + 1000 * b;
      int other = -((t + 3) % block + 1000 * b);
      EXPECT_EQ(out[b * block + t], next + other) << b << "/" << t;
    }
}

TEST_F(EmulatorTest, WarpShufflesFollowCudaLaneArithmetic) {
  load(R"(
extern "C" __global__ void shuffles(qrt_params p) {
  int *out = (int *)p.buffers[0];
  const int t = threadIdx.x, lane = t & 31;
  const int v = 100 * t;
  int *row = out + t * 8;
  float f = (float)t;
  for (int offset = 16; offset > 0; offset >>= 1)
    f += __shfl_xor_sync(0xffffffffu, f, offset);
  row[0] = (int)f;                                   // warp sum (xor)
  float g = (float)t;
  for (int offset = 16; offset > 0; offset >>= 1)
    g += __shfl_down_sync(0xffffffffu, g, offset);
  row[1] = lane == 0 ? (int)g : -1;                  // warp sum (down)
  row[2] = __shfl_sync(0xffffffffu, v, 5);           // broadcast lane 5
  row[3] = __shfl_up_sync(0xffffffffu, v, 3);        // lane - 3 (own < 3)
  row[4] = __shfl_down_sync(0xffffffffu, v, 2, 8);   // within groups of 8
  row[5] = __shfl_xor_sync(0xffffffffu, v, 9, 8);    // later group: own
  row[6] = (int)__ballot_sync(0xffffffffu, lane % 3 == 0);
  row[7] = __all_sync(0xffffffffu, v >= 0) * 10 + __any_sync(0xffffffffu, lane == 31);
}
)");
  const int block = 64;
  KernelParams params = {};
  params.buffers[0] = zeros<int>(block * 8);
  std::string error;
  ASSERT_TRUE(launch("shuffles", 1, 1, block, params, error)) << error;
  std::vector<int> out = download<int>(params.buffers[0], block * 8);
  unsigned ballot = 0;
  for (int lane = 0; lane < 32; lane += 3)
    ballot |= 1u << lane;
  for (int t = 0; t < block; ++t) {
    const int warp = t / 32, lane = t % 32, base = warp * 32;
    const int warpSum = 32 * base + 31 * 32 / 2;
    const int *row = &out[t * 8];
    EXPECT_EQ(row[0], warpSum) << t;
    EXPECT_EQ(row[1], lane == 0 ? warpSum : -1) << t;
    EXPECT_EQ(row[2], 100 * (base + 5)) << t;
    EXPECT_EQ(row[3], 100 * (lane >= 3 ? t - 3 : t)) << t;
    EXPECT_EQ(row[4], 100 * (lane % 8 + 2 < 8 ? t + 2 : t)) << t;
    int x = lane ^ 9;
    EXPECT_EQ(row[5], 100 * (x >= (lane / 8 + 1) * 8 ? t : base + x)) << t;
    EXPECT_EQ(unsigned(row[6]), ballot) << t;
    EXPECT_EQ(row[7], 11) << t;
  }
}

TEST_F(EmulatorTest, KernelSeesItsParametersAndGrid) {
  load(R"(
extern "C" __global__ void params(qrt_params p) {
  long long *out = (long long *)p.buffers[0];
  if (threadIdx.x != 0)
    return;
  long long *row = out + 8 * (blockIdx.y * gridDim.x + blockIdx.x);
  row[0] = p.tokens;
  row[1] = *(const int *)p.position_address;
  row[2] = p.context;
  row[3] = (long long)p.kv_cache;
  row[4] = (long long)p.buffers[11];
  row[5] = blockIdx.x + 10 * blockIdx.y;
  row[6] = gridDim.x + 10 * gridDim.y;
  row[7] = blockDim.x;
}
)");
  KernelParams params = {};
  params.buffers[0] = zeros<long long>(8 * 6);
  params.buffers[11] = 0x1234567890ull;
  params.kvCache = 0xabcdef12345ull;
  params.tokens = 7;
  params.positionAddress = upload(std::vector<int32_t>{42});
  params.context = 512;
  std::string error;
  ASSERT_TRUE(launch("params", 2, 3, 96, params, error)) << error;
  std::vector<long long> out = download<long long>(params.buffers[0], 8 * 6);
  for (int y = 0; y < 3; ++y)
    for (int x = 0; x < 2; ++x) {
      const long long *row = &out[8 * (y * 2 + x)];
      EXPECT_EQ(row[0], 7);
      EXPECT_EQ(row[1], 42);
      EXPECT_EQ(row[2], 512);
      EXPECT_EQ(row[3], 0xabcdef12345ll);
      EXPECT_EQ(row[4], 0x1234567890ll);
      EXPECT_EQ(row[5], x + 10 * y);
      EXPECT_EQ(row[6], 2 + 10 * 3);
      EXPECT_EQ(row[7], 96);
    }
}

TEST_F(EmulatorTest, IntrinsicsAndVectorTypes) {
  load(R"(
extern "C" __global__ void intrinsics(qrt_params p) {
  const float4 *in = (const float4 *)p.buffers[0];
  float *out = (float *)p.buffers[1];
  __shared__ float total;
  if (threadIdx.x == 0)
    total = 0.0f;
  __syncthreads();
  float4 v = __ldg(in + threadIdx.x);
  atomicAdd(&total, v.x + v.y + v.z + v.w);
  __syncthreads();
  float *row = out + 8 * threadIdx.x;
  row[0] = rsqrtf(v.x);
  row[1] = __expf(v.y);
  row[2] = __fdividef(v.z, v.w);
  row[3] = __frcp_rn(v.w);
  row[4] = __int_as_float(__float_as_int(v.x) + 1) - v.x;
  row[5] = __uint_as_float(__float_as_uint(-v.y));
  uint2 u = make_uint2(3u, 4u);
  row[6] = (float)(u.x * u.y) + (float)sizeof(float4) + (float)alignof(float4);
  row[7] = total;
}
)");
  std::vector<float> in = {4, 0, 6, 2, 16, 1, 1, 4};
  KernelParams params = {};
  params.buffers[0] = upload(in);
  params.buffers[1] = zeros<float>(16);
  std::string error;
  ASSERT_TRUE(launch("intrinsics", 1, 1, 2, params, error)) << error;
  std::vector<float> out = download<float>(params.buffers[1], 16);
  const float total = 4 + 0 + 6 + 2 + 16 + 1 + 1 + 4;
  for (int t = 0; t < 2; ++t) {
    const float *v = &in[4 * t], *row = &out[8 * t];
    EXPECT_FLOAT_EQ(row[0], 1.0f / std::sqrt(v[0]));
    EXPECT_FLOAT_EQ(row[1], std::exp(v[1]));
    EXPECT_FLOAT_EQ(row[2], v[2] / v[3]);
    EXPECT_FLOAT_EQ(row[3], 1.0f / v[3]);
    EXPECT_GT(row[4], 0.0f); // one ulp
    EXPECT_EQ(row[5], -v[1]);
    EXPECT_EQ(row[6], 12.0f + 16.0f + 16.0f);
    EXPECT_EQ(row[7], total);
  }
}

TEST_F(EmulatorTest, PartialWarpShufflesWithinItsMask) {
  // 48 threads: warp 1 has lanes 0-15; a reduction over mask 0xffff works,
  // one that reads lane 16 and up is an error (no such thread).
  load(R"(
extern "C" __global__ void half_warp(qrt_params p) {
  int *out = (int *)p.buffers[0];
  int v = threadIdx.x;
  unsigned mask = threadIdx.x < 32 ? 0xffffffffu : 0xffffu;
  int width = threadIdx.x < 32 ? 32 : 16;
  for (int offset = width / 2; offset > 0; offset >>= 1)
    v += __shfl_xor_sync(mask, v, offset);
  out[threadIdx.x] = v;
}
extern "C" __global__ void full_mask(qrt_params p) {
  float v = threadIdx.x;
  for (int offset = 16; offset > 0; offset >>= 1)
    v += __shfl_xor_sync(0xffffffffu, v, offset);
  ((float *)p.buffers[0])[threadIdx.x] = v;
}
)");
  KernelParams params = {};
  params.buffers[0] = zeros<int>(48);
  std::string error;
  ASSERT_TRUE(launch("half_warp", 1, 1, 48, params, error)) << error;
  std::vector<int> out = download<int>(params.buffers[0], 48);
  for (int t = 0; t < 48; ++t)
    EXPECT_EQ(out[t], t < 32 ? 31 * 32 / 2 : 32 * 16 + 15 * 16 / 2) << t;
  EXPECT_FALSE(launch("full_mask", 1, 1, 48, params, error));
  EXPECT_NE(error.find("which the block does not have"), std::string::npos)
      << error;
}

TEST_F(EmulatorTest, BarrierNotReachedByAllThreadsIsReported) {
  load(R"(
extern "C" __global__ void early_exit(qrt_params p) {
  if (threadIdx.x >= 32)
    return;
  __syncthreads();
  ((int *)p.buffers[0])[threadIdx.x] = 1;
}
extern "C" __global__ void split(qrt_params p) {
  float v = threadIdx.x;
  if (threadIdx.x < 16)
    v = __shfl_xor_sync(0xffffffffu, v, 1);
  else
    __syncthreads();
  ((float *)p.buffers[0])[threadIdx.x] = v;
}
extern "C" __global__ void reads_exited(qrt_params p) {
  float v = threadIdx.x;
  if (threadIdx.x >= 16)
    return;
  v = __shfl_xor_sync(0xffffffffu, v, 16);
  ((float *)p.buffers[0])[threadIdx.x] = v;
}
extern "C" __global__ void fine(qrt_params p) {
  __syncthreads();
  ((int *)p.buffers[0])[threadIdx.x] = 7;
}
)");
  KernelParams params = {};
  params.buffers[0] = zeros<int>(64);
  std::string error;
  EXPECT_FALSE(launch("early_exit", 2, 1, 64, params, error));
  EXPECT_EQ(error, "kernel early_exit (grid 2x1, block 64): block (0, 0): "
                   "deadlock: threads 32-63 exited; threads 0-31 wait in "
                   "__syncthreads() (of 64 threads)");
  EXPECT_FALSE(launch("split", 1, 1, 32, params, error));
  EXPECT_NE(error.find("threads 0-15 wait in __shfl_xor_sync(mask "
                       "0xffffffff); threads 16-31 wait in __syncthreads()"),
            std::string::npos)
      << error;
  EXPECT_FALSE(launch("reads_exited", 1, 1, 32, params, error));
  EXPECT_NE(error.find("reads lane 16, which does not take part"),
            std::string::npos)
      << error;
  // The emulator recovers: the fibers are re-made for the next launch.
  ASSERT_TRUE(launch("fine", 1, 1, 64, params, error)) << error;
  std::vector<int> out = download<int>(params.buffers[0], 64);
  for (int v : out)
    EXPECT_EQ(v, 7);
}

TEST_F(EmulatorTest, ReportsCompileErrorsAndMissingKernels) {
  std::string error;
  EXPECT_FALSE(device.loadSource("this is not C++;", error));
  EXPECT_NE(error.find("compiling the module failed"), std::string::npos)
      << error;
  load("extern \"C\" __global__ void k(qrt_params) {}\n");
  Function f = nullptr;
  EXPECT_FALSE(device.function("missing", f, error));
  EXPECT_EQ(error, "the module has no kernel missing");
  ASSERT_TRUE(device.function("k", f, error)) << error;
  KernelParams params = {};
  EXPECT_FALSE(device.launch(f, 1, 1, 2048, 0, params, error));
  EXPECT_NE(error.find("invalid launch configuration"), std::string::npos);
  EXPECT_FALSE(device.launch(f, 1, 1, 32, 1024, params, error));
  EXPECT_NE(error.find("dynamic shared memory"), std::string::npos);
}

TEST_F(EmulatorTest, CopiesMustStayInsideAnAllocation) {
  uint64_t a = zeros<float>(16);
  std::vector<float> host(32, 1.0f);
  std::string error;
  EXPECT_TRUE(device.copyToDevice(a + 8, host.data(), 56, error)) << error;
  EXPECT_FALSE(device.copyToDevice(a + 8, host.data(), 60, error));
  EXPECT_NE(error.find("is not inside one allocation"), std::string::npos);
  EXPECT_FALSE(device.copyToHost(host.data(), a - 4, 8, error));
  EXPECT_FALSE(device.memset(a, 0, 65, error));
  EXPECT_TRUE(device.memset(a, 0, 64, error));
}

TEST_F(EmulatorTest, ProfilesLaunchesPerKernel) {
  load(R"(
extern "C" __global__ void a(qrt_params) {}
extern "C" __global__ void b(qrt_params) { __syncthreads(); }
)");
  device.setProfiling(true);
  KernelParams params = {};
  std::string error;
  for (int i = 0; i < 3; ++i)
    ASSERT_TRUE(launch("a", 1, 1, 32, params, error)) << error;
  ASSERT_TRUE(launch("b", 2, 1, 64, params, error)) << error;
  ASSERT_TRUE(device.synchronize(error));
  std::vector<KernelProfile> profile = device.profile();
  ASSERT_EQ(profile.size(), 2u);
  std::map<std::string, uint64_t> calls;
  for (const KernelProfile &p : profile) {
    calls[p.function] = p.calls;
    EXPECT_GE(p.microseconds, 0.0);
  }
  EXPECT_EQ(calls["a"], 3u);
  EXPECT_EQ(calls["b"], 1u);
}

TEST_F(EmulatorTest, GraphsRecordLaunchesAndReplayThem) {
  // Each launch adds its parameter (tokens) to out[0] and records the sum
  // so far at out[1 + position]; the position comes from memory.
  load(R"(
extern "C" __global__ void step(qrt_params p) {
  int *out = (int *)p.buffers[0];
  out[0] += p.tokens;
  out[1 + *(const int *)p.position_address] = out[0];
}
)");
  ASSERT_TRUE(device.supportsGraphs());
  KernelParams params = {};
  params.buffers[0] = zeros<int32_t>(8);
  params.positionAddress = zeros<int32_t>(1);
  std::string error;
  Function f = nullptr;
  ASSERT_TRUE(device.function("step", f, error)) << error;
  ASSERT_TRUE(device.beginCapture(error)) << error;
  for (int32_t tokens : {1, 10}) {
    params.tokens = tokens; // copied at the launch
    ASSERT_TRUE(device.launch(f, 1, 1, 1, 0, params, error)) << error;
  }
  params.tokens = 1000;
  Graph graph = nullptr;
  ASSERT_TRUE(device.endCapture(graph, error)) << error;
  ASSERT_NE(graph, nullptr);
  EXPECT_EQ(device.launches(), 0u) << "a captured launch ran";
  EXPECT_EQ(download<int32_t>(params.buffers[0], 1)[0], 0);
  for (int32_t position : {2, 5}) {
    ASSERT_TRUE(
        device.copyToDevice(params.positionAddress, &position, 4, error))
        << error;
    ASSERT_TRUE(device.launchGraph(graph, error)) << error;
  }
  EXPECT_EQ(download<int32_t>(params.buffers[0], 8),
            (std::vector<int32_t>{22, 0, 0, 11, 0, 0, 22, 0}));
  EXPECT_EQ(device.launches(), 4u);
  EXPECT_EQ(device.graphCaptures(), 1u);
  EXPECT_EQ(device.graphLaunches(), 2u);
  EXPECT_EQ(device.liveGraphs(), 1u);
  device.destroyGraph(graph);
  EXPECT_EQ(device.liveGraphs(), 0u);
  EXPECT_FALSE(device.launchGraph(graph, error));
  EXPECT_EQ(error, "launch of a graph the device does not have");
}

TEST_F(EmulatorTest, OnlyLaunchesMayBeCaptured) {
  load("extern \"C\" __global__ void k(qrt_params) {}\n");
  uint64_t a = zeros<int32_t>(4);
  int32_t value = 1;
  std::string error;
  Function f = nullptr;
  ASSERT_TRUE(device.function("k", f, error)) << error;
  ASSERT_TRUE(device.beginCapture(error)) << error;
  EXPECT_FALSE(device.beginCapture(error));
  EXPECT_EQ(error, "a graph capture is already under way");
  KernelParams params = {};
  EXPECT_TRUE(device.launch(f, 1, 1, 32, 0, params, error)) << error;
  EXPECT_FALSE(device.copyToDevice(a, &value, 4, error));
  EXPECT_EQ(error, "copyToDevice during a graph capture (only launches may "
                   "be captured)");
  EXPECT_FALSE(device.synchronize(error));
  Graph graph = nullptr;
  EXPECT_FALSE(device.endCapture(graph, error));
  EXPECT_EQ(error, "the capture was invalidated: copyToDevice during a graph "
                   "capture (only launches may be captured)");
  EXPECT_EQ(graph, nullptr);
  EXPECT_FALSE(device.endCapture(graph, error));
  EXPECT_EQ(error, "no graph capture is under way");
  // A launch the device refuses fails the capture too.
  ASSERT_TRUE(device.beginCapture(error)) << error;
  EXPECT_FALSE(device.launch(f, 1, 1, 2048, 0, params, error));
  EXPECT_FALSE(device.endCapture(graph, error));
  EXPECT_NE(error.find("invalid launch configuration"), std::string::npos)
      << error;
  EXPECT_EQ(device.graphCaptures(), 0u);
  EXPECT_EQ(device.launches(), 0u);
  EXPECT_TRUE(device.synchronize(error)) << error;

  // A device without graphs (as a driver without the graph API).
  EmulatorOptions options;
  options.graphs = false;
  EmulatorDevice plain(options);
  EXPECT_FALSE(plain.supportsGraphs());
  EXPECT_FALSE(plain.beginCapture(error));
  EXPECT_EQ(error, "CUDA emulator cannot run CUDA graphs");
}

TEST_F(EmulatorTest, CopyBandwidthRuns) {
  double gbPerSecond = 0;
  std::string error;
  ASSERT_TRUE(measureCopyBandwidth(device, 1 << 20, 3, gbPerSecond, error))
      << error;
  EXPECT_GT(gbPerSecond, 0.0);
}

} // namespace
} // namespace qrt::cuda::emulator
