//===- RoundToNearest.cpp - round-to-nearest quantizers -------------------===//

#include "quant/Quantize/RoundToNearest.h"

#include "QuantizerCommon.h"

#include <algorithm>
#include <cmath>
#include <cstring>

using namespace qrt;

namespace quant {

namespace {

/// Index of the entry of the ascending `table` nearest to x (ties to the
/// lower index).
template <size_t N> uint8_t nearestIndex(const float *table, float x) {
  const float *upper = std::lower_bound(table, table + N, x);
  if (upper == table)
    return 0;
  if (upper == table + N)
    return static_cast<uint8_t>(N - 1);
  const float *lower = upper - 1;
  return static_cast<uint8_t>((x - *lower <= *upper - x) ? lower - table
                                                         : upper - table);
}

std::string where(int64_t r, int64_t c) {
  return "row " + std::to_string(r) + ", column " + std::to_string(c);
}

/// What every quantizer checks of the weight before it writes `out`, which
/// it then allocates in `layout`.
std::string prepare(const float *w, int64_t rows, int64_t cols,
                    WeightLayout layout, QuantizedWeight &out) {
  if (rows <= 0 || cols <= 0)
    return "weight has no elements";
  if (std::string error = detail::findNonFinite(w, rows, cols); !error.empty())
    return error;
  detail::allocateComponents(out, std::move(layout));
  return {};
}

} // namespace

std::string quantizeIntN(const IntNScheme &scheme, const float *w, int64_t rows,
                         int64_t cols, QuantizedWeight &out) {
  std::string error = validate(scheme);
  if (error.empty() && scheme.actOrder)
    error = "act order needs a group index from a calibrated method (GPTQ); "
            "round-to-nearest quantizes columns in order";
  if (error.empty())
    error = prepare(w, rows, cols, layoutFor(scheme, rows, cols), out);
  if (!error.empty())
    return error;
  const int bits = scheme.bits;
  const int maxCode = (1 << bits) - 1;
  const int64_t groups = numGroups(cols, scheme.groupSize);
  const int64_t groupSize =
      scheme.groupSize == kPerChannel ? cols : scheme.groupSize;
  const unsigned scaleBytes = elementKindBytes(elementKindOf(scheme.scaleType));
  uint8_t *data = out.components[0].data();
  uint8_t *scales = out.components[1].data();
  uint8_t *zeroPoints = scheme.symmetric ? nullptr : out.components[2].data();
  const int64_t rowBytes = packedBytes(cols, bits);
  const int64_t zeroRowBytes = packedBytes(groups, bits);
  std::vector<uint8_t> codes(static_cast<size_t>(cols));
  std::vector<uint8_t> zeros(static_cast<size_t>(groups));
  for (int64_t r = 0; r < rows; ++r) {
    const float *row = w + r * cols;
    for (int64_t g = 0; g < groups; ++g) {
      int64_t begin = g * groupSize, end = std::min(cols, begin + groupSize);
      float lo = 0.0f, hi = 0.0f, absmax = 0.0f;
      for (int64_t c = begin; c < end; ++c) {
        lo = std::min(lo, row[c]);
        hi = std::max(hi, row[c]);
        absmax = std::max(absmax, std::fabs(row[c]));
      }
      float exact = scheme.symmetric
                        ? absmax / static_cast<float>((1 << (bits - 1)) - 1)
                        : (hi - lo) / static_cast<float>(maxCode);
      float s = storeScale(exact, scheme.scaleType,
                           scales + (r * groups + g) * scaleBytes);
      if (!std::isfinite(s))
        return "the scale of " + where(r, begin) + " (" +
               std::to_string(exact) + ") overflows " +
               scaleTypeName(scheme.scaleType);
      int z = implicitZeroPoint(bits);
      if (!scheme.symmetric) {
        z = s > 0.0f ? static_cast<int>(std::clamp(std::nearbyint(-lo / s),
                                                   0.0f, float(maxCode)))
                     : 0;
        zeros[g] = static_cast<uint8_t>(z);
      }
      for (int64_t c = begin; c < end; ++c) {
        float q = s > 0.0f ? std::nearbyint(row[c] / s) + static_cast<float>(z)
                           : static_cast<float>(z);
        codes[c] = static_cast<uint8_t>(std::clamp(q, 0.0f, float(maxCode)));
      }
    }
    packCodes(codes.data(), cols, bits, data + r * rowBytes);
    if (zeroPoints)
      packCodes(zeros.data(), groups, bits, zeroPoints + r * zeroRowBytes);
  }
  return {};
}

uint8_t fp4Code(float x) {
  // Midpoints of adjacent magnitudes (0, 0.0625, 2, 3, 4, 6, 8, 12) / 12:
  // codes 0, 1, 6, 7, 4, 5, 2, 3. bitsandbytes writes these literals.
  const uint8_t sign = x < 0.0f ? 8 : 0;
  const float a = std::fabs(x);
  uint8_t magnitude;
  if (a > 0.29166667f)
    magnitude = a > 0.583333f ? (a > 0.8333333f ? 3 : 2)
                              : (a > 0.4166667f ? 5 : 4);
  else
    magnitude = a > 0.0859375f ? (a > 0.20833333f ? 7 : 6)
                               : (a > 0.00260417f ? 1 : 0);
  return static_cast<uint8_t>(magnitude + sign);
}

std::string quantizeLlmInt8(const IntNScheme &scheme, const float *w,
                            int64_t rows, int64_t cols, QuantizedWeight &out) {
  std::string error = validate(scheme);
  if (error.empty() &&
      (scheme.bits != 8 || scheme.groupSize != kPerChannel ||
       !scheme.symmetric || scheme.actOrder))
    error = "LLM.int8() weights are 8-bit, per channel and symmetric";
  if (error.empty())
    error = prepare(w, rows, cols, layoutFor(scheme, rows, cols), out);
  if (!error.empty())
    return error;
  const unsigned scaleBytes = elementKindBytes(elementKindOf(scheme.scaleType));
  uint8_t *data = out.components[0].data();
  uint8_t *scales = out.components[1].data();
  for (int64_t r = 0; r < rows; ++r) {
    const float *row = w + r * cols;
    float absmax = 0.0f;
    for (int64_t c = 0; c < cols; ++c)
      absmax = std::max(absmax, std::fabs(row[c]));
    float s = storeScale(absmax / 127.0f, scheme.scaleType,
                         scales + r * scaleBytes);
    if (!std::isfinite(s))
      return "the scale of row " + std::to_string(r) + " overflows " +
             scaleTypeName(scheme.scaleType);
    const float inverse = absmax > 0.0f ? 127.0f / absmax : 0.0f;
    for (int64_t c = 0; c < cols; ++c)
      data[r * cols + c] =
          static_cast<uint8_t>(std::nearbyint(row[c] * inverse) + 128.0f);
  }
  return {};
}

std::string quantizeFloat4(const Float4Scheme &scheme, const float *w,
                           int64_t rows, int64_t cols, QuantizedWeight &out) {
  std::string error = validate(scheme);
  if (error.empty())
    error = prepare(w, rows, cols, layoutFor(scheme, rows, cols), out);
  if (!error.empty())
    return error;
  const int64_t blocks = numGroups(cols, scheme.blockSize);
  const int64_t rowBytes = packedBytes(cols, 4);
  std::vector<float> absmax(static_cast<size_t>(rows * blocks));
  std::vector<uint8_t> codes(static_cast<size_t>(cols));
  uint8_t *data = out.components[0].data();
  for (int64_t r = 0; r < rows; ++r) {
    const float *row = w + r * cols;
    for (int64_t b = 0; b < blocks; ++b) {
      int64_t begin = b * scheme.blockSize;
      int64_t end = std::min(cols, begin + scheme.blockSize);
      float m = 0.0f;
      for (int64_t c = begin; c < end; ++c)
        m = std::max(m, std::fabs(row[c]));
      absmax[r * blocks + b] = m;
      if (scheme.codes == Float4Codes::FP4) {
        const float inverse = m > 0.0f ? 1.0f / m : 0.0f;
        for (int64_t c = begin; c < end; ++c)
          codes[c] = fp4Code(row[c] * inverse);
      } else {
        for (int64_t c = begin; c < end; ++c)
          codes[c] = m > 0.0f ? nearestIndex<16>(kNF4Codes, row[c] / m) : 7;
      }
    }
    packCodes(codes.data(), cols, 4, data + r * rowBytes);
  }
  uint8_t *scales = out.components[1].data();
  if (!scheme.doubleQuant) {
    unsigned bytes = elementKindBytes(elementKindOf(scheme.scaleType));
    for (size_t i = 0; i < absmax.size(); ++i)
      if (!std::isfinite(
              storeScale(absmax[i], scheme.scaleType, scales + i * bytes)))
        return "the absmax of block " + std::to_string(i % blocks) +
               " of row " + std::to_string(i / blocks) + " overflows " +
               scaleTypeName(scheme.scaleType);
    return {};
  }
  // Double quantization of the absmax array.
  double sum = 0.0;
  for (float m : absmax)
    sum += m;
  float offset = static_cast<float>(sum / static_cast<double>(absmax.size()));
  const float *map = dynamicMap8();
  float *secondScales = reinterpret_cast<float *>(out.components[2].data());
  const int64_t count = static_cast<int64_t>(absmax.size());
  for (int64_t b = 0; b * scheme.doubleQuantBlockSize < count; ++b) {
    int64_t begin = b * scheme.doubleQuantBlockSize;
    int64_t end = std::min(count, begin + scheme.doubleQuantBlockSize);
    float c = 0.0f;
    for (int64_t i = begin; i < end; ++i)
      c = std::max(c, std::fabs(absmax[i] - offset));
    std::memcpy(&secondScales[b], &c, 4);
    for (int64_t i = begin; i < end; ++i)
      scales[i] = c > 0.0f ? nearestIndex<256>(map, (absmax[i] - offset) / c)
                           : nearestIndex<256>(map, 0.0f);
  }
  std::memcpy(out.components[3].data(), &offset, 4);
  return {};
}

} // namespace quant
