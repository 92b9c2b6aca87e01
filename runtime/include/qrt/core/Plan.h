//===- Plan.h - loading and verifying runtime plans -------------*- C++ -*-===//
//
// A plan (.qplan) is a size-prefixed FlatBuffer (runtime/schema/plan.fbs)
// followed by the weights at 64-byte aligned offsets. Nothing in a plan is
// trusted: verifyPlan checks the FlatBuffer, the version, every offset, size
// and shape the kernels will use, the weights' checksums, and the CUDA code
// and every launch of a plan for the CUDA target (functions it defines, grid
// and block bounds, the launches' own buffers), before the runtime reads
// anything else from it. A weightless plan stores no weight bytes (offsets
// and checksums 0): MappedPlan synthesizes them at open.
//
//===----------------------------------------------------------------------===//

#ifndef QRT_CORE_PLAN_H
#define QRT_CORE_PLAN_H

#include "qrt/core/Quantize.h"
#include "qrt/schema/plan_generated.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

namespace qrt {

/// The schema's major version this runtime reads and the compiler writes.
inline constexpr uint32_t kPlanVersion = 1;
/// Alignment of every weight in the file.
inline constexpr uint64_t kWeightAlignment = 64;

/// The 64-bit checksum of weights (fast, not cryptographic).
uint64_t checksum64(const void *data, size_t size);

/// Bytes of one element of `type`, or 0 for an unknown type.
size_t dtypeBytes(fb::DType type);

/// Elements of `tensor` with the token dimension (-1) taken as `tokens`.
uint64_t tensorElements(const fb::TensorInfo &tensor, int64_t tokens);

/// Verifies the plan in [data, data + size). With `checksums`, also hashes
/// every weight. On failure returns false and says why in `error`.
bool verifyPlan(const uint8_t *data, size_t size, bool checksums,
                std::string &error);

/// A verified plan mapped read-only from a file. The weights of a weightless
/// plan are synthesized at open (qrt/core/SyntheticWeights.h) into memory
/// the MappedPlan owns.
class MappedPlan {
public:
  /// Maps and verifies `path`; nullptr and `error` on failure.
  static std::unique_ptr<MappedPlan>
  open(const std::string &path, std::string &error, bool checksums = true);
  ~MappedPlan();
  MappedPlan(const MappedPlan &) = delete;
  MappedPlan &operator=(const MappedPlan &) = delete;

  const fb::Plan &plan() const { return *plan_; }
  const uint8_t *data() const { return data_; }
  size_t size() const { return size_; }
  /// The bytes of weight `index` (verified to lie in the file, or
  /// synthesized for a weightless plan).
  const void *weight(uint32_t index) const;
  /// Whether the weights were synthesized (a weightless plan).
  bool weightless() const { return synthetic_ != nullptr; }
  /// Bytes of memory holding the synthesized weights (0 unless weightless).
  size_t syntheticBytes() const { return syntheticSize_; }

private:
  MappedPlan() = default;
  /// Allocates and fills the weights of a weightless plan.
  bool synthesize(std::string &error);
  const uint8_t *data_ = nullptr;
  size_t size_ = 0;
  const fb::Plan *plan_ = nullptr;
  uint8_t *synthetic_ = nullptr;
  size_t syntheticSize_ = 0;
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

/// The plan type of a component element.
fb::DType dtypeOf(ElementKind kind);

/// A JSON view of a plan without weight bytes (for tests and users).
void writePlanJson(const fb::Plan &plan, std::ostream &os);

} // namespace qrt

#endif // QRT_CORE_PLAN_H
