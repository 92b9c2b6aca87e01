//===- PlanSchema.h - facts of the plan format both sides use ---*- C++ -*-===//
//
// The schema's version, the weights' alignment and checksum, element sizes
// and the conversions of the weight formats (qrt/core/WeightFormat.h) to
// schema types: what the plan writer (qrt/core/PlanWriter.h) and the loader
// (qrt/core/Plan.h) agree on, defined once.
//
//===----------------------------------------------------------------------===//

#ifndef QRT_CORE_PLANSCHEMA_H
#define QRT_CORE_PLANSCHEMA_H

#include "qrt/core/WeightFormat.h"
#include "qrt/schema/plan_generated.h"

#include <cstddef>
#include <cstdint>
#include <optional>

namespace qrt {

/// The schema's major version this runtime reads and the compiler writes.
/// 2: backend code and launches in TargetCode executables.
inline constexpr uint32_t kPlanVersion = 2;
/// Alignment of every weight in the file.
inline constexpr uint64_t kWeightAlignment = 64;
/// Alignment of a TargetCode's executable (a nested FlatBuffer with 64-bit
/// fields) in the plan.
inline constexpr uint64_t kExecutableAlignment = 16;

/// The 64-bit checksum of weights (fast, not cryptographic).
uint64_t checksum64(const void *data, size_t size);

/// Bytes of one element of `type`, or 0 for an unknown type.
size_t dtypeBytes(fb::DType type);

/// Elements of `tensor` with the token dimension (-1) taken as `tokens`.
uint64_t tensorElements(const fb::TensorInfo &tensor, int64_t tokens);

/// The schema type of a stored scale and of a component element.
fb::DType dtypeOf(ScaleType type);
fb::DType dtypeOf(ElementKind kind);
/// The scale type stored as `type`, or nullopt (not f32, f16 or bf16).
std::optional<ScaleType> scaleTypeOf(fb::DType type);

/// "f32", "u8", ...: the lower-case name of a schema type.
const char *dtypeName(fb::DType type);

} // namespace qrt

#endif // QRT_CORE_PLANSCHEMA_H
