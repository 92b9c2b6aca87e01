//===- ObserverReferenceTest.cpp - observed steps vs the reference --------===//
//
// A two-layer grouped-query decoder (written here as raised qllm IR with
// seeded random weights) is compiled by quant-compile, exported to a plan in
// memory, opened from memory and run on the CPU with a StepObserver. The
// same compiled IR is evaluated op by op with the reference evaluator
// (qllm/Analysis/ReferenceEvaluator.h, doubles): every step the observer sees
// (the i-th step is the i-th op with a kernel) must show the inputs and
// outputs the evaluator computes for that op, first for a prefill chunk from
// position 0, then for a decode step whose past keys and values are the
// evaluator's presents of the prefill. For f32 weights, for int4 g8
// quantized projections (dequant_matmul steps, evaluated from the packed
// components), and for LLM.int8() (int8_matmul steps: the evaluator's own
// 8-bit activations and outlier columns, at a threshold of 0.5 that this
// model's activations cross), and for int4 g32 and int8 weights with 8-bit
// activations (int8_activations: the evaluator's own blocks of 32).
//
//===----------------------------------------------------------------------===//

#include "qllm/Analysis/ReferenceEvaluator.h"
#include "qllm/IR/QLLMDialect.h"
#include "qllm/IR/QLLMOps.h"
#include "qllm/IR/QLLMPlanAttrs.h"
#include "qrt/core/Plan.h"
#include "qrt/runtime/Session.h"
#include "quant/Passes/Passes.h"
#include "quant/Plan/ExportPlan.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

using namespace mlir;
using namespace mlir::qllm;

