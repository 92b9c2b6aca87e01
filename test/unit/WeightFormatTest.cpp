//===- WeightFormatTest.cpp - packing and layouts of quantized weights ----===//

#include "qrt/core/WeightFormat.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

using namespace qrt;

namespace {

std::vector<uint8_t> pack(const std::vector<uint8_t> &codes, int bits) {
  std::vector<uint8_t> out(static_cast<size_t>(packedBytes(
      static_cast<int64_t>(codes.size()), bits)));
  packCodes(codes.data(), static_cast<int64_t>(codes.size()), bits, out.data());
  return out;
}

TEST(PackCodes, FourBitsLowNibbleFirst) {
  EXPECT_EQ(pack({1, 2, 3}, 4), (std::vector<uint8_t>{0x21, 0x03}));
  EXPECT_EQ(pack({0xF, 0x0}, 4), (std::vector<uint8_t>{0x0F}));
}

TEST(PackCodes, ThreeBitsStraddleBytes) {
  // 7 at bits 0-2, 0 at bits 3-5, 5 (0b101) at bits 6-8.
  EXPECT_EQ(pack({7, 0, 5}, 3), (std::vector<uint8_t>{0x47, 0x01}));
}

TEST(PackCodes, TwoAndEightBits) {
  EXPECT_EQ(pack({3, 0, 1, 2}, 2), (std::vector<uint8_t>{0x93}));
  EXPECT_EQ(pack({0, 127, 255}, 8), (std::vector<uint8_t>{0, 127, 255}));
}

TEST(PackCodes, IgnoresBitsAboveTheCodeWidth) {
  EXPECT_EQ(pack({0x1F, 0x10}, 4), (std::vector<uint8_t>{0x0F}));
}

TEST(PackCodes, RoundTripsEveryWidthAndLength) {
  std::mt19937 rng(1234);
  for (int bits : {2, 3, 4, 8}) {
    for (int count = 1; count <= 41; ++count) {
      std::vector<uint8_t> codes(static_cast<size_t>(count));
      for (uint8_t &c : codes)
        c = static_cast<uint8_t>(rng() & ((1u << bits) - 1u));
      std::vector<uint8_t> packed = pack(codes, bits);
      ASSERT_EQ(static_cast<int64_t>(packed.size()), (count * bits + 7) / 8);
      std::vector<uint8_t> back(codes.size());
      unpackCodes(packed.data(), count, bits, back.data());
      EXPECT_EQ(back, codes) << "bits=" << bits << " count=" << count;
      for (int i = 0; i < count; ++i)
        ASSERT_EQ(unpackCode(packed.data(), i, bits), codes[static_cast<size_t>(i)]);
    }
  }
}

TEST(PackCodes, PaddingBitsAreZero) {
  std::vector<uint8_t> packed = pack({7, 7, 7}, 3); // 9 bits in 2 bytes
  EXPECT_EQ(packed[1] & 0xFE, 0);
}

TEST(Groups, CountsPartialAndOversizedGroups) {
  EXPECT_EQ(numGroups(4096, 128), 32);
  EXPECT_EQ(numGroups(172, 64), 3);  // 64 + 64 + 44
  EXPECT_EQ(numGroups(172, 256), 1); // group larger than the row
  EXPECT_EQ(numGroups(172, kPerChannel), 1);
  EXPECT_EQ(packedBytes(172, 4), 86);
  EXPECT_EQ(packedBytes(172, 3), 65);
  EXPECT_EQ(packedBytes(3, 4), 2);
}

TEST(IntNLayout, Int4Group128ActOrderAsymmetric) {
  IntNScheme scheme{4, 128, /*symmetric=*/false, /*actOrder=*/true,
                    ScaleType::F16};
  ASSERT_EQ(validate(scheme), "");
  WeightLayout layout = layoutFor(scheme, 4096, 11008);
  ASSERT_EQ(layout.components.size(), 4u);
  EXPECT_EQ(layout.components[0].role, ComponentRole::Data);
  EXPECT_EQ(layout.components[0].shape, (std::vector<int64_t>{4096, 5504}));
  EXPECT_EQ(layout.components[1].role, ComponentRole::Scales);
  EXPECT_EQ(layout.components[1].element, ElementKind::F16);
  EXPECT_EQ(layout.components[1].shape, (std::vector<int64_t>{4096, 86}));
  EXPECT_EQ(layout.components[2].role, ComponentRole::ZeroPoints);
  EXPECT_EQ(layout.components[2].shape, (std::vector<int64_t>{4096, 43}));
  EXPECT_EQ(layout.components[3].role, ComponentRole::GroupIndex);
  EXPECT_EQ(layout.components[3].element, ElementKind::I32);
  EXPECT_EQ(layout.components[3].shape, (std::vector<int64_t>{11008}));
  uint64_t expected = 4096ull * 5504 + 4096ull * 86 * 2 + 4096ull * 43 +
                      11008ull * 4;
  EXPECT_EQ(layout.totalBytes(), expected);
  EXPECT_NEAR(layout.bitsPerWeight(), 8.0 * expected / (4096.0 * 11008.0),
              1e-12);
}

TEST(IntNLayout, Int8PerChannelSymmetricHasNoZeroPoints) {
  IntNScheme scheme{8, kPerChannel, /*symmetric=*/true, false, ScaleType::F32};
  WeightLayout layout = layoutFor(scheme, 64, 172);
  ASSERT_EQ(layout.components.size(), 2u);
  EXPECT_EQ(layout.components[0].shape, (std::vector<int64_t>{64, 172}));
  EXPECT_EQ(layout.components[1].shape, (std::vector<int64_t>{64, 1}));
  EXPECT_EQ(layout.find(ComponentRole::ZeroPoints), nullptr);
  EXPECT_EQ(layout.totalBytes(), 64u * 172 + 64u * 4);
}

TEST(IntNLayout, ThreeBitPartialGroups) {
  IntNScheme scheme{3, 64, false, false, ScaleType::F16};
  WeightLayout layout = layoutFor(scheme, 10, 172);
  EXPECT_EQ(layout.find(ComponentRole::Data)->shape,
            (std::vector<int64_t>{10, 65}));
  EXPECT_EQ(layout.find(ComponentRole::Scales)->shape,
            (std::vector<int64_t>{10, 3}));
  // 3 zero points of 3 bits: 2 bytes per row.
  EXPECT_EQ(layout.find(ComponentRole::ZeroPoints)->shape,
            (std::vector<int64_t>{10, 2}));
}

TEST(NF4Layout, PlainAbsmax) {
  Float4Scheme scheme{64, false, 256, ScaleType::F32};
  WeightLayout layout = layoutFor(scheme, 4096, 4096);
  ASSERT_EQ(layout.components.size(), 2u);
  EXPECT_EQ(layout.components[1].element, ElementKind::F32);
  EXPECT_EQ(layout.components[1].shape, (std::vector<int64_t>{4096, 64}));
  EXPECT_NEAR(layout.bitsPerWeight(), 4.0 + 32.0 / 64.0, 1e-12);
}

TEST(NF4Layout, DoubleQuantizedAbsmax) {
  Float4Scheme scheme{64, true, 256, ScaleType::F32};
  WeightLayout layout = layoutFor(scheme, 4096, 4096);
  ASSERT_EQ(layout.components.size(), 4u);
  EXPECT_EQ(layout.components[1].element, ElementKind::U8);
  EXPECT_EQ(layout.components[1].shape, (std::vector<int64_t>{4096, 64}));
  EXPECT_EQ(layout.components[2].role, ComponentRole::DoubleQuantScales);
  EXPECT_EQ(layout.components[2].shape, (std::vector<int64_t>{1024}));
  EXPECT_EQ(layout.components[3].role, ComponentRole::DoubleQuantOffset);
  EXPECT_TRUE(layout.components[3].shape.empty());
  EXPECT_EQ(layout.components[3].bytes(), 4u);
  // QLoRA's figure, 4 + 8/64 + 32/(64*256) bits per weight, plus the offset.
  EXPECT_NEAR(layout.bitsPerWeight(),
              4.0 + 8.0 / 64 + 32.0 / (64 * 256) + 32.0 / (4096.0 * 4096.0),
              1e-12);
}

TEST(NF4Layout, PartialBlockAndOddColumns) {
  Float4Scheme scheme{64, true, 256, ScaleType::F32};
  WeightLayout layout = layoutFor(scheme, 5, 171);
  EXPECT_EQ(layout.find(ComponentRole::Data)->shape,
            (std::vector<int64_t>{5, 86}));
  EXPECT_EQ(layout.find(ComponentRole::Scales)->shape,
            (std::vector<int64_t>{5, 3}));
  EXPECT_EQ(layout.find(ComponentRole::DoubleQuantScales)->shape,
            (std::vector<int64_t>{1}));
}

TEST(Validate, RejectsBadSchemes) {
  EXPECT_EQ(validate(IntNScheme{5, 128, false, false, ScaleType::F16}),
            "bits must be 2, 3, 4 or 8, got 5");
  EXPECT_EQ(validate(IntNScheme{4, 0, false, false, ScaleType::F16}),
            "group size must be positive or per_channel, got 0");
  EXPECT_NE(validate(IntNScheme{4, kPerChannel, false, true, ScaleType::F16}),
            "");
  EXPECT_EQ(validate(Float4Scheme{0, false, 256, ScaleType::F32}),
            "block size must be positive, got 0");
  EXPECT_EQ(validate(Float4Scheme{64, true, 0, ScaleType::F32}),
            "double-quantization block size must be positive, got 0");
}

TEST(NF4Codes, MatchBitsandbytes) {
  EXPECT_EQ(kNF4Codes[0], -1.0f);
  EXPECT_EQ(kNF4Codes[7], 0.0f);
  EXPECT_EQ(kNF4Codes[15], 1.0f);
  EXPECT_FLOAT_EQ(kNF4Codes[1], -0.6961928009986877f);
  EXPECT_FLOAT_EQ(kNF4Codes[8], 0.07958029955625534f);
  for (int i = 1; i < 16; ++i)
    EXPECT_LT(kNF4Codes[i - 1], kNF4Codes[i]);
}

} // namespace
