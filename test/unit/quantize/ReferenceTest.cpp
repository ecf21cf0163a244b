//===- ReferenceTest.cpp - Tests of the fp64 CPU oracle and comparisons ---===//

#include "compiler/reference/Reference.h"
#include "TestUtil.h"
#include "compiler/reference/Compare.h"

#include "runtime/support/Error.h"
#include "runtime/support/Half.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

using namespace awq;
using namespace awq::test;
using ::testing::HasSubstr;

namespace {

/// A random, valid quantized layer.
QuantizedLinear randomLayer(std::mt19937_64 &rng, int64_t k, int64_t n,
                            QuantParams params, bool withBias) {
  QuantizedLinear l;
  l.k = k;
  l.n = n;
  l.params = params;
  const int qmax = (1 << params.bits) - 1;
  std::uniform_int_distribution<int> code(0, qmax);
  l.q.resize(k * n);
  for (uint8_t &q : l.q)
    q = static_cast<uint8_t>(code(rng));
  const int64_t groups = k / params.groupSize;
  l.scales = toHalfs(uniformVector(rng, groups * n, 0.002f, 0.05f));
  if (params.zeroPoint) {
    l.zeros.resize(groups * n);
    for (uint8_t &z : l.zeros)
      z = static_cast<uint8_t>(code(rng));
  }
  if (withBias)
    l.bias = toHalfs(normalVector(rng, n, 0.5f));
  return l;
}

TEST(Reference, HandComputedTinyLayer) {
  // W = (q - 8) * 0.5, column 0: [0.5, 1, -0.5, 0], column 1: [-4, 3.5, 0, 2].
  QuantizedLinear l;
  l.k = 4;
  l.n = 2;
  l.params = {4, 4, true};
  l.q = {9, 0, 10, 15, 7, 8, 8, 12}; // [k, n]
  l.zeros = {8, 8};
  l.scales = {floatToHalf(0.5f), floatToHalf(0.5f)};
  const std::vector<float> w = dequantize(l);
  EXPECT_EQ(w, (std::vector<float>{0.5f, -4.0f, 1.0f, 3.5f, -0.5f, 0.0f, 0.0f,
                                   2.0f}));

  const std::vector<uint16_t> x = toHalfs({1.0f, 2.0f, -1.0f, 0.5f});
  // y0 = 0.5 + 2 + 0.5 + 0 = 3, y1 = -4 + 7 + 0 + 1 = 4.
  EXPECT_EQ(referenceLinear(x, 1, l), (std::vector<double>{3.0, 4.0}));

  l.bias = toHalfs({0.25f, -1.0f});
  const std::vector<uint16_t> a = toHalfs({2.0f, 1.0f, 1.0f, 1.0f});
  const std::vector<uint16_t> residual = toHalfs({1.0f, 2.0f});
  // With a: y0 = 1 + 2 + 0.5 = 3.5, y1 = -8 + 7 + 1 = 0; + bias + residual.
  EXPECT_EQ(referenceLinear(x, 1, l, a, residual),
            (std::vector<double>{4.75, 1.0}));

  // Symmetric 4-bit: the implicit zero is 8, so the same codes give the same W.
  l.params.zeroPoint = false;
  l.zeros.clear();
  l.bias.clear();
  EXPECT_EQ(referenceLinear(x, 1, l), (std::vector<double>{3.0, 4.0}));
}

TEST(Reference, LinearMatchesSimpleLoops) {
  const uint64_t seed = testSeed();
  SCOPED_TRACE(seedMessage(seed));
  std::mt19937_64 rng(seed);
  for (QuantParams params :
       {QuantParams{4, 32, true}, QuantParams{3, 64, false},
        QuantParams{8, 128, true}}) {
    const int64_t m = 5, k = 128, n = 24;
    QuantizedLinear l = randomLayer(rng, k, n, params, true);
    const std::vector<uint16_t> x = toHalfs(normalVector(rng, m * k));
    const std::vector<uint16_t> a = toHalfs(uniformVector(rng, k, 0.5f, 2.0f));
    const std::vector<uint16_t> res = toHalfs(normalVector(rng, m * n));

    const std::vector<double> y = referenceLinear(x, m, l, a, res, 3);

    // The simplest possible formulation: one element at a time.
    std::vector<double> want(m * n);
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double acc =
            double(halfToFloat(l.bias[j])) + halfToFloat(res[i * n + j]);
        for (int64_t c = 0; c < k; ++c) {
          const int64_t g = c / params.groupSize;
          const int z =
              params.zeroPoint ? l.zeros[g * n + j] : 1 << (params.bits - 1);
          const double wv =
              (double(l.q[c * n + j]) - z) * halfToFloat(l.scales[g * n + j]);
          acc += double(halfToFloat(x[i * k + c])) * halfToFloat(a[c]) * wv;
        }
        want[i * n + j] = acc;
      }
    const Comparison cmp = compareToReference(y, want, {1e-12, 1e-12}, n);
    EXPECT_TRUE(cmp.ok()) << cmp.describe("referenceLinear");
    // Threads only split rows: any thread count gives identical bits.
    EXPECT_EQ(referenceLinear(x, m, l, a, res, 1), y);
  }
}

