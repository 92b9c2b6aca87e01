//===- WeightFormat.cpp - Storage formats of quantized weights ------------===//

#include "qrt/core/WeightFormat.h"

#include <cassert>
#include <cstring>

namespace qrt {

// bitsandbytes' NF4 table (QLoRA, appendix E): quantiles of N(0, 1)
// normalized to [-1, 1], with an exact zero.
const float kNF4Codes[16] = {
    -1.0f,
    -0.6961928009986877f,
    -0.5250730514526367f,
    -0.39491748809814453f,
    -0.28444138169288635f,
    -0.18477343022823334f,
    -0.09105003625154495f,
    0.0f,
    0.07958029955625534f,
    0.16093020141124725f,
    0.24611230194568634f,
    0.33791524171829224f,
    0.44070982933044434f,
    0.5626170039176941f,
    0.7229568362236023f,
    1.0f,
};

// bitsandbytes' FP4 table (its get_4bit_type("fp4"), the values its CUDA
// kernels decode): 1 sign bit, then 2 exponent and 1 mantissa bits with bias
// 3 and a subnormal, scaled so that the largest (12) is 1.
const float kFP4Codes[16] = {
    0.0f,   0.0625f / 12.0f,  8.0f / 12.0f,  1.0f,
    4.0f / 12.0f,  6.0f / 12.0f,  2.0f / 12.0f,  3.0f / 12.0f,
    -0.0f,  -0.0625f / 12.0f, -8.0f / 12.0f, -1.0f,
    -4.0f / 12.0f, -6.0f / 12.0f, -2.0f / 12.0f, -3.0f / 12.0f,
};

const float *float4CodeValues(Float4Codes codes) {
  return codes == Float4Codes::FP4 ? kFP4Codes : kNF4Codes;
}

const char *float4CodesName(Float4Codes codes) {
  return codes == Float4Codes::FP4 ? "fp4" : "nf4";
}

const char *scaleTypeName(ScaleType type) {
  switch (type) {
  case ScaleType::F32:
    return "f32";
  case ScaleType::F16:
    return "f16";
  case ScaleType::BF16:
    return "bf16";
  }
  return "?";
}

const char *componentRoleName(ComponentRole role) {
  switch (role) {
  case ComponentRole::Data:
    return "data";
  case ComponentRole::Scales:
    return "scales";
  case ComponentRole::ZeroPoints:
    return "zero_points";
  case ComponentRole::GroupIndex:
    return "g_idx";
  case ComponentRole::DoubleQuantScales:
    return "double_quant_scales";
  case ComponentRole::DoubleQuantOffset:
    return "double_quant_offset";
  }
  return "?";
}

const char *elementKindName(ElementKind kind) {
  switch (kind) {
  case ElementKind::U8:
    return "ui8";
  case ElementKind::I32:
    return "i32";
  case ElementKind::F32:
    return "f32";
  case ElementKind::F16:
    return "f16";
  case ElementKind::BF16:
    return "bf16";
  }
  return "?";
}

unsigned elementKindBytes(ElementKind kind) {
  switch (kind) {
  case ElementKind::U8:
    return 1;
  case ElementKind::F16:
  case ElementKind::BF16:
    return 2;
  case ElementKind::I32:
  case ElementKind::F32:
    return 4;
  }
  return 0;
}

ElementKind elementKindOf(ScaleType type) {
  switch (type) {
  case ScaleType::F32:
    return ElementKind::F32;
  case ScaleType::F16:
    return ElementKind::F16;
  case ScaleType::BF16:
    return ElementKind::BF16;
  }
  return ElementKind::F32;
}

uint64_t Component::numElements() const {
  uint64_t n = 1;
  for (int64_t d : shape)
    n *= static_cast<uint64_t>(d);
  return n;
}

uint64_t Component::bytes() const {
  return numElements() * elementKindBytes(element);
}

const Component *WeightLayout::find(ComponentRole role) const {
  for (const Component &c : components)
    if (c.role == role)
      return &c;
  return nullptr;
}

uint64_t WeightLayout::totalBytes() const {
  uint64_t total = 0;
  for (const Component &c : components)
    total += c.bytes();
  return total;
}

double WeightLayout::bitsPerWeight() const {
  double elements = static_cast<double>(rows) * static_cast<double>(cols);
  return elements > 0 ? 8.0 * static_cast<double>(totalBytes()) / elements
                      : 0.0;
}

std::string validate(const IntNScheme &scheme) {
  if (scheme.bits != 2 && scheme.bits != 3 && scheme.bits != 4 &&
      scheme.bits != 8)
    return "bits must be 2, 3, 4 or 8, got " + std::to_string(scheme.bits);
  if (scheme.groupSize <= 0 && scheme.groupSize != kPerChannel)
    return "group size must be positive or per_channel, got " +
           std::to_string(scheme.groupSize);
  if (scheme.actOrder && scheme.groupSize == kPerChannel)
    return "act_order needs a group size: with one group per channel there is "
           "no group index";
  return {};
}

std::string validate(const Float4Scheme &scheme) {
  if (scheme.blockSize <= 0)
    return "block size must be positive, got " +
           std::to_string(scheme.blockSize);
  if (scheme.doubleQuant && scheme.doubleQuantBlockSize <= 0)
    return "double-quantization block size must be positive, got " +
           std::to_string(scheme.doubleQuantBlockSize);
  return {};
}

int64_t numGroups(int64_t cols, int64_t groupSize) {
  if (groupSize == kPerChannel)
    return 1;
  assert(groupSize > 0 && "invalid group size");
  return (cols + groupSize - 1) / groupSize;
}

int64_t packedBytes(int64_t count, int bits) {
  return (count * bits + 7) / 8;
}

WeightLayout layoutFor(const IntNScheme &scheme, int64_t rows, int64_t cols) {
  assert(validate(scheme).empty() && "invalid scheme");
  WeightLayout layout;
  layout.rows = rows;
  layout.cols = cols;
  int64_t groups = numGroups(cols, scheme.groupSize);
  layout.components.push_back(
      {ComponentRole::Data, ElementKind::U8,
       {rows, packedBytes(cols, scheme.bits)}});
  layout.components.push_back({ComponentRole::Scales,
                               elementKindOf(scheme.scaleType),
                               {rows, groups}});
  if (!scheme.symmetric)
    layout.components.push_back(
        {ComponentRole::ZeroPoints, ElementKind::U8,
         {rows, packedBytes(groups, scheme.bits)}});
  if (scheme.actOrder)
    layout.components.push_back(
        {ComponentRole::GroupIndex, ElementKind::I32, {cols}});
  return layout;
}

WeightLayout layoutFor(const Float4Scheme &scheme, int64_t rows, int64_t cols) {
  assert(validate(scheme).empty() && "invalid scheme");
  WeightLayout layout;
  layout.rows = rows;
  layout.cols = cols;
  int64_t blocks = numGroups(cols, scheme.blockSize);
  layout.components.push_back(
      {ComponentRole::Data, ElementKind::U8, {rows, packedBytes(cols, 4)}});
  if (!scheme.doubleQuant) {
    layout.components.push_back({ComponentRole::Scales,
                                 elementKindOf(scheme.scaleType),
                                 {rows, blocks}});
    return layout;
  }
  int64_t absmaxCount = rows * blocks;
  layout.components.push_back(
      {ComponentRole::Scales, ElementKind::U8, {rows, blocks}});
  layout.components.push_back(
      {ComponentRole::DoubleQuantScales,
       ElementKind::F32,
       {numGroups(absmaxCount, scheme.doubleQuantBlockSize)}});
  layout.components.push_back(
      {ComponentRole::DoubleQuantOffset, ElementKind::F32, {}});
  return layout;
}

void packCodes(const uint8_t *codes, int64_t count, int bits, uint8_t *out) {
  int64_t bytes = packedBytes(count, bits);
  std::memset(out, 0, static_cast<size_t>(bytes));
  const unsigned mask = (1u << bits) - 1u;
  for (int64_t i = 0; i < count; ++i) {
    uint64_t bit = static_cast<uint64_t>(i) * static_cast<uint64_t>(bits);
    unsigned value = codes[i] & mask;
    uint64_t byte = bit / 8;
    unsigned shift = static_cast<unsigned>(bit % 8);
    out[byte] |= static_cast<uint8_t>(value << shift);
    if (shift + bits > 8)
      out[byte + 1] |= static_cast<uint8_t>(value >> (8 - shift));
  }
}

uint8_t unpackCode(const uint8_t *packed, int64_t index, int bits) {
  uint64_t bit = static_cast<uint64_t>(index) * static_cast<uint64_t>(bits);
  uint64_t byte = bit / 8;
  unsigned shift = static_cast<unsigned>(bit % 8);
  unsigned value = packed[byte] >> shift;
  if (shift + bits > 8)
    value |= static_cast<unsigned>(packed[byte + 1]) << (8 - shift);
  return static_cast<uint8_t>(value & ((1u << bits) - 1u));
}

void unpackCodes(const uint8_t *packed, int64_t count, int bits,
                 uint8_t *codes) {
  for (int64_t i = 0; i < count; ++i)
    codes[i] = unpackCode(packed, i, bits);
}

namespace {
bool int8ActivationGroups(int64_t groupSize) {
  return groupSize == kPerChannel || groupSize == 32 || groupSize == 64 ||
         (groupSize > 0 && groupSize % 128 == 0);
}
} // namespace

bool int8ActivationsSupported(const IntNScheme &scheme) {
  return (scheme.bits == 4 || scheme.bits == 8) && !scheme.actOrder &&
         int8ActivationGroups(scheme.groupSize);
}

bool int8ActivationsSupported(const Float4Scheme &scheme) {
  return int8ActivationGroups(scheme.blockSize);
}

} // namespace qrt
