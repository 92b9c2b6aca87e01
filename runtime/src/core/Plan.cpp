//===- Plan.cpp - loading and verifying runtime plans ---------------------===//

#include "qrt/core/Plan.h"

#include "qrt/core/SyntheticWeights.h"
#include "qrt/cuda/KernelAbi.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <initializer_list>
#include <optional>
#include <sstream>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace qrt {

//===----------------------------------------------------------------------===//
// Checksum
//===----------------------------------------------------------------------===//

namespace {

constexpr uint64_t kMul1 = 0x9E3779B97F4A7C15ull; // 2^64 / golden ratio
constexpr uint64_t kMul2 = 0xC2B2AE3D27D4EB4Full;
constexpr uint64_t kMul3 = 0x165667B19E3779F9ull;

inline uint64_t rotl(uint64_t v, int r) { return (v << r) | (v >> (64 - r)); }

inline uint64_t load64(const uint8_t *p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

inline uint64_t mixLane(uint64_t acc, uint64_t v) {
  return rotl(acc + v * kMul2, 31) * kMul1;
}

inline uint64_t finalize(uint64_t h) {
  h ^= h >> 33;
  h *= kMul2;
  h ^= h >> 29;
  h *= kMul3;
  h ^= h >> 32;
  return h;
}

} // namespace

uint64_t checksum64(const void *data, size_t size) {
  const uint8_t *p = static_cast<const uint8_t *>(data);
  const uint8_t *end = p + size;
  // Four independent lanes over 32-byte blocks (instruction-level
  // parallelism), folded together, then the tail.
  uint64_t lanes[4] = {kMul1, kMul2, kMul3, kMul1 ^ kMul2};
  while (end - p >= 32) {
    for (int i = 0; i < 4; ++i)
      lanes[i] = mixLane(lanes[i], load64(p + 8 * i));
    p += 32;
  }
  uint64_t h = rotl(lanes[0], 1) + rotl(lanes[1], 7) + rotl(lanes[2], 12) +
               rotl(lanes[3], 18) + static_cast<uint64_t>(size);
  while (end - p >= 8) {
    h = rotl(h ^ mixLane(0, load64(p)), 27) * kMul1 + kMul3;
    p += 8;
  }
  while (p < end) {
    h = rotl(h ^ (static_cast<uint64_t>(*p) * kMul3), 11) * kMul1;
    ++p;
  }
  return finalize(h);
}

size_t dtypeBytes(fb::DType type) {
  switch (type) {
  case fb::DType::F32:
  case fb::DType::I32:
    return 4;
  case fb::DType::F16:
  case fb::DType::BF16:
    return 2;
  case fb::DType::I64:
    return 8;
  case fb::DType::U8:
    return 1;
  }
  return 0;
}

uint64_t tensorElements(const fb::TensorInfo &tensor, int64_t tokens) {
  uint64_t n = 1;
  if (tensor.dims())
    for (int64_t d : *tensor.dims())
      n *= static_cast<uint64_t>(d == -1 ? tokens : d);
  return n;
}

//===----------------------------------------------------------------------===//
// Verification
//===----------------------------------------------------------------------===//

namespace {

/// Collects the first error; every check returns false once one failed.
class Verifier {
public:
  Verifier(const uint8_t *data, size_t size, bool checksums)
      : data(data), size(size), checksums(checksums) {}

  bool run(std::string &error);

private:
  template <typename... Args> bool fail(Args &&...args) {
    if (message.empty()) {
      std::ostringstream os;
      (os << ... << args);
      message = os.str();
    }
    return false;
  }

  /// Dimensions of a tensor: non-negative, or -1 (tokens) if allowed.
  bool checkTensor(const fb::TensorInfo *tensor, bool allowTokens,
                   const std::string &what);
  bool checkBuffer(const fb::Buffer *buffer, const fb::Entry &entry,
                   const std::string &what);
  bool checkStep(const fb::Step &step, const fb::Entry &entry, size_t index);
  /// Plan.targets: the code of target "cuda" (others are skipped); sets
  /// cudaKernels.
  bool checkTargets();
  /// Step.cuda: present iff the plan has CUDA code, every launch runnable.
  bool checkLaunches(const fb::Step &step, const fb::Entry &entry,
                     size_t index);
  static bool hasTokenDim(const std::vector<int64_t> &dims) {
    return std::find(dims.begin(), dims.end(), int64_t(-1)) != dims.end();
  }
  std::vector<int64_t> dims(const fb::Buffer *buffer) const {
    std::vector<int64_t> out;
    if (buffer && buffer->tensor() && buffer->tensor()->dims())
      for (int64_t d : *buffer->tensor()->dims())
        out.push_back(d);
    return out;
  }

