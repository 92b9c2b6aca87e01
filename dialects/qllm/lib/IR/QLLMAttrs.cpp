//===- QLLMAttrs.cpp - qllm attributes and the scheme interface -----------===//

#include "qllm/IR/QLLMAttrs.h"
#include "qllm/IR/QLLMDialect.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::qllm;

#include "qllm/IR/QLLMAttrInterfaces.cpp.inc"
#include "qllm/IR/QLLMEnums.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "qllm/IR/QLLMAttrs.cpp.inc"

void QLLMDialect::registerAttributes() {
  addAttributes<
#define GET_ATTRDEF_LIST
#include "qllm/IR/QLLMAttrs.cpp.inc"
      >();
}

FailureOr<int64_t> mlir::qllm::parseGroupSize(AsmParser &parser) {
  if (succeeded(parser.parseOptionalKeyword("per_channel")))
    return ::qrt::kPerChannel;
  int64_t value = 0;
  SMLoc loc = parser.getCurrentLocation();
  OptionalParseResult parsed = parser.parseOptionalInteger(value);
  if (!parsed.has_value())
    return parser.emitError(loc, "expected a group size: an integer or "
                                 "per_channel");
  if (failed(*parsed))
    return failure();
  return value;
}

void mlir::qllm::printGroupSize(AsmPrinter &printer, int64_t groupSize) {
  if (groupSize == ::qrt::kPerChannel)
    printer << "per_channel";
  else
    printer << groupSize;
}

FailureOr<::qrt::ScaleType> mlir::qllm::toScaleType(Type type) {
  if (type.isF32())
    return ::qrt::ScaleType::F32;
  if (type.isF16())
    return ::qrt::ScaleType::F16;
  if (type.isBF16())
    return ::qrt::ScaleType::BF16;
  return failure();
}

//===----------------------------------------------------------------------===//
// IntQuantAttr
//===----------------------------------------------------------------------===//

::qrt::IntNScheme IntQuantAttr::getScheme() const {
  ::qrt::IntNScheme scheme;
  scheme.bits = static_cast<int>(getBits());
  scheme.groupSize = getGroupSize();
  scheme.symmetric = getSymmetric();
  scheme.actOrder = getActOrder();
  // Verified to be a supported float type; fall back harmlessly otherwise.
  scheme.scaleType = succeeded(toScaleType(getScaleType()))
                         ? *toScaleType(getScaleType())
                         : ::qrt::ScaleType::F32;
  return scheme;
}

LogicalResult
IntQuantAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                     unsigned bits, int64_t groupSize, bool symmetric,
                     bool actOrder, FloatType scaleType) {
  if (failed(toScaleType(scaleType)))
    return emitError() << "scale_type must be f32, f16 or bf16, got "
                       << scaleType;
  ::qrt::IntNScheme scheme;
  scheme.bits = static_cast<int>(bits);
  scheme.groupSize = groupSize;
  scheme.symmetric = symmetric;
  scheme.actOrder = actOrder;
  std::string problem = ::qrt::validate(scheme);
  if (!problem.empty())
    return emitError() << "invalid #qllm.intq scheme: " << problem;
  return success();
}

unsigned IntQuantAttr::getCodeBits() const { return getBits(); }

::qrt::WeightLayout IntQuantAttr::getLayout(int64_t rows, int64_t cols) const {
  return ::qrt::layoutFor(getScheme(), rows, cols);
}

//===----------------------------------------------------------------------===//
// NF4Attr, FP4Attr
//===----------------------------------------------------------------------===//

namespace {

::qrt::Float4Scheme float4Scheme(::qrt::Float4Codes codes, int64_t blockSize,
                                 bool doubleQuant,
                                 int64_t doubleQuantBlockSize,
                                 FloatType scaleType) {
  ::qrt::Float4Scheme scheme;
  scheme.codes = codes;
  scheme.blockSize = blockSize;
  scheme.doubleQuant = doubleQuant;
  scheme.doubleQuantBlockSize = doubleQuantBlockSize;
  scheme.scaleType = succeeded(toScaleType(scaleType)) ? *toScaleType(scaleType)
                                                       : ::qrt::ScaleType::F32;
  return scheme;
}

LogicalResult verifyFloat4(function_ref<InFlightDiagnostic()> emitError,
                           ::qrt::Float4Codes codes, int64_t blockSize,
                           bool doubleQuant, int64_t doubleQuantBlockSize,
                           FloatType scaleType) {
  if (failed(toScaleType(scaleType)))
    return emitError() << "scale_type must be f32, f16 or bf16, got "
                       << scaleType;
  if (!doubleQuant &&
      doubleQuantBlockSize != ::qrt::Float4Scheme().doubleQuantBlockSize)
    return emitError() << "double_quant_block_size is set but double_quant is "
                          "false";
  if (doubleQuant && !scaleType.isF32())
    return emitError() << "scale_type has no meaning with double_quant = true "
                          "(absmax is stored as 8-bit codes with f32 scales)";
  std::string problem = ::qrt::validate(float4Scheme(
      codes, blockSize, doubleQuant, doubleQuantBlockSize, scaleType));
  if (!problem.empty())
    return emitError() << "invalid #qllm." << ::qrt::float4CodesName(codes)
                       << " scheme: " << problem;
  return success();
}

} // namespace

#define QLLM_FLOAT4_ATTR(ATTR)                                                 \
  ::qrt::Float4Scheme ATTR::getScheme() const {                                \
    return float4Scheme(kCodes, getBlockSize(), getDoubleQuant(),              \
                        getDoubleQuantBlockSize(), getScaleType());            \
  }                                                                            \
  LogicalResult ATTR::verify(function_ref<InFlightDiagnostic()> emitError,     \
                             int64_t blockSize, bool doubleQuant,              \
                             int64_t doubleQuantBlockSize,                     \
                             FloatType scaleType) {                            \
    return verifyFloat4(emitError, kCodes, blockSize, doubleQuant,             \
                        doubleQuantBlockSize, scaleType);                      \
  }                                                                            \
  unsigned ATTR::getCodeBits() const { return 4; }                             \
  ::qrt::WeightLayout ATTR::getLayout(int64_t rows, int64_t cols) const {      \
    return ::qrt::layoutFor(getScheme(), rows, cols);                          \
  }
QLLM_FLOAT4_ATTR(NF4Attr)
QLLM_FLOAT4_ATTR(FP4Attr)
#undef QLLM_FLOAT4_ATTR

std::optional<::qrt::Float4Scheme> mlir::qllm::float4SchemeOf(Attribute scheme) {
  if (auto nf4 = dyn_cast_or_null<NF4Attr>(scheme))
    return nf4.getScheme();
  if (auto fp4 = dyn_cast_or_null<FP4Attr>(scheme))
    return fp4.getScheme();
  return std::nullopt;
}

bool mlir::qllm::int8ActivationsSupported(Attribute scheme) {
  if (auto intq = dyn_cast_or_null<IntQuantAttr>(scheme))
    return ::qrt::int8ActivationsSupported(intq.getScheme());
  if (std::optional<::qrt::Float4Scheme> float4 = float4SchemeOf(scheme))
    return ::qrt::int8ActivationsSupported(*float4);
  return false;
}
