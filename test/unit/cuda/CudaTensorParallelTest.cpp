//===- CudaTensorParallelTest.cpp - a split CUDA plan on emulated GPUs ----===//
//
// A tensor-parallel plan the compiler wrote for the CUDA target, run by its
// ranks as MPI processes (this test under `mpirun -np N`), each a CUDA
// session on its own emulated GPU, with the collectives of NCCL (the
// runtime's NCCL code path, loaded from a stand-in libnccl over MPI:
// test/unit/cuda/FakeNccl.cpp) or staged through the host (MPI); against the
// CPU session of the unsplit plan: the prompt's logits agree within an
// absolute tolerance and greedy decoding gives the same tokens.
//
// The plans come from the environment (test/e2e/tensor-parallel-cuda-
// emulator.test sets it): QRT_CUDA_TP_TEST_PLANS, "SPLIT.qplan:WHOLE.qplan";
// optionally QRT_CUDA_TEST_ATOL (default 1e-3). Skipped without it, or
// outside an MPI launch.
//
//===----------------------------------------------------------------------===//

#include "CudaEmulator.h"

#include "qrt/cpu/CpuSession.h"
#include "qrt/cuda/Collectives.h"
#include "qrt/cuda/CudaSession.h"
#include "qrt/mpi/MpiCommunicator.h"
#include "qrt/runtime/Communicator.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace qrt::test {
namespace {

int32_t argmax(const float *logits, int64_t vocab) {
  return int32_t(std::max_element(logits, logits + vocab) - logits);
}

struct RankRun {
  std::string error, collectives;
  std::vector<float> promptLogits;
  std::vector<int32_t> tokens;
  double decodeWorst = 0;
};

/// Rank `rank` of `path`: the prompt, then `generate` greedy tokens, with
/// the logits compared against `reference` (the unsplit plan's per step).
void runRank(const std::string &path, int rank, Communicator &communicator,
             const cuda::CollectivesFactory &factory,
             const std::vector<int32_t> &prompt,
             const std::vector<std::vector<float>> &reference, RankRun &out) {
  std::unique_ptr<LoadedPlan> plan = LoadedPlan::openFile(path, out.error);
  if (!plan || !plan->selectRank(rank, out.error))
    return;
  SessionOptions options;
  options.communicator = &communicator;
  cuda::emulator::EmulatorDevice device;
  auto session = cuda::CudaSession::create(
      *plan, options, cuda::emulator::borrow(device), out.error, factory);
  if (!session)
    return;
  Figures figures;
  session->addFigures(figures);
  out.collectives = figures.line();
  const int64_t vocab = session->vocab();
  out.promptLogits.resize(prompt.size() * vocab);
  if (!session->forward(prompt.data(), int64_t(prompt.size()),
                        out.promptLogits.data(), true, out.error))
    return;
  std::vector<float> logits(out.promptLogits.end() - vocab,
                            out.promptLogits.end());
  for (size_t step = 1; step < reference.size(); ++step) {
    int32_t next = argmax(logits.data(), vocab);
    out.tokens.push_back(next);
    if (!session->forward(&next, 1, logits.data(), false, out.error))
      return;
    for (int64_t v = 0; v < vocab; ++v)
      out.decodeWorst = std::max(
          out.decodeWorst, double(std::fabs(logits[v] - reference[step][v])));
  }
}

TEST(CudaTensorParallelTest, EmulatedRanksMatchCpu) {
  const char *list = std::getenv("QRT_CUDA_TP_TEST_PLANS");
  if (!list || !*list)
    GTEST_SKIP() << "QRT_CUDA_TP_TEST_PLANS is not set";
  if (!launchedByMpi())
    GTEST_SKIP() << "not launched by mpirun";
  std::string paths = list;
  size_t colon = paths.find(':');
  ASSERT_NE(colon, std::string::npos) << "SPLIT.qplan:WHOLE.qplan";
  const std::string split = paths.substr(0, colon),
                    whole = paths.substr(colon + 1);
  const char *atolText = std::getenv("QRT_CUDA_TEST_ATOL");
  const double atol = atolText && *atolText ? std::atof(atolText) : 1e-3;
  // The stand-in NCCL, unless the caller names one.
  setenv("QRT_NCCL", QRT_FAKE_NCCL, /*overwrite=*/0);

  std::string error;
  std::unique_ptr<LoadedPlan> wholePlan = LoadedPlan::openFile(whole, error);
  ASSERT_TRUE(wholePlan) << error;
  SessionOptions cpuOptions;
  auto cpu = CpuSession::create(*wholePlan, cpuOptions, error);
  ASSERT_TRUE(cpu) << error;
  const int64_t vocab = cpu->vocab();
  std::vector<int32_t> prompt = {wholePlan->plan().model()->bos()};
  for (int i = 1; i < 12; ++i)
    prompt.push_back(int32_t((i * 7919 + 13) % vocab));
  // The unsplit plan's logits: the prompt's, then one per greedy token.
  std::vector<float> cpuPrompt(prompt.size() * vocab);
  ASSERT_TRUE(cpu->forward(prompt.data(), int64_t(prompt.size()),
                           cpuPrompt.data(), true, error))
      << error;
  std::vector<std::vector<float>> reference = {
      std::vector<float>(cpuPrompt.end() - vocab, cpuPrompt.end())};
  std::vector<int32_t> cpuTokens;
  for (int i = 0; i < 16; ++i) {
    int32_t next = argmax(reference.back().data(), vocab);
    cpuTokens.push_back(next);
    std::vector<float> logits(vocab);
    ASSERT_TRUE(cpu->forward(&next, 1, logits.data(), false, error)) << error;
    reference.push_back(logits);
  }

  struct Kind {
    const char *name;
    cuda::CollectivesFactory factory;
  };
  const Kind kinds[] = {
      {"nccl", cuda::openNcclCollectives},
      {"host-staged",
       [](cuda::Device &device, Communicator &communicator, std::string &) {
         return cuda::createHostStagedCollectives(device, communicator);
       }},
  };
  std::unique_ptr<Communicator> world =
      createMpiCommunicator(nullptr, nullptr, error);
  ASSERT_TRUE(world) << error;
  const int rank = world->rank();
  for (const Kind &kind : kinds) {
    SCOPED_TRACE(kind.name);
    RankRun run;
    runRank(split, rank, *world, kind.factory, prompt, reference, run);
    ASSERT_EQ(run.error, "") << "rank " << rank;
    double worst = 0;
    for (size_t i = 0; i < cpuPrompt.size(); ++i)
      worst = std::max(worst,
                       double(std::fabs(run.promptLogits[i] - cpuPrompt[i])));
    EXPECT_LE(worst, atol) << "rank " << rank << " prompt logits";
    EXPECT_LE(run.decodeWorst, atol) << "rank " << rank << " decode logits";
    EXPECT_EQ(run.tokens, cpuTokens) << "rank " << rank << " greedy tokens";
    std::printf("%s rank %d of %d: %zu prompt tokens max |diff| %.3g, %zu "
                "greedy tokens %s, max |diff| %.3g; %s\n",
                kind.name, rank, world->size(), prompt.size(), worst,
                run.tokens.size(),
                run.tokens == cpuTokens ? "same" : "DIFFERENT",
                run.decodeWorst, run.collectives.c_str());
    std::fflush(stdout);
  }
}

} // namespace
} // namespace qrt::test