  const uint8_t *data;
  size_t size;
  bool checksums;
  const fb::Plan *plan = nullptr;
  /// The kernels every CUDA TargetCode lists, sorted; empty without CUDA
  /// code (a CUDA TargetCode lists at least one).
  std::vector<std::string> cudaKernels;
  std::string message;
};

/// "entry 'prefill' step 3 (layers.0.attention.wq)", for messages.
std::string stepWhere(const fb::Step &step, const fb::Entry &entry,
                      size_t index) {
  return "entry '" + (entry.name() ? entry.name()->str() : "?") + "' step " +
         std::to_string(index) +
         (step.name() ? " (" + step.name()->str() + ")" : "");
}

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
        dims(buffer) != std::vector<int64_t>(weight->tensor()->dims()->begin(),
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

bool Verifier::checkStep(const fb::Step &step, const fb::Entry &entry,
                         size_t index) {
  std::string where = stepWhere(step, entry, index);
  auto count = [](auto *v) { return v ? v->size() : 0u; };
  size_t inputs = count(step.inputs()), outputs = count(step.outputs());
  for (size_t i = 0; i < inputs; ++i)
    if (!checkBuffer(step.inputs()->Get(i), entry,
                     where + " input " + std::to_string(i)))
      return false;
  for (size_t i = 0; i < outputs; ++i) {
    if (!checkBuffer(step.outputs()->Get(i), entry,
                     where + " output " + std::to_string(i)))
      return false;
    if (step.outputs()->Get(i)->kind() != fb::BufferKind::Arena)
      return fail(where, " writes outside the arena");
  }
  auto in = [&](size_t i) { return dims(step.inputs()->Get(i)); };
  auto out = [&](size_t i) { return dims(step.outputs()->Get(i)); };
  auto kindOf = [&](size_t i) { return step.inputs()->Get(i)->kind(); };
  auto last = [](const std::vector<int64_t> &d) {
    return d.empty() ? int64_t(-2) : d.back();
  };
  auto leading = [](std::vector<int64_t> d) {
    if (!d.empty())
      d.pop_back();
    return d;
  };
  auto expect = [&](bool ok, const char *what) {
    return ok || fail(where, ": ", what);
  };
  // Fix (found by test/unit/runtime/PlanCorruptionTest): the Session reads
  // a kernel's activation inputs at arena + offset, but only arena buffers
  // have their offset checked against the arena; a token or weight buffer
  // in their place was read outside it.
  auto activations = [&](std::initializer_list<size_t> indices) {
    for (size_t i : indices)
      if (kindOf(i) != fb::BufferKind::Arena)
        return fail(where, ": input ", i, " must be an arena activation");
    return true;
  };
  switch (step.kernel()) {
  case fb::Kernel::Embedding: {
    if (inputs != 2 || outputs != 1 || kindOf(0) != fb::BufferKind::Weight ||
        kindOf(1) != fb::BufferKind::Tokens)
      return fail(where, ": embedding takes a weight table and the tokens");
    std::vector<int64_t> table = in(0);
    auto type = step.inputs()->Get(0)->tensor()->dtype();
    return expect(
               table.size() == 2 &&
                   (type == fb::DType::F32 || type == fb::DType::F16),
               "the embedding table must be a [vocab, dim] f32/f16 weight") &&
           // Fix (found by test/unit/runtime/PlanCorruptionTest): the output
           // needs the token dimension; a [dim] output passed, with room for
           // one row, and the kernel wrote one row per token past it.
           expect(last(out(0)) == table[1] &&
                      tensorElements(*step.outputs()->Get(0)->tensor(), 1) ==
                          static_cast<uint64_t>(table[1]) &&
                      hasTokenDim(out(0)),
                  "the embedding output must be [tokens, dim]");
  }
  case fb::Kernel::RmsNorm:
    if (inputs != 2 || outputs != 1 || kindOf(1) != fb::BufferKind::Weight)
      return fail(where, ": rms_norm takes x and a weight");
    // Fix (found by test/unit/runtime/PlanCorruptionTest): the Session reads
    // the weight as f32 (an f16 one was read past its end) and divides by
    // dim (0: division by zero).
    return activations({0}) &&
           expect(in(1) == std::vector<int64_t>{last(in(0))} &&
                      last(in(0)) > 0 &&
                      step.inputs()->Get(1)->tensor()->dtype() ==
                          fb::DType::F32,
                  "the rms_norm weight must be f32 [dim], dim > 0") &&
           expect(out(0) == in(0), "rms_norm changes the shape");
  case fb::Kernel::MatMul: {
    if (inputs != 2 || outputs != 1 || kindOf(1) != fb::BufferKind::Weight)
      return fail(where, ": matmul takes x and a weight");
    std::vector<int64_t> w = in(1);
    auto type = step.inputs()->Get(1)->tensor()->dtype();
    // Fix (found by test/unit/runtime/PlanCorruptionTest): k > 0, the
    // Session divides by it.
    return activations({0}) &&
           expect(w.size() == 2 && w[1] > 0 &&
                      (type == fb::DType::F32 || type == fb::DType::F16),
                  "the matmul weight must be [n, k] f32/f16, k > 0") &&
           expect(last(in(0)) == w[1], "matmul contraction sizes differ") &&
           expect(last(out(0)) == w[0] && leading(out(0)) == leading(in(0)),
                  "the matmul output must be [..., n]");
  }
  case fb::Kernel::Rotary: {
    if ((inputs != 1 && inputs != 3) || outputs != 1)
      return fail(where, ": rotary takes x and optionally cos/sin tables");
    std::vector<int64_t> x = in(0);
    int64_t d = last(x), rd = step.rotary_dim();
    if (!activations({0}))
      return false;
    if (x.size() != 4 || x[0] != 1 || x[1] != -1 || d <= 0 || rd <= 0 ||
        rd % 2 != 0 || rd > d || out(0) != x)
      return fail(where, ": rotary must rotate [1, tokens, heads, head_dim] "
                         "by an even rotary_dim <= head_dim");
    if (inputs == 3) {
      for (size_t t = 1; t < 3; ++t)
        if (kindOf(t) != fb::BufferKind::Weight ||
            step.inputs()->Get(t)->tensor()->dtype() != fb::DType::F32 ||
            in(t).size() != 2 || in(t)[1] != rd / 2 || in(t) != in(1))
          // Fix (found by test/unit/runtime/PlanCorruptionTest): in(t) !=
          // in(1). The Session bounds positions by the cos table alone; a
          // shorter sin table was read past its end.
          return fail(where, ": rotary tables must be f32 [positions, "
                             "rotary_dim/2] weights of one shape");
    } else if (!(step.rotary_base() > 0.0f)) {
      return fail(where, ": rotary needs a positive base");
    }
    return expect(
        step.rotary_convention() == fb::RotaryConvention::Interleaved ||
            step.rotary_convention() == fb::RotaryConvention::RotateHalf,
        "unknown rotary convention");
  }
  case fb::Kernel::Attention: {
    if (inputs != 3 || outputs != 1)
      return fail(where, ": attention takes q, k, v");
    if (!activations({0, 1, 2}))
      return false;
    int64_t h = step.heads(), kv = step.kv_heads(), hd = step.head_dim();
    const fb::KvCache *cache = plan->kv_cache();
    if (h <= 0 || kv <= 0 || h % kv != 0 || hd <= 0)
      return fail(where, ": bad head counts");
    if (!cache || step.layer() < 0 || step.layer() >= cache->layers() ||
        cache->kv_heads() != kv || cache->head_dim() != hd ||
        cache->capacity() < entry.max_tokens())
      return fail(where, ": does not match the KV cache");
    return expect(in(0) == std::vector<int64_t>{1, -1, h, hd} &&
                      in(1) == std::vector<int64_t>{1, -1, kv, hd} &&
                      in(2) == std::vector<int64_t>{1, -1, kv, hd} &&
                      out(0) == std::vector<int64_t>{1, -1, h, hd},
                  "attention shapes must be [1, tokens, heads, head_dim]") &&
           expect(step.causal(), "only causal attention runs");
  }
  case fb::Kernel::DequantMatMul: {
    QuantizedView view;
    std::string problem;
    if (!quantizedViewOf(step.quant(), view, problem))
      return fail(where, ": ", problem);
    WeightLayout layout = view.layout();
    if (inputs != 1 + layout.components.size() || outputs != 1)
      return fail(where, ": dequant_matmul takes x and the ",
                  layout.components.size(), " components of its weight");
    if (!activations({0}))
      return false;
    // Fix (found by test/unit/runtime/PlanCorruptionTest): the message gave
    // only the first dimension ("[16, ...]", and "[0]" for the scalar
    // double-quant offset); it now gives the expected shape and what the
    // step has.
    auto shapeText = [](const std::vector<int64_t> &shape) {
      std::string text = "[";
      for (size_t i = 0; i < shape.size(); ++i)
        text += (i ? ", " : "") + std::to_string(shape[i]);
      return text + "]";
    };
    auto typeText = [](fb::DType type) {
      std::string text = fb::EnumNameDType(type);
      std::transform(text.begin(), text.end(), text.begin(),
                     [](unsigned char ch) { return std::tolower(ch); });
      return text;
    };
    for (size_t c = 0; c < layout.components.size(); ++c) {
      const Component &component = layout.components[c];
      const fb::Buffer *buffer = step.inputs()->Get(c + 1);
      if (kindOf(c + 1) != fb::BufferKind::Weight ||
          buffer->tensor()->dtype() != dtypeOf(component.element) ||
          in(c + 1) != component.shape)
        return fail(where, ": input ", c + 1, " must be the ",
                    componentRoleName(component.role), " weight, ",
                    typeText(dtypeOf(component.element)), " ",
                    shapeText(component.shape), ", not ",
                    kindOf(c + 1) == fb::BufferKind::Weight ? "a weight"
                    : kindOf(c + 1) == fb::BufferKind::Arena
                        ? "an arena buffer"
                        : "the tokens",
                    " ", typeText(buffer->tensor()->dtype()), " ",
                    shapeText(in(c + 1)));
      if (component.role == ComponentRole::GroupIndex && !plan->weightless()) {
        // The kernels index scales with it: every group must exist. (A
        // weightless plan's is synthesized valid.)
        const fb::WeightInfo *w =
            plan->weights()->Get(step.inputs()->Get(c + 1)->offset());
        const uint8_t *bytes = data + w->offset();
        for (int64_t col = 0; col < view.cols; ++col) {
          int32_t g;
          std::memcpy(&g, bytes + 4 * col, 4);
          if (g < 0 || g >= view.groups())
            return fail(where, ": g_idx[", col, "] = ", g,
                        " is not a group of the weight (", view.groups(),
                        " groups)");
        }
      }
    }
    return expect(last(in(0)) == view.cols,
                  "dequant_matmul contraction sizes differ") &&
           expect(last(out(0)) == view.rows &&
                      leading(out(0)) == leading(in(0)),
                  "the dequant_matmul output must be [..., rows]");
  }
  case fb::Kernel::Add:
  case fb::Kernel::SwiGlu:
    if (inputs != 2 || outputs != 1)
      return fail(where, ": elementwise steps take two inputs");
    return activations({0, 1}) &&
           expect(in(0) == in(1) && out(0) == in(0),
                  "elementwise operands must have one shape");
  }
  return fail(where, ": unknown kernel ", static_cast<int>(step.kernel()));
}

//===----------------------------------------------------------------------===//
// CUDA code and launches
//===----------------------------------------------------------------------===//

/// Launch limits of every CUDA GPU the backend targets (sm_80 and later):
/// grid x, grid y, threads per block, and dynamic shared memory without
/// opting in (cuFuncSetAttribute, which the backend does not call).
constexpr uint32_t kMaxGridX = 0x7FFFFFFFu;
constexpr uint64_t kMaxGridY = 65535;
constexpr uint32_t kMaxBlockX = 1024;
constexpr uint32_t kMaxSharedBytes = 48 * 1024;

/// Whether `name` is a C identifier ([A-Za-z_][A-Za-z0-9_]*).
bool isIdentifier(const flatbuffers::String &name) {
  if (name.size() == 0)
    return false;
  for (uint32_t i = 0; i < name.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(name.c_str()[i]);
    bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    if (!letter && (i == 0 || c < '0' || c > '9'))
      return false;
  }
  return true;
}

/// Whether `arch` is `prefix` and a GPU generation of 2 or 3 digits, as
/// NVRTC names them and the driver device parses them ("compute_80",
/// "sm_90", "sm_100").
bool isArch(const std::string &arch, const std::string &prefix) {
  if (arch.compare(0, prefix.size(), prefix) != 0)
    return false;
  std::string digits = arch.substr(prefix.size());
  return digits.size() >= 2 && digits.size() <= 3 && digits[0] != '0' &&
         std::all_of(digits.begin(), digits.end(),
                     [](char c) { return c >= '0' && c <= '9'; });
}

bool Verifier::checkTargets() {
  if (!plan->targets())
    return true;
  bool source = false;
  std::vector<std::string> compiled; // "ptx compute_80", "cubin sm_90"
  std::string first;                 // the first CUDA TargetCode, for messages
  for (uint32_t i = 0; i < plan->targets()->size(); ++i) {
    const fb::TargetCode *t = plan->targets()->Get(i);
    std::string what = "target code " + std::to_string(i);
    if (!t->target() || t->target()->size() == 0)
      return fail(what, " names no target");
    if (!t->format() || t->format()->size() == 0)
      return fail(what, " (", t->target()->str(), ") has no format");
    // Code for targets this runtime does not know is not read: skipped, so
    // that plans with code for later targets still load.
    if (t->target()->str() != "cuda")
      continue;
    std::string format = t->format()->str();
    std::string arch = t->arch() ? t->arch()->str() : "";
    what += " (cuda " + format + (arch.empty() ? "" : " " + arch) + ")";
    if (format == "cuda-source") {
      if (!arch.empty())
        return fail(what, ": CUDA source has no architecture");
      if (source)
        return fail(what, ": the plan has a second cuda-source");
      source = true;
    } else if (format == "ptx" || format == "cubin") {
      const std::string prefix = format == "ptx" ? "compute_" : "sm_";
      if (arch.empty())
        return fail(what, ": ", format, " needs an architecture (", prefix,
                    "XY)");
      if (!isArch(arch, prefix))
        return fail(what, ": the architecture '", arch, "' is not ", prefix,
                    "XY");
      std::string key = format + " " + arch;
      if (std::find(compiled.begin(), compiled.end(), key) != compiled.end())
        return fail(what, ": the plan has a second ", key);
      compiled.push_back(key);
    } else {
      return fail(what, ": unknown CUDA code format '", format,
                  "' (cuda-source, ptx or cubin)");
    }
    if (!t->code() || t->code()->size() == 0)
      return fail(what, " has no code");
    if (!t->kernels() || t->kernels()->size() == 0)
      return fail(what, " lists no kernels");
    std::vector<std::string> kernels;
    for (uint32_t k = 0; k < t->kernels()->size(); ++k) {
      const flatbuffers::String *name = t->kernels()->Get(k);
      if (!isIdentifier(*name))
        return fail(what, ": kernel ", k, " '", name->str(),
                    "' is not a C identifier");
      kernels.push_back(name->str());
    }
    std::sort(kernels.begin(), kernels.end());
    auto twice = std::adjacent_find(kernels.begin(), kernels.end());
    if (twice != kernels.end())
      return fail(what, ": kernel '", *twice, "' is listed twice");
    // Every piece is the same module for another consumer (the emulator,
    // the driver's JIT, a GPU generation): a launch resolves in any of them.
    if (first.empty()) {
      first = what;
      cudaKernels = std::move(kernels);
    } else if (kernels != cudaKernels) {
      return fail(what, " lists other kernels than ", first);
    }
  }
  return true;
}

bool Verifier::checkLaunches(const fb::Step &step, const fb::Entry &entry,
                             size_t index) {
  std::string where = stepWhere(step, entry, index);
  if (cudaKernels.empty()) {
    if (step.cuda())
      return fail(where,
                  " has a CUDA launch list but the plan has no CUDA code");
    return true;
  }
  // The compiler writes every step's list; an empty one is a step that
  // another step's launch computes (an add fused into a matmul).
  if (!step.cuda())
    return fail(where, " has no CUDA launch list (the plan has CUDA code)");
  const size_t stepBuffers = (step.inputs() ? step.inputs()->size() : 0) +
                             (step.outputs() ? step.outputs()->size() : 0);
  for (uint32_t i = 0; i < step.cuda()->size(); ++i) {
    const fb::CudaLaunch *launch = step.cuda()->Get(i);
    std::string what = where + " launch " + std::to_string(i);
    if (!launch->function() || launch->function()->size() == 0)
      return fail(what, " names no function");
    std::string function = launch->function()->str();
    what += " (" + function + ")";
    if (!std::binary_search(cudaKernels.begin(), cudaKernels.end(), function))
      return fail(what, ": the plan's CUDA code has no kernel '", function,
                  "'");
    if (launch->grid_x() == 0 || launch->grid_x() > kMaxGridX)
      return fail(what, ": grid_x ", launch->grid_x(), " is not in [1, ",
                  kMaxGridX, "]");
    if (launch->block_x() == 0 || launch->block_x() > kMaxBlockX)
      return fail(what, ": block_x ", launch->block_x(), " is not in [1, ",
                  kMaxBlockX, "]");
    if (uint32_t perBlock = launch->tokens_per_block()) {
      uint64_t gridY = (uint64_t(entry.max_tokens()) + perBlock - 1) / perBlock;
      if (gridY > kMaxGridY)
        return fail(what, ": tokens_per_block ", perBlock,
                    " makes a grid y of ", gridY, " for ", entry.max_tokens(),
                    " tokens (at most ", kMaxGridY, ")");
    }
    if (launch->shared_bytes() > kMaxSharedBytes)
      return fail(what, ": shared_bytes ", launch->shared_bytes(), " exceeds ",
                  kMaxSharedBytes, " (48 KiB)");
    // The kernel's KernelParams: the launch's own buffers (a fused
    // epilogue), or else the step's inputs then outputs (checked above).
    const auto *own = launch->buffers();
    bool hasOwn = own && own->size() > 0;
    size_t count = hasOwn ? own->size() : stepBuffers;
    if (count > size_t(cuda::kMaxKernelBuffers))
      return fail(what, hasOwn ? ": has " : ": the step has ", count,
                  " buffers (a kernel takes at most ", cuda::kMaxKernelBuffers,
                  ")");
    for (uint32_t b = 0; hasOwn && b < own->size(); ++b)
      if (!checkBuffer(own->Get(b), entry,
                       what + " buffer " + std::to_string(b)))
        return false;
  }
  return true;
}

} // namespace

fb::DType dtypeOf(ElementKind kind) {
  switch (kind) {
  case ElementKind::U8:
    return fb::DType::U8;
  case ElementKind::I32:
    return fb::DType::I32;
  case ElementKind::F32:
    return fb::DType::F32;
  case ElementKind::F16:
    return fb::DType::F16;
  case ElementKind::BF16:
    return fb::DType::BF16;
  }
  return fb::DType::F32;
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
  std::optional<ScaleType> scaleType;
  switch (scheme->scale_type()) {
  case fb::DType::F32:
    scaleType = ScaleType::F32;
    break;
  case fb::DType::F16:
    scaleType = ScaleType::F16;
    break;
  case fb::DType::BF16:
    scaleType = ScaleType::BF16;
    break;
  default:
    break;
  }
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
  } else if (scheme->kind() == fb::QuantKind::NF4) {
    view.kind = QuantizedView::Kind::NF4;
    view.nf4.blockSize = scheme->group_size();
    view.nf4.doubleQuant = scheme->double_quant();
    view.nf4.doubleQuantBlockSize = scheme->double_quant_block_size();
    view.nf4.scaleType = *scaleType;
    problem = validate(view.nf4);
    // Fix (found by test/unit/runtime/PlanCorruptionTest): fields that NF4
    // does not have were ignored, so a scheme that contradicted itself (NF4
    // with 8 bits, or with a group index) was read as plain NF4.
    if (problem.empty() && scheme->bits() != 4)
      problem = "NF4 codes have 4 bits, got " + std::to_string(scheme->bits());
    if (problem.empty() && scheme->act_order())
      problem = "NF4 has no act order (no group index)";
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

namespace {

bool Verifier::run(std::string &error) {
  auto done = [&](bool ok) {
    error = message;
    return ok;
  };
  // Fix (found by test/unit/runtime/PlanCorruptionTest under ASan): the
  // identifier is bytes [8, 12), after the size prefix and the root offset;
  // `size < 8` let a 8..11-byte buffer be read past its end.
  if (size < 12 || !fb::PlanBufferHasIdentifier(data + 4))
    return done(fail("not a plan (no QPLN identifier)"));
  uint32_t length;
  std::memcpy(&length, data, 4);
  if (length > size - 4)
    return done(fail("truncated: the plan's FlatBuffer needs ", uint64_t(length) + 4,
                     " bytes, the file has ", size));
  flatbuffers::Verifier fbVerifier(data, length + 4, /*max_depth=*/64,
                                   /*max_tables=*/10000000);
  if (!fb::VerifySizePrefixedPlanBuffer(fbVerifier))
    return done(fail("the plan's FlatBuffer is malformed"));
  plan = planOf(data);
  if (plan->version() != kPlanVersion)
    return done(fail("plan version ", plan->version(), " is not supported (",
                     "this runtime reads version ", kPlanVersion, ")"));
  if (!plan->model() || !plan->entries() || plan->entries()->size() == 0)
    return done(fail("the plan has no model description or entry points"));
  uint64_t regionBegin = plan->weights_offset(),
           regionEnd = regionBegin + plan->weights_size();
  if (regionBegin % kWeightAlignment != 0 || regionBegin < length + 4 ||
      regionEnd < regionBegin || regionEnd > size)
    return done(fail("the weight region [", regionBegin, ", ", regionEnd,
                     ") lies outside the file of ", size, " bytes"));
  if (plan->weightless() && plan->weights_size() != 0)
    return done(fail("a weightless plan has a weight region of ",
                     plan->weights_size(), " bytes (it stores none)"));
  uint64_t synthesized = 0;
  if (plan->weights()) {
    for (uint32_t i = 0; i < plan->weights()->size(); ++i) {
      const fb::WeightInfo *w = plan->weights()->Get(i);
      std::string what = "weight " + std::to_string(i) + " '" +
                         (w->name() ? w->name()->str() : std::string("?")) +
                         "'";
      if (!checkTensor(w->tensor(), false, what))
        return done(false);
      uint64_t bytes =
          tensorElements(*w->tensor(), 0) * dtypeBytes(w->tensor()->dtype());
      if (w->size() != bytes)
        return done(
            fail(what, " holds ", w->size(), " bytes, its shape ", bytes));
      if (plan->weightless()) {
        // No bytes in the file: the runtime synthesizes them (at most 1 TiB
        // in all, far from overflowing the layout's sums).
        if (w->offset() != 0 || w->checksum() != 0)
          return done(fail(what, " of a weightless plan has offset ",
                           w->offset(), " and checksum ", w->checksum(),
                           " (both must be 0)"));
        synthesized += bytes + kWeightAlignment;
        if (synthesized > (uint64_t(1) << 40))
          return done(fail("the weightless plan's weights are too large"));
        continue;
      }
      if (w->offset() % kWeightAlignment != 0 || w->offset() < regionBegin ||
          w->offset() > regionEnd || w->size() > regionEnd - w->offset())
        return done(fail(what, " [", w->offset(), ", +", w->size(),
                         ") lies outside the weight region"));
      if (checksums &&
          checksum64(data + w->offset(), w->size()) != w->checksum())
        return done(fail(what, " fails its checksum (the file is corrupt)"));
    }
  }
  const fb::KvCache *cache = plan->kv_cache();
  // Fix (found by test/unit/runtime/PlanCorruptionTest): the product of the
  // four int32 fields could wrap around 2^64 (2^22 * 2^10 * 2^10 * 2^22 is
  // 0), and the Session then allocated a tiny cache and appended past it.
  // Bound each partial product instead.
  auto cacheFits = [](std::initializer_list<int32_t> factors) {
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
       !cacheFits({cache->layers(), cache->kv_heads(), cache->head_dim(),
                   cache->capacity()})))
    return done(fail("the KV cache description is invalid"));
  if (!checkTargets())
    return done(false);
  for (const fb::Entry *entry : *plan->entries()) {
    if (!entry || entry->max_tokens() <= 0 ||
        entry->arena_bytes() > (uint64_t(1) << 40) || !entry->steps())
      return done(fail("an entry point is invalid"));
    if (cache && entry->max_tokens() > cache->capacity())
      return done(fail("an entry point takes more tokens than the KV cache "
                       "holds"));
    for (size_t i = 0; i < entry->steps()->size(); ++i)
      if (!checkStep(*entry->steps()->Get(i), *entry, i) ||
          !checkLaunches(*entry->steps()->Get(i), *entry, i))
        return done(false);
    // Fix (found by test/unit/runtime/PlanCorruptionTest): the Session copies
    // [tokens, vocab] floats from the logits, so they need the token
    // dimension and vocab elements per token; [vocab] or [2, vocab] passed
    // and was read past its end, and dims().back() of a rank-0 buffer was
    // undefined behaviour.
    const fb::Buffer *logits = entry->logits();
    if (!checkBuffer(logits, *entry, "the logits") ||
        logits->kind() != fb::BufferKind::Arena ||
        !hasTokenDim(dims(logits)) ||
        dims(logits).back() != plan->model()->vocab() ||
        tensorElements(*logits->tensor(), 1) !=
            static_cast<uint64_t>(plan->model()->vocab()))
      return done(
          fail("the logits must be an arena buffer [..., tokens, vocab]"));
  }
  return done(true);
}

} // namespace

bool verifyPlan(const uint8_t *data, size_t size, bool checksums,
                std::string &error) {
  return Verifier(data, size, checksums).run(error);
}

//===----------------------------------------------------------------------===//
// MappedPlan
//===----------------------------------------------------------------------===//

std::unique_ptr<MappedPlan>
MappedPlan::open(const std::string &path, std::string &error, bool checksums) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    error = path + ": " + std::strerror(errno);
    return nullptr;
  }
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    error = path + ": not a regular file";
    return nullptr;
  }
  size_t size = static_cast<size_t>(st.st_size);
  if (size < 8) {
    ::close(fd);
    error = path + ": not a plan (" + std::to_string(size) + " bytes)";
    return nullptr;
  }
  void *base = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (base == MAP_FAILED) {
    error = path + ": cannot map: " + std::strerror(errno);
    return nullptr;
  }
  std::unique_ptr<MappedPlan> plan(new MappedPlan());
  plan->data_ = static_cast<const uint8_t *>(base);
  plan->size_ = size;
  std::string problem;
  if (!verifyPlan(plan->data_, size, checksums, problem)) {
    error = path + ": " + problem;
    return nullptr;
  }
  plan->plan_ = planOf(plan->data_);
  if (plan->plan_->weightless() && !plan->synthesize(problem)) {
    error = path + ": " + problem;
    return nullptr;
  }
  return plan;
}

bool MappedPlan::synthesize(std::string &error) {
  SyntheticLayout layout = syntheticLayout(*plan_);
  size_t bytes = std::max<size_t>(layout.bytes, kWeightAlignment);
  void *memory = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (memory == MAP_FAILED) {
    error = "cannot allocate " + std::to_string(bytes) +
            " bytes for the weights of the weightless plan: " +
            std::strerror(errno);
    return false;
  }
  synthetic_ = static_cast<uint8_t *>(memory);
  syntheticSize_ = bytes;
  synthesizeWeights(*plan_, plan_->weight_seed(), layout, synthetic_);
  ::mprotect(memory, bytes, PROT_READ); // read-only, as a mapped file
  syntheticOffsets_ = std::move(layout.offsets);
  return true;
}

MappedPlan::~MappedPlan() {
  if (data_)
    ::munmap(const_cast<uint8_t *>(data_), size_);
  if (synthetic_)
    ::munmap(synthetic_, syntheticSize_);
}

const void *MappedPlan::weight(uint32_t index) const {
  if (synthetic_)
    return synthetic_ + syntheticOffsets_[index];
  return data_ + plan_->weights()->Get(index)->offset();
}

} // namespace qrt
