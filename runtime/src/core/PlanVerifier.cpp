//===- PlanVerifier.cpp - verifying runtime plans -------------------------===//
//
// Every check the runtime relies on before it reads a plan: the FlatBuffer,
// the version, the weight region and checksums, the KV cache, every entry,
// and every step's buffers against what its kernel reads and writes (one
// function per kernel). Backend code is verified by the registered target
// (qrt/core/Targets.h). The "Fix (found by ...)" notes record checks that
// the corruption tests (test/unit/runtime/PlanCorruptionTest.cpp) showed
// missing: each one was a crash or an out-of-bounds read before.
//
//===----------------------------------------------------------------------===//

#include "qrt/core/FirstError.h"
#include "qrt/core/Plan.h"
#include "qrt/core/Targets.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <initializer_list>
#include <sstream>
#include <vector>

namespace qrt {

namespace {

using Dims = std::vector<int64_t>;

/// Collects the first error; every check returns false once one failed.
/// The message of a weight whose bytes fail their checksum.
std::string checksumFailure(const std::string &what) {
  return what + " fails its checksum (the file is corrupt)";
}

class Verifier : public FirstError {
public:
  Verifier(const uint8_t *data, size_t size, const VerifyOptions &options)
      : data(data), size(size), options(options) {}
  /// For checkPlanBuffer: a verified plan.
  explicit Verifier(const fb::Plan &verified)
      : data(nullptr), size(0), plan(&verified) {}

  bool run(std::string &error);
  bool checkBuffer(const fb::Buffer *buffer, const fb::Entry &entry,
                   const std::string &what);

private:

  bool checkHeader(uint32_t &length);
  bool checkWeights(uint32_t length);
  bool checkKvCache();
  bool checkSharding();
  bool checkTargets();
  bool checkEntry(const fb::Entry *entry);
  /// Dimensions of a tensor: non-negative, or -1 (tokens) if allowed.
  bool checkTensor(const fb::TensorInfo *tensor, bool allowTokens,
                   const std::string &what);

  /// A step: its buffers, then what its kernel needs of them.
  bool checkStep(const fb::Step &step, const fb::Entry &entry, size_t index);
  /// The step being checked, for the kernel checks below.
  struct StepCheck;
  bool checkEmbedding(StepCheck &s);
  bool checkRmsNorm(StepCheck &s);
  bool checkMatMul(StepCheck &s);
  bool checkRotary(StepCheck &s);
  bool checkAttention(StepCheck &s);
  bool checkDequantMatMul(StepCheck &s);
  bool checkElementwise(StepCheck &s);
  bool checkGather(StepCheck &s);
  bool checkInt8MatMul(StepCheck &s);
  bool checkAllReduce(StepCheck &s);
  bool checkAllGather(StepCheck &s);
  /// The weights weight index `index` reads on the ranks (itself alone in
  /// an unsharded plan), each once.
  std::vector<uint32_t> rankWeights(uint32_t index) const;
  int32_t worldSize() const {
    return plan->sharding() ? plan->sharding()->world_size() : 1;
  }

  static bool hasTokenDim(const Dims &dims) {
    return std::find(dims.begin(), dims.end(), int64_t(-1)) != dims.end();
  }
  static Dims dims(const fb::Buffer *buffer) {
    Dims out;
    if (buffer && buffer->tensor() && buffer->tensor()->dims())
      for (int64_t d : *buffer->tensor()->dims())
        out.push_back(d);
    return out;
  }

  const uint8_t *data;
  size_t size;
  VerifyOptions options;
  const fb::Plan *plan = nullptr;
};

/// What the kernel checks read of a step.
struct Verifier::StepCheck {
  Verifier &v;
  const fb::Step &step;
  const fb::Entry &entry;
  std::string where;
  size_t inputs, outputs;

