//===- Plan.h - loading and verifying runtime plans -------------*- C++ -*-===//
//
// A plan (.qplan) is a size-prefixed FlatBuffer (runtime/schema/plan.fbs)
// followed by the weights at 64-byte aligned offsets. Nothing in a plan is
// trusted: verifyPlan checks the FlatBuffer, the version, every offset, size
// and shape the kernels will use, and the weights' checksums before the
// runtime reads anything else from it. Backend code (TargetCode) is verified
// by its backend (qrt/core/Targets.h): by verifyPlan when the backend is
// registered, and always by the backend before it runs it. A weightless plan
// stores no weight bytes (offsets and checksums 0): LoadedPlan synthesizes
// them at open.
//
// Plans open from a file (mapped read-only) or from memory (e.g. a plan the
// compiler just wrote, from Python). A file can also be read into a copy in
// WeightMemory (huge pages, PlanHome), which the CPU kernels stream faster
// than a file mapping (qrt/core/WeightMemory.h); a weightless plan's
// weights are synthesized into WeightMemory.
//
//===----------------------------------------------------------------------===//

#ifndef QRT_CORE_PLAN_H
#define QRT_CORE_PLAN_H

#include "qrt/core/PlanSchema.h"
#include "qrt/core/QuantizedWeight.h"
#include "qrt/core/WeightMemory.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace qrt {

struct VerifyOptions {
  /// Also hash every weight (a full read of the weights). LoadedPlan hashes
  /// a split plan's weights per rank, at selectRank: a rank reads only its
  /// own.
  bool checksums = true;
};

/// Verifies the plan in [data, data + size): the core plan, and the code of
/// every registered target. On failure returns false and says why in
/// `error`.
bool verifyPlan(const uint8_t *data, size_t size, const VerifyOptions &options,
                std::string &error);
inline bool verifyPlan(const uint8_t *data, size_t size, bool checksums,
                       std::string &error) {
  VerifyOptions options;
  options.checksums = checksums;
  return verifyPlan(data, size, options, error);
}

/// Checks the checksums of `weights` (indices) of the verified plan in
/// `data`; false and `error` naming the first that fails.
bool verifyWeightChecksums(const fb::Plan &plan, const uint8_t *data,
                           const std::vector<uint32_t> &weights,
                           std::string &error);

/// Where openFile keeps a plan's bytes.
enum class PlanHome {
  /// The file's read-only mapping: pages load on first use and are shared
  /// with the page cache.
  Mapping,
  /// A copy in WeightMemory (huge pages), read from the file before the
  /// checksums are verified on it, so that the file's pages never count in
  /// the process's memory beside the copy; the CPU kernels stream it 10-20%
  /// faster than a file mapping. Split plans keep the mapping (each rank
  /// reads only its own weights' pages); weightless plans synthesize their
  /// weights into WeightMemory either way.
  WeightMemory,
};

/// A verified plan, mapped read-only from a file or held in memory. The
/// weights of a weightless plan are synthesized at open
/// (qrt/core/SyntheticWeights.h) into memory the LoadedPlan owns.
class LoadedPlan {
public:
  /// Maps (or, PlanHome::WeightMemory, copies) and verifies `path`; nullptr
  /// and `error` (naming the file) on failure.
  static std::unique_ptr<LoadedPlan>
  openFile(const std::string &path, std::string &error,
           const VerifyOptions &options = {},
           PlanHome home = PlanHome::Mapping);
  /// Verifies `bytes` and keeps them; nullptr and `error` (naming `name`)
  /// on failure.
  static std::unique_ptr<LoadedPlan>
  openMemory(std::vector<uint8_t> bytes, std::string &error,
             const VerifyOptions &options = {},
             const std::string &name = "<memory>");
  ~LoadedPlan();
  LoadedPlan(const LoadedPlan &) = delete;
  LoadedPlan &operator=(const LoadedPlan &) = delete;

