//===- GemvLayoutTest.cpp - GEMV layout round trips and input checks ------===//
//
// Unpacks repackGemv's buffers with a decoder written here, straight from
// the layout documented in runtime/kernels/GemvLayout.h (element by element,
// no shared code), and compares with the logical layer.
//
//===----------------------------------------------------------------------===//

#include "runtime/kernels/GemvLayout.h"

#include "runtime/support/Error.h"
#include "runtime/support/Half.h"

#include <gtest/gtest.h>

#include <random>

namespace {

using awq::GemvWeights;
using awq::QuantizedLinear;

QuantizedLinear makeLayer(int64_t k, int64_t n, int bits, int64_t groupSize,
                          bool zeroPoint, bool bias, uint32_t seed) {
  std::mt19937 rng(seed);
  QuantizedLinear layer;
  layer.k = k;
  layer.n = n;
  layer.params.bits = bits;
  layer.params.groupSize = groupSize;
  layer.params.zeroPoint = zeroPoint;
  std::uniform_int_distribution<int> q(0, (1 << bits) - 1);
  std::uniform_real_distribution<float> s(0.001f, 0.1f);
  layer.q.resize(static_cast<size_t>(k * n));
  for (uint8_t &v : layer.q)
    v = static_cast<uint8_t>(q(rng));
  const size_t groups = static_cast<size_t>(layer.numGroups() * n);
  for (size_t i = 0; i < groups; ++i)
    layer.scales.push_back(awq::floatToHalf(s(rng)));
  if (zeroPoint)
    for (size_t i = 0; i < groups; ++i)
      layer.zeros.push_back(static_cast<uint8_t>(q(rng)));
  if (bias)
    for (int64_t i = 0; i < n; ++i)
      layer.bias.push_back(awq::floatToHalf(s(rng)));
  return layer;
}

/// The value of (k, column) read back from the packed words, following the
/// documented address formula and word formats.
int unpackValue(const GemvWeights &w, int64_t k, int64_t column) {
  const int bits = w.params.bits;
  const int64_t unit = k / 32, inUnit = k % 32;
  // Groups of a multiple of 64 values (or one per column): the units of
  // whole pairs of tiles (64 each) are paired, tile 2p + j holding unit
  // 64p + 2l + j in lane l. Units after them, and every unit of other
  // layers: tile t holds unit 32t + l.
  const bool paired =
      (w.params.groupSize == w.k || w.params.groupSize % 64 == 0) &&
      unit < w.units / 64 * 64;
  const int64_t tile = paired ? unit / 64 * 2 + unit % 2 : unit / 32;
  const int64_t lane = paired ? unit % 64 / 2 : unit % 32;
  const int64_t tileUnits = std::min<int64_t>(32, w.units - 32 * tile);
  // 16-byte chunks: 4 words of one column (4 and 8 bits), or word h of 4
  // interleaved columns (3 bits).
  const int interleave = bits == 3 ? 4 : 1;
  const int columnWords = 4 / interleave;
  // Word `word` of the unit.
  auto unitWord = [&](int word) {
    const int chunk = word / columnWords, i = word % columnWords;
    const int64_t group = column / interleave, j = column % interleave;
    const int64_t index = group * interleave * w.units * bits +
                          32 * tile * bits * interleave +
                          (chunk * tileUnits + lane) * 4 + j * columnWords + i;
    return w.qweight.at(static_cast<size_t>(index));
  };
  if (bits == 4) {
    const int order[8] = {0, 2, 4, 6, 1, 3, 5, 7};
    const uint32_t word = unitWord(static_cast<int>(inUnit / 8));
    for (int nibble = 0; nibble < 8; ++nibble)
      if (order[nibble] == inUnit % 8)
        return static_cast<int>((word >> (4 * nibble)) & 15u);
  }
  if (bits == 8)
    return static_cast<int>(
        (unitWord(static_cast<int>(inUnit / 4)) >> (8 * (inUnit % 4))) & 255u);
  if (inUnit >= 30) {
    const int bit = inUnit == 30 ? 15 : 31;
    int value = 0;
    for (int j = 0; j < 3; ++j)
      value |= static_cast<int>((unitWord(j) >> bit) & 1u) << j;
    return value;
  }
  const int j = static_cast<int>(inUnit / 10),
            r = static_cast<int>(inUnit % 10);
  const int offset = (r % 2 == 0 ? 0 : 16) + 3 * (r / 2);
  return static_cast<int>((unitWord(j) >> offset) & 7u);
}

void expectRoundTrip(const QuantizedLinear &layer) {
  const GemvWeights w = awq::repackGemv(layer, "layer");
  const int64_t units = (layer.k + 31) / 32;
  ASSERT_EQ(w.units, units);
  // 3 bits: N padded with zero columns to a multiple of 4.
  const int64_t paddedN =
      layer.params.bits == 3 ? (layer.n + 3) / 4 * 4 : layer.n;
  ASSERT_EQ(w.qweight.size(),
            static_cast<size_t>(paddedN * units * layer.params.bits));
  for (int64_t c = 0; c < paddedN; ++c) {
    for (int64_t kk = 0; kk < units * 32; ++kk) {
      const int expected = kk < layer.k && c < layer.n
                               ? layer.q[static_cast<size_t>(kk * layer.n + c)]
                               : 0;
      ASSERT_EQ(unpackValue(w, kk, c), expected)
          << "k " << kk << " column " << c << " bits " << layer.params.bits;
    }
  }
  const int64_t groups = layer.numGroups();
  ASSERT_EQ(w.numGroups, groups);
  // Rows of N rounded up to 32 columns; the padding holds zeros.
  const int64_t scaleColumns = (layer.n + 31) / 32 * 32;
  ASSERT_EQ(w.scaleColumns, scaleColumns);
  ASSERT_EQ(w.scales.size(), static_cast<size_t>(groups * scaleColumns));
  ASSERT_EQ(w.zeros.size(), layer.params.zeroPoint
                                ? static_cast<size_t>(groups * scaleColumns)
                                : 0u);
  for (int64_t g = 0; g < groups; ++g)
    for (int64_t c = layer.n; c < scaleColumns; ++c) {
      const size_t packed = static_cast<size_t>(g * scaleColumns + c);
      ASSERT_EQ(w.scales[packed], 0) << "padding column " << c;
      if (layer.params.zeroPoint) {
        ASSERT_EQ(w.zeros[packed], 0) << "padding column " << c;
      }
    }
  for (int64_t c = 0; c < layer.n; ++c)
    for (int64_t g = 0; g < groups; ++g) {
      const size_t logical = static_cast<size_t>(g * layer.n + c);
      const size_t packed = static_cast<size_t>(g * scaleColumns + c);
      ASSERT_EQ(w.scales.at(packed), layer.scales[logical]);
      if (layer.params.zeroPoint) {
        ASSERT_EQ(awq::halfToFloat(w.zeros.at(packed)),
                  static_cast<float>(layer.zeros[logical]));
      }
    }
  if (!layer.params.zeroPoint) {
    EXPECT_TRUE(w.zeros.empty());
  }
  EXPECT_EQ(w.bias, layer.bias);
}

TEST(GemvLayout, RoundTripAllWidthsAndGroups) {
  uint32_t seed = 500;
  for (int bits : {3, 4, 8})
    for (int64_t group : {32, 64, 128})
      for (bool zp : {true, false}) {
        SCOPED_TRACE("bits " + std::to_string(bits) + " group " +
                     std::to_string(group) + (zp ? " zp" : " sym"));
        expectRoundTrip(makeLayer(1024, 7, bits, group, zp, zp, ++seed));
      }
}

TEST(GemvLayout, PairsTheUnitsOfWholeTilePairsInOneGroup) {
  uint32_t seed = 700;
  for (int bits : {3, 4, 8}) {
    // 128 units in groups of 2 and 4 units, and one group per column:
    // paired (tiles 0, 1 hold units 0, 2, .. 62 and 1, 3, .. 63).
    expectRoundTrip(makeLayer(4096, 5, bits, 128, true, false, ++seed));
    expectRoundTrip(makeLayer(4096, 4, bits, 64, false, true, ++seed));
    expectRoundTrip(makeLayer(2048, 3, bits, 2048, true, false, ++seed));
    // K = 2040 still rounds up to 64 units (the last one padded).
    expectRoundTrip(makeLayer(2040, 3, bits, 2040, true, false, ++seed));
    // Not paired: groups of one unit.
    expectRoundTrip(makeLayer(4096, 4, bits, 32, true, false, ++seed));
    // Paired up to the last whole pair of tiles, then unpaired: 96 units
    // (one whole tail tile), 344 (the 7B down projection: a tail tile of
    // 24 units), 120 (a whole and a short tail tile) and K = 4000 (125
    // units, the last one padded, in the tail).
    expectRoundTrip(makeLayer(3072, 4, bits, 128, true, false, ++seed));
    expectRoundTrip(makeLayer(11008, 2, bits, 128, true, true, ++seed));
    expectRoundTrip(makeLayer(3840, 3, bits, 3840, false, false, ++seed));
    expectRoundTrip(makeLayer(4000, 3, bits, 4000, true, false, ++seed));
  }
  // Spot checks written out: unit 1 of a paired 4-bit column is the first
  // slot of tile 1 (4 words per slot, 32 slots per tile), unit 2 the second
  // slot of tile 0; unpaired, unit 1 is the second slot of tile 0.
  EXPECT_EQ(awq::gemvWordIndex(0, 1, 0, 128, 4, 128), 32 * 4);
  EXPECT_EQ(awq::gemvWordIndex(0, 2, 0, 128, 4, 128), 4);
  EXPECT_EQ(awq::gemvWordIndex(0, 65, 3, 128, 4, 128), 3 * 32 * 4 + 3);
  EXPECT_EQ(awq::gemvWordIndex(0, 1, 0, 128, 4, 0), 4);
  // 344 units, 320 paired: unit 321 is the second slot of tile 10, a tile
  // of 24 units; unit 319 the last slot of tile 9.
  EXPECT_EQ(awq::gemvWordIndex(0, 321, 0, 344, 4, 320), 10 * 32 * 4 + 4);
  EXPECT_EQ(awq::gemvWordIndex(0, 319, 0, 344, 4, 320), 9 * 32 * 4 + 31 * 4);
  EXPECT_EQ(awq::gemvPairedUnits(4096, 128), 128);
  EXPECT_EQ(awq::gemvPairedUnits(4096, 4096), 128);
  EXPECT_EQ(awq::gemvPairedUnits(4096, 32), 0);
  EXPECT_EQ(awq::gemvPairedUnits(11008, 128), 320);
  EXPECT_EQ(awq::gemvPairedUnits(2000, 2000), 0);
}

TEST(GemvLayout, RoundTripPartialTilesAndPaddedK) {
  uint32_t seed = 600;
  for (int bits : {3, 4, 8}) {
    // 33 units: a full tile and a one-unit tile.
    expectRoundTrip(makeLayer(1056, 5, bits, 32, true, false, ++seed));
    // 48 units: the second tile holds 16 units.
    expectRoundTrip(makeLayer(1536, 3, bits, 1536, false, true, ++seed));
    // K not a multiple of 32: per-column group, padded with q = 0.
    expectRoundTrip(makeLayer(100, 9, bits, 100, true, true, ++seed));
    expectRoundTrip(makeLayer(3000, 2, bits, 3000, true, false, ++seed));
    // Scale rows of 96 columns (N = 70): two columns past a multiple of 32.
    expectRoundTrip(makeLayer(256, 70, bits, 64, true, false, ++seed));
  }
}

TEST(GemvLayout, RejectsUnsupportedGroupSize) {
  const QuantizedLinear layer = makeLayer(128, 4, 4, 16, true, false, 1);
  try {
    awq::repackGemv(layer, "model.layers.0.q_proj");
    FAIL() << "group size 16 accepted";
  } catch (const awq::Error &e) {
    EXPECT_NE(std::string(e.what()).find("model.layers.0.q_proj"),
              std::string::npos);
    EXPECT_NE(std::string(e.what()).find("group size"), std::string::npos);
  }
}

TEST(GemvLayout, RejectsOutOfRangeValuesAndBadScales) {
  QuantizedLinear layer = makeLayer(64, 4, 4, 32, true, false, 2);
  layer.q[5] = 16;
  EXPECT_THROW(awq::repackGemv(layer, "q out of range"), awq::Error);
  layer = makeLayer(64, 4, 3, 32, true, false, 3);
  layer.zeros[1] = 8;
  EXPECT_THROW(awq::repackGemv(layer, "zero out of range"), awq::Error);
  layer = makeLayer(64, 4, 8, 32, true, false, 4);
  layer.scales[2] = 0x7e00; // NaN
  EXPECT_THROW(awq::repackGemv(layer, "nan scale"), awq::Error);
  layer = makeLayer(64, 4, 8, 32, true, false, 5);
  layer.scales[3] = 0x7c00; // +inf
  EXPECT_THROW(awq::repackGemv(layer, "inf scale"), awq::Error);
  layer = makeLayer(64, 4, 4, 32, true, false, 6);
  layer.q.pop_back();
  EXPECT_THROW(awq::repackGemv(layer, "short q"), awq::Error);
}

/// bf16 layers: scales are stored times 2^30 (the bf16 kernel's accumulator
/// scale: the bf16 exponent field, bits 7..14, grows by 30), bias is copied,
/// the zero points are stored as bf16 bits of z (bit patterns written out
/// here, not converted by the code under test), unpackGemv reads them back
/// as the logical bf16 values, and the kernel's limits on bf16 scales
/// (finite, below 2^96) are enforced.
TEST(GemvLayout, Bf16BuffersHoldBf16Bits) {
  QuantizedLinear layer = makeLayer(96, 5, 8, 32, true, true, 7);
  layer.activation = awq::ActivationType::BF16;
  std::mt19937 rng(8);
  std::uniform_int_distribution<int> mantissa(0, 127);
  for (uint16_t &s : layer.scales) // 2^-6 .. 2^-5: bf16 0x3c80 .. 0x3cff
    s = static_cast<uint16_t>(0x3c80 + mantissa(rng));
  layer.zeros[0] = 0;
  layer.zeros[1] = 1;
  layer.zeros[2] = 255;
  const GemvWeights w = awq::repackGemv(layer, "bf16 layer");
  EXPECT_EQ(w.activation, awq::ActivationType::BF16);
  const int64_t groups = layer.numGroups();
  const int64_t scaleColumns = (layer.n + 31) / 32 * 32;
  for (int64_t g = 0; g < groups; ++g)
    for (int64_t c = 0; c < layer.n; ++c) {
      const size_t logical = static_cast<size_t>(g * layer.n + c);
      const size_t packed = static_cast<size_t>(g * scaleColumns + c);
      EXPECT_EQ(w.scales[packed], layer.scales[logical] + (30 << 7));
      // z as bf16: 0 -> 0x0000; else 2^e (1 + f/128) with z = 2^e + r.
      const int z = layer.zeros[logical];
      uint16_t bits = 0;
      if (z != 0) {
        int e = 0;
        while ((z >> (e + 1)) != 0)
          ++e;
        bits = static_cast<uint16_t>(((127 + e) << 7) |
                                     (((z - (1 << e)) << 7) >> e));
      }
      EXPECT_EQ(w.zeros[packed], bits) << "z = " << z;
    }
  EXPECT_EQ(w.zeros[1], 0x3f80u);      // z = 1 (group 0, column 1)
  for (int64_t g = 0; g < groups; ++g) // the padding columns stay 0
    for (int64_t c = layer.n; c < scaleColumns; ++c)
      EXPECT_EQ(w.scales[static_cast<size_t>(g * scaleColumns + c)], 0u);
  EXPECT_EQ(w.bias, layer.bias);

  const QuantizedLinear back = awq::unpackGemv(
      layer.k, layer.n, layer.params, w.qweight.data(), w.scales.data(),
      w.zeros.data(), "bf16 layer", awq::ActivationType::BF16);
  EXPECT_EQ(back.activation, awq::ActivationType::BF16);
  EXPECT_EQ(back.q, layer.q);
  EXPECT_EQ(back.scales, layer.scales);
  EXPECT_EQ(back.zeros, layer.zeros);

  QuantizedLinear bad = layer;
  bad.scales[1] = 0x7f80; // bf16 +inf (a finite fp16 pattern)
  EXPECT_THROW(awq::repackGemv(bad, "inf bf16 scale"), awq::Error);
  bad = layer;
  bad.scales[1] = 0x6f80; // 2^96: s 2^30 would overflow in the kernel
  EXPECT_THROW(awq::repackGemv(bad, "huge bf16 scale"), awq::Error);
  bad.scales[1] = 0x6f7f; // just below 2^96: stored as 0x7e7f, finite
  EXPECT_EQ(awq::repackGemv(bad, "large bf16 scale").scales[1], 0x7e7fu);

  // Zero and subnormal scales: 0 stays 0, a subnormal (2^-133 .. 2^-127)
  // becomes the normal s 2^30, and both read back exactly.
  bad = layer;
  bad.scales[0] = 0x0000;
  bad.scales[1] = 0x8000; // -0
  bad.scales[2] = 0x0001; // 2^-133
  bad.scales[3] = 0x0041; // 2^-127 + 2^-133
  const GemvWeights edge = awq::repackGemv(bad, "tiny bf16 scales");
  EXPECT_EQ(edge.scales[0], 0x0000u);
  EXPECT_EQ(edge.scales[1], 0x8000u);
  EXPECT_EQ(edge.scales[2], 0x0c00u); // 2^-103: exponent field 24
  EXPECT_EQ(edge.scales[3], 0x0f02u); // 2^-97 (1 + 2^-6): field 30, f = 2
  const QuantizedLinear edgeBack = awq::unpackGemv(
      bad.k, bad.n, bad.params, edge.qweight.data(), edge.scales.data(),
      edge.zeros.data(), "tiny bf16 scales", awq::ActivationType::BF16);
  EXPECT_EQ(edgeBack.scales, bad.scales);
}

TEST(GemvLayout, DescribeLayout) {
  for (int bits : {3, 4, 8}) {
    const std::string text = awq::describeGemvLayout(bits);
    EXPECT_NE(text.find(std::to_string(bits) + "-bit"), std::string::npos);
    EXPECT_NE(text.find("scales"), std::string::npos);
  }
  EXPECT_THROW(awq::describeGemvLayout(5), awq::Error);
}

} // namespace
