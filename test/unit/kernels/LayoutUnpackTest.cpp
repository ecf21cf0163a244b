//===- LayoutUnpackTest.cpp - unpackGemv / unpackGemm invert the repackers ===//
//
// Random layers (fresh seed per run, AWQ_TEST_SEED replays one) are repacked
// into each kernel layout and read back from the raw buffers alone: q, the
// scales and the zero points must come back exactly, padding is ignored, and
// a zero point the layout could not have stored is rejected with its group
// and column.
//
//===----------------------------------------------------------------------===//
#include "runtime/kernels/GemmLayout.h"
#include "runtime/kernels/GemvLayout.h"

#include "runtime/support/Error.h"
#include "runtime/support/Half.h"
#include "test/unit/quantize/TestUtil.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

namespace awq {
namespace {

/// A random layer. Scales span fp16's range (subnormals included, both
/// signs) so that recovering z from fp16(z * s) is tested where rounding is
/// coarsest; |z * s| stays far below fp16's overflow.
QuantizedLinear randomLayer(std::mt19937_64 &rng, int64_t k, int64_t n,
                            int bits, int64_t group, bool zeroPoint) {
  QuantizedLinear layer;
  layer.k = k;
  layer.n = n;
  layer.params.bits = bits;
  layer.params.groupSize = group;
  layer.params.zeroPoint = zeroPoint;
  std::uniform_int_distribution<int> value(0, (1 << bits) - 1);
  std::uniform_real_distribution<float> exponent(-20.0f, 4.0f);
  std::bernoulli_distribution negative(0.25);
  layer.q.resize(static_cast<size_t>(k * n));
  for (uint8_t &q : layer.q)
    q = static_cast<uint8_t>(value(rng));
  const size_t groups = static_cast<size_t>(layer.numGroups() * n);
  layer.scales.resize(groups);
  for (uint16_t &s : layer.scales) {
    s = floatToHalf(std::exp2(exponent(rng)));
    if (s == 0) // Underflowed: s == 0 loses z in the GEMM layout.
      s = 1;    // The smallest subnormal.
    if (negative(rng))
      s |= 0x8000;
  }
  if (zeroPoint) {
    layer.zeros.resize(groups);
    for (uint8_t &z : layer.zeros)
      z = static_cast<uint8_t>(value(rng));
  }
  return layer;
}

struct Shape {
  int64_t k, n;
  int64_t group; // 0: one group per column (group = K).
};

std::string describe(const Shape &shape, int bits, bool zeroPoint) {
  return std::to_string(shape.k) + "x" + std::to_string(shape.n) + " " +
         std::to_string(bits) + "-bit group " +
         (shape.group ? std::to_string(shape.group) : std::string("K")) +
         (zeroPoint ? " zero point" : " symmetric");
}

/// Shapes both layouts serve: K not a multiple of 128 (padded K and scale
/// rows past the last group in the GEMM layout), N not a multiple of 64, a
/// GEMV column longer than one 32-unit tile.
const std::vector<Shape> &sharedShapes() {
  static const std::vector<Shape> shapes = {
      {96, 72, 32},    {160, 200, 32}, {512, 64, 32}, {1056, 24, 32},
      {192, 72, 64},   {320, 200, 64}, {128, 8, 128}, {384, 136, 128},
      {512, 512, 128}, {96, 72, 0},    {200, 130, 0}, {512, 40, 0}};
  return shapes;
}

void expectSameLayer(const QuantizedLinear &got, const QuantizedLinear &want) {
  ASSERT_EQ(got.k, want.k);
  ASSERT_EQ(got.n, want.n);
  ASSERT_EQ(got.params.bits, want.params.bits);
  ASSERT_EQ(got.params.groupSize, want.params.groupSize);
  ASSERT_EQ(got.params.zeroPoint, want.params.zeroPoint);
  ASSERT_EQ(got.q.size(), want.q.size());
  int64_t mismatches = 0;
  for (size_t i = 0; i < want.q.size(); ++i)
    if (got.q[i] != want.q[i] && ++mismatches <= 5)
      ADD_FAILURE() << "q[" << i / want.n << ", " << i % want.n << "]: got "
                    << int(got.q[i]) << ", want " << int(want.q[i]);
  EXPECT_EQ(mismatches, 0);
  EXPECT_EQ(got.scales, want.scales);
  EXPECT_EQ(got.zeros, want.zeros);
  EXPECT_TRUE(got.bias.empty());
}

/// Expects `body` to throw awq::Error whose message contains every needle.
template <typename Body>
void expectError(Body body, const std::vector<std::string> &needles) {
  try {
    body();
    ADD_FAILURE() << "expected an awq::Error";
  } catch (const Error &e) {
    for (const std::string &needle : needles)
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos)
          << "'" << needle << "' not in: " << e.what();
  }
}

QuantizedLinear unpack(const GemvWeights &w, const std::string &what) {
  return unpackGemv(w.k, w.n, w.params, w.qweight.data(), w.scales.data(),
                    w.params.zeroPoint ? w.zeros.data() : nullptr, what,
                    ActivationType::F16);
}

QuantizedLinear unpack(const GemmWeights &w, const std::string &what) {
  return unpackGemm(w.k, w.n, w.params, w.qweight.data(), w.scales.data(),
                    w.params.zeroPoint ? w.zeroScales.data() : nullptr, what,
                    ActivationType::F16);
}

TEST(LayoutUnpack, GemvRoundTrip) {
  const uint64_t seed = test::testSeed();
  SCOPED_TRACE(test::seedMessage(seed));
  std::mt19937_64 rng(seed);
  std::vector<Shape> shapes = sharedShapes();
  shapes.push_back({100, 72, 0}); // K not even a multiple of 8 (GEMV only).
  for (const Shape &shape : shapes)
    for (int bits : {3, 4, 8})
      for (bool zeroPoint : {true, false}) {
        SCOPED_TRACE(describe(shape, bits, zeroPoint));
        const QuantizedLinear layer =
            randomLayer(rng, shape.k, shape.n, bits,
                        shape.group ? shape.group : shape.k, zeroPoint);
        const GemvWeights w = repackGemv(layer, "layer");
        const WeightBuffers sizes =
            gemvBuffers({shape.k, shape.n, bits, layer.params.groupSize});
        ASSERT_EQ(w.qweight.size() * 4,
                  static_cast<size_t>(sizes.qweightBytes));
        ASSERT_EQ(w.scales.size(),
                  static_cast<size_t>(sizes.scaleRows * sizes.scaleCols));
        expectSameLayer(unpack(w, "layer"), layer);
      }
}

TEST(LayoutUnpack, GemmRoundTrip) {
  const uint64_t seed = test::testSeed();
  SCOPED_TRACE(test::seedMessage(seed));
  std::mt19937_64 rng(seed);
  for (const Shape &shape : sharedShapes())
    for (int bits : {3, 4, 8})
      for (bool zeroPoint : {true, false}) {
        SCOPED_TRACE(describe(shape, bits, zeroPoint));
        const QuantizedLinear layer =
            randomLayer(rng, shape.k, shape.n, bits,
                        shape.group ? shape.group : shape.k, zeroPoint);
        const GemmWeights w = repackGemm(layer, "layer");
        const WeightBuffers sizes =
            gemmBuffers({shape.k, shape.n, bits, layer.params.groupSize});
        ASSERT_EQ(w.qweight.size(), static_cast<size_t>(sizes.qweightBytes));
        ASSERT_EQ(w.scales.size(),
                  static_cast<size_t>(sizes.scaleRows * sizes.scaleCols));
        expectSameLayer(unpack(w, "layer"), layer);
      }
}

/// Buffers repacked from a larger layer read as a smaller one: every value
/// in the smaller layer's padding is then random, not zero, and is ignored.
TEST(LayoutUnpack, IgnoresNonZeroPadding) {
  const uint64_t seed = test::testSeed();
  SCOPED_TRACE(test::seedMessage(seed));
  std::mt19937_64 rng(seed);
  for (int bits : {3, 4, 8})
    for (bool zeroPoint : {true, false}) {
      SCOPED_TRACE(std::to_string(bits) + (zeroPoint ? "-bit zp" : "-bit sym"));
      // GEMV, one group per column: K = 100 read from K = 128 (q only).
      const QuantizedLinear big =
          randomLayer(rng, 128, 40, bits, 128, zeroPoint);
      const GemvWeights v = repackGemv(big, "big");
      QuantizedLinear small = big;
      small.k = small.params.groupSize = 100;
      small.q.resize(100 * 40);
      QuantizedLinear got = unpackGemv(
          100, 40, small.params, v.qweight.data(), v.scales.data(),
          zeroPoint ? v.zeros.data() : nullptr, "small", ActivationType::F16);
      expectSameLayer(got, small);

      // GEMM: K = 200, N = 72 read from K = 256, N = 128 (padded K and N),
      // and K = 96 group 32 from K = 128 (a fourth scale row past the last
      // group).
      const QuantizedLinear wide =
          randomLayer(rng, 256, 128, bits, 256, zeroPoint);
      const GemmWeights m = repackGemm(wide, "wide");
      QuantizedLinear cut = wide;
      cut.k = cut.params.groupSize = 200;
      cut.n = 72;
      cut.q.clear();
      cut.scales.clear();
      cut.zeros.clear();
      for (int64_t row = 0; row < 200; ++row)
        for (int64_t col = 0; col < 72; ++col)
          cut.q.push_back(wide.q[row * 128 + col]);
      for (int64_t col = 0; col < 72; ++col) {
        cut.scales.push_back(wide.scales[col]);
        if (zeroPoint)
          cut.zeros.push_back(wide.zeros[col]);
      }
      got = unpackGemm(200, 72, cut.params, m.qweight.data(), m.scales.data(),
                       zeroPoint ? m.zeroScales.data() : nullptr, "cut",
                       ActivationType::F16);
      expectSameLayer(got, cut);

      const QuantizedLinear tall =
          randomLayer(rng, 128, 64, bits, 32, zeroPoint);
      const GemmWeights t = repackGemm(tall, "tall");
      QuantizedLinear shorter = tall;
      shorter.k = 96;
      shorter.q.resize(96 * 64);
      shorter.scales.resize(3 * 64);
      if (zeroPoint)
        shorter.zeros.resize(3 * 64);
      got =
          unpackGemm(96, 64, shorter.params, t.qweight.data(), t.scales.data(),
                     zeroPoint ? t.zeroScales.data() : nullptr, "shorter",
                     ActivationType::F16);
      expectSameLayer(got, shorter);
    }
}

TEST(LayoutUnpack, GemvRejectsZeroPointsTheLayoutCannotHold) {
  const uint64_t seed = test::testSeed();
  SCOPED_TRACE(test::seedMessage(seed));
  std::mt19937_64 rng(seed);
  const QuantizedLinear layer = randomLayer(rng, 128, 16, 4, 32, true);
  GemvWeights w = repackGemv(layer, "l");
  // Zero of (group 2, column 5) at 2 * 32 + 5 (rows of 16 columns padded
  // to 32).
  const size_t at = 2 * 32 + 5;
  w.zeros[at] = floatToHalf(3.5f);
  expectError([&] { unpack(w, "blk.3.down"); },
              {"blk.3.down: the zero point of group 2, column 5 is 3.5",
               "not an integer in [0, 16)"});
  w.zeros[at] = floatToHalf(16.0f);
  expectError([&] { unpack(w, "w"); }, {"group 2, column 5 is 16"});
  w.zeros[at] = floatToHalf(-1.0f);
  expectError([&] { unpack(w, "w"); }, {"group 2, column 5 is -1"});
  w.zeros[at] = 0x7E00; // NaN
  expectError([&] { unpack(w, "w"); }, {"group 2, column 5 is nan"});
  w.zeros[at] = floatToHalf(15.0f);
  EXPECT_EQ(unpack(w, "w").zeros[2 * 16 + 5], 15);

  w.scales[1 * 32 + 3] = 0x7C00; // +inf at (group 1, column 3)
  expectError([&] { unpack(w, "w"); },
              {"w: the scale of group 1, column 3 is not finite"});
}

TEST(LayoutUnpack, GemmRejectsZeroTermsNoZeroPointGives) {
  const uint64_t seed = test::testSeed();
  SCOPED_TRACE(test::seedMessage(seed));
  std::mt19937_64 rng(seed);
  QuantizedLinear layer = randomLayer(rng, 96, 72, 4, 32, true);
  // (group 2, column 69): block 1, column 5 of it -> index 2 * 128 + 64 +
  // 5 * 8 + 0.
  const size_t at = 2 * 128 + 64 + 40;
  layer.scales[2 * 72 + 69] = floatToHalf(0.25f);
  layer.zeros[2 * 72 + 69] = 6;
  GemmWeights w = repackGemm(layer, "l");
  ASSERT_EQ(w.zeroScales[at], floatToHalf(1.5f));
  ASSERT_EQ(unpack(w, "w").zeros[2 * 72 + 69], 6);

  w.zeroScales[at] = floatToHalf(1.5f + 0.125f); // z = 6.5
  expectError([&] { unpack(w, "blk.7.gate"); },
              {"blk.7.gate: the zero term of group 2, column 69",
               "not fp16(z * s) for any integer z in [0, 16)"});
  w.zeroScales[at] = static_cast<uint16_t>(floatToHalf(1.5f) + 1); // 1 ulp
  expectError([&] { unpack(w, "w"); }, {"group 2, column 69"});
  w.zeroScales[at] = floatToHalf(4.0f); // z = 16
  expectError([&] { unpack(w, "w"); }, {"group 2, column 69"});
  w.zeroScales[at] = floatToHalf(-0.25f); // z = -1
  expectError([&] { unpack(w, "w"); }, {"group 2, column 69"});
  w.zeroScales[at] = 0x7C00; // +inf
  expectError([&] { unpack(w, "w"); }, {"group 2, column 69"});

  // s == 0: only zs == 0 fits, and z reads back as 0.
  w.scales[at] = 0;
  w.zeroScales[at] = floatToHalf(0.5f);
  expectError([&] { unpack(w, "w"); }, {"group 2, column 69"});
  w.zeroScales[at] = 0;
  EXPECT_EQ(unpack(w, "w").zeros[2 * 72 + 69], 0);

  w.scales[at] = 0x7E00; // NaN
  expectError([&] { unpack(w, "w"); },
              {"w: the scale of group 2, column 69 is not finite"});
}

TEST(LayoutUnpack, RejectsShapesOutsideTheContract) {
  const uint32_t word = 0;
  const uint8_t byte = 0;
  const uint16_t half = 0;
  QuantParams params;
  params.bits = 4;
  params.groupSize = 48;
  expectError(
      [&] {
        unpackGemv(96, 8, params, &word, &half, &half, "gemv.g48",
                   ActivationType::F16);
      },
      {"gemv.g48: cannot unpack a GEMV layer", "the group size must be K"});
  expectError(
      [&] {
        unpackGemm(96, 8, params, &byte, &half, &half, "gemm.g48",
                   ActivationType::F16);
      },
      {"gemm.g48: cannot unpack a GEMM layer", "the group size must be K"});
  params.groupSize = 32;
  params.bits = 5;
  expectError(
      [&] {
        unpackGemv(96, 8, params, &word, &half, &half, "b5",
                   ActivationType::F16);
      },
      {"b5:", "bits must be 3, 4 or 8"});
  params.bits = 4;
  expectError(
      [&] {
        unpackGemm(96, 8, params, &byte, &half, nullptr, "nz",
                   ActivationType::F16);
      },
      {"nz: cannot unpack a GEMM layer without"});
  expectError(
      [&] {
        unpackGemv(96, 8, params, &word, &half, nullptr, "nz",
                   ActivationType::F16);
      },
      {"nz: cannot unpack a GEMV layer without"});
}

} // namespace
} // namespace awq