namespace {

constexpr int kDim = 16, kHeads = 4, kKvHeads = 2, kHeadDim = 4, kHidden = 24,
              kVocab = 32, kLayers = 2, kContext = 32;

/// The decoder as raised qllm IR (the interface the runtime drives), its
/// weights drawn from `seed` as dense_resource blobs.
std::string decoderIR(uint32_t seed) {
  std::mt19937 rng(seed);
  std::ostringstream ir, blobs;
  int blobCount = 0;
  auto weight = [&](const std::string &name, int rows, int cols, float center,
                    float spread) {
    std::uniform_real_distribution<float> dist(center - spread,
                                               center + spread);
    std::string blob = "w" + std::to_string(blobCount++);
    blobs << (blobCount > 1 ? ",\n" : "") << "      " << blob
          << ": \"0x04000000";
    for (int i = 0; i < rows * cols; ++i) {
      float v = dist(rng);
      uint8_t bytes[4];
      std::memcpy(bytes, &v, 4);
      for (uint8_t b : bytes) {
        char hex[3];
        std::snprintf(hex, sizeof(hex), "%02X", b);
        blobs << hex;
      }
    }
    blobs << "\"";
    std::string type = rows == 1 ? "tensor<" + std::to_string(cols) + "xf32>"
                                 : "tensor<" + std::to_string(rows) + "x" +
                                       std::to_string(cols) + "xf32>";
    std::string value = "%" + blob;
    ir << "    " << value << " = qllm.weight \"" << name
       << "\" = dense_resource<" << blob << "> : " << type << "\n";
    return value;
  };
  auto t3 = [](int last) {
    return "tensor<?x?x" + std::to_string(last) + "xf32>";
  };
  auto t4 = [](int heads) {
    return "tensor<?x?x" + std::to_string(heads) + "x4xf32>";
  };
  const std::string cache = "tensor<?x2x?x4xf32>";
  ir << "module attributes {qllm.metadata = {max_seq_len = \"" << kContext
     << "\"}} {\n  func.func @main(\n"
     << "      %ids: tensor<?x?xi64> {qllm.dims = [\"batch_size\", "
        "\"sequence_length\"], qllm.name = \"input_ids\"},\n"
     << "      %mask: tensor<?x?xi64> {qllm.dims = [\"batch_size\", "
        "\"total_sequence_length\"], qllm.name = \"attention_mask\"},\n"
     << "      %pos: tensor<?x?xi64> {qllm.dims = [\"batch_size\", "
        "\"sequence_length\"], qllm.name = \"position_ids\"}";
  for (int l = 0; l < kLayers; ++l)
    for (const char *kind : {"key", "value"})
      ir << ",\n      %p" << kind[0] << l << ": " << cache
         << " {qllm.dims = [\"batch_size\", \"\", \"past_sequence_length\", "
            "\"\"], qllm.name = \"past_key_values."
         << l << "." << kind << "\"}";
  ir << ")\n      -> (" << t3(kVocab) << " {qllm.name = \"logits\"}";
  for (int l = 0; l < kLayers; ++l)
    for (const char *kind : {"key", "value"})
      ir << ", " << cache << " {qllm.name = \"present." << l << "." << kind
         << "\"}";
  ir << ") {\n";
  ir << "    %shape_q = qllm.constant dense<[0, 0, 4, 4]> : tensor<4xi64>\n"
     << "    %shape_kv = qllm.constant dense<[0, 0, 2, 4]> : tensor<4xi64>\n"
     << "    %flat = qllm.constant dense<[0, 0, 16]> : tensor<3xi64>\n";
  std::string emb = weight("tok_embeddings", kVocab, kDim, 0.0f, 1.0f);
  ir << "    %x_0 = qllm.embedding " << emb << "[%ids] : (tensor<" << kVocab
     << "x" << kDim << "xf32>, tensor<?x?xi64>) -> " << t3(kDim)
     << " loc(\"tok_embeddings\")\n";
  std::string presents;
  auto matmul = [&](const std::string &out, const std::string &x, int k,
                    const std::string &w, int n, const std::string &name) {
    ir << "    " << out << " = qllm.matmul " << x << ", " << w << " : ("
       << t3(k) << ", tensor<" << k << "x" << n << "xf32>) -> " << t3(n)
       << " loc(\"" << name << "\")\n";
  };
  for (int l = 0; l < kLayers; ++l) {
    std::string p = "layers." + std::to_string(l) + ".", s = std::to_string(l);
    const float a = 1.0f / std::sqrt(float(kDim)),
                b = 1.0f / std::sqrt(float(kHidden));
    std::string attentionNorm = weight(p + "attention_norm", 1, kDim, 1, 0.3f);
    std::string wq = weight(p + "attention.wq", kDim, kDim, 0, a);
    std::string wk = weight(p + "attention.wk", kDim, 8, 0, a);
    std::string wv = weight(p + "attention.wv", kDim, 8, 0, a);
    std::string wo = weight(p + "attention.wo", kDim, kDim, 0, a);
    std::string ffnNorm = weight(p + "ffn_norm", 1, kDim, 1, 0.3f);
    std::string w1 = weight(p + "feed_forward.w1", kDim, kHidden, 0, a);
    std::string w3 = weight(p + "feed_forward.w3", kDim, kHidden, 0, a);
    std::string w2 = weight(p + "feed_forward.w2", kHidden, kDim, 0, b);
    ir << "    %n_" << s << " = qllm.rms_norm %x_" << s << ", " << attentionNorm
       << " {epsilon = 1.0e-5 : f32} : (" << t3(kDim) << ", tensor<16xf32>) -> "
       << t3(kDim) << " loc(\"" << p << "attention_norm\")\n";
    matmul("%q_" + s, "%n_" + s, kDim, wq, kDim, p + "attention.wq");
    matmul("%k_" + s, "%n_" + s, kDim, wk, 8, p + "attention.wk");
    matmul("%v_" + s, "%n_" + s, kDim, wv, 8, p + "attention.wv");
    ir << "    %qh_" << s << " = qllm.reshape %q_" << s << ", %shape_q : ("
       << t3(kDim) << ", tensor<4xi64>) -> " << t4(kHeads) << "\n"
       << "    %kh_" << s << " = qllm.reshape %k_" << s << ", %shape_kv : ("
       << t3(8) << ", tensor<4xi64>) -> " << t4(kKvHeads) << "\n"
       << "    %vh_" << s << " = qllm.reshape %v_" << s << ", %shape_kv : ("
       << t3(8) << ", tensor<4xi64>) -> " << t4(kKvHeads) << "\n";
    ir << "    %qr_" << s << " = qllm.rotary interleaved %qh_" << s
       << ", %pos {base = 1.0e4 : f32} : (" << t4(kHeads)
       << ", tensor<?x?xi64>) -> " << t4(kHeads) << " loc(\"" << p
       << "rotary_q\")\n"
       << "    %kr_" << s << " = qllm.rotary interleaved %kh_" << s
       << ", %pos {base = 1.0e4 : f32} : (" << t4(kKvHeads)
       << ", tensor<?x?xi64>) -> " << t4(kKvHeads) << " loc(\"" << p
       << "rotary_k\")\n";
    ir << "    %o_" << s << ", %prk_" << s << ", %prv_" << s
       << " = qllm.attention %qr_" << s << ", %kr_" << s << ", %vh_" << s
       << " past(%pk" << s << ", %pv" << s << ") mask(%mask) causal : ("
       << t4(kHeads) << ", " << t4(kKvHeads) << ", " << t4(kKvHeads) << ", "
       << cache << ", " << cache << ", tensor<?x?xi64>) -> (" << t4(kHeads)
       << ", " << cache << ", " << cache << ") loc(\"" << p << "attention\")\n";
    presents += ", %prk_" + s + ", %prv_" + s;
    ir << "    %of_" << s << " = qllm.reshape %o_" << s << ", %flat : ("
       << t4(kHeads) << ", tensor<3xi64>) -> " << t3(kDim) << "\n";
    matmul("%proj_" + s, "%of_" + s, kDim, wo, kDim, p + "attention.wo");
    ir << "    %h_" << s << " = qllm.add %x_" << s << ", %proj_" << s << " : ("
       << t3(kDim) << ", " << t3(kDim) << ") -> " << t3(kDim) << " loc(\"" << p
       << "attention.residual\")\n";
    ir << "    %m_" << s << " = qllm.rms_norm %h_" << s << ", " << ffnNorm
       << " {epsilon = 1.0e-5 : f32} : (" << t3(kDim) << ", tensor<16xf32>) -> "
       << t3(kDim) << " loc(\"" << p << "ffn_norm\")\n";
    matmul("%g_" + s, "%m_" + s, kDim, w1, kHidden, p + "feed_forward.w1");
    matmul("%u_" + s, "%m_" + s, kDim, w3, kHidden, p + "feed_forward.w3");
    ir << "    %sw_" << s << " = qllm.swiglu %g_" << s << ", %u_" << s << " : "
       << t3(kHidden) << " loc(\"" << p << "feed_forward.swiglu\")\n";
    matmul("%d_" + s, "%sw_" + s, kHidden, w2, kDim, p + "feed_forward.w2");
    ir << "    %x_" << l + 1 << " = qllm.add %h_" << s << ", %d_" << s << " : ("
       << t3(kDim) << ", " << t3(kDim) << ") -> " << t3(kDim) << " loc(\"" << p
       << "feed_forward.residual\")\n";
  }
  std::string norm = weight("norm", 1, kDim, 1, 0.3f);
  std::string output = weight("output", kDim, kVocab, 0, 0.25f);
  ir << "    %final = qllm.rms_norm %x_" << kLayers << ", " << norm
     << " {epsilon = 1.0e-5 : f32} : (" << t3(kDim) << ", tensor<16xf32>) -> "
     << t3(kDim) << " loc(\"norm\")\n";
  matmul("%logits", "%final", kDim, output, kVocab, "output");
  ir << "    return %logits" << presents << " : " << t3(kVocab);
  for (int i = 0; i < 2 * kLayers; ++i)
    ir << ", " << cache;
  ir << "\n  }\n}\n\n{-#\n  dialect_resources: {\n    builtin: {\n"
     << blobs.str() << "\n    }\n  }\n#-}\n";
  return ir.str();
}

/// What the observer saw of one step: its inputs and outputs, as floats
/// (activations only).
struct Seen {
  size_t entry, step;
  std::vector<std::vector<float>> inputs, outputs;
};

class Recorder : public qrt::StepObserver {
public:
  void beforeStep(const qrt::StepEvent &event) override {
    current = Seen{event.entryIndex, event.stepIndex, {}, {}};
    for (const qrt::StepTensor &t : event.inputs)
      current.inputs.push_back(floats(t));
  }
  void afterStep(const qrt::StepEvent &event) override {
    for (const qrt::StepTensor &t : event.outputs)
      current.outputs.push_back(floats(t));
    seen.push_back(current);
  }
  /// The tensor's values, if it is an f32 activation (else empty).
  static std::vector<float> floats(const qrt::StepTensor &t) {
    if (t.buffer->kind() != qrt::fb::BufferKind::Arena)
      return {};
    return t.floats();
  }
  Seen current;
  std::vector<Seen> seen;
};

/// max |a - b| / max(1, max |b|).
double relativeDifference(const std::vector<float> &a, const RefTensor &b) {
  EXPECT_EQ(a.size(), b.data.size());
  double worst = 0, scale = 1;
  for (double v : b.data)
    scale = std::max(scale, std::fabs(v));
  for (size_t i = 0; i < std::min(a.size(), b.data.size()); ++i)
    worst = std::max(worst, std::fabs(double(a[i]) - b.data[i]));
  return worst / scale;
}

/// Binds the arguments of a compiled entry point for `tokens` at position
/// `start`; past caches from `pasts` (by role and layer), else empty.
void bindArguments(func::FuncOp func, ReferenceEvaluator &evaluator,
                   const std::vector<int64_t> &tokens, int64_t start,
                   const std::map<std::pair<bool, int64_t>, RefTensor> &pasts) {
  int64_t count = int64_t(tokens.size());
  for (BlockArgument arg : func.getArguments()) {
    auto role =
        func.getArgAttrOfType<RoleAttr>(arg.getArgNumber(), kRoleAttrName);
    ASSERT_TRUE(role);
    switch (role.getRole()) {
    case InterfaceRole::tokens: {
      RefTensor t = RefTensor::filled({1, count}, 0);
      t.data.assign(tokens.begin(), tokens.end());
      evaluator.bind(arg, t);
      break;
    }
    case InterfaceRole::positions: {
      RefTensor t = RefTensor::filled({1, count}, 0);
      for (int64_t i = 0; i < count; ++i)
        t.data[i] = double(start + i);
      evaluator.bind(arg, t);
      break;
    }
    case InterfaceRole::mask:
      evaluator.bind(arg, RefTensor::filled({1, start + count}, 1));
      break;
    default: {
      bool key = role.getRole() == InterfaceRole::past_key;
      auto it = pasts.find({key, *role.getLayer()});
      evaluator.bind(arg,
                     it != pasts.end()
                         ? it->second
                         : RefTensor::filled({1, kKvHeads, 0, kHeadDim}, 0));
    }
    }
  }
}

/// The ops of an entry that are plan steps, in the plan's order.
SmallVector<Operation *> stepsOf(func::FuncOp func) {
  SmallVector<Operation *> steps;
  for (Operation &op : func.getBody().front())
    if (getKernel(&op))
      steps.push_back(&op);
  return steps;
}

/// Compares the observed steps of `entry` with the evaluator's values.
void compare(func::FuncOp func, ReferenceEvaluator &evaluator,
             const std::vector<Seen> &seen, size_t entry, double tolerance,
             size_t &compared) {
  SmallVector<Operation *> steps = stepsOf(func);
  std::vector<const Seen *> observed;
  for (const Seen &s : seen)
    if (s.entry == entry)
      observed.push_back(&s);
  ASSERT_EQ(observed.size(), steps.size()) << func.getSymName().str();
  for (auto [op, s] : llvm::zip_equal(steps, observed)) {
    std::string name = op->getName().getStringRef().str();
    FailureOr<RefTensor> result = evaluator.evaluate(op->getResult(0));
    ASSERT_TRUE(succeeded(result)) << name << ": " << evaluator.getError();
    ASSERT_EQ(s->outputs.size(), 1u) << name;
    EXPECT_LE(relativeDifference(s->outputs[0], *result), tolerance)
        << func.getSymName().str() << " step " << s->step << " (" << name
        << ")";
    // The activation inputs: x of a matmul, both operands of an add...
    unsigned inputs = isa<DequantMatmulOp>(op) ? 1 : op->getNumOperands();
    for (unsigned i = 0; i < inputs && i < s->inputs.size(); ++i) {
      if (s->inputs[i].empty())
        continue; // a weight or the tokens
      FailureOr<RefTensor> operand = evaluator.evaluate(op->getOperand(i));
      ASSERT_TRUE(succeeded(operand)) << name << ": " << evaluator.getError();
      EXPECT_LE(relativeDifference(s->inputs[i], *operand), tolerance)
          << func.getSymName().str() << " step " << s->step << " (" << name
          << ") input " << i;
    }
    ++compared;
  }
}

/// A context with the decoder's dialects, and what compileDecoder puts in it.
struct CompiledDecoder {
  static DialectRegistry dialects() {
    DialectRegistry registry;
    registry.insert<QLLMDialect, func::FuncDialect>();
    return registry;
  }
  CompiledDecoder() : context(dialects()) { context.loadAllAvailableDialects(); }
  MLIRContext context;
  OwningOpRef<ModuleOp> module;
  std::unique_ptr<qrt::LoadedPlan> plan;
};

/// The decoder with weights from `seed`, compiled by quant-compile
/// {compileOptions} into `module`, and its plan opened from memory.
void compileDecoder(MLIRContext &context, uint32_t seed,
                    const std::string &compileOptions,
                    OwningOpRef<ModuleOp> &module,
                    std::unique_ptr<qrt::LoadedPlan> &plan) {
  module =
      parseSourceString<ModuleOp>(decoderIR(seed), &context, "decoder.mlir");
  ASSERT_TRUE(module);
  std::unique_ptr<CompileOptions> options =
      CompileOptions::createFromString(compileOptions);
  ASSERT_TRUE(options);
  PassManager pm = PassManager::on<ModuleOp>(&context);
  buildCompilePipeline(pm, *options);
  ASSERT_TRUE(succeeded(pm.run(*module)));
  FailureOr<std::vector<uint8_t>> bytes = exportPlanToMemory(*module);
  ASSERT_TRUE(succeeded(bytes));
  std::string error;
  plan = qrt::LoadedPlan::openMemory(std::move(*bytes), error);
  ASSERT_TRUE(plan) << error;
}

void runAgainstReference(const std::string &compileOptions) {
  CompiledDecoder compiled;
  OwningOpRef<ModuleOp> &module = compiled.module;
  std::unique_ptr<qrt::LoadedPlan> &plan = compiled.plan;
  compileDecoder(compiled.context, 7, compileOptions, module, plan);
  if (::testing::Test::HasFatalFailure())
    return;
  std::string error;
  qrt::SessionOptions sessionOptions;
  sessionOptions.device = "cpu";
  sessionOptions.threads = 2;
  auto session = qrt::Session::create(*plan, sessionOptions, error);
  ASSERT_TRUE(session) << error;
  Recorder recorder;
  session->setObserver(&recorder);
  const std::vector<int64_t> prompt = {1, 17, 4, 30, 9, 2, 11};
  std::vector<int32_t> ids(prompt.begin(), prompt.end());
  std::vector<float> logits(kVocab);
  ASSERT_TRUE(session->forward(ids.data(), int64_t(ids.size()), logits.data(),
                               false, error))
      << error;
  int32_t next = 5;
  ASSERT_TRUE(session->forward(&next, 1, logits.data(), false, error)) << error;

  // The plan's entries: prefill (index 0), decode (1), as compiled.
  func::FuncOp prefill = module->lookupSymbol<func::FuncOp>("prefill");
  func::FuncOp decode = module->lookupSymbol<func::FuncOp>("decode");
  ASSERT_TRUE(prefill && decode);
  const double tolerance = 2e-5;
  size_t compared = 0;
  ReferenceEvaluator prefillEvaluator(int64_t(1) << 22);
  bindArguments(prefill, prefillEvaluator, prompt, 0, {});
  compare(prefill, prefillEvaluator, recorder.seen, 0, tolerance, compared);
  // Decode after the prompt: the past is the prefill's presents.
  std::map<std::pair<bool, int64_t>, RefTensor> pasts;
  prefill.walk([&](AttentionOp attention) {
    int64_t layer = *getLayer(attention);
    pasts[{true, layer}] =
        *prefillEvaluator.evaluate(attention.getPresentKey());
    pasts[{false, layer}] =
        *prefillEvaluator.evaluate(attention.getPresentValue());
  });
  ReferenceEvaluator decodeEvaluator(int64_t(1) << 22);
  bindArguments(decode, decodeEvaluator, {next}, int64_t(prompt.size()), pasts);
  compare(decode, decodeEvaluator, recorder.seen, 1, tolerance, compared);
  // Every step of both entries: 2 layers of 15 steps, and 3 more.
  EXPECT_EQ(compared, 2u * (2 * 15 + 3));
}

/// Captures the input of one step; with `resume`, skips the steps before it
/// and writes the captured values there instead, and stops after `stop`.
class Resumer : public qrt::StepObserver {
public:
  Resumer(size_t entry, size_t at, size_t stop)
      : entry(entry), at(at), stop(stop) {}
  bool skipStep(size_t e, size_t step) override {
    ++asked;
    return resume && e == entry && step < at;
  }
  void beforeStep(const qrt::StepEvent &event) override {
    if (event.entryIndex != entry)
      return;
    ++ran;
    if (event.stepIndex != at)
      return;
    const qrt::StepTensor &x = event.inputs[0];
    ASSERT_NE(x.writable, nullptr);
    if (resume)
      std::memcpy(x.writable, captured.data(), captured.size() * sizeof(float));
    else
      captured = x.floats();
  }
  void afterStep(const qrt::StepEvent &event) override {
    stopped = event.entryIndex == entry && event.stepIndex == stop;
  }
  bool stopRequested() const override { return stopped; }

