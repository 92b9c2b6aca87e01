//===- WeightFormat.h - Storage formats of quantized weights ----*- C++ -*-===//
//
// The runtime owns the storage formats of quantized weights: how codes are
// packed into bytes and which tensors (components) a quantized [rows, cols]
// weight is made of. The compiler produces weights in these formats and the
// runtime reads them, so both use this one definition. No MLIR/LLVM here.
//
// A quantized weight is a matrix of `rows` output channels by `cols` input
// channels (the reduction dimension K of a matmul). Quantization groups and
// blocks always run along `cols`, within one row.
//
//===----------------------------------------------------------------------===//

#ifndef QRT_CORE_WEIGHTFORMAT_H
#define QRT_CORE_WEIGHTFORMAT_H

#include <cstdint>
#include <string>
#include <vector>

namespace qrt {

/// Floating-point format of stored scales.
enum class ScaleType : uint8_t { F32, F16, BF16 };

/// Group size value meaning "one group spans the whole row" (per channel).
inline constexpr int64_t kPerChannel = -1;

/// Integer codes of `bits` bits in groups of `groupSize` consecutive columns
/// (the last group of a row may be partial). A weight is
///   w[r][c] = (q[r][c] - z[r][g]) * s[r][g],  g = group of column c
/// where z is the stored zero point (asymmetric) or 2^(bits-1) (symmetric).
/// With act order (GPTQ `g_idx`), column c belongs to group g_idx[c] instead
/// of c / groupSize.
struct IntNScheme {
  int bits = 4;
  int64_t groupSize = 128;
  bool symmetric = false;
  bool actOrder = false;
  ScaleType scaleType = ScaleType::F16;
};

/// The 16-value code tables of bitsandbytes' 4-bit schemes.
enum class Float4Codes : uint8_t {
  NF4, ///< NormalFloat (QLoRA): kNF4Codes
  FP4, ///< 1 sign, 2 exponent, 1 mantissa bits: kFP4Codes
};

/// bitsandbytes' 4-bit codes (`quant_type` "nf4" or "fp4": the 16 values of
/// float4CodeValues(codes)) in blocks of `blockSize` consecutive columns with
/// one absmax per block:
///   w[r][c] = values[q[r][c]] * absmax[r][b].
/// With double quantization (QLoRA), the absmax values are themselves
/// quantized to 8-bit codes in blocks of `doubleQuantBlockSize` over the
/// row-major [rows, blocks] array, after subtracting their mean (the offset).
struct Float4Scheme {
  int64_t blockSize = 64;
  bool doubleQuant = false;
  int64_t doubleQuantBlockSize = 256;
  ScaleType scaleType = ScaleType::F32;
  Float4Codes codes = Float4Codes::NF4;
};

/// What a component tensor of a quantized weight holds.
enum class ComponentRole : uint8_t {
  Data,              ///< packed codes, [rows, packedBytes(cols, bits)]
  Scales,            ///< scales or absmax (or their 8-bit codes), [rows, groups]
  ZeroPoints,        ///< packed zero points, [rows, packedBytes(groups, bits)]
  GroupIndex,        ///< group of each column (act order), [cols]
  DoubleQuantScales, ///< scales of the quantized absmax, [ceil(rows*groups/block)]
  DoubleQuantOffset, ///< mean subtracted from the absmax values, scalar
};

/// Element type of a component tensor.
enum class ElementKind : uint8_t { U8, I32, F32, F16, BF16 };

struct Component {
  ComponentRole role;
  ElementKind element;
  std::vector<int64_t> shape; ///< empty for a scalar

  uint64_t numElements() const;
  uint64_t bytes() const;
};

/// The components of one quantized weight, in a fixed order: Data, Scales,
/// then whichever of ZeroPoints, GroupIndex, DoubleQuantScales,
/// DoubleQuantOffset the scheme needs.
struct WeightLayout {
  int64_t rows = 0;
  int64_t cols = 0;
  std::vector<Component> components;

  /// The component with this role, or nullptr if the scheme has none.
  const Component *find(ComponentRole role) const;
  /// Bytes of all components together.
  uint64_t totalBytes() const;
  /// Stored bits per weight element, scales and zero points included.
  double bitsPerWeight() const;
};

const char *scaleTypeName(ScaleType type);
const char *componentRoleName(ComponentRole role);
const char *elementKindName(ElementKind kind);
unsigned elementKindBytes(ElementKind kind);
ElementKind elementKindOf(ScaleType type);

/// An empty string if the scheme is valid, else what is wrong with it.
std::string validate(const IntNScheme &scheme);
std::string validate(const Float4Scheme &scheme);

/// Whether the CPU has 8-bit-activation kernels for weights stored in
/// `scheme` (qrt::cpu::dequantMatmul with ActivationPrecision::Int8): 4-bit
/// and 8-bit codes without act order, and NF4 and FP4, with groups of whole
/// rows, 32 or 64 columns or a multiple of 128 (a block of 32 activations
/// then never straddles two groups).
bool int8ActivationsSupported(const IntNScheme &scheme);
bool int8ActivationsSupported(const Float4Scheme &scheme);

/// Component shapes of a [rows, cols] weight. The scheme must be valid and
/// rows, cols positive.
WeightLayout layoutFor(const IntNScheme &scheme, int64_t rows, int64_t cols);
WeightLayout layoutFor(const Float4Scheme &scheme, int64_t rows, int64_t cols);

/// Number of groups of `groupSize` columns in a row of `cols` (the last one
/// possibly partial); 1 for kPerChannel.
int64_t numGroups(int64_t cols, int64_t groupSize);

/// Bytes holding `count` codes of `bits` bits: ceil(count * bits / 8).
int64_t packedBytes(int64_t count, int bits);

/// Zero point of a symmetric scheme: 2^(bits-1).
inline int implicitZeroPoint(int bits) { return 1 << (bits - 1); }

/// Packs `count` codes (each < 2^bits) into a little-endian bit stream: code i
/// occupies bits [i*bits, (i+1)*bits) of the stream, bit 0 being the least
/// significant bit of byte 0. For 4 bits, element 2j is the low nibble of byte
/// j (as ONNX Runtime's MatMulNBits). `out` receives packedBytes(count, bits)
/// bytes; unused high bits of the last byte are zero.
void packCodes(const uint8_t *codes, int64_t count, int bits, uint8_t *out);

/// Code `index` of a stream written by packCodes.
uint8_t unpackCode(const uint8_t *packed, int64_t index, int bits);

/// Unpacks `count` codes written by packCodes.
void unpackCodes(const uint8_t *packed, int64_t count, int bits,
                 uint8_t *codes);

/// The 16 NF4 code values of bitsandbytes (QLoRA), in code order.
extern const float kNF4Codes[16];
/// The 16 FP4 code values of bitsandbytes (its get_4bit_type("fp4"): 0,
/// 0.0625, 8, 12, 4, 6, 2, 3 and their negatives, divided by 12), in code
/// order: bit 3 is the sign, so code 8 is -0.
extern const float kFP4Codes[16];
/// kNF4Codes or kFP4Codes.
const float *float4CodeValues(Float4Codes codes);
/// "nf4" or "fp4".
const char *float4CodesName(Float4Codes codes);

} // namespace qrt

#endif // QRT_CORE_WEIGHTFORMAT_H
