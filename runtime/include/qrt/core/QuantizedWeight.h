//===- QuantizedWeight.h - quantized weights as stored ----------*- C++ -*-===//
//
// A read-only view of a stored quantized weight (in a plan or in memory), a
// weight held in memory, the scalar reference dequantizer, and how scales
// are stored. The runtime owns these formats; the compiler's quantizers
// (passes/include/quant/Quantize) produce weights in them, the CPU kernels
// read QuantizedView and are tested against dequantizeRows. No MLIR/LLVM
// here, and no quantizer: algorithms that choose codes live in the
// compiler.
//
//===----------------------------------------------------------------------===//

#ifndef QRT_CORE_QUANTIZEDWEIGHT_H
#define QRT_CORE_QUANTIZEDWEIGHT_H

#include "qrt/core/WeightFormat.h"

#include <cstdint>
#include <string>
#include <vector>

namespace qrt {

/// A quantized [rows, cols] weight as stored (in a plan or in memory): the
/// scheme and pointers to its components. Pointers of components the scheme
/// does not have are null.
struct QuantizedView {
  enum class Kind : uint8_t { IntN, Float4 };
  Kind kind = Kind::IntN;
  IntNScheme intN;
  Float4Scheme float4;
  int64_t rows = 0;
  int64_t cols = 0;
  const uint8_t *data = nullptr;       ///< [rows, packedBytes(cols, bits)]
  const void *scales = nullptr;        ///< [rows, groups]: scale type, or u8
                                       ///< codes (NF4, FP4 with double quant)
  const uint8_t *zeroPoints = nullptr; ///< [rows, packedBytes(groups, bits)]
  const int32_t *groupIndex = nullptr; ///< [cols] (act order)
  const float *doubleQuantScales = nullptr; ///< NF4, FP4 double quant
  float doubleQuantOffset = 0.0f;           ///< NF4, FP4 double quant

  int bits() const { return kind == Kind::Float4 ? 4 : intN.bits; }
  /// Columns per group (block); kPerChannel for one group per row.
  int64_t groupSize() const {
    return kind == Kind::Float4 ? float4.blockSize : intN.groupSize;
  }
  int64_t groups() const { return numGroups(cols, groupSize()); }
  /// Bytes of one row of packed codes.
  int64_t rowBytes() const { return packedBytes(cols, bits()); }
  WeightLayout layout() const {
    return kind == Kind::Float4 ? layoutFor(float4, rows, cols)
                             : layoutFor(intN, rows, cols);
  }
  /// The group of column c.
  int64_t groupOf(int64_t c) const {
    if (groupIndex)
      return groupIndex[c];
    int64_t g = groupSize();
    return g == kPerChannel ? 0 : c / g;
  }
  /// The scale of group g of row r as a float (for NF4 and FP4 the absmax, decoded
  /// from its 8-bit code with double quantization).
  float scale(int64_t r, int64_t g) const;
  /// The zero point of group g of row r (2^(bits-1) when symmetric, 0 for
  /// NF4 and FP4, which have none).
  int zeroPoint(int64_t r, int64_t g) const;
};

/// Sets the component pointers of `view` (kind, scheme, rows and cols already
/// set) from `components`, in the order of view.layout(). False if the count
/// does not match.
bool bindComponents(QuantizedView &view,
                    const std::vector<const void *> &components);

/// Reference dequantization: rows [row0, row0 + count) of `w` as f32 into
/// out [count, cols]. Scalar and simple on purpose (tests compare kernels with
/// it).
void dequantizeRows(const QuantizedView &w, int64_t row0, int64_t count,
                    float *out);

/// The 256 values of bitsandbytes' signed dynamic 8-bit map
/// (create_dynamic_map(signed=True): 7 decades 1e-6..1 of linearly spaced
/// fractions, both signs, 0 and 1), ascending. Computed in double and rounded
/// to f32 (torch computes the fractions in f32: entries may differ from
/// bitsandbytes' in the last bit).
const float *dynamicMap8();

/// A weight quantized in memory: its components, in layout order.
struct QuantizedWeight {
  WeightLayout layout;
  std::vector<std::vector<uint8_t>> components;

  /// A view of these components (valid while this object lives).
  QuantizedView view(const IntNScheme &scheme) const;
  QuantizedView view(const Float4Scheme &scheme) const;
};

/// `value` rounded to `type` (f32, f16, bf16), its bytes written at `out`;
/// returns the rounded value.
float storeScale(float value, ScaleType type, uint8_t *out);

} // namespace qrt

#endif // QRT_CORE_QUANTIZEDWEIGHT_H
