//===- Half.h - IEEE binary16 and bfloat16 conversions ----------*- C++ -*-===//

#ifndef QRT_CORE_HALF_H
#define QRT_CORE_HALF_H

#include <cstdint>
#include <cstring>

namespace qrt {

/// binary16 bits to float (exact).
inline float halfToFloat(uint16_t h) {
  uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  uint32_t exponent = (h >> 10) & 0x1Fu;
  uint32_t mantissa = h & 0x3FFu;
  uint32_t bits;
  if (exponent == 0x1F) { // inf / nan
    bits = sign | 0x7F800000u | (mantissa << 13);
  } else if (exponent != 0) { // normal
    bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
  } else if (mantissa == 0) { // zero
    bits = sign;
  } else { // subnormal: normalize
    int shift = 0;
    while ((mantissa & 0x400u) == 0) {
      mantissa <<= 1;
      ++shift;
    }
    mantissa &= 0x3FFu;
    bits = sign | (static_cast<uint32_t>(113 - shift) << 23) | (mantissa << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

/// float to binary16 bits, rounding to nearest even (overflow to inf).
inline uint16_t floatToHalf(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  uint32_t sign = (bits >> 16) & 0x8000u;
  uint32_t absBits = bits & 0x7FFFFFFFu;
  if (absBits >= 0x7F800000u) // inf / nan
    return static_cast<uint16_t>(sign | 0x7C00u |
                                 (absBits > 0x7F800000u ? 0x200u : 0u));
  if (absBits >= 0x477FF000u) // rounds to >= 65520: inf
    return static_cast<uint16_t>(sign | 0x7C00u);
  if (absBits < 0x38800000u) { // below the smallest normal half: subnormal
    if (absBits < 0x33000000u) // below half the smallest subnormal: zero
      return static_cast<uint16_t>(sign);
    uint32_t exponent = absBits >> 23;
    uint32_t mantissa = (absBits & 0x7FFFFFu) | 0x800000u;
    uint32_t shift = 126 - exponent; // 14 + (112 - exponent) + ...
    uint32_t value = mantissa >> shift;
    uint32_t rest = mantissa & ((1u << shift) - 1u);
    uint32_t half = 1u << (shift - 1);
    if (rest > half || (rest == half && (value & 1u)))
      ++value;
    return static_cast<uint16_t>(sign | value);
  }
  uint32_t value = ((absBits >> 13) - (112u << 10));
  uint32_t rest = absBits & 0x1FFFu;
  if (rest > 0x1000u || (rest == 0x1000u && (value & 1u)))
    ++value;
  return static_cast<uint16_t>(sign | value);
}

inline float bfloat16ToFloat(uint16_t b) {
  uint32_t bits = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

/// float to bfloat16 bits, rounding to nearest even (NaN stays NaN).
inline uint16_t floatToBfloat16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  if ((bits & 0x7FFFFFFFu) > 0x7F800000u)
    return static_cast<uint16_t>((bits >> 16) | 0x40u);
  bits += 0x7FFFu + ((bits >> 16) & 1u);
  return static_cast<uint16_t>(bits >> 16);
}

} // namespace qrt

#endif // QRT_CORE_HALF_H
