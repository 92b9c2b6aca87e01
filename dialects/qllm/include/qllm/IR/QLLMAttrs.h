//===- QLLMAttrs.h - qllm attributes, enums, scheme interface ---*- C++ -*-===//

#ifndef QLLM_IR_QLLMATTRS_H
#define QLLM_IR_QLLMATTRS_H

#include "mlir/IR/Attributes.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/DialectImplementation.h"
#include "qrt/core/WeightFormat.h"

namespace mlir::qllm {
/// Parses a quantization group size: a positive integer or `per_channel`.
FailureOr<int64_t> parseGroupSize(AsmParser &parser);
/// Prints a group size as parsed by parseGroupSize.
void printGroupSize(AsmPrinter &printer, int64_t groupSize);
/// The runtime's scale type for a float type (f32, f16, bf16), or failure.
FailureOr<::qrt::ScaleType> toScaleType(Type type);
} // namespace mlir::qllm

#include "qllm/IR/QLLMEnums.h.inc"
#include "qllm/IR/QLLMAttrInterfaces.h.inc"

#define GET_ATTRDEF_CLASSES
#include "qllm/IR/QLLMAttrs.h.inc"

namespace mlir::qllm {
/// The scheme of a #qllm.nf4 or #qllm.fp4 attribute; nullopt for any other.
std::optional<::qrt::Float4Scheme> float4SchemeOf(Attribute scheme);
/// Whether the runtime has 8-bit-activation kernels for weights stored in
/// `scheme` (qrt::int8ActivationsSupported); false for an unknown scheme.
bool int8ActivationsSupported(Attribute scheme);
} // namespace mlir::qllm

#endif // QLLM_IR_QLLMATTRS_H
