//===- QuantizerTest.cpp - Tests of the grouped RTN quantizer -------------===//

#include "compiler/quantize/Quantizer.h"
#include "TestUtil.h"
#include "compiler/reference/Reference.h"

#include "runtime/support/Error.h"
#include "runtime/support/Half.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
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

TEST(Quantizer, RoundDownToHalfMatchesTheConversion) {
  // The plain way: convert, and step down once if the conversion rounded up.
  auto plain = [](float v) {
    uint16_t h = floatToHalf(v);
    if (halfToFloat(h) > v)
      --h;
    return halfToFloat(h);
  };
  const uint64_t seed = testSeed();
  SCOPED_TRACE(seedMessage(seed));
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> expo(-27.0f, 15.99f);
  for (int i = 0; i < 300000; ++i) {
    const float v = std::exp2(expo(rng));
    ASSERT_EQ(roundDownToHalf(v), plain(v)) << v;
  }
  // Every finite positive half maps to itself.
  for (uint32_t h = 1; h < 0x7c00; ++h)
    ASSERT_EQ(roundDownToHalf(halfToFloat(h)), halfToFloat(h)) << h;
  EXPECT_EQ(roundDownToHalf(65504.0f), 65504.0f);
  EXPECT_EQ(roundDownToHalf(65504.5f), INFINITY);
  EXPECT_EQ(roundDownToHalf(1e-9f), 0.0f);
  EXPECT_EQ(roundDownToHalf(std::ldexp(1.5f, -24)), std::ldexp(1.0f, -24));
}

/// The plain formula of docs/quantization.md, in double.
struct PlainGrid {
  double lo, hi, exact;
};
PlainGrid plainGrid(float minVal, float maxVal, int bits, bool zeroPoint) {
  const double absMax =
      std::max(std::fabs(double(minVal)), std::fabs(double(maxVal)));
  PlainGrid g;
  g.lo = zeroPoint ? std::min(double(minVal), 0.0) : -absMax;
  g.hi = zeroPoint ? std::max(double(maxVal), 0.0) : absMax;
  g.exact = std::max(g.hi - g.lo, 1e-5) / ((1 << bits) - 1);
  return g;
}

int plainCode(double w, double scale, int zero, int qmax) {
  return std::clamp<int>(int(std::nearbyint(float(w / scale))) + zero, 0, qmax);
}

TEST(Quantizer, GridFollowsTheFormulas) {
  const uint64_t seed = testSeed();
  SCOPED_TRACE(seedMessage(seed));
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> dist(-3.0f, 3.0f);
  for (int bits : {3, 4, 8}) {
    const int qmax = (1 << bits) - 1;
    for (int i = 0; i < 2000; ++i) {
      float lo = dist(rng), hi = dist(rng);
      if (lo > hi)
        std::swap(lo, hi);
      for (bool zeroPoint : {true, false}) {
        SCOPED_TRACE(::testing::Message()
                     << "bits " << bits << " [" << lo << ", " << hi
                     << "] zero point " << zeroPoint);
        const GroupGrid g = makeGroupGrid(lo, hi, {bits, 128, zeroPoint});
        const PlainGrid p = plainGrid(lo, hi, bits, zeroPoint);
        // fp16-representable, at most the exact quotient and at most two fp16
        // steps below it (one for rounding, one for the end-code check).
        ASSERT_EQ(roundToHalf(g.scale), g.scale);
        ASSERT_LE(g.scale, p.exact);
        ASSERT_GE(g.scale,
                  p.exact * (1.0 - 2.0 / 1024) - 2 * std::ldexp(1.0, -24));
        ASSERT_EQ(g.qmax, qmax);
        if (zeroPoint)
          ASSERT_EQ(g.zero, std::clamp<int>(
                                int(std::nearbyint(-p.lo / g.scale)), 0, qmax));
        else
          ASSERT_EQ(g.zero, 1 << (bits - 1));
        // Both ends of the grid's span get the end codes.
        ASSERT_EQ(plainCode(p.lo, g.scale, g.zero, qmax), 0);
        ASSERT_EQ(plainCode(p.hi, g.scale, g.zero, qmax), qmax);
      }
    }
  }
  // The 1e-5 floor keeps a constant group's scale positive.
  EXPECT_GT(makeGroupGrid(0.25f, 0.25f, {8, 32, true}).scale, 0.0f);
  // A range beyond 65504 * qmax cannot be stored.
  EXPECT_FALSE(makeGroupGrid(-1e9f, 1e9f, {4, 32, true}).valid());
  EXPECT_FALSE(
      makeGroupGrid(0.0f, 65504.0f * 15 * 1.01f, {4, 32, true}).valid());
  EXPECT_TRUE(makeGroupGrid(-65504.0f, 65504.0f, {4, 32, true}).valid());
}

