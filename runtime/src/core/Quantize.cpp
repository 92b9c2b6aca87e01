//===- Quantize.cpp - Quantizing and reading quantized weights ------------===//

#include "qrt/core/Quantize.h"

#include "qrt/core/Half.h"

#include <algorithm>
#include <array>
#include <cassert>
#include <cmath>
#include <cstring>

namespace qrt {

namespace {

float loadScale(const void *scales, ScaleType type, int64_t index) {
  switch (type) {
  case ScaleType::F32: {
    float v;
    std::memcpy(&v, static_cast<const char *>(scales) + 4 * index, 4);
    return v;
  }
  case ScaleType::F16:
  case ScaleType::BF16: {
    uint16_t h;
    std::memcpy(&h, static_cast<const char *>(scales) + 2 * index, 2);
    return type == ScaleType::F16 ? halfToFloat(h) : bfloat16ToFloat(h);
  }
  }
  return 0.0f;
}

/// `value` rounded to `type`, and its bytes appended at `out`.
float storeScale(float value, ScaleType type, uint8_t *out) {
  switch (type) {
  case ScaleType::F32:
    std::memcpy(out, &value, 4);
    return value;
  case ScaleType::F16: {
    uint16_t h = floatToHalf(value);
    std::memcpy(out, &h, 2);
    return halfToFloat(h);
  }
  case ScaleType::BF16: {
    uint16_t b = floatToBfloat16(value);
    std::memcpy(out, &b, 2);
    return bfloat16ToFloat(b);
  }
  }
  return value;
}

/// Index of the entry of the ascending `table` nearest to x (ties to the
/// lower index).
template <size_t N>
uint8_t nearestIndex(const float *table, float x) {
  const float *upper = std::lower_bound(table, table + N, x);
  if (upper == table)
    return 0;
  if (upper == table + N)
    return static_cast<uint8_t>(N - 1);
  const float *lower = upper - 1;
  return static_cast<uint8_t>((x - *lower <= *upper - x) ? lower - table
                                                         : upper - table);
}

std::array<float, 256> buildDynamicMap8() {
  // bitsandbytes create_dynamic_map(signed=True, max_exponent_bits=7,
  // total_bits=8): for decade i (scale 10^(i-6)), 2^i fractions: the
  // midpoints of linspace(0.1, 1, 2^i + 1), with both signs; then 0 and 1.
  std::vector<float> values;
  for (int i = 0; i < 7; ++i) {
    int items = (1 << i) + 1;
    double step = 0.9 / (items - 1);
    double decade = std::pow(10.0, i - 6);
    for (int j = 0; j + 1 < items; ++j) {
      double mean = ((0.1 + j * step) + (0.1 + (j + 1) * step)) / 2.0;
      values.push_back(static_cast<float>(decade * mean));
      values.push_back(static_cast<float>(-decade * mean));
    }
  }
  values.push_back(0.0f);
  values.push_back(1.0f);
  assert(values.size() == 256);
  std::sort(values.begin(), values.end());
  std::array<float, 256> map;
  std::copy(values.begin(), values.end(), map.begin());
  return map;
}

std::string where(int64_t r, int64_t c) {
  return "row " + std::to_string(r) + ", column " + std::to_string(c);
}

} // namespace

const float *dynamicMap8() {
  static const std::array<float, 256> map = buildDynamicMap8();
  return map.data();
}

float QuantizedView::scale(int64_t r, int64_t g) const {
  int64_t index = r * groups() + g;
  if (kind == Kind::IntN)
    return loadScale(scales, intN.scaleType, index);
  if (!nf4.doubleQuant)
    return loadScale(scales, nf4.scaleType, index);
  uint8_t code = static_cast<const uint8_t *>(scales)[index];
  return dynamicMap8()[code] *
             doubleQuantScales[index / nf4.doubleQuantBlockSize] +
         doubleQuantOffset;
}

int QuantizedView::zeroPoint(int64_t r, int64_t g) const {
  if (kind == Kind::NF4)
    return 0;
  if (intN.symmetric)
    return implicitZeroPoint(intN.bits);
  return unpackCode(zeroPoints + r * packedBytes(groups(), intN.bits), g,
                    intN.bits);
}

bool bindComponents(QuantizedView &view,
                    const std::vector<const void *> &components) {
  WeightLayout layout = view.layout();
  if (components.size() != layout.components.size())
    return false;
  view.zeroPoints = nullptr;
  view.groupIndex = nullptr;
  view.doubleQuantScales = nullptr;
  view.doubleQuantOffset = 0.0f;
  for (size_t i = 0; i < components.size(); ++i) {
    const void *p = components[i];
    switch (layout.components[i].role) {
    case ComponentRole::Data:
      view.data = static_cast<const uint8_t *>(p);
      break;
    case ComponentRole::Scales:
      view.scales = p;
      break;
    case ComponentRole::ZeroPoints:
      view.zeroPoints = static_cast<const uint8_t *>(p);
      break;
    case ComponentRole::GroupIndex:
      view.groupIndex = static_cast<const int32_t *>(p);
      break;
    case ComponentRole::DoubleQuantScales:
      view.doubleQuantScales = static_cast<const float *>(p);
      break;
    case ComponentRole::DoubleQuantOffset:
      std::memcpy(&view.doubleQuantOffset, p, 4);
      break;
    }
  }
  return true;
}

void dequantizeRows(const QuantizedView &w, int64_t row0, int64_t count,
                    float *out) {
  int bits = w.bits();
  int64_t groups = w.groups();
  std::vector<float> scales(static_cast<size_t>(groups));
  std::vector<int> zeros(static_cast<size_t>(groups));
  for (int64_t i = 0; i < count; ++i) {
    int64_t r = row0 + i;
    for (int64_t g = 0; g < groups; ++g) {
      scales[g] = w.scale(r, g);
      zeros[g] = w.zeroPoint(r, g);
    }
    const uint8_t *row = w.data + r * w.rowBytes();
    for (int64_t c = 0; c < w.cols; ++c) {
      int64_t g = w.groupOf(c);
      int q = unpackCode(row, c, bits);
      out[i * w.cols + c] =
          w.kind == QuantizedView::Kind::NF4
              ? kNF4Codes[q] * scales[g]
              : static_cast<float>(q - zeros[g]) * scales[g];
    }
  }
}

namespace {

QuantizedView viewOf(const QuantizedWeight &weight, QuantizedView v) {
  v.rows = weight.layout.rows;
  v.cols = weight.layout.cols;
  std::vector<const void *> pointers;
  for (const std::vector<uint8_t> &c : weight.components)
    pointers.push_back(c.data());
  bindComponents(v, pointers);
  return v;
}

} // namespace

QuantizedView QuantizedWeight::view(const IntNScheme &scheme) const {
  QuantizedView v;
  v.kind = QuantizedView::Kind::IntN;
  v.intN = scheme;
  return viewOf(*this, v);
}

QuantizedView QuantizedWeight::view(const NF4Scheme &scheme) const {
  QuantizedView v;
  v.kind = QuantizedView::Kind::NF4;
  v.nf4 = scheme;
  return viewOf(*this, v);
}

namespace {

void allocate(QuantizedWeight &out, WeightLayout layout) {
  out.layout = std::move(layout);
  out.components.clear();
  for (const Component &c : out.layout.components)
    out.components.emplace_back(static_cast<size_t>(c.bytes()), 0);
}

std::string checkFinite(const float *w, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      if (!std::isfinite(w[r * cols + c]))
        return "holds a NaN or infinity at " + where(r, c);
  return {};
}

} // namespace

std::string quantizeIntN(const IntNScheme &scheme, const float *w,
                         int64_t rows, int64_t cols, QuantizedWeight &out) {
  std::string error = validate(scheme);
  if (!error.empty())
    return error;
  if (scheme.actOrder)
    return "act order needs a group index from a calibrated method (GPTQ); "
           "round-to-nearest quantizes columns in order";
  if (rows <= 0 || cols <= 0)
    return "weight has no elements";
  error = checkFinite(w, rows, cols);
  if (!error.empty())
    return error;
  allocate(out, layoutFor(scheme, rows, cols));
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
        codes[c] =
            static_cast<uint8_t>(std::clamp(q, 0.0f, float(maxCode)));
      }
    }
    packCodes(codes.data(), cols, bits, data + r * rowBytes);
    if (zeroPoints)
      packCodes(zeros.data(), groups, bits, zeroPoints + r * zeroRowBytes);
  }
  return {};
}

std::string quantizeNF4(const NF4Scheme &scheme, const float *w, int64_t rows,
                        int64_t cols, QuantizedWeight &out) {
  std::string error = validate(scheme);
  if (!error.empty())
    return error;
  if (rows <= 0 || cols <= 0)
    return "weight has no elements";
  error = checkFinite(w, rows, cols);
  if (!error.empty())
    return error;
  allocate(out, layoutFor(scheme, rows, cols));
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
      for (int64_t c = begin; c < end; ++c)
        codes[c] = m > 0.0f ? nearestIndex<16>(kNF4Codes, row[c] / m) : 7;
    }
    packCodes(codes.data(), cols, 4, data + r * rowBytes);
  }
  uint8_t *scales = out.components[1].data();
  if (!scheme.doubleQuant) {
    unsigned bytes = elementKindBytes(elementKindOf(scheme.scaleType));
    for (size_t i = 0; i < absmax.size(); ++i)
      if (!std::isfinite(storeScale(absmax[i], scheme.scaleType,
                                    scales + i * bytes)))
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

} // namespace qrt
