//===- QuantizedWeight.cpp - quantized weights as stored -----------------===//

#include "qrt/core/QuantizedWeight.h"

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

} // namespace

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

const float *dynamicMap8() {
  static const std::array<float, 256> map = buildDynamicMap8();
  return map.data();
}

float QuantizedView::scale(int64_t r, int64_t g) const {
  int64_t index = r * groups() + g;
  if (kind == Kind::IntN)
    return loadScale(scales, intN.scaleType, index);
  if (!float4.doubleQuant)
    return loadScale(scales, float4.scaleType, index);
  uint8_t code = static_cast<const uint8_t *>(scales)[index];
  return dynamicMap8()[code] *
             doubleQuantScales[index / float4.doubleQuantBlockSize] +
         doubleQuantOffset;
}

int QuantizedView::zeroPoint(int64_t r, int64_t g) const {
  if (kind == Kind::Float4)
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
          w.kind == QuantizedView::Kind::Float4
              ? float4CodeValues(w.float4.codes)[q] * scales[g]
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

QuantizedView QuantizedWeight::view(const Float4Scheme &scheme) const {
  QuantizedView v;
  v.kind = QuantizedView::Kind::Float4;
  v.float4 = scheme;
  return viewOf(*this, v);
}

} // namespace qrt
