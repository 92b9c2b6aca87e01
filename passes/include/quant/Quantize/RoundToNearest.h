//===- RoundToNearest.h - round-to-nearest weight quantizers ----*- C++ -*-===//
//
// The compiler's quantizer algorithms, MLIR-free so that passes, tests and
// (later) GPTQ and the Python package share them; they write the runtime's
// storage formats (qrt/core/WeightFormat.h, qrt/core/QuantizedWeight.h).
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
//   FP4 (bitsandbytes' CUDA kernel dQuantizeFP4): x = w * (1 / absmax) in
//   f32; the sign bit (8) when x < 0; the magnitude code by comparing |x|
//   with the midpoints of adjacent code values, a value equal to a midpoint
//   taking the smaller magnitude (q = 0 where absmax == 0). Otherwise as NF4.
//   Double quantization (QLoRA): over the row-major [rows, blocks] absmax
//   array, offset = mean(absmax) (f32); a = absmax - offset; in blocks of
//   doubleQuantBlockSize, c = max |a| (f32) and each a is stored as the index
//   of the value of qrt::dynamicMap8() nearest to a / c (ties to the lower
//   index). The 4-bit codes use the exact absmax, as bitsandbytes does.
//
//   LLM.int8() weights (bitsandbytes' Int8Params): per row, SCB = max |w|;
//   q = round(w * (127 / SCB)) + 128 (f32 products), the scale SCB / 127
//   stored as the scale type (the symmetric 8-bit per-channel intN scheme);
//   q = 128 where SCB == 0.
//
// The independent references are test/e2e/reference/quant_numpy.py and
// llm_int8_numpy.py.
//
//===----------------------------------------------------------------------===//

#ifndef QUANT_QUANTIZE_ROUNDTONEAREST_H
#define QUANT_QUANTIZE_ROUNDTONEAREST_H

#include "qrt/core/QuantizedWeight.h"

#include <cstdint>
#include <string>

namespace quant {

/// Round-to-nearest quantization of w [rows, cols] (f32, row-major) into
/// `out`. Returns an empty string, or what is wrong: an invalid scheme, a
/// NaN or infinite value (with its row and column), act order (which needs a
/// group index from a calibrated method), or a scale that overflows the scale
/// type.
std::string quantizeIntN(const qrt::IntNScheme &scheme, const float *w,
                         int64_t rows, int64_t cols,
                         qrt::QuantizedWeight &out);
std::string quantizeFloat4(const qrt::Float4Scheme &scheme, const float *w,
                           int64_t rows, int64_t cols,
                           qrt::QuantizedWeight &out);
/// LLM.int8() weights in `scheme`, which must be 8-bit, per channel,
/// symmetric, without act order.
std::string quantizeLlmInt8(const qrt::IntNScheme &scheme, const float *w,
                            int64_t rows, int64_t cols,
                            qrt::QuantizedWeight &out);
/// The FP4 code of x in [-1, 1] (bitsandbytes' rule above).
uint8_t fp4Code(float x);

} // namespace quant

#endif // QUANT_QUANTIZE_ROUNDTONEAREST_H
