//===- TestPlans.h - small valid plans for the runtime's tests --*- C++ -*-===//
//
// A builder of plans independent of the compiler: a PlanSpec describes a plan
// field by field (like the compiler's own export structures), tests edit it
// (to corrupt one thing on purpose), and serializePlan lays it out as a
// .qplan: a size-prefixed FlatBuffer built twice with ForceDefaults so the
// weights' absolute offsets are known, then the weights at 64-byte aligned
// offsets with their checksums.
//
// makeTinyModel draws a tiny Llama-like decoder with seeded random weights;
// tinyPlanSpec turns it into a plan with a `prefill` and a `decode` entry that
// uses every kernel of the schema, structured like the compiler's plans:
// rotary in place, q/k/v as [1, tokens, heads, head_dim] views of the matmul
// outputs [1, tokens, heads * head_dim] at the same arena offset, and every
// activation in its own 64-byte aligned region of the arena. With
// TinyConfig::projectionSchemes, the projection matmuls (q, k, v, o, gate, up,
// down) are DequantMatMul steps over weights quantized by the runtime's own
// quantizers (qrt/core/Quantize.h), and the model's float matrices are their
// dequantized values, so a float reference still reads what the plan stores.
//
//===----------------------------------------------------------------------===//

#ifndef QRT_TEST_UNIT_RUNTIME_TESTPLANS_H
#define QRT_TEST_UNIT_RUNTIME_TESTPLANS_H

#include "qrt/core/Plan.h"
#include "qrt/core/Quantize.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace qrt::test {

//===----------------------------------------------------------------------===//
// Plans, field by field
//===----------------------------------------------------------------------===//

struct BufferSpec {
  fb::BufferKind kind = fb::BufferKind::Arena;
  /// Arena byte offset, or weight index.
  uint64_t offset = 0;
  fb::DType dtype = fb::DType::F32;
  std::vector<int64_t> dims;
};

/// Step.quant: the scheme of a DequantMatMul step's weight.
struct QuantSpec {
  fb::QuantKind kind = fb::QuantKind::IntN;
  int64_t rows = 0, cols = 0;
  int32_t bits = 4;
  /// IntN: columns per group (-1 per channel); NF4: columns per block.
  int64_t groupSize = 0;
  bool symmetric = false, actOrder = false;
  fb::DType scaleType = fb::DType::F16;
  bool doubleQuant = false;
  int64_t doubleQuantBlockSize = 0;
};

/// Step.cuda: one launch of a kernel of the plan's CUDA code.
struct CudaLaunchSpec {
  std::string function;
  uint32_t gridX = 1, tokensPerBlock = 0, blockX = 32, sharedBytes = 0;
  /// The launch's own buffers (absent when empty: the step's).
  std::vector<BufferSpec> buffers;
};

struct StepSpec {
  fb::Kernel kernel = fb::Kernel::Add;
  std::vector<BufferSpec> inputs, outputs;
  std::string name;
  float epsilon = 0, scale = 0, rotaryBase = 0;
  bool causal = false;
  int32_t layer = 0, heads = 0, kvHeads = 0, headDim = 0, rotaryDim = 0;
  fb::RotaryConvention convention = fb::RotaryConvention::Interleaved;
  /// Serialized as Step.quant when set (absent otherwise).
  std::optional<QuantSpec> quant;
  /// Step.cuda. Written as the compiler writes it: on every step (empty for
  /// a step another launch computes) when the plan has a "cuda" target, else
  /// only when not empty; cudaList overrides whether it is written.
  std::vector<CudaLaunchSpec> cuda;
  std::optional<bool> cudaList;
};

struct EntrySpec {
  std::string name;
  int32_t maxTokens = 0;
  uint64_t arenaBytes = 0;
  std::vector<StepSpec> steps;
  BufferSpec logits;
};

struct WeightSpec {
  std::string name;
  fb::DType dtype = fb::DType::F32;
  std::vector<int64_t> dims;
  std::vector<uint8_t> bytes;
  // Deliberate corruptions, applied to the WeightInfo only (the bytes are
  // still written at the true offset).
  int64_t offsetDelta = 0;
  std::optional<uint64_t> checksum;
  std::optional<uint64_t> size;
};