/// Quantizes one group with quantizeLinear and returns its codes, scale,
/// zero and the worst |w - dequantized| over the group.
struct GroupResult {
  std::vector<int> codes;
  float scale;
  int zero;
  double maxError;
};
GroupResult quantizeGroup(const std::vector<float> &w, int bits,
                          bool zeroPoint) {
  const int64_t k = static_cast<int64_t>(w.size());
  QuantizedLinear l = quantizeLinear(
      w.data(), 1, k, {bits, static_cast<int>(k), zeroPoint}, {}, "group");
  GroupResult r;
  r.scale = halfToFloat(l.scales[0]);
  r.zero = zeroPoint ? int(l.zeros[0]) : 1 << (bits - 1);
  r.maxError = 0;
  for (int64_t i = 0; i < k; ++i) {
    r.codes.push_back(l.q[i]);
    const double dq = (double(l.q[i]) - r.zero) * r.scale;
    r.maxError = std::max(r.maxError, std::fabs(dq - w[i]));
  }
  return r;
}

bool hasCode(const GroupResult &r, int code) {
  return std::find(r.codes.begin(), r.codes.end(), code) != r.codes.end();
}

TEST(Quantizer, EveryGroupUsesBothEndCodes) {
  // Constructed groups, 32 weights each, at every width: the group's own
  // weights reach code 0 and code qmax wherever the grid's span is the
  // group's (its range holds 0, or the layer is symmetric and the group's
  // extremes are opposite), and no weight is further than half a step plus
  // the end's rounding slack from its dequantized value.
  const uint64_t seed = testSeed();
  SCOPED_TRACE(seedMessage(seed));
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> unit(-1.0f, 1.0f);
  for (int bits : {3, 4, 8}) {
    const int qmax = (1 << bits) - 1;
    auto slack = [&](const GroupResult &r, double exact) {
      return 0.5 * r.scale + qmax * std::max(0.0, exact - r.scale) +
             1e-6 * exact;
    };
    // Symmetric in value (as a clipped group is): -c and c both present.
    for (int trial = 0; trial < 200; ++trial) {
      const float c = std::exp2(unit(rng) * 6);
      std::vector<float> w(32);
      for (float &v : w)
        v = unit(rng) * c;
      w[3] = -c;
      w[17] = c;
      for (bool zeroPoint : {true, false}) {
        SCOPED_TRACE(::testing::Message() << "bits " << bits << " c " << c
                                          << " zero point " << zeroPoint);
        const GroupResult r = quantizeGroup(w, bits, zeroPoint);
        ASSERT_TRUE(hasCode(r, 0));
        ASSERT_TRUE(hasCode(r, qmax));
        const double exact = 2.0 * c / qmax;
        ASSERT_LE(r.maxError, slack(r, exact));
      }
    }
    // Range exactly qmax fp16 steps with the low end on a half-integer:
    // round-half-even would map [-2.5, qmax - 2.5] to codes 0..qmax-1 with
    // scale 1; the grid takes the next smaller scale instead.
    {
      std::vector<float> w(32, 0.0f);
      w[0] = -2.5f;
      w[1] = qmax - 2.5f;
      const GroupResult r = quantizeGroup(w, bits, true);
      EXPECT_TRUE(hasCode(r, 0));
      EXPECT_TRUE(hasCode(r, qmax));
      EXPECT_LT(r.scale, 1.0f);
    }
    // One-sided groups: the span is widened to hold 0, the far end gets the
    // end code and nothing saturates beyond half a step.
    for (float sign : {1.0f, -1.0f}) {
      std::vector<float> w(32);
      for (int i = 0; i < 32; ++i)
        w[i] = sign * (1.0f + 0.01f * i);
      const GroupResult r = quantizeGroup(w, bits, true);
      EXPECT_TRUE(hasCode(r, sign > 0 ? qmax : 0));
      EXPECT_EQ(r.zero, sign > 0 ? 0 : qmax);
      EXPECT_LE(r.maxError, slack(r, 1.31 / qmax));
    }
    // Constant groups dequantize to themselves within the slack.
    for (float c : {0.25f, -3.0f, 0.0f, 1e-7f}) {
      std::vector<float> w(32, c);
      for (bool zeroPoint : {true, false}) {
        const GroupResult r = quantizeGroup(w, bits, zeroPoint);
        const double exact = plainGrid(c, c, bits, zeroPoint).exact;
        EXPECT_LE(r.maxError, slack(r, exact) + std::ldexp(1.0, -25)) << c;
      }
    }
    // A tiny range (below the 1e-5 floor): a positive scale, bounded error.
    {
      std::vector<float> w(32);
      for (float &v : w)
        v = 1e-7f * unit(rng);
      for (bool zeroPoint : {true, false}) {
        const GroupResult r = quantizeGroup(w, bits, zeroPoint);
        EXPECT_GT(r.scale, 0.0f);
        EXPECT_LE(r.maxError, r.scale);
      }
    }
  }
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

TEST(Quantizer, OneSidedGroupsSpanZero) {
  // All-positive group: the span is [0, max], so the zero point is 0.
  std::vector<float> pos(32);
  for (int i = 0; i < 32; ++i)
    pos[i] = 1.0f + 0.01f * i;
  QuantizedLinear l =
      quantizeLinear(pos.data(), 1, 32, {4, 32, true}, {}, "pos");
  EXPECT_EQ(l.zeros[0], 0);
  // All-negative group: the span is [min, 0], so the zero is qmax.
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
      // 15 steps span [-absmax, absmax]; the fp16 scale is rounded down.
      const double exact = 2.0 * absMax / 15;
      EXPECT_LE(double(scale), exact);
      EXPECT_GE(double(scale), exact * (1.0 - 2.0 / 1024));
      for (int64_t c = g * 32; c < (g + 1) * 32; ++c) {
        const int q = l.q[c * 4 + n];
        EXPECT_EQ(deq[c * 4 + n], float(q - 8) * scale);
        EXPECT_LE(std::fabs(deq[c * 4 + n] - w[n * 64 + c]),
                  scale * 0.5 + 15 * (exact - scale) + 1e-6 * exact);
      }
    }
}