TEST(Reference, DenseLinearMatchesSimpleLoops) {
  const uint64_t seed = testSeed();
  SCOPED_TRACE(seedMessage(seed));
  std::mt19937_64 rng(seed);
  const int64_t m = 7, k = 33, n = 9;
  const std::vector<float> x = normalVector(rng, m * k);
  const std::vector<float> w = normalVector(rng, n * k);
  const std::vector<float> b = normalVector(rng, n);
  std::vector<double> y = referenceDenseLinear(x, m, w, n, b, 2);
  std::vector<double> want(m * n);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      long double acc = b[j];
      for (int64_t c = 0; c < k; ++c)
        acc += (long double)x[i * k + c] * w[j * k + c];
      want[i * n + j] = static_cast<double>(acc);
    }
  const Comparison cmp = compareToReference(y, want, {1e-12, 1e-12}, n);
  EXPECT_TRUE(cmp.ok()) << cmp.describe("referenceDenseLinear");
}

TEST(Reference, RejectsInconsistentShapes) {
  std::mt19937_64 rng(testSeed());
  QuantizedLinear l = randomLayer(rng, 64, 8, {4, 32, true}, false);
  const std::vector<uint16_t> x = toHalfs(normalVector(rng, 2 * 64));
  EXPECT_THAT(
      [&] { referenceLinear(x, 3, l); },
      ::testing::ThrowsMessage<Error>(HasSubstr("x must have 192 elements")));
  EXPECT_THAT([&] { referenceLinear(x, 2, l, std::vector<uint16_t>(5)); },
              ::testing::ThrowsMessage<Error>(HasSubstr("activation scale")));
  EXPECT_THAT([&] { referenceLinear(x, 2, l, {}, std::vector<uint16_t>(3)); },
              ::testing::ThrowsMessage<Error>(HasSubstr("residual")));
  l.scales.pop_back();
  EXPECT_THAT([&] { dequantize(l); },
              ::testing::ThrowsMessage<Error>(HasSubstr("scales")));
}

TEST(Reference, RmsNormHandCaseAndRandom) {
  // x = [3, 4]: mean square 12.5.
  const std::vector<double> y =
      referenceRmsNorm({3.0f, 4.0f}, 1, {1.0f, 2.0f}, 0.0);
  EXPECT_DOUBLE_EQ(y[0], 3.0 / std::sqrt(12.5));
  EXPECT_DOUBLE_EQ(y[1], 8.0 / std::sqrt(12.5));

  const uint64_t seed = testSeed();
  SCOPED_TRACE(seedMessage(seed));
  std::mt19937_64 rng(seed);
  const int64_t rows = 3, d = 50;
  const std::vector<float> x = normalVector(rng, rows * d, 3.0f);
  const std::vector<float> w = normalVector(rng, d);
  const std::vector<float> b = normalVector(rng, d);
  const std::vector<double> got = referenceRmsNorm(x, rows, w, 1e-6, b);
  for (int64_t r = 0; r < rows; ++r) {
    double ms = 0;
    for (int64_t i = 0; i < d; ++i)
      ms += double(x[r * d + i]) * x[r * d + i] / d;
    for (int64_t i = 0; i < d; ++i)
      EXPECT_NEAR(got[r * d + i],
                  x[r * d + i] / std::sqrt(ms + 1e-6) * w[i] + b[i], 1e-12);
  }
}