/// Plan.targets: code for one target.
struct TargetCodeSpec {
  std::string target = "cuda";
  /// "cuda-source", "ptx", "cubin".
  std::string format = "cuda-source";
  std::string arch;
  std::vector<uint8_t> code;
  std::vector<std::string> kernels;
};

struct PlanSpec {
  uint32_t version = kPlanVersion;
  std::string producer = "qrt-runtime-tests";
  // ModelInfo.
  int32_t dim = 0, hiddenDim = 0, layers = 0, heads = 0, kvHeads = 0,
          headDim = 0, vocab = 0, maxContext = 0, bos = 1, eos = 2;
  // KvCache (absent when !hasKvCache).
  bool hasKvCache = true;
  int32_t cacheLayers = 0, cacheKvHeads = 0, cacheHeadDim = 0,
          cacheCapacity = 0;
  fb::DType cacheDtype = fb::DType::F32;
  std::vector<WeightSpec> weights;
  std::vector<EntrySpec> entries;
  std::vector<TargetCodeSpec> targets;
};

/// The .qplan bytes of `spec`.
std::vector<uint8_t> serializePlan(const PlanSpec &spec);

/// The .qplan bytes of `spec` as a weightless plan (Plan.weightless, with
/// weight_seed `seed`): the FlatBuffer and its padding only, no weight bytes.
/// Each WeightInfo has the size WeightSpec::size or else bytes.size() (the
/// bytes themselves are not written), offset 0 + offsetDelta and checksum
/// WeightSpec::checksum or else 0; weights_size is 0.
std::vector<uint8_t> serializeWeightlessPlan(const PlanSpec &spec,
                                             uint64_t seed);

/// Bytes of the FlatBuffer part of a plan file (its size prefix + 4).
size_t flatBufferBytes(const std::vector<uint8_t> &plan);

//===----------------------------------------------------------------------===//
// Quantized weights
//===----------------------------------------------------------------------===//

/// The storage scheme of a quantized weight: intN or NF4.
struct WeightScheme {
  QuantizedView::Kind kind = QuantizedView::Kind::IntN;
  IntNScheme intN;
  NF4Scheme nf4;

  static WeightScheme of(const IntNScheme &scheme);
  static WeightScheme of(const NF4Scheme &scheme);
  /// Step.quant of a [rows, cols] weight in this scheme, as the compiler
  /// writes it.
  QuantSpec spec(int64_t rows, int64_t cols) const;
  /// E.g. "int4_g32_asym_f16", "nf4_b64_dq48".
  std::string name() const;
};

/// w [rows, cols] (row-major) quantized in `scheme` by round to nearest, with
/// qrt::quantizeIntN or quantizeNF4. Act order, which those refuse (it needs
/// a calibrated method), gets a group index as GPTQ builds one: a permutation
/// `perm` of the columns drawn from `seed`, column perm[i] in group
/// i / group_size; each group is then quantized exactly as quantizeIntN
/// quantizes a contiguous group of the same values. Throws std::logic_error
/// if quantization fails.
QuantizedWeight quantizeWeight(const WeightScheme &scheme, const float *w,
                               int64_t rows, int64_t cols, uint32_t seed);

/// A view of `weight` (valid while it lives).
QuantizedView viewOf(const WeightScheme &scheme, const QuantizedWeight &weight);

/// All rows of `weight`, dequantized by qrt::dequantizeRows.
std::vector<float> dequantizeAll(const WeightScheme &scheme,
                                 const QuantizedWeight &weight);

//===----------------------------------------------------------------------===//
// The tiny decoder
//===----------------------------------------------------------------------===//

