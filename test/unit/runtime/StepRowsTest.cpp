//===- StepRowsTest.cpp - the rows each step of a forward computes --------===//
//
// qrt::stepRows on the tiny decoder's prefill entry (TestPlans.h), against
// the rows worked out by hand from the model's dependencies, then the
// conservative cases (aliasing, a step that is not row-wise), then sessions:
// a prefill that computes only the last row, or no logits, gives the logits
// and the KV cache of one that computes every row.
//
//===----------------------------------------------------------------------===//

#include "TestPlans.h"

#include "qrt/runtime/Session.h"
#include "qrt/runtime/StepRows.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>

using namespace qrt;
using namespace qrt::test;

namespace {

const char *name(Rows rows) {
  switch (rows) {
  case Rows::None:
    return "none";
  case Rows::Last:
    return "last";
  case Rows::All:
    return "all";
  }
  return "?";
}

/// stepRows of the written `spec`'s entry `entry`, by step name.
std::map<std::string, std::string> rowsByName(const PlanDesc &spec, Rows logits,
                                              size_t entry = 0) {
  std::vector<uint8_t> bytes = writePlan(spec);
  const fb::Entry &e = *planOf(bytes.data())->entries()->Get(entry);
  std::vector<Rows> rows = stepRows(e, logits);
  EXPECT_EQ(rows.size(), e.steps()->size());
  std::map<std::string, std::string> byName;
  for (size_t i = 0; i < rows.size(); ++i)
    byName[e.steps()->Get(static_cast<uint32_t>(i))->name()->str()] =
        name(rows[i]);
  return byName;
}

/// The rows by hand for the tiny decoder of `layers` layers: every step of
/// the layers before the last and the last layer's keys and values (they
/// enter the cache) on all rows; the rest of the last layer, the final norm
/// and the output projection on `tail`; the last layer's attention on
/// `tail` (it appends its keys and values in any case).
std::map<std::string, std::string> expectedRows(int layers, Rows tail) {
  std::map<std::string, std::string> rows;
  const char *kv[] = {"attention_norm", "attention.wk", "attention.wv",
                      "attention.rotary_k"};
  const char *rest[] = {
      "attention.wq",    "attention.rotary_q",   "attention",
      "attention.wo",    "attention.residual",   "ffn_norm",
      "feed_forward.w1", "feed_forward.w3",      "feed_forward.swiglu",
      "feed_forward.w2", "feed_forward.residual"};
  rows["tok_embeddings"] = "all";
  for (int l = 0; l < layers; ++l) {
    std::string p = "layers." + std::to_string(l) + ".";
    bool last = l == layers - 1;
    for (const char *s : kv)
      rows[p + s] = "all";
    for (const char *s : rest)
      rows[p + s] = last ? name(tail) : "all";
  }
  rows["norm"] = rows["output"] = name(tail);
  return rows;
}

TEST(StepRowsTest, RowElements) {
  auto tensor = [](std::vector<int64_t> dims) {
    static flatbuffers::FlatBufferBuilder builder;
    builder.Clear();
    builder.Finish(fb::CreateTensorInfoDirect(builder, fb::DType::F32, &dims));
    return flatbuffers::GetRoot<fb::TensorInfo>(builder.GetBufferPointer());
  };
  EXPECT_EQ(rowElements(*tensor({1, -1, 4, 8})), 32);
  EXPECT_EQ(rowElements(*tensor({-1, 16})), 16);
  EXPECT_EQ(rowElements(*tensor({1, -1})), 1);
  EXPECT_EQ(rowElements(*tensor({4, -1, 8})), 0);  // rows interleaved
  EXPECT_EQ(rowElements(*tensor({16, 8})), 0);     // no token dimension
  EXPECT_EQ(rowElements(*tensor({-1, 2, -1})), 0); // two
}

TEST(StepRowsTest, TinyDecoderByHand) {
  for (int layers : {1, 2, 3}) {
    TinyConfig config;
    config.layers = layers;
    TinyModel model = makeTinyModel(config); // the spec points into it
    PlanDesc spec = tinyPlanSpec(model);
    ASSERT_EQ(spec.entries[0].name, "prefill");
    EXPECT_EQ(rowsByName(spec, Rows::Last), expectedRows(layers, Rows::Last))
        << layers << " layers";
    EXPECT_EQ(rowsByName(spec, Rows::None), expectedRows(layers, Rows::None))
        << layers << " layers";
    EXPECT_EQ(rowsByName(spec, Rows::All), expectedRows(layers, Rows::All))
        << layers << " layers";
  }
}

TEST(StepRowsTest, RotaryOutOfPlaceAndQuantizedProjections) {
  TinyConfig config;
  config.rotaryOutOfPlace = true;
  config.projectionSchemes = {WeightScheme::of(IntNScheme{4, 8, false})};
  TinyModel model = makeTinyModel(config); // the spec points into it
  PlanDesc spec = tinyPlanSpec(model);
  EXPECT_EQ(rowsByName(spec, Rows::Last), expectedRows(2, Rows::Last));
}

/// A step whose output starts inside its input (a verified plan may place
/// it so) cannot run on the last row alone: it and everything it reads run
/// on every row.
TEST(StepRowsTest, PartlyOverlappingOutputRunsEveryRow) {
  TinyConfig config;
  TinyModel model = makeTinyModel(config); // the spec points into it
  PlanDesc spec = tinyPlanSpec(model);
  uint64_t moved = 0;
  for (StepDesc &s : spec.entries[0].steps) {
    if (s.name == "layers.1.feed_forward.swiglu")
      moved = s.outputs[0].offset = s.inputs[0].offset + 4;
    if (s.name == "layers.1.feed_forward.w2")
      s.inputs[0].offset = moved;
  }
  std::map<std::string, std::string> rows = rowsByName(spec, Rows::Last);
  EXPECT_EQ(rows["layers.1.feed_forward.swiglu"], "all");
  EXPECT_EQ(rows["layers.1.feed_forward.w1"], "all");
  EXPECT_EQ(rows["layers.1.ffn_norm"], "all");
  EXPECT_EQ(rows["layers.1.attention"], "all");
  EXPECT_EQ(rows["layers.1.attention.wq"], "all");
  // After it, the last row still suffices.
  EXPECT_EQ(rows["layers.1.feed_forward.w2"], "last");
  EXPECT_EQ(rows["output"], "last");
}

/// LLM.int8()'s outlier columns come from every row of its input: a step
/// that reads its output on the last row only still needs it whole.
TEST(StepRowsTest, Int8MatMulReadsEveryRow) {
  TinyConfig config;
  TinyModel model = makeTinyModel(config); // the spec points into it
  PlanDesc spec = tinyPlanSpec(model);
  for (StepDesc &s : spec.entries[0].steps)
    if (s.name == "layers.1.feed_forward.w2")
      s.kernel = fb::Kernel::Int8MatMul;
  std::map<std::string, std::string> rows = rowsByName(spec, Rows::Last);
  EXPECT_EQ(rows["layers.1.feed_forward.w2"], "all");
  EXPECT_EQ(rows["layers.1.feed_forward.swiglu"], "all");
  EXPECT_EQ(rows["layers.1.attention"], "all");
  EXPECT_EQ(rows["layers.1.feed_forward.residual"], "last");
  // Without logits it need not run at all.
  EXPECT_EQ(rowsByName(spec, Rows::None)["layers.1.feed_forward.w2"], "none");
}

/// A region the logits' producer reuses for an earlier tensor: the earlier
/// value's readers are earlier, and rows follow each value, not the region.
TEST(StepRowsTest, ReusedRegionFollowsEachValue) {
  TinyConfig config;
  TinyModel model = makeTinyModel(config); // the spec points into it
  PlanDesc spec = tinyPlanSpec(model);
  EntryDesc &e = spec.entries[0];
  // Layer 0's attention output region, dead after its wo, now also holds
  // the final norm's output.
  uint64_t reused = 0;
  for (const StepDesc &s : e.steps)
    if (s.name == "layers.0.attention")
      reused = s.outputs[0].offset;
  for (StepDesc &s : e.steps) {
    if (s.name == "norm")
      s.outputs[0].offset = reused;
    if (s.name == "output")
      s.inputs[0].offset = reused;
  }
  std::map<std::string, std::string> rows = rowsByName(spec, Rows::Last);
  EXPECT_EQ(rows["norm"], "last");
  EXPECT_EQ(rows["layers.0.attention"], "all");
  EXPECT_EQ(rows["layers.0.attention.wo"], "all");
}

//===----------------------------------------------------------------------===//
// Sessions
//===----------------------------------------------------------------------===//

/// Prefill of `count` tokens with every row's logits, with the last row's,
/// and with none, then 3 decode steps each: the same last logits and the
/// same decode logits (the last-row prefill filled the whole KV cache).
void checkSession(const TinyConfig &config, int64_t count) {
  std::vector<uint8_t> bytes = writePlan(tinyPlanSpec(makeTinyModel(config)));
  TempFile file;
  file.write(bytes);
  std::string error;
  std::unique_ptr<LoadedPlan> plan = LoadedPlan::openFile(file.path(), error);
  ASSERT_TRUE(plan) << error;
  std::mt19937 rng(7);
  std::vector<int32_t> tokens(static_cast<size_t>(count + 3));
  for (int32_t &t : tokens)
    t = static_cast<int32_t>(rng() % static_cast<uint32_t>(config.vocab));
  const int64_t vocab = config.vocab;
  std::vector<std::vector<float>> decoded;
  std::vector<float> lastOfAll;
  // All alive at once: a session must not find its KV cache in the memory
  // of a freed one that held the same values.
  std::vector<std::unique_ptr<Session>> sessions;
  for (Rows rows : {Rows::All, Rows::Last, Rows::None}) {
    SessionOptions options;
    options.threads = 2;
    sessions.push_back(Session::create(*plan, options, error));
    Session *session = sessions.back().get();
    ASSERT_TRUE(session) << error;
    std::vector<float> logits(static_cast<size_t>(count * vocab));
    ASSERT_TRUE(session->forward(tokens.data(), count,
                                 rows == Rows::None ? nullptr : logits.data(),
                                 rows == Rows::All, error))
        << error;
    if (rows == Rows::All)
      lastOfAll.assign(logits.end() - vocab, logits.end());
    if (rows == Rows::Last) {
      EXPECT_LE(maxAbsDifference(std::vector<float>(logits.begin(),
                                                    logits.begin() + vocab),
                                 lastOfAll),
                1e-5)
          << "last-row prefill of " << count;
    }
    std::vector<float> decode(static_cast<size_t>(3 * vocab));
    for (int64_t i = 0; i < 3; ++i)
      ASSERT_TRUE(session->forward(&tokens[static_cast<size_t>(count + i)], 1,
                                   decode.data() + i * vocab, false, error))
          << error;
    decoded.push_back(decode);
  }
  for (size_t i = 1; i < decoded.size(); ++i)
    EXPECT_LE(
        maxAbsDifference(decoded[i], decoded[0]),
        1e-5f)
        << "decode after a " << (i == 1 ? "last-row" : "logit-less")
        << " prefill of " << count;
}

TEST(StepRowsTest, SessionsGiveTheLogitsAndCacheOfEveryRow) {
  TinyConfig config;
  config.prefillTokens = 8;
  for (int64_t count : {2, 8, 13})
    checkSession(config, count);
  config.rotaryOutOfPlace = true;
  config.layers = 3;
  config.projectionSchemes = {
      WeightScheme::of(IntNScheme{4, 8, false}),
      WeightScheme::of(IntNScheme{8, kPerChannel, true})};
  for (int64_t count : {5, 17})
    checkSession(config, count);
}

} // namespace