/// Every bits / group / mode combination: codes in range and every weight
/// within half a step of its dequantized value (after an optional clip),
/// plus, at the ends of the span, what the rounded-down scale leaves out.
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
              const auto [lo, hi] =
                  std::minmax_element(w.begin() + r * k + g * group,
                                      w.begin() + r * k + (g + 1) * group);
              const double exact = plainGrid(*lo, *hi, bits, zeroPoint).exact;
              ASSERT_LE(l.q[c * n + r], qmax);
              if (zeroPoint) {
                ASSERT_LE(l.zeros[g * n + r], qmax);
              }
              const float step = halfToFloat(l.scales[g * n + r]);
              const float d = deq[c * n + r];
              // The vectorised fake-quantizer agrees bit for bit.
              ASSERT_EQ(row[c], d);
              const double bound =
                  0.5 * step + qmax * (exact - step) + 1e-6 * exact;
              ASSERT_LE(std::fabs(d - w[r * k + c]), bound)
                  << "row " << r << " col " << c;
              const float excess =
                  clip ? std::max(0.0f, std::fabs(original[r * k + c]) -
                                            mv[r * (k / group) + g])
                       : 0.0f;
              ASSERT_LE(std::fabs(d - original[r * k + c]), bound + excess);
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

/// A clip candidate's error in one pass: bit for bit the clamp, the integer
/// code path (quantizeCode) and the subtraction written out, on every
/// width, with and without a zero point, clamps inside and outside the
/// group's range, spans of odd lengths (the vector loop's tails) and the
/// input aliased by the output.
TEST(Quantizer, ClampedQuantizationErrorMatchesThePlainSteps) {
  const uint64_t seed = testSeed();
  SCOPED_TRACE(seedMessage(seed));
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> shrink(0.3f, 1.2f);
  for (int bits : {3, 4, 8})
    for (bool zeroPoint : {true, false})
      for (int64_t count :
           {int64_t(1), int64_t(7), int64_t(32), int64_t(77), int64_t(128)}) {
        SCOPED_TRACE("bits " + std::to_string(bits) +
                     (zeroPoint ? " asym" : " sym") + " count " +
                     std::to_string(count));
        const QuantParams p{bits, 32, zeroPoint};
        for (int trial = 0; trial < 20; ++trial) {
          const std::vector<float> w = normalVector(rng, count, 0.05f);
          const auto [lo, hi] = std::minmax_element(w.begin(), w.end());
          const float lb = std::min(*lo, 0.0f) * shrink(rng);
          const float ub = std::max(*hi, 0.0f) * shrink(rng);
          const GroupGrid grid =
              makeGroupGrid(std::max(*lo, lb), std::min(*hi, ub), p);
          ASSERT_TRUE(grid.valid());
          std::vector<float> err(count, std::nanf("")), inPlace = w;
          clampedQuantizationError(w.data(), count, lb, ub, grid, err.data());
          clampedQuantizationError(inPlace.data(), count, lb, ub, grid,
                                   inPlace.data());
          for (int64_t i = 0; i < count; ++i) {
            const float c = std::clamp(w[i], lb, ub);
            const float want =
                static_cast<float>(quantizeCode(c, grid) - grid.zero) *
                    grid.scale -
                w[i];
            ASSERT_EQ(err[i], want) << "element " << i;
            ASSERT_EQ(inPlace[i], want) << "element " << i;
          }
        }
      }
}
