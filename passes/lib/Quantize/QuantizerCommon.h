//===- QuantizerCommon.h - what every quantizer does with its weight --*- C++
//-*-===//
//
// Internal to QuantQuantize: the checks and the allocation that round to
// nearest and GPTQ share.
//
//===----------------------------------------------------------------------===//

#ifndef QUANT_LIB_QUANTIZE_QUANTIZERCOMMON_H
#define QUANT_LIB_QUANTIZE_QUANTIZERCOMMON_H

#include "qrt/core/QuantizedWeight.h"

#include <cmath>
#include <cstdint>
#include <string>

namespace quant::detail {

/// "holds a NaN or infinity at row r, column c" for the first such value of
/// v [rows, cols], or an empty string.
inline std::string findNonFinite(const float *v, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      if (!std::isfinite(v[r * cols + c]))
        return "holds a NaN or infinity at row " + std::to_string(r) +
               ", column " + std::to_string(c);
  return {};
}

/// `out` with zeroed components of `layout`.
inline void allocateComponents(qrt::QuantizedWeight &out,
                               qrt::WeightLayout layout) {
  out.layout = std::move(layout);
  out.components.clear();
  for (const qrt::Component &c : out.layout.components)
    out.components.emplace_back(static_cast<size_t>(c.bytes()), 0);
}

} // namespace quant::detail

#endif // QUANT_LIB_QUANTIZE_QUANTIZERCOMMON_H