  const fb::Plan &plan() const { return *plan_; }
  const uint8_t *data() const { return data_; }
  size_t size() const { return size_; }
  /// The file's path, or the name given to openMemory.
  const std::string &name() const { return name_; }
  /// The bytes of weight `index` (verified to lie in the plan, or
  /// synthesized for a weightless plan).
  const void *weight(uint32_t index) const;
  /// The writable bytes of weight `index` of a plan opened from memory (its
  /// own copy), nullptr for a mapped file or a weightless plan. Sessions
  /// created afterwards see what is written; a CPU session, which reads the
  /// plan's memory, also sees it from its next step on (calibration replaces
  /// float weights by their quantized values this way).
  void *mutableWeight(uint32_t index);
  /// Whether the weights were synthesized (a weightless plan).
  bool weightless() const { return synthetic_ != nullptr; }
  /// The ranks a tensor-parallel plan is split into (1 if it is not).
  int worldSize() const;
  /// The rank whose weights weight() returns: 0 until selectRank.
  int rank() const { return rank_; }
  /// From now on weight(i) returns rank `rank`'s weight for index i (plan.fbs,
  /// Sharding), after checking the checksums of that rank's weights (a split
  /// plan opened with checksums defers them to here, so that a rank reads
  /// only its own weights' pages); false and `error` for a rank the plan
  /// does not have, or a weight that fails its checksum. The synthesized
  /// weights of a weightless plan are the same on every rank (rank 0's
  /// shapes, which every rank shares).
  bool selectRank(int rank, std::string &error);
  /// Whether selectRank chose this plan's rank (always true of an unsplit
  /// plan): a split plan's sessions need it.
  bool rankSelected() const { return rankSelected_; }
  /// Bytes of memory holding the synthesized weights (0 unless weightless).
  size_t syntheticBytes() const {
    return synthetic_ ? synthetic_->size() : 0;
  }
  /// Where the weights are: "file mapping", "huge-page copy" (WeightMemory,
  /// on huge pages or not), "memory" (openMemory) or "synthesized".
  const char *weightHome() const;
  /// Bytes of the weights' memory on huge pages now (0 for a file mapping
  /// or openMemory's vector, and where the kernel gives none).
  size_t weightHugePageBytes() const;

private:
  LoadedPlan() = default;
  /// Verifies data_/size_ (moving an unsplit plan to WeightMemory first when
  /// `copyFrom` is a file descriptor, >= 0) and synthesizes a weightless
  /// plan's weights.
  bool load(const VerifyOptions &options, std::string &error,
            int copyFrom = -1);
  bool synthesize(std::string &error);
  const uint8_t *data_ = nullptr;
  size_t size_ = 0;
  std::string name_;
  /// A file mapping (munmap'ed), memory of openMemory (freed) or a copy in
  /// WeightMemory.
  bool mapped_ = false;
  std::vector<uint8_t> memory_;
  std::unique_ptr<WeightMemory> copy_;
  const fb::Plan *plan_ = nullptr;
  std::unique_ptr<WeightMemory> synthetic_;
  int rank_ = 0;
  bool rankSelected_ = true;
  /// A split plan's checksums, left for selectRank.
  bool checksumsPending_ = false;
  /// The selected rank's weight map (null: the identity).
  const flatbuffers::Vector<uint32_t> *rankMap_ = nullptr;
  std::vector<uint64_t> syntheticOffsets_;
};

/// The root table of a verified plan buffer.
inline const fb::Plan *planOf(const uint8_t *data) {
  return fb::GetSizePrefixedPlan(data);
}

/// The kind, scheme, rows and cols of the quantized weight that `scheme`
/// (a DequantMatMul step's) describes, component pointers unset. False, with
/// what is wrong in `error`, for an invalid scheme.
bool quantizedViewOf(const fb::QuantScheme *scheme, QuantizedView &view,
                     std::string &error);

/// For target verifiers (qrt/core/Targets.h): checks `buffer` as the
/// verifier checks a step's buffers in `entry` of the verified `plan`
/// (kind, type, shape, arena bounds at the entry's max_tokens, weight
/// index); false with `error` starting with `what`.
bool checkPlanBuffer(const fb::Plan &plan, const fb::Entry &entry,
                     const fb::Buffer *buffer, const std::string &what,
                     std::string &error);

/// "entry 'prefill' step 3 (layers.0.attention.wq)", for messages.
std::string stepWhere(const fb::Step &step, const fb::Entry &entry,
                      size_t index);

/// The quantized matrices of a plan (each counted once, however many steps
/// read it): how many, their elements and stored bytes (all components).
struct QuantizedFigures {
  int64_t matrices = 0, elements = 0, bytes = 0;
  /// Distinct scheme descriptions, comma-separated ("int4 g128 asym F16
  /// scales, nf4 block 64 double-quant").
  std::string schemes;
  double bitsPerWeight() const {
    return elements ? 8.0 * double(bytes) / double(elements) : 0.0;
  }
};
QuantizedFigures quantizedFigures(const fb::Plan &plan);

/// The weights the steps of `plan` read, each once, in step order: the
/// indices the steps name (rank < 0, or an unsplit plan), or the weights
/// they read on rank `rank` of a split plan (its Sharding map applied).
std::vector<uint32_t> weightsRead(const fb::Plan &plan, int rank = -1);

/// Bytes of the weights each rank's steps read (each weight once): one
/// entry per rank, one for an unsharded plan. Replicated weights count on
/// every rank.
std::vector<uint64_t> rankWeightBytes(const fb::Plan &plan);

/// A JSON view of a plan without weight bytes (for tests and users); the
/// executables of registered targets are described by their backends.
void writePlanJson(const fb::Plan &plan, std::ostream &os);
/// Pieces of the JSON view, for targets' own (and other JSON the runtime
/// writes): a string (escaped, quoted), a list of buffers.
std::string jsonQuoted(std::string_view text);
void writeJsonString(std::ostream &os, const flatbuffers::String *s);
void writeBuffersJson(
    std::ostream &os,
    const flatbuffers::Vector<flatbuffers::Offset<fb::Buffer>> *buffers);

} // namespace qrt

#endif // QRT_CORE_PLAN_H
