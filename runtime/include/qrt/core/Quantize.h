//===- Quantize.h - Quantizing and reading quantized weights ----*- C++ -*-===//
//
// Round-to-nearest quantizers for the formats of WeightFormat.h, a read-only
// view of a stored quantized weight, and a scalar reference dequantizer. The
// compiler's qllm-quantize-weights pass and (later) calibration-based methods
// produce weights with these; the CPU kernels read QuantizedView and are
// tested against dequantizeRows. No MLIR/LLVM here.
//
// Round to nearest, per row r and group g (columns [g*G, min((g+1)*G, cols)),
// or the whole row per channel); "round" is round-half-to-even, and `stored(x)`
// is x rounded to the scheme's scale type (f32, f16 or bf16):
//
//   intN asymmetric: lo = min(0, min w), hi = max(0, max w);
//                    s = stored((hi - lo) / (2^bits - 1));
//                    z = clamp(round(-lo / s), 0, 2^bits - 1);
//   intN symmetric:  s = stored(max |w| / (2^(bits-1) - 1)); z = 2^(bits-1);
//   then             q = clamp(round(w / s) + z, 0, 2^bits - 1)
//                    (q = z where s == 0: an all-zero group).
//
//   NF4 (bitsandbytes): absmax = max |w| of the block; q = the index of the
//   NF4 code nearest to w / absmax (ties to the lower index; q = 7, the code
//   0, where absmax == 0); absmax stored as the scale type.
//   Double quantization (QLoRA): over the row-major [rows, blocks] absmax
//   array, offset = mean(absmax) (f32); a = absmax - offset; in blocks of
//   doubleQuantBlockSize, c = max |a| (f32) and each a is stored as the index
//   of the value of dynamicMap8() nearest to a / c (ties to the lower index).
//   The 4-bit codes use the exact absmax, as bitsandbytes does.
//
//===----------------------------------------------------------------------===//

#ifndef QRT_CORE_QUANTIZE_H
#define QRT_CORE_QUANTIZE_H

#include "qrt/core/WeightFormat.h"

#include <cstdint>
#include <string>
#include <vector>

namespace qrt {

/// A quantized [rows, cols] weight as stored (in a plan or in memory): the
/// scheme and pointers to its components. Pointers of components the scheme
/// does not have are null.
struct QuantizedView {
  enum class Kind : uint8_t { IntN, NF4 };
  Kind kind = Kind::IntN;
  IntNScheme intN;
  NF4Scheme nf4;
  int64_t rows = 0;
  int64_t cols = 0;
  const uint8_t *data = nullptr;       ///< [rows, packedBytes(cols, bits)]
  const void *scales = nullptr;        ///< [rows, groups]: scale type, or u8
                                       ///< codes (NF4 with double quant)
  const uint8_t *zeroPoints = nullptr; ///< [rows, packedBytes(groups, bits)]
  const int32_t *groupIndex = nullptr; ///< [cols] (act order)
  const float *doubleQuantScales = nullptr; ///< NF4 double quant
  float doubleQuantOffset = 0.0f;           ///< NF4 double quant

  int bits() const { return kind == Kind::NF4 ? 4 : intN.bits; }
  /// Columns per group (block); kPerChannel for one group per row.
  int64_t groupSize() const {
    return kind == Kind::NF4 ? nf4.blockSize : intN.groupSize;
  }
  int64_t groups() const { return numGroups(cols, groupSize()); }
  /// Bytes of one row of packed codes.
  int64_t rowBytes() const { return packedBytes(cols, bits()); }
  WeightLayout layout() const {
    return kind == Kind::NF4 ? layoutFor(nf4, rows, cols)
                             : layoutFor(intN, rows, cols);
  }
  /// The group of column c.
  int64_t groupOf(int64_t c) const {
    if (groupIndex)
      return groupIndex[c];
    int64_t g = groupSize();
    return g == kPerChannel ? 0 : c / g;
  }
  /// The scale of group g of row r as a float (for NF4 the absmax, decoded
  /// from its 8-bit code with double quantization).
  float scale(int64_t r, int64_t g) const;
  /// The zero point of group g of row r (2^(bits-1) when symmetric, 0 for
  /// NF4, which has none).
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
  QuantizedView view(const NF4Scheme &scheme) const;
};

/// Round-to-nearest quantization of w [rows, cols] (f32, row-major) into
/// `out`. Returns an empty string, or what is wrong: an invalid scheme, a
/// NaN or infinite value (with its row and column), act order (which needs a
/// group index from a calibrated method), or a scale that overflows the scale
/// type.
std::string quantizeIntN(const IntNScheme &scheme, const float *w,
                         int64_t rows, int64_t cols, QuantizedWeight &out);
std::string quantizeNF4(const NF4Scheme &scheme, const float *w, int64_t rows,
                        int64_t cols, QuantizedWeight &out);

} // namespace qrt

#endif // QRT_CORE_QUANTIZE_H
