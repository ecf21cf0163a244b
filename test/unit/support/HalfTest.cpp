//===- HalfTest.cpp - The integer fp16 conversions match _Float16 --------===//
//
// runtime/support/Half.h converts with _Float16 where the compiler has it
// and in integer arithmetic where it does not (GCC < 12, clang < 15, as on
// some GPU machines); both must give the same bits.
//
//===----------------------------------------------------------------------===//

#include "runtime/support/Half.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

namespace {

#if defined(__FLT16_MANT_DIG__)

float hardHalfToFloat(uint16_t bits) {
  _Float16 h;
  std::memcpy(&h, &bits, sizeof(h));
  return static_cast<float>(h);
}

uint16_t hardFloatToHalf(float value) {
  _Float16 h = static_cast<_Float16>(value);
  uint16_t bits;
  std::memcpy(&bits, &h, sizeof(bits));
  return bits;
}

TEST(Half, EveryHalfWidensAlike) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float soft = awq::detail::softHalfToFloat(static_cast<uint16_t>(h));
    const float hard = hardHalfToFloat(static_cast<uint16_t>(h));
    if (std::isnan(hard)) {
      EXPECT_TRUE(std::isnan(soft)) << std::hex << h;
      continue;
    }
    uint32_t a, b;
    std::memcpy(&a, &soft, 4);
    std::memcpy(&b, &hard, 4);
    ASSERT_EQ(a, b) << std::hex << "half 0x" << h;
  }
}

// Every float would take minutes with the compiler's software _Float16 on
// CPUs without F16C; a stride that is prime to every field boundary, plus
// every float around the rounding edges, covers the cases (the exhaustive
// comparison was run once by hand: no difference in 2^32 floats).
TEST(Half, FloatsNarrowAlike) {
  auto check = [](uint32_t bits) {
    float value;
    std::memcpy(&value, &bits, 4);
    const uint16_t soft = awq::detail::softFloatToHalf(value);
    const uint16_t hard = hardFloatToHalf(value);
    if (std::isnan(value)) {
      EXPECT_EQ(soft & 0x7c00, 0x7c00) << std::hex << bits;
      EXPECT_NE(soft & 0x3ff, 0) << std::hex << bits;
      return;
    }
    ASSERT_EQ(soft, hard) << std::hex << "float 0x" << bits;
  };
  for (uint64_t bits = 0; bits < (uint64_t(1) << 32); bits += 4099)
    check(static_cast<uint32_t>(bits));
  // Around the subnormal/normal edge (2^-14), the overflow edge (65520),
  // the smallest subnormal and ties at every exponent.
  for (uint32_t sign : {0u, 0x80000000u}) {
    for (uint32_t center : {0x38800000u, 0x477ff000u, 0x33800000u, 0x33000000u,
                            0x387fc000u, 0x3f800000u})
      for (uint32_t d = 0; d < 8192; ++d) {
        check(sign | (center - 4096 + d));
      }
    for (uint32_t exponent = 0; exponent < 256; ++exponent)
      for (uint32_t low : {0x0fffu, 0x1000u, 0x1001u, 0x2fffu, 0x3000u, 0x3001u,
                           0x7fe000u, 0x7ff000u, 0x7fffffu})
        check(sign | exponent << 23 | low);
  }
}

#endif

TEST(Half, KnownValues) {
  EXPECT_EQ(awq::detail::softFloatToHalf(1.0f), 0x3c00);
  EXPECT_EQ(awq::detail::softFloatToHalf(-2.0f), 0xc000);
  EXPECT_EQ(awq::detail::softFloatToHalf(65504.0f), 0x7bff);
  EXPECT_EQ(awq::detail::softFloatToHalf(65520.0f), 0x7c00);
  EXPECT_EQ(awq::detail::softFloatToHalf(std::ldexp(1.0f, -24)), 0x0001);
  EXPECT_EQ(awq::detail::softFloatToHalf(std::ldexp(1.0f, -25)), 0x0000);
  EXPECT_EQ(awq::detail::softHalfToFloat(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(awq::detail::softHalfToFloat(0x7bff), 65504.0f);
  EXPECT_TRUE(std::isinf(awq::detail::softHalfToFloat(0xfc00)));
}

} // namespace
