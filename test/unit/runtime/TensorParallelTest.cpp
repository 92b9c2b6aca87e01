//===- TensorParallelTest.cpp - ranks as threads, collectives, rank maps --===//
//
// The runtime's side of tensor parallelism without MPI (so it also runs
// under the sanitizers): the thread group's collectives; a plan split by
// hand into two ranks (a column-parallel matmul then an all_gather, and a
// row-parallel matmul then an all_reduce) run by two sessions on two
// threads, against the unsplit plan, and against a double-precision
// reference; and the verifier on damaged sharding tables.
//
//===----------------------------------------------------------------------===//

#include "TestPlans.h"

#include "qrt/core/Plan.h"
#include "qrt/core/PlanWriter.h"
#include "qrt/runtime/Communicator.h"
#include "qrt/runtime/Session.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <thread>

namespace qrt {
namespace {

TEST(ThreadGroupTest, CollectivesGiveEveryRankTheSameValues) {
  constexpr int kRanks = 3;
  auto group = createThreadGroup(kRanks);
  std::vector<std::vector<float>> sums(kRanks), gathered(kRanks);
  std::vector<int32_t> broadcast(kRanks);
  std::vector<std::string> errors(kRanks);
  std::vector<std::thread> threads;
  for (int r = 0; r < kRanks; ++r)
    threads.emplace_back([&, r] {
      Communicator &c = *group[r];
      std::vector<float> mine = {float(r + 1), 0.5f * r, -1.0f};
      for (int round = 0; round < 50; ++round) { // reuse of the barrier
        std::vector<float> x = mine;
        c.allReduceSum(x.data(), x.size(), errors[r]);
        sums[r] = x;
      }
      gathered[r].resize(kRanks * 2);
      float part[2] = {float(10 * r), float(10 * r + 1)};
      c.allGather(part, 2, gathered[r].data(), errors[r]);
      int32_t value = r == 1 ? 42 : -1;
      c.broadcast(&value, sizeof(value), 1, errors[r]);
      broadcast[r] = value;
    });
  for (std::thread &t : threads)
    t.join();
  for (int r = 0; r < kRanks; ++r) {
    EXPECT_EQ(errors[r], "");
    EXPECT_EQ(sums[r], (std::vector<float>{6.0f, 1.5f, -3.0f}));
    EXPECT_EQ(gathered[r], (std::vector<float>{0, 1, 10, 11, 20, 21}));
    EXPECT_EQ(broadcast[r], 42);
    EXPECT_EQ(group[r]->traffic().allReduceCalls, 50u);
    EXPECT_EQ(group[r]->traffic().allReduceBytes, 50u * 3 * sizeof(float));
    EXPECT_EQ(group[r]->traffic().allGatherBytes, 2 * sizeof(float));
  }
}

//===----------------------------------------------------------------------===//
// A model in two ranks
//===----------------------------------------------------------------------===//

// h = embed[token] [dim]; u = W1 h [hidden]; y = W2 u [dim]; logits = Wo y
// [vocab]. Split: W1 by rows (column-parallel), all_gather of u; W2 by
// columns (row-parallel: each rank reads its half of u), all_reduce of y;
// Wo by rows, all_gather of the logits (vocab 7: 4 + 3 padded to 4).
constexpr int64_t kDim = 8, kHidden = 6, kVocab = 7, kRanks = 2;

struct Weights {
  std::vector<float> embed, w1, w2, wo;
};

Weights drawWeights() {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  auto draw = [&](int64_t n) {
    std::vector<float> v(static_cast<size_t>(n));
    for (float &x : v)
      x = u(rng);
    return v;
  };
  return {draw(kVocab * kDim), draw(kHidden * kDim), draw(kDim * kHidden),
          draw(kVocab * kDim)};
}

WeightDesc weight(const std::string &name, std::vector<float> values,
                  std::vector<int64_t> dims) {
  WeightDesc w;
  w.name = name;
  w.dims = std::move(dims);
  w.bytes.resize(values.size() * sizeof(float));
  std::memcpy(w.bytes.data(), values.data(), w.bytes.size());
  return w;
}

BufferDesc arena(uint64_t offset, std::vector<int64_t> dims) {
  return BufferDesc{fb::BufferKind::Arena, offset, fb::DType::F32,
                    std::move(dims)};
}

BufferDesc weightBuffer(uint32_t index, std::vector<int64_t> dims) {
  return BufferDesc{fb::BufferKind::Weight, index, fb::DType::F32,
                    std::move(dims)};
}

StepDesc step(fb::Kernel kernel, std::vector<BufferDesc> in, BufferDesc out) {
  StepDesc s;
  s.kernel = kernel;
  s.inputs = std::move(in);
  s.outputs = {std::move(out)};
  return s;
}

/// Rows [begin, end) of a [rows, cols] matrix, zero rows up to `size`.
std::vector<float> rows(const std::vector<float> &m, int64_t cols,
                        int64_t begin, int64_t end, int64_t size) {
  std::vector<float> out(static_cast<size_t>(size * cols), 0.0f);
  std::copy(m.begin() + begin * cols, m.begin() + end * cols, out.begin());
  return out;
}

/// Columns [begin, end) of a [rows, cols] matrix.
std::vector<float> columns(const std::vector<float> &m, int64_t rowsCount,
                           int64_t cols, int64_t begin, int64_t end) {
  std::vector<float> out;
  for (int64_t r = 0; r < rowsCount; ++r)
    out.insert(out.end(), m.begin() + r * cols + begin,
               m.begin() + r * cols + end);
  return out;
}

/// The model as a plan: split into kRanks ranks, or whole.
PlanDesc modelPlan(const Weights &w, bool split) {
  const int64_t hidden = split ? kHidden / kRanks : kHidden;
  const int64_t vocabPart = split ? (kVocab + kRanks - 1) / kRanks : kVocab;
  PlanDesc plan;
  plan.model.dim = kDim;
  plan.model.hiddenDim = kHidden;
  plan.model.vocab = kVocab;
  plan.model.layers = 1;
  plan.model.heads = 1;
  plan.model.kvHeads = 1;
  plan.model.headDim = kDim;
  plan.model.maxContext = 16;
  plan.kvCache = KvCacheDesc{1, 1, kDim, 16, fb::DType::F32};
  // Weights: rank 0's (or the whole ones) first, then rank 1's.
  plan.weights.push_back(weight("embed", w.embed, {kVocab, kDim}));
  if (!split) {
    plan.weights.push_back(weight("w1", w.w1, {kHidden, kDim}));
    plan.weights.push_back(weight("w2", w.w2, {kDim, kHidden}));
    plan.weights.push_back(weight("wo", w.wo, {kVocab, kDim}));
  } else {
    for (int64_t r = 0; r < kRanks; ++r) {
      const std::string rank = "@rank" + std::to_string(r);
      plan.weights.push_back(weight(
          "w1" + rank, rows(w.w1, kDim, r * hidden, (r + 1) * hidden, hidden),
          {hidden, kDim}));
      plan.weights.push_back(
          weight("w2" + rank,
                 columns(w.w2, kDim, kHidden, r * hidden, (r + 1) * hidden),
                 {kDim, hidden}));
      int64_t begin = std::min(kVocab, r * vocabPart),
              end = std::min(kVocab, (r + 1) * vocabPart);
      plan.weights.push_back(weight(
          "wo" + rank, rows(w.wo, kDim, begin, end, vocabPart),
          {vocabPart, kDim}));
    }
    ShardingDesc sharding;
    sharding.worldSize = kRanks;
    sharding.rankWeights = {{0, 1, 2, 3, 1, 2, 3}, {0, 4, 5, 6, 4, 5, 6}};
    plan.sharding = sharding;
  }
  EntryDesc entry;
  entry.name = "decode";
  entry.maxTokens = 1;
  const std::vector<int64_t> tok = {1, -1};
  auto dims = [&](int64_t n) { return std::vector<int64_t>{1, -1, n}; };
  entry.steps.push_back(step(fb::Kernel::Embedding,
                             {weightBuffer(0, {kVocab, kDim}),
                              BufferDesc{fb::BufferKind::Tokens, 0,
                                         fb::DType::I32, {-1}}},
                             arena(0, dims(kDim))));
  entry.steps.push_back(step(fb::Kernel::MatMul,
                             {arena(0, dims(kDim)),
                              weightBuffer(1, {hidden, kDim})},
                             arena(64, dims(hidden))));
  uint64_t u = 64;
  if (split) { // u made whole, then each rank's half read by W2 again
    entry.steps.push_back(step(fb::Kernel::AllGather,
                               {arena(64, dims(hidden))},
                               arena(128, dims(kHidden))));
    u = 64; // W2 reads the rank's own part: row-parallel
  }
  entry.steps.push_back(step(fb::Kernel::MatMul,
                             {arena(u, dims(hidden)),
                              weightBuffer(2, {kDim, hidden})},
                             arena(192, dims(kDim))));
  uint64_t y = 192;
  if (split) {
    entry.steps.push_back(step(fb::Kernel::AllReduce,
                               {arena(192, dims(kDim))},
                               arena(256, dims(kDim))));
    y = 256;
  }
  entry.steps.push_back(step(fb::Kernel::MatMul,
                             {arena(y, dims(kDim)),
                              weightBuffer(3, {vocabPart, kDim})},
                             arena(320, dims(vocabPart))));
  uint64_t logits = 320;
  if (split) {
    entry.steps.push_back(step(fb::Kernel::AllGather,
                               {arena(320, dims(vocabPart))},
                               arena(384, dims(kVocab))));
    logits = 384;
  }
  entry.logits = arena(logits, dims(kVocab));
  entry.arenaBytes = 512;
  plan.entries.push_back(std::move(entry));
  return plan;
}

/// logits = Wo W2 W1 embed[token], in double.
std::vector<double> reference(const Weights &w, int32_t token) {
  std::vector<double> h(kDim), u(kHidden, 0.0), y(kDim, 0.0),
      logits(kVocab, 0.0);
  for (int64_t i = 0; i < kDim; ++i)
    h[i] = w.embed[token * kDim + i];
  for (int64_t j = 0; j < kHidden; ++j)
    for (int64_t i = 0; i < kDim; ++i)
      u[j] += double(w.w1[j * kDim + i]) * h[i];
  for (int64_t j = 0; j < kDim; ++j)
    for (int64_t i = 0; i < kHidden; ++i)
      y[j] += double(w.w2[j * kHidden + i]) * u[i];
  for (int64_t j = 0; j < kVocab; ++j)
    for (int64_t i = 0; i < kDim; ++i)
      logits[j] += double(w.wo[j * kDim + i]) * y[i];
  return logits;
}

TEST(TensorParallelTest, TwoRanksGiveTheUnsplitLogits) {
  Weights w = drawWeights();
  std::string error;
  auto whole = LoadedPlan::openMemory(writePlan(modelPlan(w, false)), error);
  ASSERT_TRUE(whole) << error;
  SessionOptions options;
  options.device = "cpu";
  options.threads = 1;
  auto session = Session::create(*whole, options, error);
  ASSERT_TRUE(session) << error;

  std::vector<uint8_t> bytes = writePlan(modelPlan(w, true));
  auto group = createThreadGroup(kRanks);
  for (int32_t token : {0, 3, 6}) {
    std::vector<float> expected(kVocab);
    session->reset();
    ASSERT_TRUE(session->forward(&token, 1, expected.data(), false, error))
        << error;
    std::vector<double> exact = reference(w, token);
    for (int64_t v = 0; v < kVocab; ++v)
      EXPECT_NEAR(expected[v], exact[v], 1e-4);

    std::vector<std::vector<float>> logits(kRanks,
                                           std::vector<float>(kVocab));
    std::vector<std::string> errors(kRanks);
    std::vector<std::thread> threads;
    for (int r = 0; r < kRanks; ++r)
      threads.emplace_back([&, r] {
        // Each rank its own mapping of the plan, as each process has.
        auto plan = LoadedPlan::openMemory(bytes, errors[r]);
        if (!plan || !plan->selectRank(r, errors[r]))
          return;
        SessionOptions o = options;
        o.communicator = group[r].get();
        auto rank = Session::create(*plan, o, errors[r]);
        if (rank)
          rank->forward(&token, 1, logits[r].data(), false, errors[r]);
      });
    for (std::thread &t : threads)
      t.join();
    for (int r = 0; r < kRanks; ++r) {
      ASSERT_EQ(errors[r], "") << "rank " << r;
      for (int64_t v = 0; v < kVocab; ++v)
        EXPECT_NEAR(logits[r][v], expected[v], 1e-5)
            << "rank " << r << " logit " << v;
    }
  }
}

TEST(TensorParallelTest, SplitPlanNeedsItsRanks) {
  Weights w = drawWeights();
  std::string error;
  auto plan = LoadedPlan::openMemory(writePlan(modelPlan(w, true)), error);
  ASSERT_TRUE(plan) << error;
  EXPECT_EQ(plan->worldSize(), 2);
  EXPECT_EQ(rankWeightBytes(plan->plan()),
            (std::vector<uint64_t>{(kVocab * kDim + 3 * 8 + 3 * 8 + 4 * 8) * 4,
                                   (kVocab * kDim + 3 * 8 + 3 * 8 + 4 * 8) * 4}));
  SessionOptions options;
  options.device = "cpu";
  EXPECT_FALSE(Session::create(*plan, options, error));
  EXPECT_NE(error.find("is split for 2 ranks"), std::string::npos) << error;
  EXPECT_NE(error.find("mpirun -np 2"), std::string::npos) << error;
  EXPECT_FALSE(plan->selectRank(2, error));
  EXPECT_NE(error.find("not for rank 2"), std::string::npos) << error;
  // No rank selected, then a communicator of another rank than the one
  // selected.
  auto group = createThreadGroup(2);
  options.communicator = group[1].get();
  EXPECT_FALSE(Session::create(*plan, options, error));
  EXPECT_NE(error.find("select this session's rank first"), std::string::npos)
      << error;
  ASSERT_TRUE(plan->selectRank(0, error)) << error;
  EXPECT_FALSE(Session::create(*plan, options, error));
  EXPECT_NE(error.find("rank 1 but the plan's weights are rank 0's"),
            std::string::npos)
      << error;
}

TEST(TensorParallelTest, SplitPlanKeepsItsFileMapping) {
  // Copied to WeightMemory, every rank would hold every rank's weights: a
  // split plan stays mapped, each rank reading its own weights' pages.
  Weights w = drawWeights();
  test::TempFile file;
  file.write(writePlan(modelPlan(w, true)));
  std::string error;
  auto plan =
      LoadedPlan::openFile(file.path(), error, {}, PlanHome::WeightMemory);
  ASSERT_TRUE(plan) << error;
  EXPECT_STREQ(plan->weightHome(), "file mapping");
  EXPECT_TRUE(plan->selectRank(1, error)) << error;
}

TEST(TensorParallelTest, ChecksumsAreCheckedPerRank) {
  // Rank 1's w1 damaged: the plan opens (its checksums wait for the rank),
  // rank 0 selects, rank 1 does not.
  Weights w = drawWeights();
  std::vector<uint8_t> bytes = writePlan(modelPlan(w, true));
  std::string error;
  auto probe = LoadedPlan::openMemory(bytes, error);
  ASSERT_TRUE(probe) << error;
  const fb::WeightInfo *w1 = probe->plan().weights()->Get(4); // w1@rank1
  ASSERT_EQ(w1->name()->str(), "w1@rank1");
  bytes[w1->offset()] ^= 0x40;
  auto plan = LoadedPlan::openMemory(bytes, error);
  ASSERT_TRUE(plan) << error;
  EXPECT_TRUE(plan->selectRank(0, error)) << error;
  auto other = LoadedPlan::openMemory(bytes, error);
  ASSERT_TRUE(other) << error;
  EXPECT_FALSE(other->selectRank(1, error));
  EXPECT_NE(error.find("weight 4 'w1@rank1' fails its checksum"),
            std::string::npos)
      << error;
}

TEST(TensorParallelTest, VerifierChecksTheShardingTable) {
  Weights w = drawWeights();
  struct Case {
    const char *what;
    std::function<void(ShardingDesc &)> damage;
    const char *message;
  };
  const Case cases[] = {
      {"a rank's map missing", [](ShardingDesc &s) { s.rankWeights.pop_back(); },
       "split for 2 ranks but maps the weights of 1"},
      {"a short map", [](ShardingDesc &s) { s.rankWeights[1].pop_back(); },
       "rank 1's weight map has 6 entries"},
      {"a weight out of range", [](ShardingDesc &s) { s.rankWeights[1][1] = 99; },
       "rank 1 reads weight 99"},
      {"a weight of another shape",
       [](ShardingDesc &s) { s.rankWeights[1][1] = 5; },
       "which has another type or shape"},
      {"a rank field", [](ShardingDesc &s) { s.rank = 1; },
       "the sharding table is invalid"},
  };
  for (const Case &c : cases) {
    PlanDesc plan = modelPlan(w, true);
    c.damage(*plan.sharding);
    std::string error;
    EXPECT_FALSE(LoadedPlan::openMemory(writePlan(plan), error)) << c.what;
    EXPECT_NE(error.find(c.message), std::string::npos)
        << c.what << ": " << error;
  }
  // all_gather must make the parts whole: 2 * 4 = 8 >= m > 4.
  PlanDesc plan = modelPlan(w, true);
  plan.entries[0].steps.back().outputs[0].dims = {1, -1, 9};
  plan.entries[0].logits.dims = {1, -1, 9};
  std::string error;
  EXPECT_FALSE(LoadedPlan::openMemory(writePlan(plan), error));
  EXPECT_NE(error.find("all_gather must make"), std::string::npos) << error;
}

} // namespace
} // namespace qrt