  Dims in(size_t i) const { return dims(step.inputs()->Get(i)); }
  Dims out(size_t i) const { return dims(step.outputs()->Get(i)); }
  fb::BufferKind kindOf(size_t i) const {
    return step.inputs()->Get(i)->kind();
  }
  fb::DType typeOf(size_t i) const {
    return step.inputs()->Get(i)->tensor()->dtype();
  }
  static int64_t last(const Dims &d) { return d.empty() ? int64_t(-2) : d.back(); }
  static Dims leading(Dims d) {
    if (!d.empty())
      d.pop_back();
    return d;
  }
  bool expect(bool ok, const char *what) {
    return ok || v.fail(where, ": ", what);
  }
  template <typename... Args> bool fail(Args &&...args) {
    return v.fail(where, std::forward<Args>(args)...);
  }
  // Fix (found by test/unit/runtime/PlanCorruptionTest): the Session reads
  // a kernel's activation inputs at arena + offset, but only arena buffers
  // have their offset checked against the arena; a token or weight buffer
  // in their place was read outside it.
  bool activations(std::initializer_list<size_t> indices) {
    for (size_t i : indices)
      if (kindOf(i) != fb::BufferKind::Arena)
        return fail(": input ", i, " must be an arena activation");
    return true;
  }
};

bool Verifier::checkTensor(const fb::TensorInfo *tensor, bool allowTokens,
                           const std::string &what) {
  if (!tensor || !tensor->dims())
    return fail(what, " has no tensor description");
  if (dtypeBytes(tensor->dtype()) == 0)
    return fail(what, " has an unknown element type ",
                static_cast<int>(tensor->dtype()));
  if (tensor->dims()->size() > 8)
    return fail(what, " has rank ", tensor->dims()->size(), " (at most 8)");
  // Fix (found by test/unit/runtime/PlanCorruptionTest under UBSan): the
  // FlatBuffers verifier (2.0) checks a vector's 4-byte length alignment,
  // not its elements'; a flipped offset could place the int64 dims 4 bytes
  // off, and reading them was a misaligned load. (The empty dims of a scalar
  // need no alignment: the builder does not align them, nothing is read.)
  if (tensor->dims()->size() > 0 &&
      reinterpret_cast<uintptr_t>(tensor->dims()->data()) % alignof(int64_t))
    return fail(what, " has misaligned dimensions");
  int tokenDims = 0;
  uint64_t elements = 1;
  for (int64_t d : *tensor->dims()) {
    if (d == -1 && allowTokens) {
      ++tokenDims;
      continue;
    }
    if (d < 0 || d > (int64_t(1) << 40))
      return fail(what, " has dimension ", d);
    elements *= static_cast<uint64_t>(d);
    if (elements > (uint64_t(1) << 40))
      return fail(what, " is too large");
  }
  if (tokenDims > 1)
    return fail(what, " has more than one token dimension");
  return true;
}

bool Verifier::checkBuffer(const fb::Buffer *buffer, const fb::Entry &entry,
                           const std::string &what) {
  if (!buffer)
    return fail(what, " is missing");
  if (!checkTensor(buffer->tensor(), true, what))
    return false;
  const fb::TensorInfo &tensor = *buffer->tensor();
  switch (buffer->kind()) {
  case fb::BufferKind::Arena: {
    if (tensor.dtype() != fb::DType::F32)
      return fail(what, ": activations are f32");
    // Fix (found by test/unit/runtime/PlanCorruptionTest): elements per
    // token (at most 2^40) * max_tokens (below 2^31) * 4 could wrap around
    // 2^64 to a small size that fits; bound the product before forming it.
    uint64_t tokens = hasTokenDim(dims(buffer))
                          ? static_cast<uint64_t>(entry.max_tokens())
                          : 1;
    uint64_t perToken = tensorElements(tensor, 1);
    bool fits = tokens > 0 && perToken <= entry.arena_bytes() / 4 / tokens;
    uint64_t bytes = fits ? perToken * tokens * 4 : ~uint64_t(0);
    if (!fits || buffer->offset() % 4 != 0 ||
        buffer->offset() > entry.arena_bytes() ||
        bytes > entry.arena_bytes() - buffer->offset())
      return fail(what, " [", buffer->offset(), ", +", bytes,
                  ") lies outside the arena of ", entry.arena_bytes(),
                  " bytes");
    return true;
  }
  case fb::BufferKind::Weight: {
    if (!plan->weights() || buffer->offset() >= plan->weights()->size())
      return fail(what, " refers to weight ", buffer->offset(), " of ",
                  plan->weights() ? plan->weights()->size() : 0);
    const fb::WeightInfo *weight = plan->weights()->Get(buffer->offset());
    if (!weight->tensor() || weight->tensor()->dtype() != tensor.dtype() ||
        dims(buffer) != Dims(weight->tensor()->dims()->begin(),
                             weight->tensor()->dims()->end()))
      return fail(what, " does not match weight '",
                  weight->name() ? weight->name()->str() : "?", "'");
    return true;
  }
  case fb::BufferKind::Tokens:
    if (tensor.dtype() != fb::DType::I32 || tensorElements(tensor, 1) != 1)
      return fail(what, ": token ids are int32 [tokens]");
    return true;
  }
  return fail(what, " has an unknown buffer kind ",
              static_cast<int>(buffer->kind()));
}

//===----------------------------------------------------------------------===//
// Steps, kernel by kernel
//===----------------------------------------------------------------------===//

bool Verifier::checkStep(const fb::Step &step, const fb::Entry &entry,
                         size_t index) {
  std::string where = stepWhere(step, entry, index);
  auto count = [](auto *v) { return v ? v->size() : 0u; };
  StepCheck s{*this, step, entry, where, count(step.inputs()),
              count(step.outputs())};
  for (size_t i = 0; i < s.inputs; ++i)
    if (!checkBuffer(step.inputs()->Get(i), entry,
                     where + " input " + std::to_string(i)))
      return false;
  for (size_t i = 0; i < s.outputs; ++i) {
    if (!checkBuffer(step.outputs()->Get(i), entry,
                     where + " output " + std::to_string(i)))
      return false;
    if (step.outputs()->Get(i)->kind() != fb::BufferKind::Arena)
      return fail(where, " writes outside the arena");
  }
  switch (step.kernel()) {
  case fb::Kernel::Embedding:
    return checkEmbedding(s);
  case fb::Kernel::RmsNorm:
    return checkRmsNorm(s);
  case fb::Kernel::MatMul:
    return checkMatMul(s);
  case fb::Kernel::Rotary:
    return checkRotary(s);
  case fb::Kernel::Attention:
    return checkAttention(s);
  case fb::Kernel::DequantMatMul:
    return checkDequantMatMul(s);
  case fb::Kernel::Int8MatMul:
    return checkInt8MatMul(s);
  case fb::Kernel::Add:
  case fb::Kernel::SwiGlu:
    return checkElementwise(s);
  case fb::Kernel::Gather:
    return checkGather(s);
  case fb::Kernel::AllReduce:
    return checkAllReduce(s);
  case fb::Kernel::AllGather:
    return checkAllGather(s);
  }
  return fail(where, ": unknown kernel ", static_cast<int>(step.kernel()));
}

bool Verifier::checkEmbedding(StepCheck &s) {
  if (s.inputs != 2 || s.outputs != 1 ||
      s.kindOf(0) != fb::BufferKind::Weight ||
      s.kindOf(1) != fb::BufferKind::Tokens)
    return s.fail(": embedding takes a weight table and the tokens");
  Dims table = s.in(0);
  return s.expect(table.size() == 2 && (s.typeOf(0) == fb::DType::F32 ||
                                        s.typeOf(0) == fb::DType::F16),
                  "the embedding table must be a [vocab, dim] f32/f16 "
                  "weight") &&
         // Fix (found by test/unit/runtime/PlanCorruptionTest): the output
         // needs the token dimension; a [dim] output passed, with room for
         // one row, and the kernel wrote one row per token past it.
         s.expect(StepCheck::last(s.out(0)) == table[1] &&
                      tensorElements(*s.step.outputs()->Get(0)->tensor(), 1) ==
                          static_cast<uint64_t>(table[1]) &&
                      hasTokenDim(s.out(0)),
                  "the embedding output must be [tokens, dim]");
}

bool Verifier::checkRmsNorm(StepCheck &s) {
  if (s.inputs != 2 || s.outputs != 1 || s.kindOf(1) != fb::BufferKind::Weight)
    return s.fail(": rms_norm takes x and a weight");
  // Fix (found by test/unit/runtime/PlanCorruptionTest): the Session reads
  // the weight as f32 (an f16 one was read past its end) and divides by
  // dim (0: division by zero).
  int64_t dim = StepCheck::last(s.in(0));
  return s.activations({0}) &&
         s.expect(s.in(1) == Dims{dim} && dim > 0 &&
                      s.typeOf(1) == fb::DType::F32,
                  "the rms_norm weight must be f32 [dim], dim > 0") &&
         s.expect(s.out(0) == s.in(0), "rms_norm changes the shape");
}

bool Verifier::checkMatMul(StepCheck &s) {
  if (s.inputs != 2 || s.outputs != 1 || s.kindOf(1) != fb::BufferKind::Weight)
    return s.fail(": matmul takes x and a weight");
  Dims w = s.in(1);
  // Fix (found by test/unit/runtime/PlanCorruptionTest): k > 0, the
  // Session divides by it.
  return s.activations({0}) &&
         s.expect(w.size() == 2 && w[1] > 0 &&
                      (s.typeOf(1) == fb::DType::F32 ||
                       s.typeOf(1) == fb::DType::F16),
                  "the matmul weight must be [n, k] f32/f16, k > 0") &&
         s.expect(StepCheck::last(s.in(0)) == w[1],
                  "matmul contraction sizes differ") &&
         s.expect(StepCheck::last(s.out(0)) == w[0] &&
                      StepCheck::leading(s.out(0)) == StepCheck::leading(s.in(0)),
                  "the matmul output must be [..., n]");
}

bool Verifier::checkRotary(StepCheck &s) {
  if ((s.inputs != 1 && s.inputs != 3) || s.outputs != 1)
    return s.fail(": rotary takes x and optionally cos/sin tables");
  Dims x = s.in(0);
  int64_t d = StepCheck::last(x), rd = s.step.rotary_dim();
  if (!s.activations({0}))
    return false;
  if (x.size() != 4 || x[0] != 1 || x[1] != -1 || d <= 0 || rd <= 0 ||
      rd % 2 != 0 || rd > d || s.out(0) != x)
    return s.fail(": rotary must rotate [1, tokens, heads, head_dim] by an "
                  "even rotary_dim <= head_dim");
  if (s.inputs == 3) {
    for (size_t t = 1; t < 3; ++t)
      if (s.kindOf(t) != fb::BufferKind::Weight ||
          s.typeOf(t) != fb::DType::F32 || s.in(t).size() != 2 ||
          s.in(t)[1] != rd / 2 || s.in(t) != s.in(1))
        // Fix (found by test/unit/runtime/PlanCorruptionTest): in(t) !=
        // in(1). The Session bounds positions by the cos table alone; a
        // shorter sin table was read past its end.
        return s.fail(": rotary tables must be f32 [positions, "
                      "rotary_dim/2] weights of one shape");
  } else if (!(s.step.rotary_base() > 0.0f)) {
    return s.fail(": rotary needs a positive base");
  }
  return s.expect(
      s.step.rotary_convention() == fb::RotaryConvention::Interleaved ||
          s.step.rotary_convention() == fb::RotaryConvention::RotateHalf,
      "unknown rotary convention");
}

bool Verifier::checkAttention(StepCheck &s) {
  if (s.inputs != 3 || s.outputs != 1)
    return s.fail(": attention takes q, k, v");
  if (!s.activations({0, 1, 2}))
    return false;
  const fb::Step &step = s.step;
  int64_t h = step.heads(), kv = step.kv_heads(), hd = step.head_dim();
  const fb::KvCache *cache = plan->kv_cache();
  if (h <= 0 || kv <= 0 || h % kv != 0 || hd <= 0)
    return s.fail(": bad head counts");
  if (!cache || step.layer() < 0 || step.layer() >= cache->layers() ||
      cache->kv_heads() != kv || cache->head_dim() != hd ||
      cache->capacity() < s.entry.max_tokens())
    return s.fail(": does not match the KV cache");
  return s.expect(s.in(0) == Dims{1, -1, h, hd} &&
                      s.in(1) == Dims{1, -1, kv, hd} &&
                      s.in(2) == Dims{1, -1, kv, hd} &&
                      s.out(0) == Dims{1, -1, h, hd},
                  "attention shapes must be [1, tokens, heads, head_dim]") &&
         s.expect(step.causal(), "only causal attention runs");
}

/// "[16, 2]" and "f16": the shapes and types of component messages.
std::string shapeText(const Dims &shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

const char *kindText(fb::BufferKind kind) {
  return kind == fb::BufferKind::Weight  ? "a weight"
         : kind == fb::BufferKind::Arena ? "an arena buffer"
                                         : "the tokens";
}

bool Verifier::checkDequantMatMul(StepCheck &s) {
  QuantizedView view;
  std::string problem;
  if (!quantizedViewOf(s.step.quant(), view, problem))
    return s.fail(": ", problem);
  if (s.step.int8_activations()) {
    if (s.step.kernel() != fb::Kernel::DequantMatMul)
      return s.fail(": only dequant_matmul takes int8_activations");
    const bool supported = view.kind == QuantizedView::Kind::Float4
                               ? int8ActivationsSupported(view.float4)
                               : int8ActivationsSupported(view.intN);
    if (!supported)
      return s.fail(": int8_activations: the weight's scheme has no "
                    "8-bit-activation kernel (4 or 8 bits, groups of 32, 64, "
                    "a multiple of 128 or whole rows, no act order)");
    if (plan->targets() && plan->targets()->size() > 0)
      return s.fail(": int8_activations in a plan with target code (its "
                    "kernels keep f32 activations)");
  }
  WeightLayout layout = view.layout();
  if (s.inputs != 1 + layout.components.size() || s.outputs != 1)
    return s.fail(": dequant_matmul takes x and the ",
                  layout.components.size(), " components of its weight");
  if (!s.activations({0}))
    return false;
  // Fix (found by test/unit/runtime/PlanCorruptionTest): the message gave
  // only the first dimension ("[16, ...]", and "[0]" for the scalar
  // double-quant offset); it now gives the expected shape and what the step
  // has.
  for (size_t c = 0; c < layout.components.size(); ++c) {
    const Component &component = layout.components[c];
    if (s.kindOf(c + 1) != fb::BufferKind::Weight ||
        s.typeOf(c + 1) != dtypeOf(component.element) ||
        s.in(c + 1) != component.shape)
      return s.fail(": input ", c + 1, " must be the ",
                    componentRoleName(component.role), " weight, ",
                    dtypeName(dtypeOf(component.element)), " ",
                    shapeText(component.shape), ", not ",
                    kindText(s.kindOf(c + 1)), " ",
                    dtypeName(s.typeOf(c + 1)), " ", shapeText(s.in(c + 1)));
    if (component.role != ComponentRole::GroupIndex || plan->weightless())
      continue;
    // The kernels index scales with it: every group must exist. (A
    // weightless plan's is synthesized valid.)
    for (uint32_t index : rankWeights(static_cast<uint32_t>(
             s.step.inputs()->Get(c + 1)->offset()))) {
      const uint8_t *bytes = data + plan->weights()->Get(index)->offset();
      for (int64_t col = 0; col < view.cols; ++col) {
        int32_t g;
        std::memcpy(&g, bytes + 4 * col, 4);
        if (g < 0 || g >= view.groups())
          return s.fail(": g_idx[", col, "] = ", g,
                        " is not a group of the weight (", view.groups(),
                        " groups)");
      }
    }
  }
  return s.expect(StepCheck::last(s.in(0)) == view.cols,
                  "dequant_matmul contraction sizes differ") &&
         s.expect(StepCheck::last(s.out(0)) == view.rows &&
                      StepCheck::leading(s.out(0)) == StepCheck::leading(s.in(0)),
                  "the dequant_matmul output must be [..., rows]");
}

bool Verifier::checkInt8MatMul(StepCheck &s) {
  const fb::QuantScheme *q = s.step.quant();
  if (!q || q->kind() != fb::QuantKind::IntN || q->bits() != 8 ||
      q->group_size() != kPerChannel || !q->symmetric() || q->act_order())
    return s.fail(": int8_matmul (LLM.int8()) needs an 8-bit per-channel "
                  "symmetric weight");
  float threshold = s.step.outlier_threshold();
  if (!(threshold >= 0.0f) || std::isinf(threshold))
    return s.fail(": the outlier threshold must be finite and >= 0, got ",
                  threshold);
  return checkDequantMatMul(s);
}

bool Verifier::checkElementwise(StepCheck &s) {
  if (s.inputs != 2 || s.outputs != 1)
    return s.fail(": elementwise steps take two inputs");
  return s.activations({0, 1}) &&
         s.expect(s.in(0) == s.in(1) && s.out(0) == s.in(0),
                  "elementwise operands must have one shape");
}

bool Verifier::checkGather(StepCheck &s) {
  if (s.inputs != 2 || s.outputs != 1 ||
      s.kindOf(1) != fb::BufferKind::Weight)
    return s.fail(": gather takes an activation and an index weight");
  Dims indices = s.in(1);
  Dims gathered = s.in(0);
  if (!gathered.empty() && indices.size() == 1)
    gathered.back() = indices[0];
  const int64_t cols = StepCheck::last(s.in(0));
  // A permutation of x's last dimension, or (tensor parallel) n of its
  // columns: a rank's part of a permutation.
  const bool permutation = indices.size() == 1 && indices[0] == cols;
  if (!s.activations({0}) ||
      !s.expect(s.typeOf(1) == fb::DType::I32 && indices.size() == 1 &&
                    indices[0] > 0 && indices[0] <= cols &&
                    s.out(0) == gathered,
                "gather takes n <= k columns of x [..., k] by an i32 [n] "
                "weight into [..., n]"))
    return false;
  if (plan->weightless())
    return s.fail(": a weightless plan cannot gather (its indices would be "
                  "synthesized)");
  // The kernels read x at each index: it must be a permutation (on every
  // rank).
  for (uint32_t weight : rankWeights(
           static_cast<uint32_t>(s.step.inputs()->Get(1)->offset()))) {
    const uint8_t *bytes = data + plan->weights()->Get(weight)->offset();
    std::vector<bool> seen(static_cast<size_t>(cols));
    for (int64_t j = 0; j < indices[0]; ++j) {
      int32_t index;
      std::memcpy(&index, bytes + 4 * j, 4);
      if (index < 0 || index >= cols || (permutation && seen[index]))
        return s.fail(": gather index ", j, " (", index, ") ",
                      permutation
                          ? "leaves the indices no permutation of 0.."
                          : "is not a column of x: 0..",
                      cols - 1);
      seen[index] = true;
    }
  }
  return true;
}

bool Verifier::checkAllReduce(StepCheck &s) {
  if (s.inputs != 1 || s.outputs != 1)
    return s.fail(": all_reduce takes one activation");
  return s.activations({0}) &&
         s.expect(s.out(0) == s.in(0), "all_reduce keeps the shape");
}

bool Verifier::checkAllGather(StepCheck &s) {
  if (s.inputs != 1 || s.outputs != 1)
    return s.fail(": all_gather takes one activation");
  if (!s.activations({0}))
    return false;
  Dims in = s.in(0), out = s.out(0);
  int64_t n = in.empty() ? 0 : in.back(), ranks = worldSize();
  return s.expect(in.size() == out.size() && n > 0 &&
                      StepCheck::leading(in) == StepCheck::leading(out) &&
                      out.back() > (ranks - 1) * n && out.back() <= ranks * n,
                  "all_gather must make [..., n] of every rank into [..., m], "
                  "(world_size - 1) * n < m <= world_size * n");
}

std::vector<uint32_t> Verifier::rankWeights(uint32_t index) const {
  std::vector<uint32_t> out = {index};
  const fb::Sharding *sharding = plan->sharding();
  if (!sharding || !sharding->rank_weights())
    return out;
  for (const fb::RankWeights *rank : *sharding->rank_weights()) {
    uint32_t w = rank->weights()->Get(index);
    if (std::find(out.begin(), out.end(), w) == out.end())
      out.push_back(w);
  }
  return out;
}

//===----------------------------------------------------------------------===//
// The plan
//===----------------------------------------------------------------------===//

bool Verifier::checkHeader(uint32_t &length) {
  // Fix (found by test/unit/runtime/PlanCorruptionTest under ASan): the
  // identifier is bytes [8, 12), after the size prefix and the root offset;
  // `size < 8` let a 8..11-byte buffer be read past its end.
  if (size < 12 || !fb::PlanBufferHasIdentifier(data + 4))
    return fail("not a plan (no QPLN identifier)");
  std::memcpy(&length, data, 4);
  if (length > size - 4)
    return fail("truncated: the plan's FlatBuffer needs ",
                uint64_t(length) + 4, " bytes, the file has ", size);
  flatbuffers::Verifier fbVerifier(data, length + 4, /*max_depth=*/64,
                                   /*max_tables=*/10000000);
  if (!fb::VerifySizePrefixedPlanBuffer(fbVerifier))
    return fail("the plan's FlatBuffer is malformed");
  plan = planOf(data);
  if (plan->version() != kPlanVersion)
    return fail("plan version ", plan->version(), " is not supported (this ",
                "runtime reads version ", kPlanVersion,
                "): export the plan again with this quant-translate");
  if (!plan->model() || !plan->entries() || plan->entries()->size() == 0)
    return fail("the plan has no model description or entry points");
  return true;
}

bool Verifier::checkSharding() {
  const fb::Sharding *sharding = plan->sharding();
  if (!sharding)
    return true;
  int32_t ranks = sharding->world_size();
  if (ranks < 1 || ranks > 4096 || sharding->rank() != 0)
    return fail("the sharding table is invalid (world size ", ranks,
                ", rank ", sharding->rank(), ")");
  uint32_t weights = plan->weights() ? plan->weights()->size() : 0;
  const auto *maps = sharding->rank_weights();
  if (ranks == 1 && !maps)
    return true;
  if (!maps || maps->size() != static_cast<uint32_t>(ranks))
    return fail("the plan is split for ", ranks, " ranks but maps the "
                "weights of ", maps ? maps->size() : 0);
  for (int32_t r = 0; r < ranks; ++r) {
    const auto *map = maps->Get(r)->weights();
    if (!map || map->size() != weights)
      return fail("rank ", r, "'s weight map has ", map ? map->size() : 0,
                  " entries, the plan ", weights, " weights");
    for (uint32_t i = 0; i < weights; ++i) {
      uint32_t w = map->Get(i);
      if (w >= weights)
        return fail("rank ", r, " reads weight ", w, " for weight ", i,
                    "; the plan has ", weights);
      const fb::TensorInfo *a = plan->weights()->Get(i)->tensor();
      const fb::TensorInfo *b = plan->weights()->Get(w)->tensor();
      if (a->dtype() != b->dtype() ||
          Dims(a->dims()->begin(), a->dims()->end()) !=
              Dims(b->dims()->begin(), b->dims()->end()))
        return fail("rank ", r, " reads weight ", w, " '",
                    plan->weights()->Get(w)->name()
                        ? plan->weights()->Get(w)->name()->str()
                        : std::string("?"),
                    "' for weight ", i, ", which has another type or shape");
    }
  }
  return true;
}

bool Verifier::checkWeights(uint32_t length) {
  uint64_t regionBegin = plan->weights_offset(),
           regionEnd = regionBegin + plan->weights_size();
  if (regionBegin % kWeightAlignment != 0 || regionBegin < length + 4 ||
      regionEnd < regionBegin || regionEnd > size)
    return fail("the weight region [", regionBegin, ", ", regionEnd,
                ") lies outside the file of ", size, " bytes");
  if (plan->weightless() && plan->weights_size() != 0)
    return fail("a weightless plan has a weight region of ",
                plan->weights_size(), " bytes (it stores none)");
  if (!plan->weights())
    return true;
  uint64_t synthesized = 0;
  for (uint32_t i = 0; i < plan->weights()->size(); ++i) {
    const fb::WeightInfo *w = plan->weights()->Get(i);
    std::string what = "weight " + std::to_string(i) + " '" +
                       (w->name() ? w->name()->str() : std::string("?")) + "'";
    if (!checkTensor(w->tensor(), false, what))
      return false;
    uint64_t bytes =
        tensorElements(*w->tensor(), 0) * dtypeBytes(w->tensor()->dtype());
    if (w->size() != bytes)
      return fail(what, " holds ", w->size(), " bytes, its shape ", bytes);
    if (plan->weightless()) {
      // No bytes in the file: the runtime synthesizes them (at most 1 TiB
      // in all, far from overflowing the layout's sums).
      if (w->offset() != 0 || w->checksum() != 0)
        return fail(what, " of a weightless plan has offset ", w->offset(),
                    " and checksum ", w->checksum(), " (both must be 0)");
      synthesized += bytes + kWeightAlignment;
      if (synthesized > (uint64_t(1) << 40))
        return fail("the weightless plan's weights are too large");
      continue;
    }
    if (w->offset() % kWeightAlignment != 0 || w->offset() < regionBegin ||
        w->offset() > regionEnd || w->size() > regionEnd - w->offset())
      return fail(what, " [", w->offset(), ", +", w->size(),
                  ") lies outside the weight region");
    if (options.checksums &&
        checksum64(data + w->offset(), w->size()) != w->checksum())
      return fail(checksumFailure(what));
  }
  return true;
}

bool Verifier::checkKvCache() {
  const fb::KvCache *cache = plan->kv_cache();
  // Fix (found by test/unit/runtime/PlanCorruptionTest): the product of the
  // four int32 fields could wrap around 2^64 (2^22 * 2^10 * 2^10 * 2^22 is
  // 0), and the Session then allocated a tiny cache and appended past it.
  // Bound each partial product instead.
  auto fits = [](std::initializer_list<int32_t> factors) {
    uint64_t product = 1;
    for (int32_t f : factors) {
      if (f < 0 || (f != 0 && product > (uint64_t(1) << 36) / uint64_t(f)))
        return false;
      product *= uint64_t(f);
    }
    return true;
  };
  if (cache &&
      (cache->layers() < 0 || cache->kv_heads() < 0 || cache->head_dim() < 0 ||
       cache->capacity() <= 0 || cache->dtype() != fb::DType::F32 ||
       !fits({cache->layers(), cache->kv_heads(), cache->head_dim(),
              cache->capacity()})))
    return fail("the KV cache description is invalid");
  return true;
}

bool Verifier::checkTargets() {
  if (!plan->targets())
    return true;
  std::vector<std::string> seen;
  for (uint32_t i = 0; i < plan->targets()->size(); ++i) {
    const fb::TargetCode *t = plan->targets()->Get(i);
    std::string what = "target code " + std::to_string(i);
    if (!t->target() || t->target()->size() == 0)
      return fail(what, " names no target");
    std::string name = t->target()->str();
    what += " (" + name + ")";
    if (std::find(seen.begin(), seen.end(), name) != seen.end())
      return fail(what, ": the plan has a second executable for '", name, "'");
    seen.push_back(name);
    if (!t->executable() || t->executable()->size() == 0)
      return fail(what, " has no executable");
    // A nested FlatBuffer with 64-bit fields: its reader needs it aligned
    // in memory (plans are mapped at page boundaries, or held in aligned
    // memory; the writer aligns the vector).
    const uint8_t *bytes = t->executable()->data();
    if (reinterpret_cast<uintptr_t>(bytes) % kExecutableAlignment != 0)
      return fail(what, ": the executable is not ", kExecutableAlignment,
                  "-byte aligned");
    const TargetSupport *support = findTarget(name);
    if (!support || !support->verify)
      continue; // code for a target this build does not run: skipped
    std::string problem;
    if (!support->verify(*plan, Executable{bytes, t->executable()->size()},
                         problem))
      return fail(what, ": ", problem);
  }
  return true;
}

bool Verifier::checkEntry(const fb::Entry *entry) {
  const fb::KvCache *cache = plan->kv_cache();
  if (!entry || entry->max_tokens() <= 0 ||
      entry->arena_bytes() > (uint64_t(1) << 40) || !entry->steps())
    return fail("an entry point is invalid");
  if (cache && entry->max_tokens() > cache->capacity())
    return fail("an entry point takes more tokens than the KV cache holds");
  for (size_t i = 0; i < entry->steps()->size(); ++i)
    if (!checkStep(*entry->steps()->Get(i), *entry, i))
      return false;
  // Fix (found by test/unit/runtime/PlanCorruptionTest): the Session copies
  // [tokens, vocab] floats from the logits, so they need the token
  // dimension and vocab elements per token; [vocab] or [2, vocab] passed and
  // was read past its end, and dims().back() of a rank-0 buffer was
  // undefined behaviour.
  const fb::Buffer *logits = entry->logits();
  if (!checkBuffer(logits, *entry, "the logits") ||
      logits->kind() != fb::BufferKind::Arena || !hasTokenDim(dims(logits)) ||
      dims(logits).back() != plan->model()->vocab() ||
      tensorElements(*logits->tensor(), 1) !=
          static_cast<uint64_t>(plan->model()->vocab()))
    return fail("the logits must be an arena buffer [..., tokens, vocab]");
  return true;
}

bool Verifier::run(std::string &error) {
  uint32_t length = 0;
  bool ok = checkHeader(length) && checkWeights(length) && checkKvCache() &&
            checkSharding();
  if (ok)
    for (const fb::Entry *entry : *plan->entries())
      if (!(ok = checkEntry(entry)))
        break;
  // Targets last: their verifiers rely on the entries' steps.
  ok = ok && checkTargets();
  error = message();
  return ok;
}

} // namespace

std::string stepWhere(const fb::Step &step, const fb::Entry &entry,
                      size_t index) {
  return "entry '" + (entry.name() ? entry.name()->str() : "?") + "' step " +
         std::to_string(index) +
         (step.name() ? " (" + step.name()->str() + ")" : "");
}

bool verifyPlan(const uint8_t *data, size_t size, const VerifyOptions &options,
                std::string &error) {
  return Verifier(data, size, options).run(error);
}

bool verifyWeightChecksums(const fb::Plan &plan, const uint8_t *data,
                           const std::vector<uint32_t> &weights,
                           std::string &error) {
  for (uint32_t i : weights) {
    const fb::WeightInfo *w = plan.weights()->Get(i);
    if (checksum64(data + w->offset(), w->size()) != w->checksum()) {
      error = checksumFailure(
          "weight " + std::to_string(i) + " '" +
          (w->name() ? w->name()->str() : std::string("?")) + "'");
      return false;
    }
  }
  return true;
}

bool checkPlanBuffer(const fb::Plan &plan, const fb::Entry &entry,
                     const fb::Buffer *buffer, const std::string &what,
                     std::string &error) {
  Verifier verifier(plan);
  if (verifier.checkBuffer(buffer, entry, what))
    return true;
  error = verifier.message();
  return false;
}

bool quantizedViewOf(const fb::QuantScheme *scheme, QuantizedView &view,
                     std::string &error) {
  if (!scheme) {
    error = "dequant_matmul has no quantization scheme";
    return false;
  }
  // Bounds that keep every size computation far from overflow.
  constexpr int64_t kMaxDim = int64_t(1) << 31;
  if (scheme->rows() <= 0 || scheme->cols() <= 0 ||
      scheme->rows() > kMaxDim || scheme->cols() > kMaxDim) {
    error = "the quantized weight's shape [" + std::to_string(scheme->rows()) +
            ", " + std::to_string(scheme->cols()) + "] is invalid";
    return false;
  }
  std::optional<ScaleType> scaleType = scaleTypeOf(scheme->scale_type());
  if (!scaleType) {
    error = "the quantized weight's scale type is not f32, f16 or bf16";
    return false;
  }
  view = QuantizedView();
  view.rows = scheme->rows();
  view.cols = scheme->cols();
  std::string problem;
  if (scheme->kind() == fb::QuantKind::IntN) {
    view.kind = QuantizedView::Kind::IntN;
    view.intN.bits = scheme->bits();
    view.intN.groupSize = scheme->group_size();
    view.intN.symmetric = scheme->symmetric();
    view.intN.actOrder = scheme->act_order();
    view.intN.scaleType = *scaleType;
    problem = validate(view.intN);
    // Fix (found by test/unit/runtime/PlanCorruptionTest): as for NF4 below,
    // a field intN does not have was ignored.
    if (problem.empty() && scheme->double_quant())
      problem = "intN weights have no double quantization";
  } else if (scheme->kind() == fb::QuantKind::NF4 ||
             scheme->kind() == fb::QuantKind::FP4) {
    view.kind = QuantizedView::Kind::Float4;
    view.float4.codes = scheme->kind() == fb::QuantKind::FP4
                            ? Float4Codes::FP4
                            : Float4Codes::NF4;
    view.float4.blockSize = scheme->group_size();
    view.float4.doubleQuant = scheme->double_quant();
    view.float4.doubleQuantBlockSize = scheme->double_quant_block_size();
    view.float4.scaleType = *scaleType;
    problem = validate(view.float4);
    // Fix (found by test/unit/runtime/PlanCorruptionTest): fields that NF4
    // does not have were ignored, so a scheme that contradicted itself (NF4
    // with 8 bits, or with a group index) was read as plain NF4.
    if (problem.empty() && scheme->bits() != 4)
      problem = std::string(fb::EnumNameQuantKind(scheme->kind())) +
                " codes have 4 bits, got " + std::to_string(scheme->bits());
    if (problem.empty() && scheme->act_order())
      problem = std::string(fb::EnumNameQuantKind(scheme->kind())) +
                " has no act order (no group index)";
  } else {
    problem = "unknown quantization kind " +
              std::to_string(static_cast<int>(scheme->kind()));
  }
  if (!problem.empty()) {
    error = "invalid quantization scheme: " + problem;
    return false;
  }
  return true;
}

} // namespace qrt
