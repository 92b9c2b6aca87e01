//===- PlanWriter.h - writing runtime plans ---------------------*- C++ -*-===//
//
// The one writer of plans (.qplan): the runtime owns the schema
// (runtime/schema/plan.fbs) and its writer; the compiler's plan export fills
// a PlanDesc from the IR and calls writePlan, the runtime's tests build their
// plans the same way. A PlanDesc mirrors the schema field by field and is
// written as it is: the writer lays out the file (the FlatBuffer, padding to
// 64 bytes, the weights at 64-byte aligned offsets with their checksums) but
// checks nothing, so tests can also write damaged plans on purpose; readers
// verify (qrt/core/Plan.h).
//
// Every scalar is stored even when it equals its default (the FlatBuffer is
// built twice: once to learn its size, once with the weights' offsets), so
// tests can also mutate any scalar of a written plan in place
// (the schema is generated with --gen-mutable).
//
//===----------------------------------------------------------------------===//

#ifndef QRT_CORE_PLANWRITER_H
#define QRT_CORE_PLANWRITER_H

#include "qrt/core/PlanSchema.h"
#include "qrt/core/QuantizedWeight.h"

#include <algorithm>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace qrt {

/// Buffer: a tensor a step reads or writes.
struct BufferDesc {
  fb::BufferKind kind = fb::BufferKind::Arena;
  /// Arena byte offset, or weight index.
  uint64_t offset = 0;
  fb::DType dtype = fb::DType::F32;
  std::vector<int64_t> dims;
};

/// QuantScheme: the storage scheme of a DequantMatMul step's weight.
struct QuantDesc {
  fb::QuantKind kind = fb::QuantKind::IntN;
  int64_t rows = 0, cols = 0;
  int32_t bits = 4;
  /// IntN: columns per group (-1 per channel); NF4: columns per block.
  int64_t groupSize = 0;
  bool symmetric = false, actOrder = false;
  fb::DType scaleType = fb::DType::F16;
  bool doubleQuant = false;
  int64_t doubleQuantBlockSize = 0;

  /// The schema's description of a [rows, cols] weight stored in `scheme`
  /// (the one place a scheme becomes schema fields; quantizedViewOf in
  /// qrt/core/Plan.h reads them back).
  static QuantDesc of(const IntNScheme &scheme, int64_t rows, int64_t cols);
  static QuantDesc of(const Float4Scheme &scheme, int64_t rows, int64_t cols);
  static QuantDesc of(const QuantizedView &view);
};

struct StepDesc {
  fb::Kernel kernel = fb::Kernel::Add;
  std::vector<BufferDesc> inputs, outputs;
  /// The op's location in the source model, for messages.
  std::string name;
  float epsilon = 0, scale = 0, rotaryBase = 0;
  bool causal = false;
  int32_t layer = 0, heads = 0, kvHeads = 0, headDim = 0, rotaryDim = 0;
  fb::RotaryConvention convention = fb::RotaryConvention::Interleaved;
  float outlierThreshold = 0;
  bool int8Activations = false;
  /// Written as Step.quant when set.
  std::optional<QuantDesc> quant;
};

struct EntryDesc {
  std::string name;
  int32_t maxTokens = 0;
  uint64_t arenaBytes = 0;
  std::vector<StepDesc> steps;
  BufferDesc logits;
};

/// WeightInfo and the weight's bytes.
struct WeightDesc {
  std::string name;
  fb::DType dtype = fb::DType::F32;
  std::vector<int64_t> dims;
  /// The bytes: `bytes`, or, when `external` is set, `size` bytes there (not
  /// copied; they must live until the plan is written).
  std::vector<uint8_t> bytes;
  const void *external = nullptr;
  /// WeightInfo.size: the bytes' size when absent (a weightless plan gives
  /// it, with no bytes).
  std::optional<uint64_t> size;
  /// WeightInfo.checksum: checksum64 of the bytes when absent (0 in a
  /// weightless plan).
  std::optional<uint64_t> checksum;

  uint64_t byteSize() const {
    return size ? *size : external ? 0 : bytes.size();
  }
  const uint8_t *data() const {
    return external ? static_cast<const uint8_t *>(external) : bytes.data();
  }
  /// The bytes there are to write and checksum: byteSize(), or fewer when a
  /// test's `size` claims more than `bytes` holds (a damaged plan on
  /// purpose; the file then holds less than its WeightInfo says).
  uint64_t availableSize() const {
    return external ? byteSize() : std::min<uint64_t>(byteSize(), bytes.size());
  }
};

/// TargetCode: a backend's executable, a FlatBuffer of its own schema
/// (e.g. qrt::cuda::writeExecutable).
struct TargetDesc {
  std::string target;
  std::vector<uint8_t> executable;
};

struct ModelDesc {
  std::string architecture = "llama";
  int32_t dim = 0, hiddenDim = 0, layers = 0, heads = 0, kvHeads = 0,
          headDim = 0, vocab = 0, maxContext = 0, bos = 1, eos = 2;
  std::string tokenizer, source;
};

struct KvCacheDesc {
  int32_t layers = 0, kvHeads = 0, headDim = 0, capacity = 0;
  fb::DType dtype = fb::DType::F32;
};

/// Tensor parallelism: the ranks of the model the plan holds and, per rank,
/// the weight each weight index reads there (plan.fbs, Sharding).
struct ShardingDesc {
  int32_t worldSize = 1, rank = 0;
  std::vector<std::vector<uint32_t>> rankWeights;
};

struct PlanDesc {
  uint32_t version = kPlanVersion;
  std::string producer = "qrt";
  ModelDesc model;
  /// Written when set.
  std::optional<KvCacheDesc> kvCache = KvCacheDesc();
  std::vector<WeightDesc> weights;
  std::vector<EntryDesc> entries;
  std::vector<TargetDesc> targets;
  /// A weightless plan: WeightInfo names, types and sizes, no bytes (offsets
  /// and checksums 0 unless given); the runtime synthesizes the weights from
  /// weightSeed (qrt/core/SyntheticWeights.h).
  bool weightless = false;
  uint64_t weightSeed = 0;
  /// Written when set (absent: not sharded).
  std::optional<ShardingDesc> sharding;
};

/// A Buffer (and a vector of them) in `fbb`, as every FlatBuffer of a plan
/// stores buffers: the plan's steps, a backend executable's launches.
flatbuffers::Offset<fb::Buffer> createBuffer(flatbuffers::FlatBufferBuilder &fbb,
                                             const BufferDesc &buffer);
flatbuffers::Offset<flatbuffers::Vector<flatbuffers::Offset<fb::Buffer>>>
createBuffers(flatbuffers::FlatBufferBuilder &fbb,
              const std::vector<BufferDesc> &list);

/// Where writePlan puts the bytes, in order; false stops writing (the sink
/// says why in the error it reports to its caller).
using PlanSink = std::function<bool(const void *data, size_t size)>;

/// Writes the plan: the FlatBuffer, zero padding to the weight region, the
/// weights (each at its 64-byte aligned offset). False with `error` if the
/// sink fails or the layout does not converge (it does: only offsets change
/// between the builds).
bool writePlan(const PlanDesc &plan, const PlanSink &sink, std::string &error);

/// The plan's bytes in memory.
std::vector<uint8_t> writePlan(const PlanDesc &plan);

/// Bytes of the FlatBuffer part of a plan file (its size prefix + 4).
size_t flatBufferBytes(const std::vector<uint8_t> &plan);

} // namespace qrt

#endif // QRT_CORE_PLANWRITER_H
