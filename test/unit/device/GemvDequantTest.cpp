//===- GemvDequantTest.cpp - Dequantizers of awq/dequant.cuh on the host --===//
//
// Runs the device decoders through the host emulation and checks every value
// 0 .. 2^bits - 1 in every position of a word against plain bit arithmetic
// written here from the documented word formats.
//
//===----------------------------------------------------------------------===//

#include "awq/dequant.cuh"

#include "runtime/support/Half.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>

namespace {

using awq::halfToFloat;

/// The documented 4-bit order: nibble i holds value kOrder[i] of a word.
constexpr int kOrder[8] = {0, 2, 4, 6, 1, 3, 5, 7};

uint16_t lowBits(half2 h) {
  uint32_t bits;
  std::memcpy(&bits, &h, 4);
  return static_cast<uint16_t>(bits & 0xffffu);
}
uint16_t highBits(half2 h) {
  uint32_t bits;
  std::memcpy(&bits, &h, 4);
  return static_cast<uint16_t>(bits >> 16);
}
float lowFloat(half2 h) { return halfToFloat(lowBits(h)); }
float highFloat(half2 h) { return halfToFloat(highBits(h)); }

half2 makeHalf2(float lo, float hi) {
  const uint32_t bits = static_cast<uint32_t>(awq::floatToHalf(lo)) |
                        (static_cast<uint32_t>(awq::floatToHalf(hi)) << 16);
  half2 h;
  std::memcpy(&h, &bits, 4);
  return h;
}

/// 4-bit word from 8 values in k order.
uint32_t pack4(const int (&values)[8]) {
  uint32_t w = 0;
  for (int i = 0; i < 8; ++i)
    w |= static_cast<uint32_t>(values[kOrder[i]]) << (4 * i);
  return w;
}

/// Three 3-bit words from 32 values in k order.
void pack3(const int (&values)[32], uint32_t (&words)[3]) {
  for (int j = 0; j < 3; ++j) {
    uint32_t w = 0;
    for (int i = 0; i < 5; ++i) {
      w |= static_cast<uint32_t>(values[10 * j + 2 * i]) << (3 * i);
      w |= static_cast<uint32_t>(values[10 * j + 2 * i + 1]) << (16 + 3 * i);
    }
    w |= static_cast<uint32_t>((values[30] >> j) & 1) << 15;
    w |= static_cast<uint32_t>((values[31] >> j) & 1) << 31;
    words[j] = w;
  }
}

/// The value a scaled-integer field encodes: bits * 2^-149 * 2^-p.
double fieldValue(uint32_t field, int shift) {
  EXPECT_EQ(field & 0x7f800000u, 0u) << "field reaches the fp32 exponent";
  float f;
  std::memcpy(&f, &field, 4);
  return std::ldexp(static_cast<double>(f), 149 - shift);
}

TEST(GemvDequant, Bits4Half2EveryValueEveryNibble) {
  std::mt19937 rng(401);
  std::uniform_int_distribution<int> nibble(0, 15);
  for (int position = 0; position < 8; ++position)
    for (int value = 0; value < 16; ++value)
      for (int trial = 0; trial < 8; ++trial) {
        int values[8];
        for (int &v : values)
          v = nibble(rng);
        values[position] = value;
        half2 q[4];
        awq::decode4ToHalf2(pack4(values), q);
        for (int p = 0; p < 4; ++p) {
          ASSERT_EQ(lowFloat(q[p]), values[2 * p])
              << "value " << 2 * p << " of word " << std::hex << pack4(values);
          ASSERT_EQ(highFloat(q[p]), values[2 * p + 1])
              << "value " << 2 * p + 1 << " of word " << std::hex
              << pack4(values);
        }
      }
}

TEST(GemvDequant, Bits8Half2EveryValueEveryByte) {
  std::mt19937 rng(402);
  std::uniform_int_distribution<int> byte(0, 255);
  for (int position = 0; position < 4; ++position)
    for (int value = 0; value < 256; ++value) {
      int values[4];
      for (int &v : values)
        v = byte(rng);
      values[position] = value;
      uint32_t w = 0;
      for (int i = 0; i < 4; ++i)
        w |= static_cast<uint32_t>(values[i]) << (8 * i);
      half2 q[2];
      awq::decode8ToHalf2(w, q);
      for (int p = 0; p < 2; ++p) {
        ASSERT_EQ(lowFloat(q[p]), values[2 * p]) << std::hex << w;
        ASSERT_EQ(highFloat(q[p]), values[2 * p + 1]) << std::hex << w;
      }
    }
}

TEST(GemvDequant, Bits3Half2EveryValueEveryPosition) {
  std::mt19937 rng(403);
  std::uniform_int_distribution<int> three(0, 7);
  for (int position = 0; position < 32; ++position)
    for (int value = 0; value < 8; ++value)
      for (int trial = 0; trial < 4; ++trial) {
        int values[32];
        for (int &v : values)
          v = three(rng);
        values[position] = value;
        uint32_t words[3];
        pack3(values, words);
        half2 q[16];
        awq::decode3ToHalf2(words, q);
        for (int p = 0; p < 16; ++p) {
          ASSERT_EQ(lowFloat(q[p]), values[2 * p]) << "value " << 2 * p;
          ASSERT_EQ(highFloat(q[p]), values[2 * p + 1])
              << "value " << 2 * p + 1;
        }
      }
}

TEST(GemvDequant, ScaleMinusZeroIsOneRoundingOfTheExactValue) {
  std::mt19937 rng(404);
  std::uniform_int_distribution<int> q8(0, 255);
  std::uniform_real_distribution<float> scale(-0.05f, 0.05f);
  for (int trial = 0; trial < 20000; ++trial) {
    const float q0 = static_cast<float>(q8(rng)),
                q1 = static_cast<float>(q8(rng));
    const float z0 = static_cast<float>(q8(rng)),
                z1 = static_cast<float>(q8(rng));
    const float s0 = awq::roundToHalf(scale(rng));
    const float s1 = awq::roundToHalf(scale(rng));
    const half2 w = awq::scaleMinusZero(makeHalf2(q0, q1), makeHalf2(s0, s1),
                                        makeHalf2(z0, z1));
    // (q - z) * s is exact in fp32: 9 x 11 significant bits.
    ASSERT_EQ(lowBits(w), awq::floatToHalf((q0 - z0) * s0));
    ASSERT_EQ(highBits(w), awq::floatToHalf((q1 - z1) * s1));
  }
}

TEST(GemvDequant, ScaleMinusZsIsOneRoundingGivenZs) {
  std::mt19937 rng(405);
  std::uniform_int_distribution<int> q4(0, 15);
  std::uniform_real_distribution<float> scale(0.0005f, 0.05f);
  for (int trial = 0; trial < 20000; ++trial) {
    const float q0 = static_cast<float>(q4(rng)),
                q1 = static_cast<float>(q4(rng));
    const float z0 = static_cast<float>(q4(rng)),
                z1 = static_cast<float>(q4(rng));
    const float s0 = awq::roundToHalf(scale(rng));
    const float s1 = awq::roundToHalf(scale(rng));
    const float zs0 = awq::roundToHalf(z0 * s0),
                zs1 = awq::roundToHalf(z1 * s1);
    const half2 w = awq::scaleMinusZs(makeHalf2(q0, q1), makeHalf2(s0, s1),
                                      makeHalf2(-zs0, -zs1));
    // q * s - zs spans < 24 bits here, so the fp32 value is exact.
    ASSERT_EQ(lowBits(w), awq::floatToHalf(q0 * s0 - zs0));
    ASSERT_EQ(highBits(w), awq::floatToHalf(q1 * s1 - zs1));
  }
}

/// Checks decodeFieldScaled<Bits> for every value in every position: the
/// field must encode exactly q * 2^(p - 149) with p = gemvFieldShift.
template <int Bits>
void checkScaledDecode(const std::vector<int> &values,
                       const uint32_t (&words)[Bits]) {
  for (int v = 0; v < 32; ++v) {
    const int shift = awq::gemvFieldShift<Bits>(v);
    ASSERT_GE(shift, 0);
    ASSERT_LE(shift + Bits, 23) << "value " << v;
    const uint32_t field = awq::decodeFieldScaled<Bits>(words, v);
    ASSERT_EQ(fieldValue(field, shift), values[static_cast<size_t>(v)])
        << "value " << v << " shift " << shift;
  }
  uint32_t all[32];
  awq::decodeUnitScaled<Bits>(words, all);
  for (int v = 0; v < 32; ++v)
    ASSERT_EQ(all[v], awq::decodeFieldScaled<Bits>(words, v));
}

TEST(GemvDequant, Bits4ScaledEveryValueEveryPosition) {
  std::mt19937 rng(406);
  std::uniform_int_distribution<int> nibble(0, 15);
  for (int position = 0; position < 32; ++position)
    for (int value = 0; value < 16; ++value) {
      std::vector<int> values(32);
      for (int &v : values)
        v = nibble(rng);
      values[static_cast<size_t>(position)] = value;
      uint32_t words[4];
      for (int j = 0; j < 4; ++j) {
        int eight[8];
        for (int i = 0; i < 8; ++i)
          eight[i] = values[static_cast<size_t>(8 * j + i)];
        words[j] = pack4(eight);
      }
      checkScaledDecode<4>(values, words);
    }
}

TEST(GemvDequant, Bits8ScaledEveryValueEveryPosition) {
  std::mt19937 rng(407);
  std::uniform_int_distribution<int> byte(0, 255);
  for (int position = 0; position < 32; ++position)
    for (int value = 0; value < 256; ++value) {
      std::vector<int> values(32);
      for (int &v : values)
        v = byte(rng);
      values[static_cast<size_t>(position)] = value;
      uint32_t words[8] = {};
      for (int v = 0; v < 32; ++v)
        words[v / 4] |= static_cast<uint32_t>(values[static_cast<size_t>(v)])
                        << (8 * (v % 4));
      checkScaledDecode<8>(values, words);
    }
}

TEST(GemvDequant, Bits3ScaledEveryValueEveryPosition) {
  std::mt19937 rng(408);
  std::uniform_int_distribution<int> three(0, 7);
  for (int position = 0; position < 32; ++position)
    for (int value = 0; value < 8; ++value)
      for (int trial = 0; trial < 4; ++trial) {
        int values[32];
        for (int &v : values)
          v = three(rng);
        values[position] = value;
        uint32_t words[3];
        pack3(values, words);
        checkScaledDecode<3>(std::vector<int>(values, values + 32), words);
      }
}

/// The identity the GEMV kernel relies on: an FMA of the pre-scaled
/// activation with the subnormal field gives x * q * 2^-64 with the same
/// rounding as x * q, i.e. exactly here (x * q fits in 24 bits). Fails if
/// the host flushes subnormals (e.g. built with -ffast-math).
TEST(GemvDequant, SubnormalFieldTimesPrescaledActivationIsExact) {
  std::mt19937 rng(409);
  std::uniform_real_distribution<float> dist(-60000.0f, 60000.0f);
  std::uniform_int_distribution<int> exponent(-24, 15);
  for (int trial = 0; trial < 20000; ++trial) {
    const float x = awq::roundToHalf(
        std::ldexp(dist(rng) / 60000.0f, exponent(rng))); // fp16, any scale
    for (int shift : {0, 3, 8, 16, 19}) {
      // Fields end below bit 23: 8-bit values at shifts <= 15 only.
      const int q = trial % (1 << std::min(8, 23 - shift));
      const uint32_t field = static_cast<uint32_t>(q) << shift;
      const float prescaled =
          x * awq::exp2Int(awq::kGemvPrescaleExponent - shift);
      const float product = std::fmaf(prescaled, awq::bitsAsFloat(field), 0.0f);
      ASSERT_EQ(static_cast<double>(product),
                std::ldexp(static_cast<double>(x) * q,
                           -awq::kGemvAccumulatorExponent))
          << "x " << x << " q " << q << " shift " << shift;
    }
  }
}

TEST(GemvDequant, Exp2IntIsExact) {
  for (int e = -126; e <= 127; ++e)
    ASSERT_EQ(static_cast<double>(awq::exp2Int(e)), std::ldexp(1.0, e));
}

/// The host emulation's bf16 __hfma2 (awq/host/intrinsics.h) rounds
/// a * b + c once, as fma.rn.bf16x2 does. Reference: with a, b, c drawn with
/// exponents in [-12, 12], a * b + c is an exact multiple of 2^-38 below
/// 2^26, so it is exact in long double (64-bit significand); it is then
/// rounded to bf16 by choosing the nearer bracketing value (ties to even),
/// all compared exactly. Single rounding differs from rounding the product
/// first on many of these draws, so a double-rounding emulation fails.
TEST(HostBf16, FmaRoundsOnce) {
  std::mt19937 rng(2024);
  std::uniform_int_distribution<int> mantissa(0, 127), exponent(-12, 12),
      sign(0, 1);
  auto draw = [&] {
    const int e = exponent(rng);
    const uint16_t bits = static_cast<uint16_t>(
        (sign(rng) << 15) | ((127 + e) << 7) | mantissa(rng));
    return bits;
  };
  auto value = [](uint16_t bits) -> long double {
    return static_cast<long double>(awq::bfloat16ToFloat(bits));
  };
  // The bf16 values bracketing x (|x| < 2^27, normal range): truncate the
  // significand to 8 bits, exactly, in long double.
  auto nearest = [&](long double x) -> uint16_t {
    if (x == 0.0L)
      return 0;
    int e;
    std::frexp(static_cast<double>(x), &e); // |x| in [2^(e-1), 2^e)
    long double m = std::fabs(x);
    // Exponent from the exact value (double's frexp may round up x).
    while (std::ldexp(1.0L, e - 1) > m)
      --e;
    while (std::ldexp(1.0L, e) <= m)
      ++e;
    const long double step = std::ldexp(1.0L, e - 8);
    const long double low = std::floor(m / step) * step;
    const long double high = low + step;
    long double pick;
    if (m - low < high - m)
      pick = low;
    else if (high - m < m - low)
      pick = high;
    else // tie: the one whose last significand bit is even
      pick = std::fmod(low / step, 2.0L) == 0.0L ? low : high;
    return static_cast<uint16_t>(
        awq::floatToBfloat16(static_cast<float>(x < 0 ? -pick : pick)));
  };
  int doubleRoundingDiffers = 0;
  for (int i = 0; i < 200000; ++i) {
    const uint16_t a = draw(), b = draw(), c = draw();
    const long double exact = value(a) * value(b) + value(c);
    const uint16_t want = nearest(exact);
    __nv_bfloat16_raw ra, rb, rc;
    ra.x = a;
    rb.x = b;
    rc.x = c;
    const __nv_bfloat16 got =
        __hfma(__nv_bfloat16(ra), __nv_bfloat16(rb), __nv_bfloat16(rc));
    ASSERT_EQ(static_cast<__nv_bfloat16_raw>(got).x, want)
        << std::hex << a << " * " << b << " + " << c;
    const __nv_bfloat162 pair =
        __hfma2(__halves2bfloat162(__nv_bfloat16(ra), __nv_bfloat16(rc)),
                __halves2bfloat162(__nv_bfloat16(rb), __nv_bfloat16(rb)),
                __halves2bfloat162(__nv_bfloat16(rc), __nv_bfloat16(ra)));
    ASSERT_EQ(static_cast<__nv_bfloat16_raw>(__low2bfloat16(pair)).x, want);
    const uint16_t twice =
        nearest(static_cast<long double>(
                    awq::bfloat16ToFloat(nearest(value(a) * value(b)))) +
                value(c));
    doubleRoundingDiffers += twice != want;
  }
  EXPECT_GT(doubleRoundingDiffers, 0) << "the draws never tell single from "
                                         "double rounding";
}

} // namespace
