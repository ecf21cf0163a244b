//===- Bfloat16Test.cpp - floatToBfloat16 against a plainly written rule --===//
//
// runtime/support/Half.h rounds fp32 to bf16 with a bit trick (add the
// rounding bias to the top half). The reference here states the rule
// instead: of the two bf16 values around x, take the nearer (exact
// differences in double), on a tie the one with an even last bit; beyond
// the largest finite bf16 by half its ulp or more, infinity; NaN stays NaN
// with its sign. Checked on every bf16 pattern with the low 16 bits that
// matter (ties, just below and above them, the extremes) and on known values.
//
//===----------------------------------------------------------------------===//

#include "runtime/support/Half.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>

namespace {

float fromBits(uint32_t bits) {
  float value;
  std::memcpy(&value, &bits, sizeof(value));
  return value;
}

uint32_t toBits(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  return bits;
}

/// The value of bf16 `bits` in double; the pattern after the largest finite
/// one (0x7f80, infinity) counts as 2^128, where the next binade would start.
double bfloat16Value(uint32_t bits) {
  const double sign = (bits & 0x8000u) ? -1.0 : 1.0;
  const uint32_t magnitude = bits & 0x7fffu;
  if (magnitude == 0x7f80u)
    return sign * std::ldexp(1.0, 128);
  const int exponent = static_cast<int>(magnitude >> 7);
  const int fraction = static_cast<int>(magnitude & 0x7fu);
  if (exponent == 0) // subnormal: fraction * 2^-133
    return sign * std::ldexp(static_cast<double>(fraction), -133);
  return sign * std::ldexp(1.0 + fraction / 128.0, exponent - 127);
}

/// Round to nearest, ties to even, stated as a choice between neighbours.
uint16_t referenceFloatToBfloat16(float x) {
  const uint32_t bits = toBits(x);
  if (std::isnan(x))
    return static_cast<uint16_t>(((bits >> 16) & 0x8000u) | 0x7fc0u);
  if (std::isinf(x))
    return static_cast<uint16_t>(bits >> 16);
  // Truncation toward zero and the next pattern away from zero bracket x.
  const uint32_t lower = bits >> 16;
  const uint32_t upper = lower + 1;
  const double below = std::fabs(static_cast<double>(x) - bfloat16Value(lower));
  const double above = std::fabs(bfloat16Value(upper) - static_cast<double>(x));
  if (below < above)
    return static_cast<uint16_t>(lower);
  if (above < below)
    return static_cast<uint16_t>(upper);
  return static_cast<uint16_t>((lower & 1u) == 0 ? lower : upper);
}

bool isNanBits(uint16_t bits) {
  return (bits & 0x7f80u) == 0x7f80u && (bits & 0x7fu) != 0;
}

void expectSame(float x) {
  const uint16_t got = awq::floatToBfloat16(x);
  const uint16_t want = referenceFloatToBfloat16(x);
  if (isNanBits(want)) {
    EXPECT_TRUE(isNanBits(got)) << std::hex << toBits(x) << " -> " << got;
    EXPECT_EQ(got & 0x8000u, want & 0x8000u) << std::hex << toBits(x);
    return;
  }
  EXPECT_EQ(got, want) << std::hex << "x bits 0x" << toBits(x);
}

TEST(Bfloat16, EveryPatternWithTheLowBitsThatMatter) {
  // Exact values, ties, one unit either side of a tie, the extremes.
  const uint32_t lows[] = {0x0000u, 0x0001u, 0x3fffu, 0x7fffu, 0x8000u,
                           0x8001u, 0xbfffu, 0xfffeu, 0xffffu};
  std::mt19937 rng(1234);
  std::uniform_int_distribution<uint32_t> random(0, 0xffffu);
  for (uint32_t top = 0; top < 0x10000u; ++top) {
    for (uint32_t low : lows)
      expectSame(fromBits(top << 16 | low));
    expectSame(fromBits(top << 16 | random(rng)));
    if (::testing::Test::HasFailure())
      return; // One report is enough.
  }
}

TEST(Bfloat16, KnownValues) {
  using awq::floatToBfloat16;
  EXPECT_EQ(floatToBfloat16(1.0f), 0x3f80u);
  EXPECT_EQ(floatToBfloat16(-2.0f), 0xc000u);
  EXPECT_EQ(floatToBfloat16(0.0f), 0x0000u);
  EXPECT_EQ(floatToBfloat16(-0.0f), 0x8000u);
  // Ties: 1 + 2^-8 is halfway between 1 and 1 + 2^-7: to even (down);
  // 1 + 3 * 2^-8 is halfway between 1 + 2^-7 (odd) and 1 + 2^-6: up.
  EXPECT_EQ(floatToBfloat16(1.0f + std::ldexp(1.0f, -8)), 0x3f80u);
  EXPECT_EQ(floatToBfloat16(1.0f + 3 * std::ldexp(1.0f, -8)), 0x3f82u);
  EXPECT_EQ(
      floatToBfloat16(1.0f + std::ldexp(1.0f, -8) + std::ldexp(1.0f, -20)),
      0x3f81u);
  // Overflow: the largest finite bf16 is (2 - 2^-7) 2^127 = 0x7f7f; from
  // half an ulp above it (a tie, rounding to the even 2^128) it is inf.
  EXPECT_EQ(floatToBfloat16(std::ldexp(255.0f, 120)), 0x7f7fu);
  EXPECT_EQ(floatToBfloat16(fromBits(0x7f7f7fffu)), 0x7f7fu);
  EXPECT_EQ(floatToBfloat16(fromBits(0x7f7f8000u)), 0x7f80u);
  EXPECT_EQ(floatToBfloat16(std::numeric_limits<float>::max()), 0x7f80u);
  EXPECT_EQ(floatToBfloat16(-std::numeric_limits<float>::max()), 0xff80u);
  EXPECT_EQ(floatToBfloat16(std::numeric_limits<float>::infinity()), 0x7f80u);
  // Subnormals: bf16's smallest is 2^-133; half of it is a tie (to 0).
  EXPECT_EQ(floatToBfloat16(std::ldexp(1.0f, -133)), 0x0001u);
  EXPECT_EQ(floatToBfloat16(std::ldexp(1.0f, -134)), 0x0000u);
  EXPECT_EQ(floatToBfloat16(std::ldexp(3.0f, -135)), 0x0001u);
  EXPECT_EQ(floatToBfloat16(std::ldexp(1.0f, -149)), 0x0000u);
  EXPECT_EQ(floatToBfloat16(-std::ldexp(1.0f, -149)), 0x8000u);
  EXPECT_EQ(floatToBfloat16(std::ldexp(1.0f, -126)), 0x0080u);
  // Just below the smallest normal rounds up into it.
  EXPECT_EQ(floatToBfloat16(fromBits(0x007fffffu)), 0x0080u);
  // NaN: quiet, sign kept, even when only low payload bits are set (a bare
  // truncation would give infinity).
  EXPECT_TRUE(isNanBits(floatToBfloat16(fromBits(0x7f800001u))));
  EXPECT_TRUE(isNanBits(floatToBfloat16(fromBits(0xff800001u))));
  EXPECT_EQ(floatToBfloat16(fromBits(0xff800001u)) & 0x8000u, 0x8000u);
  EXPECT_TRUE(isNanBits(floatToBfloat16(std::nanf(""))));
}

TEST(Bfloat16, EveryBfloat16WidensExactlyAndRoundTrips) {
  for (uint32_t h = 0; h < 0x10000u; ++h) {
    const float wide = awq::bfloat16ToFloat(static_cast<uint16_t>(h));
    if (isNanBits(static_cast<uint16_t>(h))) {
      EXPECT_TRUE(std::isnan(wide)) << std::hex << h;
      continue;
    }
    if ((h & 0x7fffu) != 0x7f80u) {
      EXPECT_EQ(static_cast<double>(wide), bfloat16Value(h)) << std::hex << h;
    }
    ASSERT_EQ(awq::floatToBfloat16(wide), h) << std::hex << h;
    ASSERT_EQ(awq::elementToFloat(static_cast<uint16_t>(h),
                                  awq::ActivationType::BF16),
              wide);
  }
}

} // namespace
