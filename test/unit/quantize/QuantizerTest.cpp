//===- QuantizerTest.cpp - Tests of the grouped RTN quantizer -------------===//

#include "compiler/quantize/Quantizer.h"
#include "TestUtil.h"
#include "compiler/reference/Reference.h"

#include "runtime/support/Error.h"
#include "runtime/support/Half.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cfenv>
#include <cmath>

using namespace awq;
using namespace awq::test;
using ::testing::HasSubstr;

namespace {

TEST(Quantizer, RoundHalfEvenTies) {
  EXPECT_EQ(roundHalfEven(0.5f), 0.0f);
  EXPECT_EQ(roundHalfEven(1.5f), 2.0f);
  EXPECT_EQ(roundHalfEven(2.5f), 2.0f);
  EXPECT_EQ(roundHalfEven(3.5f), 4.0f);
  EXPECT_EQ(roundHalfEven(-0.5f), 0.0f);
  EXPECT_EQ(roundHalfEven(-1.5f), -2.0f);
  EXPECT_EQ(roundHalfEven(-2.5f), -2.0f);
  EXPECT_EQ(roundHalfEven(2.4999998f), 2.0f);
  EXPECT_EQ(roundHalfEven(2.5000002f), 3.0f);
  EXPECT_EQ(roundHalfEven(4194303.5f), 4194304.0f);
  EXPECT_EQ(roundHalfEven(-4194304.0f), -4194304.0f);
}

TEST(Quantizer, RoundHalfEvenMatchesNearbyint) {
  ASSERT_EQ(std::fegetround(), FE_TONEAREST);
  const uint64_t seed = testSeed();
  SCOPED_TRACE(seedMessage(seed));
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> wide(-kMaxRoundInput, kMaxRoundInput);
  std::uniform_int_distribution<int> ints(-300, 300);
  for (int i = 0; i < 200000; ++i) {
    const float v = i % 2 ? wide(rng) / float(1 << (i % 20)) : ints(rng) + 0.5f;
    ASSERT_EQ(roundHalfEven(v), std::nearbyint(v)) << "v = " << v;
  }
}

TEST(Quantizer, RoundUpToHalfMatchesTheConversion) {
  // The plain way: convert, and step up once if the conversion rounded down.
  auto plain = [](float v) {
    uint16_t h = floatToHalf(v);
    if (halfToFloat(h) < v)
      ++h;
    return halfToFloat(h);
  };
  const uint64_t seed = testSeed();
  SCOPED_TRACE(seedMessage(seed));
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> expo(-27.0f, 16.5f);
  for (int i = 0; i < 300000; ++i) {
    const float v = std::exp2(expo(rng));
    const float want = plain(v);
    ASSERT_EQ(roundUpToHalf(v), std::isfinite(want) ? want : INFINITY) << v;
  }
  // Every finite positive half maps to itself.
  for (uint32_t h = 1; h < 0x7c00; ++h)
    ASSERT_EQ(roundUpToHalf(halfToFloat(h)), halfToFloat(h)) << h;
  EXPECT_EQ(roundUpToHalf(65504.0f), 65504.0f);
  EXPECT_EQ(roundUpToHalf(65504.5f), INFINITY);
  EXPECT_EQ(roundUpToHalf(1e-9f), std::ldexp(1.0f, -24));
}

TEST(Quantizer, GridFollowsTheFormulas) {
  const uint64_t seed = testSeed();
  SCOPED_TRACE(seedMessage(seed));
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> dist(-3.0f, 3.0f);
  for (int bits : {3, 4, 8}) {
    const int qmax = (1 << bits) - 1;
    for (int i = 0; i < 1000; ++i) {
      float lo = dist(rng), hi = dist(rng);
      if (lo > hi)
        std::swap(lo, hi);
      const GroupGrid g = makeGroupGrid(lo, hi, {bits, 128, true});
      const double exact = std::max(double(hi) - lo, 1e-5) / qmax;
      // fp16-representable, covering the range, and at most one fp16 step
      // above the exact quotient.
      ASSERT_EQ(roundToHalf(g.scale), g.scale);
      ASSERT_GE(g.scale, exact);
      // One fp16 step: relative 2^-10 for normals, 2^-24 for subnormals.
      ASSERT_LE(g.scale, exact * (1.0 + 1.0 / 512) + std::ldexp(1.0, -24));
      ASSERT_EQ(g.qmax, qmax);
      ASSERT_EQ(g.zero,
                std::clamp<int>(int(std::nearbyint(-lo / g.scale)), 0, qmax));

      const GroupGrid s = makeGroupGrid(lo, hi, {bits, 128, false});
      const double absMax = std::max<double>(std::fabs(lo), std::fabs(hi));
      ASSERT_EQ(s.zero, 1 << (bits - 1));
      ASSERT_GE(s.scale, absMax / ((1 << (bits - 1)) - 1));
      ASSERT_LE(s.scale, absMax / ((1 << (bits - 1)) - 1) * (1.0 + 1.0 / 512) +
                             std::ldexp(1.0, -24));
    }
  }
  // The 1e-5 floor keeps a constant group's scale positive.
  EXPECT_GT(makeGroupGrid(0.25f, 0.25f, {8, 32, true}).scale, 0.0f);
  // A range beyond 65504 * qmax cannot be stored.
  EXPECT_FALSE(makeGroupGrid(-1e9f, 1e9f, {4, 32, true}).valid());
}

TEST(Quantizer, RoundsHalfToEvenInsideAGroup) {
  // Range [0, 15] at 4 bits: scale 1, zero 0, so codes are round(w).
  std::vector<float> w(32, 7.0f);
  w[0] = 0.0f;
  w[1] = 15.0f;
  w[2] = 2.5f;
  w[3] = 3.5f;
  w[4] = 4.5f;
  w[5] = 10.5f;
  QuantizedLinear l = quantizeLinear(w.data(), 1, 32, {4, 32, true}, {}, "t");
  EXPECT_EQ(halfToFloat(l.scales[0]), 1.0f);
  EXPECT_EQ(l.zeros[0], 0);
  EXPECT_EQ(l.q[2], 2);
  EXPECT_EQ(l.q[3], 4);
  EXPECT_EQ(l.q[4], 4);
  EXPECT_EQ(l.q[5], 10);
  EXPECT_EQ(l.q[1], 15);
}

TEST(Quantizer, ZeroPointIsClamped) {
  // All-positive group: -round(min / scale) < 0 clamps to 0.
  std::vector<float> pos(32);
  for (int i = 0; i < 32; ++i)
    pos[i] = 1.0f + 0.01f * i;
  QuantizedLinear l =
      quantizeLinear(pos.data(), 1, 32, {4, 32, true}, {}, "pos");
  EXPECT_EQ(l.zeros[0], 0);
  // All-negative group: the zero clamps to qmax.
  for (float &v : pos)
    v = -v;
  l = quantizeLinear(pos.data(), 1, 32, {4, 32, true}, {}, "neg");
  EXPECT_EQ(l.zeros[0], 15);
  for (uint8_t q : l.q)
    EXPECT_LE(q, 15);
}

TEST(Quantizer, SymmetricUsesTheImplicitZero) {
  const uint64_t seed = testSeed();
  SCOPED_TRACE(seedMessage(seed));
  std::mt19937_64 rng(seed);
  const std::vector<float> w = normalVector(rng, 4 * 64);
  QuantizedLinear l =
      quantizeLinear(w.data(), 4, 64, {4, 32, false}, {}, "sym");
  EXPECT_TRUE(l.zeros.empty());
  validate(l, "sym");
  const std::vector<float> deq = dequantize(l);
  for (int64_t n = 0; n < 4; ++n)
    for (int64_t g = 0; g < 2; ++g) {
      float absMax = 0;
      for (int64_t c = g * 32; c < (g + 1) * 32; ++c)
        absMax = std::max(absMax, std::fabs(w[n * 64 + c]));
      const float scale = halfToFloat(l.scales[g * 4 + n]);
      EXPECT_GE(double(scale), absMax / 7.0);
      for (int64_t c = g * 32; c < (g + 1) * 32; ++c) {
        const int q = l.q[c * 4 + n];
        EXPECT_EQ(deq[c * 4 + n], float(q - 8) * scale);
        EXPECT_LE(std::fabs(deq[c * 4 + n] - w[n * 64 + c]),
                  scale * 0.5f * 1.000001f);
      }
    }
}

/// Every bits / group / mode combination: codes in range and every weight
/// within half a step of its dequantized value (after an optional clip).
TEST(Quantizer, EveryConfigurationStaysWithinHalfAStep) {
  const uint64_t seed = testSeed();
  SCOPED_TRACE(seedMessage(seed));
  std::mt19937_64 rng(seed);
  const int64_t n = 12, k = 256;
  for (int bits : {3, 4, 8})
    for (int64_t group : {int64_t(32), int64_t(64), int64_t(128), k})
      for (bool zeroPoint : {true, false})
        for (bool clip : {false, true}) {
          SCOPED_TRACE("bits " + std::to_string(bits) + " group " +
                       std::to_string(group) + (zeroPoint ? " asym" : " sym") +
                       (clip ? " clipped" : ""));
          const QuantParams p{bits, group, zeroPoint};
          std::vector<float> w = normalVector(rng, n * k, 0.05f);
          const std::vector<float> original = w;
          // Clip every group to 80% of its absmax, as the clip search may.
          std::vector<float> mv(n * (k / group), 0.0f);
          if (clip)
            for (int64_t r = 0; r < n; ++r)
              for (int64_t g = 0; g < k / group; ++g) {
                float a = 0;
                for (int64_t c = g * group; c < (g + 1) * group; ++c)
                  a = std::max(a, std::fabs(w[r * k + c]));
                mv[r * (k / group) + g] = 0.8f * a;
                for (int64_t c = g * group; c < (g + 1) * group; ++c)
                  w[r * k + c] = std::clamp(w[r * k + c], -0.8f * a, 0.8f * a);
              }
          const QuantizedLinear l =
              quantizeLinear(w.data(), n, k, p, {}, "layer", 2);
          ASSERT_NO_THROW(validate(l, "layer"));
          const int qmax = (1 << bits) - 1;
          const std::vector<float> deq = dequantize(l);
          std::vector<float> row(k);
          for (int64_t r = 0; r < n; ++r) {
            ASSERT_TRUE(fakeQuantizeRow(w.data() + r * k, k, p, row.data()));
            for (int64_t c = 0; c < k; ++c) {
              const int64_t g = c / group;
              ASSERT_LE(l.q[c * n + r], qmax);
              if (zeroPoint) {
                ASSERT_LE(l.zeros[g * n + r], qmax);
              }
              const float step = halfToFloat(l.scales[g * n + r]);
              const float d = deq[c * n + r];
              // The vectorised fake-quantizer agrees bit for bit.
              ASSERT_EQ(row[c], d);
              ASSERT_LE(std::fabs(d - w[r * k + c]), 0.5f * step * 1.000001f)
                  << "row " << r << " col " << c;
              const float excess =
                  clip ? std::max(0.0f, std::fabs(original[r * k + c]) -
                                            mv[r * (k / group) + g])
                       : 0.0f;
              ASSERT_LE(std::fabs(d - original[r * k + c]),
                        0.5f * step * 1.000001f + excess);
            }
          }
        }
}

TEST(Quantizer, RejectsBadInput) {
  std::vector<float> w(2 * 64, 0.5f);
  EXPECT_THAT(
      [&] {
        quantizeLinear(w.data(), 2, 64, {5, 32, true}, {}, "L");
      },
      ::testing::ThrowsMessage<Error>(HasSubstr("L: bits must be 3, 4 or 8")));
  EXPECT_THAT(
      [&] {
        quantizeLinear(w.data(), 2, 64, {4, 48, true}, {}, "L");
      },
      ::testing::ThrowsMessage<Error>(HasSubstr("group size 48")));
  EXPECT_THAT(
      [&] {
        quantizeLinear(w.data(), 2, 64, {4, 32, true}, std::vector<uint16_t>(3),
                       "L");
      },
      ::testing::ThrowsMessage<Error>(HasSubstr("bias must have N = 2")));
  w[70] = std::nanf("");
  EXPECT_THAT(
      [&] {
        quantizeLinear(w.data(), 2, 64, {4, 32, true}, {}, "L");
      },
      ::testing::ThrowsMessage<Error>(
          HasSubstr("weight [1, 6] is not finite")));
  w[70] = 1e9f;
  w[71] = -1e9f;
  EXPECT_THAT(
      [&] {
        quantizeLinear(w.data(), 2, 64, {4, 32, true}, {}, "L");
      },
      ::testing::ThrowsMessage<Error>(HasSubstr("larger than fp16")));
}

} // namespace
