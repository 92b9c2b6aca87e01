//===- ObserverTest.cpp - watching a session's steps ----------------------===//
//
// A StepObserver on a CPU session over plans opened from memory: it sees
// every step of every chunk, in order, before and after it runs; a matmul's
// event names its weight (a quantized one by its own name) and shape, and
// carries its input x and, after the step, its output, which equal
// x @ W^T for the model's matrix W (computed here in double from the
// TinyModel's values, independently of the kernels); the last step's
// output is the logits forward() returns. (The compiler's unit tests check
// observed activations against the reference evaluator of the source IR:
// test/unit/ObserverReferenceTest.cpp.)
//
//===----------------------------------------------------------------------===//

#include "TestPlans.h"

#include "qrt/runtime/Session.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <map>
#include <string>
#include <vector>

using namespace qrt;
using namespace qrt::test;

namespace {

/// Everything an observer saw.
class Recorder : public StepObserver {
public:
  struct Seen {
    size_t entry, step;
    fb::Kernel kernel;
    int64_t tokens, position;
    std::string weight;
    int64_t rows, cols;
    std::vector<float> x, out;
  };
  void beforeStep(const StepEvent &event) override {
    ++before;
    pending = Seen{event.entryIndex,   event.stepIndex,
                   event.step->kernel(), event.tokens,
                   event.position,     event.weight,
                   event.weightRows,   event.weightCols,
                   {},                 {}};
    if (!event.inputs.empty() && event.inputs[0].dtype == fb::DType::F32 &&
        event.inputs[0].buffer->kind() == fb::BufferKind::Arena)
      pending.x = event.inputs[0].floats();
  }
  void afterStep(const StepEvent &event) override {
    ++after;
    EXPECT_EQ(event.stepIndex, pending.step);
    if (!event.outputs.empty())
      pending.out = event.outputs[0].floats();
    seen.push_back(std::move(pending));
  }
  size_t before = 0, after = 0;
  Seen pending;
  std::vector<Seen> seen;
};

/// The model's float matrices by the plan's weight names.
std::map<std::string, const std::vector<float> *>
matrices(const TinyModel &m) {
  std::map<std::string, const std::vector<float> *> out;
  for (size_t l = 0; l < m.layers.size(); ++l) {
    const TinyModel::Layer &layer = m.layers[l];
    std::string p = "layers." + std::to_string(l) + ".";
    out[p + "attention.wq"] = &layer.wq;
    out[p + "attention.wk"] = &layer.wk;
    out[p + "attention.wv"] = &layer.wv;
    out[p + "attention.wo"] = &layer.wo;
    out[p + "feed_forward.w1"] = &layer.w1;
    out[p + "feed_forward.w3"] = &layer.w3;
    out[p + "feed_forward.w2"] = &layer.w2;
  }
  out["output"] = &m.output;
  return out;
}

std::unique_ptr<LoadedPlan> openFromMemory(const TinyModel &model) {
  std::string error;
  std::unique_ptr<LoadedPlan> plan = LoadedPlan::openMemory(
      writePlan(tinyPlanSpec(model)), error, VerifyOptions(), "tiny");
  EXPECT_TRUE(plan) << error;
  return plan;
}

std::unique_ptr<Session> cpuSession(const LoadedPlan &plan) {
  SessionOptions options;
  options.device = "cpu";
  options.threads = 2;
  std::string error;
  std::unique_ptr<Session> session = Session::create(plan, options, error);
  EXPECT_TRUE(session) << error;
  return session;
}

TEST(ObserverTest, SeesEveryStepOfEveryChunkInOrder) {
  TinyConfig config; // prefill chunks of 8
  TinyModel model = makeTinyModel(config);
  auto plan = openFromMemory(model);
  ASSERT_TRUE(plan);
  auto session = cpuSession(*plan);
  ASSERT_TRUE(session);
  Recorder recorder;
  session->setObserver(&recorder);
  std::vector<int32_t> tokens = {1, 5, 9, 3, 7, 2, 30, 11, 4, 8, 6};
  std::string error;
  std::vector<float> logits(size_t(config.vocab));
  // 11 tokens: prefill chunks of 8 and 3, then one decode step.
  ASSERT_TRUE(session->forward(tokens.data(), 11, logits.data(), false, error))
      << error;
  int32_t next = 12;
  ASSERT_TRUE(session->forward(&next, 1, logits.data(), false, error)) << error;
  const size_t steps = plan->plan().entries()->Get(0)->steps()->size();
  ASSERT_EQ(recorder.seen.size(), 3 * steps);
  EXPECT_EQ(recorder.before, recorder.after);
  for (size_t i = 0; i < recorder.seen.size(); ++i) {
    const Recorder::Seen &s = recorder.seen[i];
    size_t chunk = i / steps;
    EXPECT_EQ(s.step, i % steps);
    EXPECT_EQ(s.entry, chunk < 2 ? 0u : 1u); // prefill, prefill, decode
    EXPECT_EQ(s.tokens, chunk == 0 ? 8 : chunk == 1 ? 3 : 1);
    EXPECT_EQ(s.position, chunk == 0 ? 0 : chunk == 1 ? 8 : 11);
  }
  // The last step (the output matmul) wrote the logits forward() returned.
  EXPECT_EQ(recorder.seen.back().out, logits);
  // Without the observer, nothing more is seen.
  session->setObserver(nullptr);
  ASSERT_TRUE(session->forward(&next, 1, logits.data(), false, error)) << error;
  EXPECT_EQ(recorder.seen.size(), 3 * steps);
}

TEST(ObserverTest, MatmulsShowTheirWeightInputAndOutput) {
  // Quantized projections (int4 with zero points, NF4 double-quantized,
  // act order, int8) and float ones: each matmul's event names its weight,
  // and what it wrote is x @ W^T of what it read.
  for (bool quantized : {false, true}) {
    SCOPED_TRACE(quantized ? "quantized" : "float");
    TinyConfig config;
    if (quantized)
      config.projectionSchemes = {
          WeightScheme::of(intNScheme(4, 8, false, ScaleType::F16)),
          WeightScheme::of(nf4Scheme(8, ScaleType::F32, 5)),
          WeightScheme::of(intNScheme(4, 4, false, ScaleType::F16, true)),
          WeightScheme::of(intNScheme(8, kPerChannel, true, ScaleType::F32))};
    TinyModel model = makeTinyModel(config);
    auto plan = openFromMemory(model);
    ASSERT_TRUE(plan);
    auto session = cpuSession(*plan);
    ASSERT_TRUE(session);
    Recorder recorder;
    session->setObserver(&recorder);
    std::vector<int32_t> tokens = {3, 1, 4, 1, 5, 9};
    std::string error;
    ASSERT_TRUE(session->forward(tokens.data(), 6, nullptr, false, error))
        << error;
    std::map<std::string, const std::vector<float> *> weights =
        matrices(model);
    size_t matmuls = 0;
    for (const Recorder::Seen &s : recorder.seen) {
      bool isMatmul = s.kernel == fb::Kernel::MatMul ||
                      s.kernel == fb::Kernel::DequantMatMul;
      EXPECT_EQ(isMatmul, !s.weight.empty()) << s.step;
      if (!isMatmul)
        continue;
      ++matmuls;
      EXPECT_EQ(s.kernel == fb::Kernel::DequantMatMul,
                quantized && s.weight != "output")
          << s.weight;
      auto w = weights.find(s.weight);
      ASSERT_NE(w, weights.end()) << "unknown weight " << s.weight;
      ASSERT_EQ(w->second->size(), size_t(s.rows * s.cols)) << s.weight;
      ASSERT_EQ(s.x.size(), size_t(s.tokens * s.cols)) << s.weight;
      ASSERT_EQ(s.out.size(), size_t(s.tokens * s.rows)) << s.weight;
      for (int64_t t = 0; t < s.tokens; ++t)
        for (int64_t r = 0; r < s.rows; ++r) {
          double expected = 0, scale = 0;
          for (int64_t c = 0; c < s.cols; ++c) {
            double term = double(s.x[t * s.cols + c]) *
                          double((*w->second)[r * s.cols + c]);
            expected += term;
            scale += std::fabs(term);
          }
          EXPECT_NEAR(s.out[t * s.rows + r], expected, 1e-5 * (1 + scale))
              << s.weight << " token " << t << " row " << r;
        }
    }
    // 7 projections per layer and the output.
    EXPECT_EQ(matmuls, size_t(7 * config.layers + 1));
  }
}

TEST(ObserverTest, MemoryPlansRunLikeFilePlans) {
  TinyConfig config;
  TinyModel model = makeTinyModel(config);
  std::vector<uint8_t> bytes = writePlan(tinyPlanSpec(model));
  std::unique_ptr<OpenedPlan> file = openPlan(bytes);
  ASSERT_TRUE(file->plan) << file->error;
  std::string error;
  auto memory = LoadedPlan::openMemory(bytes, error);
  ASSERT_TRUE(memory) << error;
  EXPECT_EQ(memory->name(), "<memory>");
  std::vector<int32_t> tokens = {2, 7, 1, 8, 2, 8};
  std::vector<float> a(tokens.size() * config.vocab),
      b(tokens.size() * config.vocab);
  auto fromFile = cpuSession(*file->plan), fromMemory = cpuSession(*memory);
  ASSERT_TRUE(fromFile && fromMemory);
  ASSERT_TRUE(fromFile->forward(tokens.data(), 6, a.data(), true, error));
  ASSERT_TRUE(fromMemory->forward(tokens.data(), 6, b.data(), true, error));
  EXPECT_EQ(a, b);
  // A damaged plan in memory is refused with the name given.
  bytes.resize(bytes.size() / 2);
  EXPECT_FALSE(LoadedPlan::openMemory(bytes, error, VerifyOptions(), "cut"));
  EXPECT_EQ(error.rfind("cut: ", 0), 0u) << error;
}

} // namespace
