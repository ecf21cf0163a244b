//===- MergeLayersTest.cpp - q/k/v concat and gate/up interleave ----------===//

#include "runtime/kernels/MergeLayers.h"

#include "runtime/support/Error.h"

#include <gtest/gtest.h>

#include <random>

namespace {

using awq::QuantizedLinear;

QuantizedLinear makeLayer(int64_t k, int64_t n, int bits, int64_t group,
                          bool zeroPoint, bool bias, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> q(0, (1 << bits) - 1);
  std::uniform_int_distribution<int> h(0x1000, 0x3bff);
  QuantizedLinear layer;
  layer.k = k;
  layer.n = n;
  layer.params = {bits, group, zeroPoint};
  for (int64_t i = 0; i < k * n; ++i)
    layer.q.push_back(static_cast<uint8_t>(q(rng)));
  for (int64_t i = 0; i < (k / group) * n; ++i) {
    layer.scales.push_back(static_cast<uint16_t>(h(rng)));
    if (zeroPoint)
      layer.zeros.push_back(static_cast<uint8_t>(q(rng)));
  }
  if (bias)
    for (int64_t i = 0; i < n; ++i)
      layer.bias.push_back(static_cast<uint16_t>(h(rng)));
  return layer;
}

/// Column `c` of `merged` must equal column `sc` of `src`.
void expectSameColumn(const QuantizedLinear &merged, int64_t c,
                      const QuantizedLinear &src, int64_t sc) {
  for (int64_t k = 0; k < src.k; ++k)
    ASSERT_EQ(merged.q[static_cast<size_t>(k * merged.n + c)],
              src.q[static_cast<size_t>(k * src.n + sc)]);
  for (int64_t g = 0; g < src.numGroups(); ++g) {
    ASSERT_EQ(merged.scales[static_cast<size_t>(g * merged.n + c)],
              src.scales[static_cast<size_t>(g * src.n + sc)]);
    ASSERT_EQ(merged.zeroAt(g, c), src.zeroAt(g, sc));
  }
  const uint16_t bias =
      src.bias.empty() ? 0 : src.bias[static_cast<size_t>(sc)];
  if (!merged.bias.empty()) {
    ASSERT_EQ(merged.bias[static_cast<size_t>(c)], bias);
  }
}

TEST(MergeLayers, ConcatColumnsKeepsEveryColumn) {
  const QuantizedLinear q = makeLayer(256, 12, 4, 64, true, true, 1);
  const QuantizedLinear k = makeLayer(256, 4, 4, 64, false, false, 2);
  const QuantizedLinear v = makeLayer(256, 4, 4, 64, true, false, 3);
  const QuantizedLinear merged = awq::concatColumns({&q, &k, &v}, "qkv");
  awq::validate(merged, "merged");
  ASSERT_EQ(merged.n, 20);
  EXPECT_TRUE(merged.params.zeroPoint); // k's implicit 8 becomes explicit.
  EXPECT_EQ(merged.bias.size(), 20u);   // k and v get zero bias.
  for (int64_t c = 0; c < 12; ++c)
    expectSameColumn(merged, c, q, c);
  for (int64_t c = 0; c < 4; ++c) {
    expectSameColumn(merged, 12 + c, k, c);
    expectSameColumn(merged, 16 + c, v, c);
  }
}

TEST(MergeLayers, ConcatOfSymmetricLayersStaysSymmetric) {
  const QuantizedLinear a = makeLayer(64, 3, 8, 32, false, false, 4);
  const QuantizedLinear b = makeLayer(64, 5, 8, 32, false, false, 5);
  const QuantizedLinear merged = awq::concatColumns({&a, &b}, "ab");
  EXPECT_FALSE(merged.params.zeroPoint);
  EXPECT_TRUE(merged.zeros.empty());
  EXPECT_TRUE(merged.bias.empty());
  for (int64_t c = 0; c < 5; ++c)
    expectSameColumn(merged, 3 + c, b, c);
}

TEST(MergeLayers, InterleaveGateUp) {
  const QuantizedLinear gate = makeLayer(128, 6, 3, 32, true, false, 6);
  const QuantizedLinear up = makeLayer(128, 6, 3, 32, true, true, 7);
  const QuantizedLinear merged = awq::interleaveGateUp(gate, up, "mlp");
  awq::validate(merged, "merged");
  ASSERT_EQ(merged.n, 12);
  for (int64_t j = 0; j < 6; ++j) {
    expectSameColumn(merged, 2 * j, gate, j);
    expectSameColumn(merged, 2 * j + 1, up, j);
  }
}

TEST(MergeLayers, RejectsMismatches) {
  const QuantizedLinear a = makeLayer(128, 4, 4, 32, true, false, 8);
  const QuantizedLinear otherK = makeLayer(256, 4, 4, 32, true, false, 9);
  const QuantizedLinear otherBits = makeLayer(128, 4, 8, 32, true, false, 10);
  const QuantizedLinear otherGroup = makeLayer(128, 4, 4, 64, true, false, 11);
  const QuantizedLinear otherN = makeLayer(128, 8, 4, 32, true, false, 12);
  EXPECT_THROW(awq::concatColumns({&a, &otherK}, "k"), awq::Error);
  EXPECT_THROW(awq::concatColumns({&a, &otherBits}, "bits"), awq::Error);
  EXPECT_THROW(awq::concatColumns({&a, &otherGroup}, "group"), awq::Error);
  EXPECT_THROW(awq::concatColumns({}, "empty"), awq::Error);
  EXPECT_THROW(awq::concatColumns({&a, nullptr}, "null"), awq::Error);
  EXPECT_THROW(awq::interleaveGateUp(a, otherN, "n"), awq::Error);
  QuantizedLinear broken = a;
  broken.scales.pop_back();
  try {
    awq::concatColumns({&a, &broken}, "model.layers.3.qkv");
    FAIL() << "inconsistent part accepted";
  } catch (const awq::Error &e) {
    EXPECT_NE(std::string(e.what()).find("model.layers.3.qkv part 1"),
              std::string::npos)
        << e.what();
  }
}

} // namespace
