//===- PlanSchema.cpp - facts of the plan format both sides use -----------===//

#include "qrt/core/PlanSchema.h"

#include <cstring>

namespace qrt {

//===----------------------------------------------------------------------===//
// Checksum
//===----------------------------------------------------------------------===//

namespace {

constexpr uint64_t kMul1 = 0x9E3779B97F4A7C15ull; // 2^64 / golden ratio
constexpr uint64_t kMul2 = 0xC2B2AE3D27D4EB4Full;
constexpr uint64_t kMul3 = 0x165667B19E3779F9ull;

inline uint64_t rotl(uint64_t v, int r) { return (v << r) | (v >> (64 - r)); }

inline uint64_t load64(const uint8_t *p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

inline uint64_t mixLane(uint64_t acc, uint64_t v) {
  return rotl(acc + v * kMul2, 31) * kMul1;
}

inline uint64_t finalize(uint64_t h) {
  h ^= h >> 33;
  h *= kMul2;
  h ^= h >> 29;
  h *= kMul3;
  h ^= h >> 32;
  return h;
}

} // namespace

uint64_t checksum64(const void *data, size_t size) {
  const uint8_t *p = static_cast<const uint8_t *>(data);
  const uint8_t *end = p + size;
  // Four independent lanes over 32-byte blocks (instruction-level
  // parallelism), folded together, then the tail.
  uint64_t lanes[4] = {kMul1, kMul2, kMul3, kMul1 ^ kMul2};
  while (end - p >= 32) {
    for (int i = 0; i < 4; ++i)
      lanes[i] = mixLane(lanes[i], load64(p + 8 * i));
    p += 32;
  }
  uint64_t h = rotl(lanes[0], 1) + rotl(lanes[1], 7) + rotl(lanes[2], 12) +
               rotl(lanes[3], 18) + static_cast<uint64_t>(size);
  while (end - p >= 8) {
    h = rotl(h ^ mixLane(0, load64(p)), 27) * kMul1 + kMul3;
    p += 8;
  }
  while (p < end) {
    h = rotl(h ^ (static_cast<uint64_t>(*p) * kMul3), 11) * kMul1;
    ++p;
  }
  return finalize(h);
}

size_t dtypeBytes(fb::DType type) {
  switch (type) {
  case fb::DType::F32:
  case fb::DType::I32:
    return 4;
  case fb::DType::F16:
  case fb::DType::BF16:
    return 2;
  case fb::DType::I64:
    return 8;
  case fb::DType::U8:
    return 1;
  }
  return 0;
}

uint64_t tensorElements(const fb::TensorInfo &tensor, int64_t tokens) {
  uint64_t n = 1;
  if (tensor.dims())
    for (int64_t d : *tensor.dims())
      n *= static_cast<uint64_t>(d == -1 ? tokens : d);
  return n;
}

fb::DType dtypeOf(ElementKind kind) {
  switch (kind) {
  case ElementKind::U8:
    return fb::DType::U8;
  case ElementKind::I32:
    return fb::DType::I32;
  case ElementKind::F32:
    return fb::DType::F32;
  case ElementKind::F16:
    return fb::DType::F16;
  case ElementKind::BF16:
    return fb::DType::BF16;
  }
  return fb::DType::F32;
}

fb::DType dtypeOf(ScaleType type) { return dtypeOf(elementKindOf(type)); }

std::optional<ScaleType> scaleTypeOf(fb::DType type) {
  switch (type) {
  case fb::DType::F32:
    return ScaleType::F32;
  case fb::DType::F16:
    return ScaleType::F16;
  case fb::DType::BF16:
    return ScaleType::BF16;
  default:
    return std::nullopt;
  }
}

const char *dtypeName(fb::DType type) {
  switch (type) {
  case fb::DType::F32:
    return "f32";
  case fb::DType::F16:
    return "f16";
  case fb::DType::BF16:
    return "bf16";
  case fb::DType::I32:
    return "i32";
  case fb::DType::I64:
    return "i64";
  case fb::DType::U8:
    return "u8";
  }
  return "?";
}

} // namespace qrt