  size_t entry, at, stop;
  bool resume = false, stopped = false;
  size_t asked = 0, ran = 0;
  std::vector<float> captured;
};

TEST(ObserverReferenceTest, ResumedForwardFromAWrittenLayerInput) {
  // What GPTQ's calibration does: capture the input of layer 1's first norm,
  // then run a forward that skips every step before it, writes the captured
  // input there and stops later; the steps it runs see the same values
  // (the layer's attention reads only its own layer's cache).
  CompiledDecoder compiled;
  OwningOpRef<ModuleOp> &module = compiled.module;
  std::unique_ptr<qrt::LoadedPlan> &plan = compiled.plan;
  compileDecoder(compiled.context, 11, "method=fp32", module, plan);
  if (::testing::Test::HasFatalFailure())
    return;
  std::string error;
  // The prefill entry and its norms: layer 1 starts at the third.
  const qrt::fb::Entry *prefill = plan->plan().entries()->Get(0);
  std::vector<size_t> norms;
  for (uint32_t i = 0; i < prefill->steps()->size(); ++i)
    if (prefill->steps()->Get(i)->kernel() == qrt::fb::Kernel::RmsNorm)
      norms.push_back(i);
  ASSERT_EQ(norms.size(), 5u);
  qrt::SessionOptions sessionOptions;
  sessionOptions.device = "cpu";
  auto session = qrt::Session::create(*plan, sessionOptions, error);
  ASSERT_TRUE(session) << error;
  std::vector<int32_t> ids = {1, 17, 4, 30, 9, 2, 11};
  std::vector<float> full(ids.size() * kVocab), resumed(ids.size() * kVocab);

  Resumer capture(0, norms[2], prefill->steps()->size());
  session->setObserver(&capture);
  ASSERT_TRUE(session->forward(ids.data(), int64_t(ids.size()), full.data(),
                               true, error))
      << error;
  EXPECT_EQ(capture.captured.size(), ids.size() * kDim);

  Resumer resume(0, norms[2], prefill->steps()->size());
  resume.resume = true;
  resume.captured = capture.captured;
  session->reset();
  session->setObserver(&resume);
  ASSERT_TRUE(session->forward(ids.data(), int64_t(ids.size()), resumed.data(),
                               true, error))
      << error;
  EXPECT_EQ(resume.ran, prefill->steps()->size() - norms[2]);
  EXPECT_EQ(full, resumed);

  // Stopped after layer 1's first norm: the forward fails, saying so, and
  // the position does not advance.
  Resumer stop(0, norms[2], norms[2]);
  stop.resume = true;
  stop.captured = capture.captured;
  session->reset();
  session->setObserver(&stop);
  EXPECT_FALSE(
      session->forward(ids.data(), int64_t(ids.size()), nullptr, false, error));
  EXPECT_EQ(error, qrt::kStoppedByObserver);
  EXPECT_EQ(stop.ran, 1u);
  EXPECT_EQ(session->position(), 0);
}

TEST(ObserverReferenceTest, FloatPlanStepsMatchTheReferenceEvaluator) {
  runAgainstReference("method=fp32");
}

TEST(ObserverReferenceTest, LlmInt8PlanStepsMatchTheReferenceEvaluator) {
  runAgainstReference("method=llm-int8 outlier-threshold=0.5");
}

// 8-bit activations (dequant_matmul steps with int8_activations): the
// evaluator rounds each block of 32 input columns itself.
TEST(ObserverReferenceTest, Int8ActivationPlanStepsMatchTheReferenceEvaluator) {
  runAgainstReference(
      "method=int4 group-size=32 quantize-output=true activations=int8");
  runAgainstReference("method=int8 activations=int8");
  // NF4 and FP4 (8-bit activations by default): code values in 2047ths.
  runAgainstReference("method=nf4 group-size=32 quantize-output=true");
  runAgainstReference("method=fp4 group-size=32");
}

TEST(ObserverReferenceTest, QuantizedPlanStepsMatchTheReferenceEvaluator) {
  runAgainstReference("method=int4 group-size=8 quantize-output=true");
}

} // namespace
