//===- CudaPlanFilesTest.cpp - compiled CUDA plans on the emulator --------===//
//
// Plans the compiler wrote for the CUDA target (quant-compile{target=cuda}),
// run by the CUDA session on the emulator (their "cuda-source" code) and by
// the CPU session: the logits of a prompt agree within an absolute
// tolerance, and greedy decoding gives the same tokens. Decode runs as a
// CUDA graph (captured once); a second CUDA session launching the decode
// kernels one by one gives the same logits, bit for bit.
//
// The plans come from the environment (test/e2e/stories260k-cuda.test sets
// it): QRT_CUDA_TEST_PLANS, a list of .qplan paths separated by ':';
// optionally QRT_CUDA_TEST_ATOL (default 1e-3: fp32 sums in other orders,
// logits of magnitude ~10), QRT_CUDA_TEST_TOKENS (greedy tokens, default 32).
// Without QRT_CUDA_TEST_PLANS the test is skipped.
//
//===----------------------------------------------------------------------===//

#include "CudaEmulator.h"

#include "qrt/cuda/CudaSession.h"
#include "qrt/cpu/CpuSession.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>

namespace qrt::test {
namespace {

std::vector<std::string> planPaths() {
  std::vector<std::string> paths;
  const char *list = std::getenv("QRT_CUDA_TEST_PLANS");
  std::stringstream ss(list ? list : "");
  std::string path;
  while (std::getline(ss, path, ':'))
    if (!path.empty())
      paths.push_back(path);
  return paths;
}

double envNumber(const char *name, double fallback) {
  const char *text = std::getenv(name);
  return text && *text ? std::atof(text) : fallback;
}

int32_t argmax(const float *logits, int64_t vocab) {
  return int32_t(std::max_element(logits, logits + vocab) - logits);
}

TEST(CudaPlanFilesTest, EmulatedCudaMatchesCpu) {
  std::vector<std::string> paths = planPaths();
  if (paths.empty())
    GTEST_SKIP() << "QRT_CUDA_TEST_PLANS is not set";
  const double atol = envNumber("QRT_CUDA_TEST_ATOL", 1e-3);
  const int generate = int(envNumber("QRT_CUDA_TEST_TOKENS", 32));
  for (const std::string &path : paths) {
    SCOPED_TRACE(path);
    std::string error;
    std::unique_ptr<LoadedPlan> plan = LoadedPlan::openFile(path, error);
    ASSERT_TRUE(plan) << error;
    ASSERT_TRUE(cuda::hasCudaCode(plan->plan()))
        << path << ": " << cuda::kNoCudaCode;
    SessionOptions options;
    auto cpu = CpuSession::create(*plan, options, error);
    ASSERT_TRUE(cpu) << error;
    cuda::emulator::EmulatorDevice device;
    auto gpu = cuda::CudaSession::create(*plan, options,
                                         cuda::emulator::borrow(device), error);
    ASSERT_TRUE(gpu) << error;
    ASSERT_TRUE(gpu->usesGraph());
    SessionOptions plainOptions = options;
    plainOptions.replayDecode = false;
    cuda::emulator::EmulatorDevice plainDevice;
    auto plain = cuda::CudaSession::create(
        *plan, plainOptions, cuda::emulator::borrow(plainDevice), error);
    ASSERT_TRUE(plain) << error;

    // A prompt: BOS and a deterministic walk through the vocabulary.
    const int64_t vocab = cpu->vocab();
    std::vector<int32_t> prompt = {plan->plan().model()->bos()};
    for (int i = 1; i < 24; ++i)
      prompt.push_back(int32_t((i * 7919 + 13) % vocab));
    std::vector<float> cpuLogits(prompt.size() * vocab),
        gpuLogits(prompt.size() * vocab);
    ASSERT_TRUE(cpu->forward(prompt.data(), int64_t(prompt.size()),
                             cpuLogits.data(), true, error))
        << error;
    ASSERT_TRUE(gpu->forward(prompt.data(), int64_t(prompt.size()),
                             gpuLogits.data(), true, error))
        << error;
    std::vector<float> plainLogits(vocab);
    ASSERT_TRUE(plain->forward(prompt.data(), int64_t(prompt.size()),
                               plainLogits.data(), false, error))
        << error;
    double worst = 0;
    for (size_t i = 0; i < cpuLogits.size(); ++i)
      worst = std::max(worst, double(std::fabs(cpuLogits[i] - gpuLogits[i])));
    EXPECT_LE(worst, atol) << "prompt logits";

    const float *cpuLast = cpuLogits.data() + (prompt.size() - 1) * vocab;
    const float *gpuLast = gpuLogits.data() + (prompt.size() - 1) * vocab;
    std::vector<float> a(cpuLast, cpuLast + vocab), b(gpuLast, gpuLast + vocab);
    std::vector<int32_t> cpuTokens, gpuTokens;
    double decodeWorst = 0;
    size_t graphDifferences = 0;
    for (int i = 0; i < generate && cpu->position() < cpu->context(); ++i) {
      int32_t x = argmax(a.data(), vocab), y = argmax(b.data(), vocab);
      cpuTokens.push_back(x);
      gpuTokens.push_back(y);
      ASSERT_TRUE(cpu->forward(&x, 1, a.data(), false, error)) << error;
      ASSERT_TRUE(gpu->forward(&y, 1, b.data(), false, error)) << error;
      ASSERT_TRUE(plain->forward(&y, 1, plainLogits.data(), false, error))
          << error;
      for (int64_t v = 0; v < vocab; ++v)
        decodeWorst = std::max(decodeWorst, double(std::fabs(a[v] - b[v])));
      graphDifferences +=
          std::memcmp(b.data(), plainLogits.data(), vocab * sizeof(float)) != 0;
    }
    EXPECT_EQ(cpuTokens, gpuTokens) << "greedy tokens";
    EXPECT_LE(decodeWorst, atol) << "decode logits";
    EXPECT_EQ(graphDifferences, 0u)
        << "decode steps whose graph logits differ from the launches'";
    EXPECT_EQ(gpu->graphCaptures(), 1u);
    EXPECT_EQ(gpu->graphLaunches(), gpuTokens.size());
    EXPECT_EQ(gpu->launches(), plain->launches());
    std::printf("%s: %zu prompt tokens max |diff| %.3g, %zu greedy tokens "
                "max |diff| %.3g, %s, %llu launches; decode as a CUDA graph "
                "(%llu capture, %llu launches): %s\n",
                path.c_str(), prompt.size(), worst, gpuTokens.size(),
                decodeWorst, cpuTokens == gpuTokens ? "same" : "DIFFERENT",
                static_cast<unsigned long long>(gpu->launches()),
                static_cast<unsigned long long>(gpu->graphCaptures()),
                static_cast<unsigned long long>(gpu->graphLaunches()),
                graphDifferences ? "DIFFERENT from launches"
                                 : "bit-identical to launches");
  }
}

} // namespace
} // namespace qrt::test