struct TinyConfig {
  int32_t dim = 16, hiddenDim = 24, layers = 2, heads = 4, kvHeads = 2,
          headDim = 4, vocab = 32, context = 64;
  /// max_tokens of the prefill entry (the decode entry takes 1).
  int32_t prefillTokens = 8;
  /// Weight type of the embedding table and the matmuls (F32 or F16); the
  /// norms and rotary tables are always f32.
  fb::DType weightType = fb::DType::F32;
  fb::RotaryConvention convention = fb::RotaryConvention::Interleaved;
  /// Rotary by cos/sin tables (weights) instead of a base.
  bool rotaryTables = false;
  /// Positions in the rotary tables (0: context).
  int32_t tablePositions = 0;
  /// Rotated dimensions per head (0: head_dim).
  int32_t rotaryDim = 0;
  /// Base of the rotary angles: the step's base, or the base the tables are
  /// computed from.
  float rotaryBase = 10000.0f;
  float epsilon = 1e-5f;
  /// Attention scale (0: 1 / sqrt(head_dim)).
  float attentionScale = 0;
  /// Rotary writes a separate arena region instead of rotating in place.
  bool rotaryOutOfPlace = false;
  /// Empty: the projections are MatMul steps over weightType weights. Else
  /// they are DequantMatMul steps; projection i of the model (counting q, k,
  /// v, o, gate, up, down, layer after layer) is stored in scheme
  /// projectionSchemes[i % size()]. The embedding and output stay weightType.
  std::vector<WeightScheme> projectionSchemes;
  uint32_t seed = 1;

  int32_t effectiveRotaryDim() const { return rotaryDim ? rotaryDim : headDim; }
  int32_t effectiveTablePositions() const {
    return tablePositions ? tablePositions : context;
  }
  float effectiveScale() const;
};

/// The weights of a tiny decoder, as float values exactly equal to what the
/// plan stores (f16 weights are the f16-rounded values, quantized ones their
/// dequantized values). Matrices are [n, k] row-major (output channel per
/// row).
struct TinyModel {
  struct QuantizedProjection {
    WeightScheme scheme;
    QuantizedWeight weight;
    /// The float values it was quantized from.
    std::vector<float> original;
  };
  struct Layer {
    std::vector<float> attentionNorm, wq, wk, wv, wo, ffnNorm, w1, w3, w2;
    /// With config.projectionSchemes: how wq, wk, wv, wo, w1, w3, w2 (in
    /// this order) are stored; those matrices hold the dequantized values.
    std::vector<QuantizedProjection> quantized;
  };
  TinyConfig config;
  std::vector<float> embedding; // [vocab, dim]
  std::vector<Layer> layers;
  std::vector<float> finalNorm; // [dim]
  std::vector<float> output;    // [vocab, dim]
  /// [positions, rotary_dim / 2] each, when config.rotaryTables.
  std::vector<float> cosTable, sinTable;
};

TinyModel makeTinyModel(const TinyConfig &config);

/// The plan of `model`. The weights are numbered in this order:
/// tok_embeddings, then per layer attention_norm, wq, wk, wv, wo, ffn_norm,
/// w1, w3, w2, then norm, output, and rope.cos, rope.sin with tables. A
/// quantized projection is its components instead, in layout order, named
/// after it and qrt::componentRoleName (e.g. "layers.0.attention.wq.scales").
PlanSpec tinyPlanSpec(const TinyModel &model);

inline std::vector<uint8_t> tinyPlanBytes(const TinyConfig &config) {
  return serializePlan(tinyPlanSpec(makeTinyModel(config)));
}

//===----------------------------------------------------------------------===//
// Files
//===----------------------------------------------------------------------===//

/// A file under the test temporary directory, removed when destroyed.
class TempFile {
public:
  TempFile();
  ~TempFile();
  TempFile(const TempFile &) = delete;
  TempFile &operator=(const TempFile &) = delete;
  const std::string &path() const { return path_; }
  /// Replaces the file's contents.
  void write(const uint8_t *data, size_t size);
  void write(const std::vector<uint8_t> &bytes) {
    write(bytes.data(), bytes.size());
  }

private:
  std::string path_;
};

/// A plan written to a temporary file and opened (verified, checksums
/// included); `plan` is null and `error` says why when it does not open.
struct OpenedPlan {
  TempFile file;
  std::unique_ptr<MappedPlan> plan;
  std::string error;
};
std::unique_ptr<OpenedPlan> openPlan(const std::vector<uint8_t> &bytes);

/// Scheme builders for tests.
IntNScheme intNScheme(int bits, int64_t groupSize, bool symmetric,
                      ScaleType scales, bool actOrder = false);
/// NF4 with double quantization in blocks of `doubleQuantBlock` (0: none).
NF4Scheme nf4Scheme(int64_t blockSize, ScaleType scales,
                    int64_t doubleQuantBlock = 0);

} // namespace qrt::test

#endif // QRT_TEST_UNIT_RUNTIME_TESTPLANS_H
