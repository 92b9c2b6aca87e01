//===- HalfTest.cpp - binary16 and bfloat16 conversions, exhaustively -----===//
//
// halfToFloat is checked on all 65536 codes against the definition of
// binary16 (computed with ldexp); floatToHalf against a rounding reference
// that knows nothing of bit layouts: the sorted table of every finite half,
// a binary search, and "nearest, ties to the even code".
//
//===----------------------------------------------------------------------===//

#include "qrt/core/Half.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

using namespace qrt;

namespace {

uint32_t bitsOf(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  return b;
}

float floatOf(uint32_t b) {
  float f;
  std::memcpy(&f, &b, 4);
  return f;
}

bool isHalfNaN(uint16_t h) { return (h & 0x7C00u) == 0x7C00u && (h & 0x3FFu); }

/// The value of a non-NaN binary16 code, from the format's definition.
double halfValue(uint16_t h) {
  int sign = h >> 15, exponent = (h >> 10) & 0x1F, mantissa = h & 0x3FF;
  double magnitude;
  if (exponent == 0x1F)
    magnitude = INFINITY;
  else if (exponent == 0)
    magnitude = std::ldexp(double(mantissa), -24);
  else
    magnitude = std::ldexp(double(1024 + mantissa), exponent - 25);
  return sign ? -magnitude : magnitude;
}

/// Round to nearest, ties to even, by search over the finite positive halves
/// 0x0000..0x7BFF (their codes are ordered like their values).
uint16_t referenceToHalf(float f) {
  static const std::vector<double> values = [] {
    std::vector<double> v;
    for (uint32_t h = 0; h <= 0x7BFF; ++h)
      v.push_back(halfValue(static_cast<uint16_t>(h)));
    return v;
  }();
  uint16_t sign = std::signbit(f) ? 0x8000 : 0;
  double a = std::fabs(double(f));
  // 65520 = 65504 + half an ulp (2^4): from there on IEEE rounds to inf.
  if (a >= 65520.0)
    return sign | 0x7C00;
  auto it = std::lower_bound(values.begin(), values.end(), a);
  uint16_t above = static_cast<uint16_t>(it - values.begin());
  if (*it == a || above == 0)
    return sign | above;
  uint16_t below = above - 1;
  double up = values[above] - a, down = a - values[below];
  if (down < up)
    return sign | below;
  if (up < down)
    return sign | above;
  return sign | ((below & 1) ? above : below);
}

TEST(HalfTest, EveryHalfDecodesToItsValue) {
  for (uint32_t code = 0; code <= 0xFFFF; ++code) {
    uint16_t h = static_cast<uint16_t>(code);
    float f = halfToFloat(h);
    if (isHalfNaN(h)) {
      EXPECT_TRUE(std::isnan(f)) << std::hex << code;
      EXPECT_EQ(std::signbit(f), bool(code & 0x8000)) << std::hex << code;
      continue;
    }
    EXPECT_EQ(double(f), halfValue(h)) << std::hex << code;
    // Signed zeros keep their sign.
    EXPECT_EQ(std::signbit(f), bool(code & 0x8000)) << std::hex << code;
  }
}

TEST(HalfTest, EveryHalfRoundTrips) {
  int nans = 0;
  for (uint32_t code = 0; code <= 0xFFFF; ++code) {
    uint16_t h = static_cast<uint16_t>(code);
    uint16_t back = floatToHalf(halfToFloat(h));
    if (isHalfNaN(h)) {
      ++nans;
      EXPECT_TRUE(isHalfNaN(back)) << std::hex << code << " -> " << back;
      EXPECT_EQ(back & 0x8000, h & 0x8000) << std::hex << code;
      continue;
    }
    EXPECT_EQ(back, h) << std::hex << code;
  }
  EXPECT_EQ(nans, 2 * 1023);
}

TEST(HalfTest, DecodingIsMonotonic) {
  for (uint32_t code = 1; code <= 0x7C00; ++code) {
    EXPECT_LT(halfToFloat(static_cast<uint16_t>(code - 1)),
              halfToFloat(static_cast<uint16_t>(code)))
        << std::hex << code;
    EXPECT_GT(halfToFloat(static_cast<uint16_t>(0x8000 | (code - 1))),
              halfToFloat(static_cast<uint16_t>(0x8000 | code)))
        << std::hex << code;
  }
}

TEST(HalfTest, TiesRoundToEven) {
  // Between every two adjacent finite halves (subnormals, the subnormal to
  // normal step and the largest binade included) the midpoint is exact in
  // float (12 significant bits) and must go to the code whose last bit is 0;
  // one float ulp either side goes to the nearer code.
  for (uint32_t code = 0; code < 0x7BFF; ++code) {
    for (uint16_t sign : {uint16_t(0), uint16_t(0x8000)}) {
      uint16_t lo = static_cast<uint16_t>(code) | sign, hi = lo + 1;
      float a = halfToFloat(lo), b = halfToFloat(hi);
      float mid = static_cast<float>((double(a) + double(b)) / 2);
      ASSERT_EQ(double(mid), (double(a) + double(b)) / 2) << "midpoint not exact";
      uint16_t even = (lo & 1) ? hi : lo;
      EXPECT_EQ(floatToHalf(mid), even) << std::hex << lo;
      EXPECT_EQ(floatToHalf(std::nextafter(mid, a)), lo) << std::hex << lo;
      EXPECT_EQ(floatToHalf(std::nextafter(mid, b)), hi) << std::hex << lo;
    }
  }
  // Hand-picked ties.
  EXPECT_EQ(floatToHalf(1.0f + 0x1p-11f), 0x3C00);          // 1 + ulp/2 -> 1
  EXPECT_EQ(floatToHalf(1.0f + 3 * 0x1p-11f), 0x3C02);      // -> even above
  EXPECT_EQ(floatToHalf(2049.0f), floatToHalf(2048.0f));    // 2048 | 2050
  EXPECT_EQ(floatToHalf(2051.0f), floatToHalf(2052.0f));
  EXPECT_EQ(floatToHalf(-2051.0f), floatToHalf(-2052.0f));
}

TEST(HalfTest, OverflowGoesToInfinity) {
  EXPECT_EQ(floatToHalf(65504.0f), 0x7BFF);
  EXPECT_EQ(floatToHalf(std::nextafter(65520.0f, 0.0f)), 0x7BFF);
  EXPECT_EQ(floatToHalf(65520.0f), 0x7C00); // the tie above the largest half
  EXPECT_EQ(floatToHalf(65536.0f), 0x7C00);
  EXPECT_EQ(floatToHalf(1e10f), 0x7C00);
  EXPECT_EQ(floatToHalf(FLT_MAX), 0x7C00);
  EXPECT_EQ(floatToHalf(-FLT_MAX), 0xFC00);
  EXPECT_EQ(floatToHalf(INFINITY), 0x7C00);
  EXPECT_EQ(floatToHalf(-INFINITY), 0xFC00);
  EXPECT_EQ(floatToHalf(-65520.0f), 0xFC00);
  EXPECT_TRUE(isHalfNaN(floatToHalf(std::numeric_limits<float>::quiet_NaN())));
  EXPECT_TRUE(isHalfNaN(floatToHalf(-std::numeric_limits<float>::quiet_NaN())));
  // A NaN whose payload sits only in the low float bits stays a NaN.
  EXPECT_TRUE(isHalfNaN(floatToHalf(floatOf(0x7F800001u))));
  EXPECT_TRUE(isHalfNaN(floatToHalf(floatOf(0xFF800001u))));
}

TEST(HalfTest, Subnormals) {
  EXPECT_EQ(floatToHalf(0x1p-24f), 0x0001);        // smallest subnormal
  EXPECT_EQ(floatToHalf(0x1p-25f), 0x0000);        // half of it: tie to 0
  EXPECT_EQ(floatToHalf(std::nextafter(0x1p-25f, 1.0f)), 0x0001);
  EXPECT_EQ(floatToHalf(3 * 0x1p-25f), 0x0002);    // 1.5 ulp: tie to 2
  EXPECT_EQ(floatToHalf(5 * 0x1p-25f), 0x0002);    // 2.5 ulp: tie to 2
  EXPECT_EQ(floatToHalf(0x1p-14f - 0x1p-24f), 0x03FF); // largest subnormal
  EXPECT_EQ(floatToHalf(0x1p-14f), 0x0400);            // smallest normal
  EXPECT_EQ(floatToHalf(-0x1p-24f), 0x8001);
  EXPECT_EQ(floatToHalf(1e-10f), 0x0000);
  EXPECT_EQ(floatToHalf(-1e-10f), 0x8000);           // the sign survives
  EXPECT_EQ(floatToHalf(FLT_TRUE_MIN), 0x0000);
  EXPECT_EQ(floatToHalf(-FLT_TRUE_MIN), 0x8000);
  EXPECT_EQ(floatToHalf(0.0f), 0x0000);
  EXPECT_EQ(floatToHalf(-0.0f), 0x8000);
  EXPECT_EQ(halfToFloat(0x0001), 0x1p-24f);
  EXPECT_EQ(halfToFloat(0x03FF), 0x1p-14f - 0x1p-24f);
  EXPECT_EQ(halfToFloat(0x8200), -0x1p-15f);
}

TEST(HalfTest, RandomFloatsRoundLikeTheReference) {
  std::mt19937 rng(2024);
  // Random bit patterns (mostly out of half range), and floats with
  // exponents spread over the half range and just beyond it.
  std::uniform_int_distribution<uint32_t> bits;
  std::uniform_int_distribution<int> exponent(-27, 17);
  std::uniform_int_distribution<uint32_t> mantissa(0, (1u << 23) - 1);
  for (int i = 0; i < 300000; ++i) {
    float f = floatOf(bits(rng));
    if (i % 2)
      f = std::ldexp(1.0f + float(mantissa(rng)) * 0x1p-23f, exponent(rng)) *
          (bits(rng) & 1 ? -1.0f : 1.0f);
    if (std::isnan(f))
      continue;
    ASSERT_EQ(floatToHalf(f), referenceToHalf(f)) << std::hexfloat << f;
  }
}

TEST(HalfTest, BFloat16) {
  EXPECT_EQ(bfloat16ToFloat(0x3F80), 1.0f);
  EXPECT_EQ(bfloat16ToFloat(0xC000), -2.0f);
  EXPECT_EQ(bfloat16ToFloat(0x4049), 3.140625f);
  EXPECT_EQ(bfloat16ToFloat(0x0000), 0.0f);
  EXPECT_TRUE(std::signbit(bfloat16ToFloat(0x8000)));
  EXPECT_EQ(bfloat16ToFloat(0x7F80), INFINITY);
  EXPECT_EQ(bfloat16ToFloat(0xFF80), -INFINITY);
  EXPECT_TRUE(std::isnan(bfloat16ToFloat(0x7FC0)));
  EXPECT_EQ(bfloat16ToFloat(0x0001), 0x1p-133f); // smallest subnormal
  EXPECT_EQ(bfloat16ToFloat(0x7F7F), 0x1.FEp127f); // largest finite
  // Every bfloat16 is the float with the same top 16 bits.
  for (uint32_t code = 0; code <= 0xFFFF; ++code)
    ASSERT_EQ(bitsOf(bfloat16ToFloat(static_cast<uint16_t>(code))), code << 16);
}

} // namespace
