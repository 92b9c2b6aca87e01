//===- TestPlans.h - small valid plans for the runtime's tests --*- C++ -*-===//
//
// The runtime's tests build their plans as the compiler does: a description
// (qrt::PlanDesc, qrt/core/PlanWriter.h) written by the runtime's writer.
// Tests edit a description to damage one thing on purpose; what a
// description cannot express (a misplaced weight) they patch in the written
// bytes (patchWeightOffset).
//
// makeTinyModel draws a tiny Llama-like decoder with seeded random weights;
// tinyPlanSpec turns it into a plan with a `prefill` and a `decode` entry that
// uses every kernel of the schema, structured like the compiler's plans:
// rotary in place, q/k/v as [1, tokens, heads, head_dim] views of the matmul
// outputs [1, tokens, heads * head_dim] at the same arena offset, and every
// activation in its own 64-byte aligned region of the arena. With
// TinyConfig::projectionSchemes, the projection matmuls (q, k, v, o, gate, up,
// down) are DequantMatMul steps over weights quantized by the compiler's
// round-to-nearest quantizers (quant/Quantize/RoundToNearest.h), and the
// model's float matrices are their dequantized values, so a float reference
// still reads what the plan stores.
//
//===----------------------------------------------------------------------===//

#ifndef QRT_TEST_UNIT_RUNTIME_TESTPLANS_H
#define QRT_TEST_UNIT_RUNTIME_TESTPLANS_H

#include "qrt/core/Plan.h"
#include "qrt/core/PlanWriter.h"
#include "qrt/core/QuantizedWeight.h"
#include "qrt/cuda/Executable.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace qrt::test {

//===----------------------------------------------------------------------===//
// Plans
//===----------------------------------------------------------------------===//

/// `spec` as a weightless plan (Plan.weightless, weight_seed `seed`): each
/// weight keeps the size of its bytes (or its `size`), but no bytes are
/// written.
std::vector<uint8_t> weightlessPlanBytes(PlanDesc spec, uint64_t seed);

/// `spec` with `executable` as its CUDA code (a TargetCode "cuda").
PlanDesc withExecutable(PlanDesc spec, const cuda::ExecutableDesc &executable);

/// Moves weight `index`'s WeightInfo.offset by `delta` in a written plan
/// (its bytes stay where they are): a damage the writer cannot be asked
/// for.
void patchWeightOffset(std::vector<uint8_t> &plan, uint32_t index,
                       int64_t delta);

//===----------------------------------------------------------------------===//
// Quantized weights
//===----------------------------------------------------------------------===//

/// The storage scheme of a quantized weight: intN or NF4.
struct WeightScheme {
  QuantizedView::Kind kind = QuantizedView::Kind::IntN;
  IntNScheme intN;
  Float4Scheme float4;

  static WeightScheme of(const IntNScheme &scheme);
  static WeightScheme of(const Float4Scheme &scheme);
  /// Step.quant of a [rows, cols] weight in this scheme, as the compiler
  /// writes it.
  QuantDesc spec(int64_t rows, int64_t cols) const;
  /// E.g. "int4_g32_asym_f16", "nf4_b64_dq48".
  std::string name() const;
};

/// w [rows, cols] (row-major) quantized in `scheme` by round to nearest, with
/// quant::quantizeIntN or quantizeFloat4. Act order, which those refuse (it needs
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
PlanDesc tinyPlanSpec(const TinyModel &model);

inline std::vector<uint8_t> tinyPlanBytes(const TinyConfig &config) {
  return writePlan(tinyPlanSpec(makeTinyModel(config)));
}

//===----------------------------------------------------------------------===//
// Comparisons
//===----------------------------------------------------------------------===//

/// max |a[i] - b[i]|; infinite where either value is not finite or the
/// sizes differ.
double maxAbsDifference(const std::vector<float> &a,
                        const std::vector<float> &b);

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
  std::unique_ptr<LoadedPlan> plan;
  std::string error;
};
std::unique_ptr<OpenedPlan> openPlan(const std::vector<uint8_t> &bytes);

/// Scheme builders for tests.
IntNScheme intNScheme(int bits, int64_t groupSize, bool symmetric,
                      ScaleType scales, bool actOrder = false);
/// NF4 with double quantization in blocks of `doubleQuantBlock` (0: none).
Float4Scheme nf4Scheme(int64_t blockSize, ScaleType scales,
                    int64_t doubleQuantBlock = 0);

} // namespace qrt::test

#endif // QRT_TEST_UNIT_RUNTIME_TESTPLANS_H