TEST(Reference, LayerNormHandCaseAndRandom) {
  // x = [1, 2, 3, 4]: mean 2.5, biased variance 1.25.
  const std::vector<double> y =
      referenceLayerNorm({1, 2, 3, 4}, 1, {1, 1, 1, 1}, 0.0, {0, 0, 0, 1});
  const double sd = std::sqrt(1.25);
  EXPECT_DOUBLE_EQ(y[0], -1.5 / sd);
  EXPECT_DOUBLE_EQ(y[1], -0.5 / sd);
  EXPECT_DOUBLE_EQ(y[2], 0.5 / sd);
  EXPECT_DOUBLE_EQ(y[3], 1.5 / sd + 1.0);

  std::mt19937_64 rng(testSeed());
  const int64_t rows = 4, d = 40;
  const std::vector<float> x = normalVector(rng, rows * d, 2.0f);
  const std::vector<float> w = normalVector(rng, d);
  const std::vector<double> got = referenceLayerNorm(x, rows, w, 1e-5);
  for (int64_t r = 0; r < rows; ++r) {
    double mean = 0, sq = 0;
    for (int64_t i = 0; i < d; ++i)
      mean += x[r * d + i] / double(d);
    for (int64_t i = 0; i < d; ++i)
      sq += (x[r * d + i] - mean) * (x[r * d + i] - mean) / d;
    for (int64_t i = 0; i < d; ++i)
      EXPECT_NEAR(got[r * d + i],
                  (x[r * d + i] - mean) / std::sqrt(sq + 1e-5) * w[i], 1e-12);
  }
  EXPECT_THROW(referenceLayerNorm(x, rows + 1, w, 1e-5), Error);
  EXPECT_THROW(referenceRmsNorm(x, rows, w, -1.0), Error);
}

TEST(Reference, SiluMul) {
  const std::vector<double> y =
      referenceSiluMul({0.0f, 1.0f, -2.0f}, {3.0f, 2.0f, 0.5f});
  EXPECT_EQ(y[0], 0.0);
  EXPECT_DOUBLE_EQ(y[1], 2.0 / (1.0 + std::exp(-1.0)));
  EXPECT_DOUBLE_EQ(y[2], 0.5 * -2.0 / (1.0 + std::exp(2.0)));
  EXPECT_THROW(referenceSiluMul({1.0f}, {1.0f, 2.0f}), Error);
}

TEST(Compare, ToleranceModelAndWorstIndex) {
  const std::vector<double> ref = {1.0, -2.0, 100.0, 0.0};
  // Bound: 0.01 + 0.001 * |ref| = 0.011, 0.012, 0.11, 0.01.
  Comparison ok = compareToReference(
      std::vector<double>{1.01, -2.011, 100.1, 0.0099}, ref, {0.01, 0.001});
  EXPECT_TRUE(ok.ok()) << ok.describe("ok");
  EXPECT_NEAR(ok.maxAbsError, 0.1, 1e-9);

  Comparison bad = compareToReference(
      std::vector<float>{1.0f, -2.0f, 100.2f, 0.0f}, ref, {0.01, 0.001}, 2);
  EXPECT_FALSE(bad.ok());
  EXPECT_EQ(bad.failures, 1);
  EXPECT_EQ(bad.worstIndex, 2);
  EXPECT_THAT(bad.describe("out"), HasSubstr("row 1, col 0"));
}

TEST(Compare, NaNIsAlwaysAFailure) {
  std::vector<float> got = {1.0f, std::nanf(""), 3.0f, std::nanf("")};
  Comparison c = compareToReference(got, {1.0, 2.0, 30.0, 4.0}, {1e30, 1e30});
  EXPECT_EQ(c.failures, 2);
  EXPECT_EQ(c.nonFinite, 2);
  EXPECT_EQ(c.worstIndex, 1); // The first non-finite element wins.
  const std::vector<uint16_t> halfs = {floatToHalf(1.0f), 0x7e00 /* NaN */};
  EXPECT_FALSE(compareHalfToReference(halfs, {1.0, 1.0}, {1, 1}).ok());
  EXPECT_THROW(compareToReference(got, {1.0}, {}), Error);
}

} // namespace
