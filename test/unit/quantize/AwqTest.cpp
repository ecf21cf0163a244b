//===- AwqTest.cpp - Tests of the AWQ scale and clip search ---------------===//

#include "compiler/quantize/Awq.h"
#include "TestUtil.h"
#include "compiler/quantize/OutputLoss.h"
#include "compiler/quantize/Quantizer.h"
#include "compiler/reference/Reference.h"

#include "runtime/support/Error.h"
#include "runtime/support/Half.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <dlfcn.h>
#include <numeric>
#include <string>

using namespace awq;
using namespace awq::test;
using ::testing::HasSubstr;

namespace {

/// Calibration activations shaped like a real LLM's: most channels O(1), a
/// few outlier channels 20-100x larger.
std::vector<float> outlierActivations(std::mt19937_64 &rng, int64_t t,
                                      int64_t k, int outliers) {
  std::vector<float> channel = uniformVector(rng, k, 0.5f, 1.5f);
  std::uniform_int_distribution<int64_t> pick(0, k - 1);
  std::uniform_real_distribution<float> big(20.0f, 100.0f);
  for (int i = 0; i < outliers; ++i)
    channel[pick(rng)] = big(rng);
  std::vector<float> x = normalVector(rng, t * k);
  for (int64_t r = 0; r < t; ++r)
    for (int64_t c = 0; c < k; ++c)
      x[r * k + c] *= channel[c];
  return roundedToHalf(x);
}

/// Weights with a heavy tail (a few 4-8x larger entries), as trained
/// weights have; rounded to fp16 like a checkpoint.
std::vector<float> heavyTailedWeights(std::mt19937_64 &rng, int64_t n,
                                      int64_t k) {
  std::vector<float> w = normalVector(rng, n * k, 0.02f);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  for (float &v : w)
    if (u(rng) < 0.01f)
      v *= 4.0f + 4.0f * u(rng);
  return roundedToHalf(w);
}

MatrixView f32View(const std::vector<float> &v, int64_t rows, int64_t cols) {
  return {v.data(), ElementType::F32, rows, cols};
}

/// mean_{t,n} (x . (w'[n] - w[n]))^2 in fp64, with w' given as a dense
/// [K, N] matrix divided row-wise by s (s empty = 1). Plain loops.
double plainOutputMse(const std::vector<float> &x, int64_t t, int64_t k,
                      const std::vector<float> &w, int64_t n,
                      const std::vector<float> &wqKN,
                      const std::vector<float> &s) {
  std::vector<double> d(n * k);
  for (int64_t j = 0; j < n; ++j)
    for (int64_t c = 0; c < k; ++c)
      d[j * k + c] =
          double(wqKN[c * n + j]) / (s.empty() ? 1.0 : double(s[c])) -
          double(w[j * k + c]);
  double sum = 0.0;
  for (int64_t r = 0; r < t; ++r)
    for (int64_t j = 0; j < n; ++j) {
      double y = 0.0;
      for (int64_t c = 0; c < k; ++c)
        y += double(x[r * k + c]) * d[j * k + c];
      sum += y * y;
    }
  return sum / double(t * n);
}

TEST(AwqStatistics, MeansMatchPlainLoops) {
  const uint64_t seed = testSeed();
  SCOPED_TRACE(seedMessage(seed));
  std::mt19937_64 rng(seed);
  const int64_t t = 37, k = 64, rows = 21, g = 32;
  const std::vector<float> x = normalVector(rng, t * k, 2.0f);
  const std::vector<float> w = normalVector(rng, rows * k);
  const std::vector<float> xm = meanAbsActivation(x.data(), t, k);
  const std::vector<float> wm = normalizedWeightMean(w.data(), rows, k, g);
  for (int64_t c = 0; c < k; ++c) {
    double sx = 0, sw = 0;
    for (int64_t r = 0; r < t; ++r)
      sx += std::fabs(x[r * k + c]);
    for (int64_t r = 0; r < rows; ++r) {
      double amax = 0;
      for (int64_t i = c / g * g; i < c / g * g + g; ++i)
        amax = std::max(amax, double(std::fabs(w[r * k + i])));
      sw += std::fabs(w[r * k + c]) / (amax + 1e-6);
    }
    EXPECT_NEAR(xm[c], sx / t, 1e-6 * sx / t);
    EXPECT_NEAR(wm[c], sw / rows, 1e-6);
  }
}

TEST(AwqStatistics, CandidateScalesFollowBothFormulas) {
  const std::vector<float> xMean = {1.0f, 4.0f, 0.25f, 0.0f, 9.0f};
  const std::vector<float> wMean = {0.5f, 0.1f, 0.9f, 0.3f, 0.0f};
  for (double r : {0.0, 0.35, 0.95}) {
    for (ScaleFormula f : {ScaleFormula::ActivationOnly, ScaleFormula::Duo}) {
      const std::vector<float> s = candidateScales(xMean, wMean, r, f);
      std::vector<double> want(5);
      double hi = 0, lo = 1e300;
      for (int c = 0; c < 5; ++c) {
        double v = std::pow(double(xMean[c]), r);
        if (f == ScaleFormula::Duo)
          v = v / (std::pow(double(wMean[c]), 1 - r) + 1e-4);
        want[c] = std::max(v, 1e-4);
        hi = std::max(hi, want[c]);
        lo = std::min(lo, want[c]);
      }
      for (int c = 0; c < 5; ++c)
        EXPECT_NEAR(s[c], want[c] / std::sqrt(hi * lo),
                    1e-6 * want[c] / std::sqrt(hi * lo))
            << "ratio " << r << " channel " << c;
    }
  }
  // Ratio 0 of the activation-only formula is exactly RTN.
  for (float v : candidateScales(xMean, {}, 0.0, ScaleFormula::ActivationOnly))
    EXPECT_EQ(v, 1.0f);
}

TEST(OutputLossTest, DirectAndGramMatchPlainLoops) {
  const uint64_t seed = testSeed();
  SCOPED_TRACE(seedMessage(seed));
  std::mt19937_64 rng(seed);
  const int64_t t = 150, k = 48, rows = 33;
  const std::vector<float> x = normalVector(rng, t * k);
  const std::vector<float> d = normalVector(rng, rows * k, 0.01f);
  double want = 0;
  for (int64_t r = 0; r < t; ++r)
    for (int64_t j = 0; j < rows; ++j) {
      double y = 0;
      for (int64_t c = 0; c < k; ++c)
        y += double(x[r * k + c]) * d[j * k + c];
      want += y * y;
    }
  for (OutputLoss::Method m :
       {OutputLoss::Method::Direct, OutputLoss::Method::Gram}) {
    OutputLoss loss(x.data(), t, k, rows, m, 2);
    EXPECT_EQ(loss.method(), m);
    EXPECT_NEAR(loss.sumSquares(d.data(), rows), want, 1e-4 * want);
  }
  // Auto: Gram when there are more tokens than channels.
  EXPECT_EQ(
      OutputLoss(x.data(), t, k, 1000, OutputLoss::Method::Auto, 1).method(),
      OutputLoss::Method::Gram);
  EXPECT_EQ(
      OutputLoss(x.data(), 16, k, 1000, OutputLoss::Method::Auto, 1).method(),
      OutputLoss::Method::Direct);
}

struct PropertyCase {
  int bits;
  ScaleFormula formula;
};

class AwqBeatsRtn : public ::testing::TestWithParam<PropertyCase> {};

/// The point of AWQ: with outlier activation channels, protecting their
/// weights lowers the output error below RTN's. Errors are recomputed here
/// with plain loops from the returned layers, not taken from the report.
TEST_P(AwqBeatsRtn, OnOutlierActivations) {
  const PropertyCase pc = GetParam();
  const uint64_t seed = testSeed();
  SCOPED_TRACE(seedMessage(seed));
  std::mt19937_64 rng(seed);
  const int64_t t = 256, k = 512, n = 96;
  const std::vector<float> x = outlierActivations(rng, t, k, 6);
  const std::vector<float> gate = heavyTailedWeights(rng, n, k);
  const std::vector<float> up = heavyTailedWeights(rng, n, k);

  LinearGroupInput group;
  group.name = "mlp";
  group.activations = f32View(x, t, k);
  group.layers.push_back({"gate_proj", f32View(gate, n, k), {}, false});
  group.layers.push_back({"up_proj", f32View(up, n, k), {}, false});
  const std::vector<float> *weights[2] = {&gate, &up};
  QuantizeOptions options;
  options.params = {pc.bits, 128, true};
  options.formula = pc.formula;

  double rtnErr[2];
  for (int i = 0; i < 2; ++i) {
    const QuantizedLinear rtn =
        quantizeLinear(weights[i]->data(), n, k, options.params, {}, "rtn");
    rtnErr[i] = plainOutputMse(x, t, k, *weights[i], n, dequantize(rtn), {});
  }
  // The scale search alone, then with the clip search.
  for (bool clip : {false, true}) {
    SCOPED_TRACE(clip ? "scale and clip search" : "scale search only");
    options.searchClip = clip;
    const GroupResult result = quantizeInputGroup(group, options);
    ASSERT_EQ(result.layers.size(), 2u);
    ASSERT_EQ(result.scales.size(), size_t(k));
    ASSERT_TRUE(result.scaleSearched);
    ASSERT_EQ(result.ratioLosses.size(), 20u);
    EXPECT_GT(result.ratio, 0.0) << "outliers must call for non-trivial scales";
    double awqTotal = 0, rtnTotal = 0;
    for (int i = 0; i < 2; ++i) {
      validate(result.layers[i], "layer");
      const double awqErr = plainOutputMse(
          x, t, k, *weights[i], n, dequantize(result.layers[i]), result.scales);
      const LayerReport &rep = result.reports[i];
      EXPECT_NEAR(rep.awqError, awqErr, 1e-3 * awqErr) << rep.name;
      EXPECT_NEAR(rep.rtnError, rtnErr[i], 1e-3 * rtnErr[i]) << rep.name;
      EXPECT_LT(awqErr, rtnErr[i])
          << rep.name << ": AWQ " << awqErr << " vs RTN " << rtnErr[i];
      awqTotal += awqErr;
      rtnTotal += rtnErr[i];
    }
    RecordProperty(clip ? "awq_over_rtn" : "scale_only_over_rtn",
                   std::to_string(awqTotal / rtnTotal));
    EXPECT_LT(awqTotal, 0.9 * rtnTotal) << "ratio " << result.ratio;
  }
}

/// Every candidate's loss is the MSE over the concatenated outputs of the
/// group, and the search keeps the lowest; checked with plain loops.
TEST(AwqScales, SearchLossesMatchPlainComputation) {
  const uint64_t seed = testSeed();
  SCOPED_TRACE(seedMessage(seed));
  std::mt19937_64 rng(seed);
  const int64_t t = 48, k = 128, n1 = 24, n2 = 40;
  const std::vector<float> x = outlierActivations(rng, t, k, 3);
  const std::vector<float> w1 = heavyTailedWeights(rng, n1, k);
  const std::vector<float> w2 = heavyTailedWeights(rng, n2, k);
  LinearGroupInput group;
  group.name = "qkv";
  group.activations = f32View(x, t, k);
  group.layers.push_back({"k_proj", f32View(w1, n1, k), {}, true});
  group.layers.push_back({"v_proj", f32View(w2, n2, k), {}, false});
  for (ScaleFormula f : {ScaleFormula::ActivationOnly, ScaleFormula::Duo}) {
    QuantizeOptions options;
    options.params = {3, 32, true};
    options.formula = f;
    options.searchClip = false;
    const GroupResult result = quantizeInputGroup(group, options);
    ASSERT_EQ(result.ratioLosses.size(), 20u);
    std::vector<float> both = w1;
    both.insert(both.end(), w2.begin(), w2.end());
    const std::vector<float> xMean = meanAbsActivation(x.data(), t, k);
    const std::vector<float> wMean =
        normalizedWeightMean(both.data(), n1 + n2, k, 32);
    int best = 0;
    std::vector<double> want(20);
    for (int i = 0; i < 20; ++i) {
      const std::vector<float> s = candidateScales(xMean, wMean, i / 20.0, f);
      // Q(W * s) / s for the concatenated weights, as a dense [K, N] matrix.
      std::vector<float> ws(both.size());
      for (int64_t j = 0; j < n1 + n2; ++j)
        for (int64_t c = 0; c < k; ++c)
          ws[j * k + c] = both[j * k + c] * s[c];
      const QuantizedLinear q =
          quantizeLinear(ws.data(), n1 + n2, k, options.params, {}, "w");
      want[i] = plainOutputMse(x, t, k, both, n1 + n2, dequantize(q), s);
      EXPECT_NEAR(result.ratioLosses[i], want[i], 1e-3 * want[i])
          << "ratio " << i;
      if (want[i] < want[best])
        best = i;
    }
    EXPECT_LE(want[int(std::lround(result.ratio * 20))],
              want[best] * (1 + 1e-3));
  }
}

/// A screened search scores every ratio on evenly spaced rows, then the
/// three lowest on all rows, and keeps the lowest of those; checked with
/// plain loops. A group of at most twice the screened rows is not screened.
TEST(AwqScales, ScreenedSearchDecidesAmongFinalistsOnAllRows) {
  const uint64_t seed = testSeed();
  SCOPED_TRACE(seedMessage(seed));
  std::mt19937_64 rng(seed);
  const int64_t t = 40, k = 64, n1 = 90, n2 = 70, rows = n1 + n2;
  const std::vector<float> x = outlierActivations(rng, t, k, 3);
  const std::vector<float> w1 = heavyTailedWeights(rng, n1, k);
  const std::vector<float> w2 = heavyTailedWeights(rng, n2, k);
  LinearGroupInput group;
  group.name = "gate_up";
  group.activations = f32View(x, t, k);
  group.layers.push_back({"gate", f32View(w1, n1, k), {}, false});
  group.layers.push_back({"up", f32View(w2, n2, k), {}, false});
  std::vector<float> both = w1;
  both.insert(both.end(), w2.begin(), w2.end());
  QuantizeOptions options;
  options.params = {3, 32, true};
  options.searchClip = false;
  const std::vector<float> xMean = meanAbsActivation(x.data(), t, k);
  const std::vector<float> wMean =
      normalizedWeightMean(both.data(), rows, k, 32);
  // Output MSE of ratio i over the given rows of the concatenated weights.
  auto plainLoss = [&](int i, const std::vector<int64_t> &use) {
    const std::vector<float> s =
        candidateScales(xMean, wMean, i / 20.0, options.formula);
    std::vector<float> w, ws;
    for (int64_t r : use)
      for (int64_t c = 0; c < k; ++c) {
        w.push_back(both[r * k + c]);
        ws.push_back(both[r * k + c] * s[c]);
      }
    const int64_t m = static_cast<int64_t>(use.size());
    const QuantizedLinear q =
        quantizeLinear(ws.data(), m, k, options.params, {}, "w");
    return plainOutputMse(x, t, k, w, m, dequantize(q), s);
  };
  std::vector<int64_t> all(rows);
  std::iota(all.begin(), all.end(), 0);

  options.scaleScreenRows = 50;
  const GroupResult result = quantizeInputGroup(group, options);
  ASSERT_EQ(result.scaleScreenRows, 50);
  ASSERT_EQ(result.ratioLosses.size(), 20u);
  std::vector<int64_t> sample;
  for (int64_t j = 0; j < 50; ++j)
    sample.push_back(j * rows / 50);
  std::vector<int> order(20);
  std::iota(order.begin(), order.end(), 0);
  std::vector<double> screened(20);
  for (int i = 0; i < 20; ++i) {
    screened[i] = plainLoss(i, sample);
    EXPECT_NEAR(result.ratioLosses[i], screened[i], 1e-3 * screened[i])
        << "ratio " << i;
  }
  std::stable_sort(order.begin(), order.end(),
                   [&](int a, int b) { return screened[a] < screened[b]; });
  ASSERT_EQ(result.finalistRatios.size(), 3u);
  ASSERT_EQ(result.finalistLosses.size(), 3u);
  double bestExact = 1e300;
  for (int j = 0; j < 3; ++j) {
    EXPECT_NEAR(result.finalistRatios[j], order[j] / 20.0, 1e-12)
        << "finalist " << j;
    const double exact = plainLoss(order[j], all);
    EXPECT_NEAR(result.finalistLosses[j], exact, 1e-3 * exact);
    bestExact = std::min(bestExact, exact);
  }
  EXPECT_LE(plainLoss(static_cast<int>(std::lround(result.ratio * 20)), all),
            bestExact * (1 + 1e-3));
  EXPECT_TRUE(std::find(result.finalistRatios.begin(),
                        result.finalistRatios.end(),
                        result.ratio) != result.finalistRatios.end());

  options.scaleScreenRows = rows / 2;
  const GroupResult full = quantizeInputGroup(group, options);
  EXPECT_EQ(full.scaleScreenRows, 0);
  EXPECT_TRUE(full.finalistRatios.empty());
  for (int i = 0; i < 20; ++i) {
    const double want = plainLoss(i, all);
    EXPECT_NEAR(full.ratioLosses[i], want, 1e-3 * want) << "ratio " << i;
  }
}

/// The GPTQ-aware choice quantizes every candidate with GPTQ and keeps the
/// one of lowest output error; with every row sampled and no clip that is
/// the final error, so it is never above the round-to-nearest choice's.
TEST(AwqScales, GptqAwareChoiceHasTheLowestErrorAfterGptq) {
  const uint64_t seed = testSeed();
  SCOPED_TRACE(seedMessage(seed));
  std::mt19937_64 rng(seed);
  const int64_t t = 256, k = 128, n1 = 32, n2 = 48;
  // Correlated activations (what GPTQ feeds on) with outlier channels.
  std::vector<float> x = outlierActivations(rng, t, k, 3);
  for (int64_t r = 0; r < t; ++r)
    for (int64_t c = 1; c < k; ++c)
      x[r * k + c] = roundToHalf(0.6f * x[r * k + c - 1] + x[r * k + c]);
  const std::vector<float> w1 = heavyTailedWeights(rng, n1, k);
  const std::vector<float> w2 = heavyTailedWeights(rng, n2, k);
  LinearGroupInput group;
  group.name = "gate_up";
  group.activations = f32View(x, t, k);
  group.layers.push_back({"gate", f32View(w1, n1, k), {}, false});
  group.layers.push_back({"up", f32View(w2, n2, k), {}, false});
  QuantizeOptions options;
  options.params = {3, 32, true};
  options.searchClip = false;
  options.gptq = true;
  options.gptqOptions.actOrder = true;
  const GroupResult plain = quantizeInputGroup(group, options);
  EXPECT_TRUE(plain.gptqRatios.empty());
  ASSERT_GT(plain.ratio, 0.0) << "the test needs a choice to make";
  options.gptqScaleCandidates = 20; // every grid ratio in [0, r*]
  options.gptqScaleRows = 1000;     // every row
  const GroupResult aware = quantizeInputGroup(group, options);
  const int top = static_cast<int>(std::lround(plain.ratio * 20));
  ASSERT_EQ(aware.gptqRatios.size(), size_t(top + 1));
  ASSERT_EQ(aware.gptqRatioLosses.size(), size_t(top + 1));
  EXPECT_EQ(aware.gptqRatios[0], plain.ratio);
  for (int i = 0; i < top; ++i)
    EXPECT_EQ(aware.gptqRatios[i + 1], i / 20.0);

  // Each candidate's loss, recomputed: GPTQ of the concatenated W * s
  // against the Hessian of x / s, then the plain fp64 output MSE.
  std::vector<float> both = w1;
  both.insert(both.end(), w2.begin(), w2.end());
  const std::vector<float> xMean = meanAbsActivation(x.data(), t, k);
  const std::vector<float> wMean =
      normalizedWeightMean(both.data(), n1 + n2, k, 32);
  size_t best = 0;
  std::vector<double> want;
  for (size_t i = 0; i < aware.gptqRatios.size(); ++i) {
    const std::vector<float> s =
        candidateScales(xMean, wMean, aware.gptqRatios[i], ScaleFormula::Duo);
    std::vector<float> ws(both.size());
    for (int64_t j = 0; j < n1 + n2; ++j)
      for (int64_t c = 0; c < k; ++c)
        ws[j * k + c] = both[j * k + c] * s[c];
    const QuantizedLinear q = gptqQuantizeLinear(
        ws.data(), n1 + n2, k, options.params, {},
        gptqHessian(x.data(), t, k, s, 1), options.gptqOptions, "w", 1);
    want.push_back(plainOutputMse(x, t, k, both, n1 + n2, dequantize(q), s));
    // The Hessians differ in fp32 rounding (scaled from H_1 or computed
    // from x / s), which may flip a few of GPTQ's codes.
    EXPECT_NEAR(aware.gptqRatioLosses[i], want[i], 2e-2 * want[i])
        << "candidate " << i;
    if (want[i] < want[best])
      best = i;
  }
  // The chosen scales are those of the candidate of lowest loss, the best
  // one up to fp32 near-ties.
  const size_t chosen = std::min_element(aware.gptqRatioLosses.begin(),
                                         aware.gptqRatioLosses.end()) -
                        aware.gptqRatioLosses.begin();
  EXPECT_LE(want[chosen], want[best] * 1.02);
  EXPECT_EQ(aware.ratio, aware.gptqRatios[chosen]);
  EXPECT_EQ(aware.scales,
            candidateScales(xMean, wMean, aware.ratio, ScaleFormula::Duo));
  double plainTotal = 0, awareTotal = 0;
  for (size_t i = 0; i < 2; ++i) {
    plainTotal += plain.reports[i].awqError * plain.reports[i].n;
    awareTotal += aware.reports[i].awqError * aware.reports[i].n;
  }
  EXPECT_LE(awareTotal, plainTotal * (1 + 1e-4));

  // Sampling rows and fewer candidates: r*, then 0 and a ratio between.
  options.gptqScaleCandidates = 3;
  options.gptqScaleRows = 8;
  const GroupResult sampled = quantizeInputGroup(group, options);
  ASSERT_GE(sampled.gptqRatios.size(), 2u);
  EXPECT_EQ(sampled.gptqRatios[0], plain.ratio);
  EXPECT_EQ(sampled.gptqRatios[1], 0.0);
  EXPECT_NE(std::find(sampled.gptqRatios.begin(), sampled.gptqRatios.end(),
                      sampled.ratio),
            sampled.gptqRatios.end());
}

INSTANTIATE_TEST_SUITE_P(
    BitsAndFormulas, AwqBeatsRtn,
    ::testing::Values(PropertyCase{3, ScaleFormula::ActivationOnly},
                      PropertyCase{3, ScaleFormula::Duo},
                      PropertyCase{4, ScaleFormula::ActivationOnly},
                      PropertyCase{4, ScaleFormula::Duo}),
    [](const ::testing::TestParamInfo<PropertyCase> &info) {
      return std::string(info.param.bits == 3 ? "Int3" : "Int4") +
             (info.param.formula == ScaleFormula::Duo ? "Duo"
                                                      : "ActivationOnly");
    });

/// (x / s) (W * s)^T equals x W^T up to the fp16 rounding of x / s and W * s.
TEST(AwqScales, ScalingWithoutQuantizationKeepsTheOutput) {
  const uint64_t seed = testSeed();
  SCOPED_TRACE(seedMessage(seed));
  std::mt19937_64 rng(seed);
  const int64_t t = 64, k = 256, n = 32;
  const std::vector<float> x = outlierActivations(rng, t, k, 4);
  const std::vector<float> w = heavyTailedWeights(rng, n, k);
  // Strong scales from the outliers: ratio 0.75 of the duo formula.
  const std::vector<float> s = candidateScales(
      meanAbsActivation(x.data(), t, k),
      normalizedWeightMean(w.data(), n, k, 64), 0.75, ScaleFormula::Duo);
  float smin = s[0], smax = s[0];
  for (float v : s) {
    smin = std::min(smin, v);
    smax = std::max(smax, v);
  }
  ASSERT_GT(smax / smin, 4.0f) << "the test needs non-trivial scales";

  std::vector<float> xs(t * k), ws(n * k);
  for (int64_t r = 0; r < t; ++r)
    for (int64_t c = 0; c < k; ++c)
      xs[r * k + c] = roundToHalf(x[r * k + c] / s[c]);
  for (int64_t j = 0; j < n; ++j)
    for (int64_t c = 0; c < k; ++c)
      ws[j * k + c] = roundToHalf(w[j * k + c] * s[c]);
  const std::vector<double> ref = referenceDenseLinear(x, t, w, n);
  const std::vector<double> got = referenceDenseLinear(xs, t, ws, n);
  // Each factor is off by at most u = 2^-11 relative (fp32 then fp16
  // rounding) plus 2^-25 absolute for fp16 subnormals.
  const double u = std::ldexp(1.0, -11) * (1 + std::ldexp(1.0, -12));
  const double sub = std::ldexp(1.0, -25);
  for (int64_t r = 0; r < t; ++r)
    for (int64_t j = 0; j < n; ++j) {
      double bound = 0;
      for (int64_t c = 0; c < k; ++c) {
        const double a = std::fabs(x[r * k + c] / s[c]),
                     b = std::fabs(w[j * k + c] * s[c]);
        const double ea = a * u + sub, eb = b * u + sub;
        bound += ea * b + a * eb + ea * eb;
      }
      ASSERT_LE(std::fabs(got[r * n + j] - ref[r * n + j]),
                bound * 1.001 + 1e-12)
          << "row " << r << " col " << j;
    }
}

struct ClipCase {
  int64_t clipTokens; ///< 128 with G = 32: Gram; 64 with G = 128: direct.
  ClipShape shape;
  int refine;
  int stride = 1; ///< Of the asymmetric 2-D grid.
};

std::string clipCaseName(const ::testing::TestParamInfo<ClipCase> &info) {
  return std::string(info.param.clipTokens > 64 ? "Gram" : "Direct") +
         (info.param.shape == ClipShape::Asymmetric ? "Asymmetric"
                                                    : "Symmetric") +
         "Refine" + std::to_string(info.param.refine) +
         (info.param.stride > 1 ? "Stride" + std::to_string(info.param.stride)
                                : "");
}

/// A clip candidate: clamp a group to [lower, upper].
struct PlainBounds {
  float lower, upper;
  bool operator==(const PlainBounds &o) const {
    return lower == o.lower && upper == o.upper;
  }
};

/// The candidate grid of the clip search, written out plainly: coarse
/// candidates of a group with extremes lo0 <= 0 <= hi0 (amax the larger
/// magnitude), at steps of 1/20 down to 0.55 (every stride-th step of each
/// bound on the asymmetric grid).
std::vector<PlainBounds>
plainCoarseCandidates(float lo0, float hi0, bool asymmetric, int stride = 1) {
  const float amax = std::max(-lo0, hi0);
  std::vector<PlainBounds> c;
  if (asymmetric)
    for (int a = 0; a < 10; a += stride)
      for (int b = 0; b < 10; b += stride)
        c.push_back({lo0 * (1.0f - a / 20.0f), hi0 * (1.0f - b / 20.0f)});
  for (int i = asymmetric ? 1 : 0; i < 10; ++i) {
    const float mv = amax * (1.0f - i / 20.0f);
    c.push_back({-mv, mv});
  }
  return c;
}

/// The candidates around `centre`: offsets of up to `half` steps of `step`
/// times each extreme, inside the group's range.
std::vector<PlainBounds> plainNeighbours(float lo0, float hi0,
                                         PlainBounds centre, bool asymmetric,
                                         int half, float step) {
  std::vector<PlainBounds> c;
  const float amax = std::max(-lo0, hi0);
  if (!asymmetric) {
    for (int p = -half; p <= half; ++p) {
      const float mv = centre.upper - p * amax * step;
      if (p != 0 && mv > 0 && mv <= amax)
        c.push_back({-mv, mv});
    }
    return c;
  }
  const float l0 = std::max(centre.lower, lo0),
              u0 = std::min(centre.upper, hi0);
  for (int p = -half; p <= half; ++p)
    for (int q = -half; q <= half; ++q) {
      const PlainBounds b{l0 + p * (-lo0 * step), u0 - q * (hi0 * step)};
      if ((p != 0 || q != 0) && b.lower >= lo0 && b.lower <= 0 &&
          b.upper >= 0 && b.upper <= hi0)
        c.push_back(b);
    }
  return c;
}

/// The refinement candidates around `centre`: offsets of up to refine/2
/// steps of 1/(20 refine) of each extreme.
std::vector<PlainBounds> plainFineCandidates(float lo0, float hi0,
                                             PlainBounds centre,
                                             bool asymmetric, int refine) {
  return plainNeighbours(lo0, hi0, centre, asymmetric, refine / 2,
                         1.0f / (20.0f * refine));
}

/// A strided grid's full-step neighbours of `centre` that the stride skipped.
std::vector<PlainBounds> plainMidCandidates(float lo0, float hi0,
                                            PlainBounds centre, int stride) {
  if (stride <= 1)
    return {};
  return plainNeighbours(lo0, hi0, centre, true, stride - 1, 1.0f / 20.0f);
}

/// Token-mean squared partial output error of one group clamped to `b` and
/// quantized, in fp64 over the evenly sub-sampled tokens, against the
/// unclipped weights.
double plainClipLoss(const std::vector<float> &x, int64_t t, int64_t k,
                     const std::vector<float> &s, int64_t tc, int64_t c0,
                     const float *wg, int64_t g, PlainBounds b,
                     const QuantParams &params) {
  std::vector<float> cw(g);
  float lo = 1e30f, hi = -1e30f;
  for (int64_t i = 0; i < g; ++i) {
    cw[i] = std::clamp(wg[i], b.lower, b.upper);
    lo = std::min(lo, cw[i]);
    hi = std::max(hi, cw[i]);
  }
  const GroupGrid grid = makeGroupGrid(lo, hi, params);
  std::vector<double> e(g);
  for (int64_t i = 0; i < g; ++i) {
    const double q = std::clamp<double>(
        std::nearbyint(cw[i] / grid.scale) + grid.zero, 0, grid.qmax);
    e[i] = (q - grid.zero) * grid.scale - wg[i];
  }
  double sum = 0;
  for (int64_t j = 0; j < tc; ++j) {
    const int64_t tok = j * t / tc;
    double y = 0;
    for (int64_t i = 0; i < g; ++i)
      y += double(x[tok * k + c0 + i]) / s[c0 + i] * e[i];
    sum += y * y;
  }
  return sum / tc;
}

class ClipSearchTest : public ::testing::TestWithParam<ClipCase> {};

/// The chosen clip is a candidate of the grid, never increases a group's
/// loss and is the best candidate, by a brute-force fp64 search over the
/// same grid on the same sub-sampled tokens.
TEST_P(ClipSearchTest, ChoosesTheBestCandidateOfTheGrid) {
  const ClipCase cc = GetParam();
  const uint64_t seed = testSeed();
  SCOPED_TRACE(seedMessage(seed));
  std::mt19937_64 rng(seed);
  const int64_t t = 300, k = 128, rows = 24;
  QuantizeOptions options;
  options.params = {4, cc.clipTokens > 64 ? 32 : 128, true};
  options.clipMaxTokens = cc.clipTokens;
  options.clipShape = cc.shape;
  options.clipRefine = cc.refine;
  options.clipGridStride = cc.stride;
  const bool asymmetric = cc.shape == ClipShape::Asymmetric;
  const int64_t g = options.params.groupSize, groups = k / g;
  std::vector<float> x = outlierActivations(rng, t, k, 3);
  // Dead channels make the per-group Gram matrices singular.
  for (int64_t c : {int64_t(5), int64_t(6), k - 1})
    for (int64_t r = 0; r < t; ++r)
      x[r * k + c] = 0.0f;
  const std::vector<float> s = uniformVector(rng, k, 0.5f, 2.0f);
  const std::vector<float> w = heavyTailedWeights(rng, rows, k);

  ClipSearcher searcher(x.data(), t, k, s, options);
  ASSERT_EQ(searcher.tokens(), std::min(t, cc.clipTokens));
  const ClipResult clip = searcher.search(w.data(), rows, "layer");
  ASSERT_EQ(clip.minVal.size(), size_t(rows * groups));
  ASSERT_EQ(clip.maxVal.size(), size_t(rows * groups));
  ASSERT_EQ(clip.shrink.size(), size_t(rows * groups));

  const int64_t tc = searcher.tokens();
  int64_t clipped = 0, offCoarse = 0, bestOfAll = 0;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t grp = 0; grp < groups; ++grp) {
      const float *wg = &w[r * k + grp * g];
      const float lo0 = std::min(0.0f, *std::min_element(wg, wg + g));
      const float hi0 = std::max(0.0f, *std::max_element(wg, wg + g));
      auto lossOf = [&](PlainBounds b) {
        return plainClipLoss(x, t, k, s, tc, grp * g, wg, g, b, options.params);
      };
      const int stride = asymmetric ? cc.stride : 1;
      const std::vector<PlainBounds> coarse =
          plainCoarseCandidates(lo0, hi0, asymmetric, stride);
      size_t refBest = 0;
      std::vector<double> coarseLoss;
      for (const PlainBounds &b : coarse) {
        coarseLoss.push_back(lossOf(b));
        if (coarseLoss.back() < coarseLoss[refBest])
          refBest = coarseLoss.size() - 1;
      }
      // The staged search in fp64: the strided grid's skipped neighbours of
      // its best, then the refinement around the best so far.
      double best = coarseLoss[refBest];
      PlainBounds bestBounds = coarse[refBest];
      for (const PlainBounds &b :
           plainMidCandidates(lo0, hi0, bestBounds, stride))
        if (lossOf(b) < best) {
          best = lossOf(b);
          bestBounds = b;
        }
      if (cc.refine > 1)
        for (const PlainBounds &b :
             plainFineCandidates(lo0, hi0, bestBounds, asymmetric, cc.refine))
          best = std::min(best, lossOf(b));

      const size_t cell = r * groups + grp;
      const PlainBounds chosen{clip.minVal[cell], clip.maxVal[cell]};
      SCOPED_TRACE("row " + std::to_string(r) + " group " +
                   std::to_string(grp));
      // The choice is a candidate: coarse, a skipped neighbour of one, or
      // a refinement of either.
      const bool isCoarse =
          std::find(coarse.begin(), coarse.end(), chosen) != coarse.end();
      std::vector<PlainBounds> centres = coarse;
      for (const PlainBounds &centre : coarse)
        for (const PlainBounds &b :
             plainMidCandidates(lo0, hi0, centre, stride))
          centres.push_back(b);
      bool isFine = false;
      if (!isCoarse)
        isFine =
            std::find(centres.begin(), centres.end(), chosen) != centres.end();
      if (!isCoarse && !isFine && cc.refine > 1)
        for (const PlainBounds &centre : centres) {
          const std::vector<PlainBounds> fine =
              plainFineCandidates(lo0, hi0, centre, asymmetric, cc.refine);
          isFine |= std::find(fine.begin(), fine.end(), chosen) != fine.end();
        }
      EXPECT_TRUE(isCoarse || isFine)
          << "[" << chosen.lower << ", " << chosen.upper << "]";
      offCoarse += isCoarse ? 0 : 1;
      if (!asymmetric) {
        EXPECT_EQ(chosen.lower, -chosen.upper);
      }

      const double got = lossOf(chosen);
      EXPECT_NEAR(clip.lossBefore[cell], coarseLoss[0],
                  1e-3 * coarseLoss[0] + 1e-15);
      EXPECT_NEAR(clip.lossAfter[cell], got, 1e-3 * got + 1e-15);
      EXPECT_LE(got, coarseLoss[0] * (1 + 1e-4) + 1e-15);
      EXPECT_LE(got, coarseLoss[refBest] * (1 + 1e-3) + 1e-15);
      // fp32 and fp64 may break a near-tie of the coarse stage differently
      // and then refine around another centre.
      bestOfAll += got <= best * (1 + 1e-3) + 1e-15 ? 1 : 0;

      const float span = hi0 - lo0;
      const float want =
          (std::min(hi0, chosen.upper) - std::max(lo0, chosen.lower)) / span;
      EXPECT_NEAR(clip.shrink[cell], want, 1e-6);
      clipped += clip.shrink[cell] < 1.0f;
    }
  EXPECT_GT(clipped, 0)
      << "heavy-tailed weights should get some groups clipped";
  EXPECT_GE(bestOfAll, rows * groups * 95 / 100);
  if (cc.refine > 1 || (asymmetric && cc.stride > 1))
    EXPECT_GT(offCoarse, 0) << "refinement should move some choices";
  else
    EXPECT_EQ(offCoarse, 0);

  // applyClip clamps exactly to the chosen thresholds.
  std::vector<float> applied = w;
  applyClip(applied.data(), rows, k, g, clip);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < k; ++c)
      EXPECT_EQ(applied[r * k + c],
                std::clamp(w[r * k + c], clip.minVal[r * groups + c / g],
                           clip.maxVal[r * groups + c / g]));
}

INSTANTIATE_TEST_SUITE_P(
    GramAndDirect, ClipSearchTest,
    ::testing::Values(ClipCase{128, ClipShape::Symmetric, 0},
                      ClipCase{64, ClipShape::Symmetric, 0},
                      ClipCase{128, ClipShape::Symmetric, 4},
                      ClipCase{128, ClipShape::Asymmetric, 0},
                      ClipCase{64, ClipShape::Asymmetric, 0},
                      ClipCase{128, ClipShape::Asymmetric, 4},
                      ClipCase{64, ClipShape::Asymmetric, 2},
                      ClipCase{128, ClipShape::Asymmetric, 0, 2},
                      ClipCase{128, ClipShape::Asymmetric, 4, 2},
                      ClipCase{64, ClipShape::Asymmetric, 4, 3}),
    clipCaseName);

/// On groups whose tails differ (one large weight on one side), clipping the
/// two bounds separately finds lower losses than AutoAWQ's symmetric clip:
/// never higher for any group (its candidates include the symmetric ones),
/// clearly lower in sum.
TEST(AwqClip, AsymmetricBoundsBeatSymmetricOnSkewedGroups) {
  const uint64_t seed = testSeed();
  SCOPED_TRACE(seedMessage(seed));
  std::mt19937_64 rng(seed);
  const int64_t t = 256, k = 256, rows = 32, g = 64;
  const std::vector<float> x = outlierActivations(rng, t, k, 2);
  std::vector<float> w = normalVector(rng, rows * k, 0.02f);
  // One outlier per group, on a random side.
  std::uniform_int_distribution<int64_t> pick(0, g - 1);
  std::bernoulli_distribution side(0.5);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t grp = 0; grp < k / g; ++grp)
      w[r * k + grp * g + pick(rng)] = (side(rng) ? 1.0f : -1.0f) * 0.1f;
  w = roundedToHalf(w);

  for (int bits : {3, 4}) {
    QuantizeOptions options;
    options.params = {bits, g, true};
    const ClipResult sym =
        ClipSearcher(x.data(), t, k, {}, options).search(w.data(), rows, "sym");
    options.clipShape = ClipShape::Asymmetric;
    const ClipResult asym = ClipSearcher(x.data(), t, k, {}, options)
                                .search(w.data(), rows, "asym");
    double sumSym = 0, sumAsym = 0;
    int64_t oneSided = 0;
    for (size_t c = 0; c < sym.lossAfter.size(); ++c) {
      EXPECT_LE(asym.lossAfter[c], sym.lossAfter[c] * (1 + 1e-5) + 1e-18)
          << bits << " bits, cell " << c;
      sumSym += sym.lossAfter[c];
      sumAsym += asym.lossAfter[c];
      oneSided += asym.minVal[c] != -asym.maxVal[c];
    }
    EXPECT_LT(sumAsym, 0.95 * sumSym) << bits << " bits";
    EXPECT_GT(oneSided, 0) << bits << " bits";
  }
}

TEST(AwqClip, QkFlagSkipsTheClipSearch) {
  const uint64_t seed = testSeed();
  SCOPED_TRACE(seedMessage(seed));
  std::mt19937_64 rng(seed);
  const int64_t t = 128, k = 256, n = 48;
  const std::vector<float> x = outlierActivations(rng, t, k, 4);
  const std::vector<float> q = heavyTailedWeights(rng, n, k);
  const std::vector<float> v = heavyTailedWeights(rng, n, k);
  LinearGroupInput group;
  group.name = "attn";
  group.activations = f32View(x, t, k);
  group.layers.push_back({"q_proj", f32View(q, n, k), {}, true});
  group.layers.push_back({"v_proj", f32View(v, n, k), {}, false});
  QuantizeOptions options;
  options.params = {4, 64, true};
  const GroupResult result = quantizeInputGroup(group, options);

  EXPECT_FALSE(result.reports[0].clip.searched);
  EXPECT_EQ(result.reports[0].clip.clippedGroups, 0);
  // q is exactly Q(W * s), unclipped.
  std::vector<float> qs(n * k);
  for (int64_t j = 0; j < n; ++j)
    for (int64_t c = 0; c < k; ++c)
      qs[j * k + c] = q[j * k + c] * result.scales[c];
  const QuantizedLinear want =
      quantizeLinear(qs.data(), n, k, options.params, {}, "q");
  EXPECT_EQ(result.layers[0].q, want.q);
  EXPECT_EQ(result.layers[0].scales, want.scales);
  EXPECT_EQ(result.layers[0].zeros, want.zeros);

  // v is Q(clip(W * s)) with the clip search's own choice (it is
  // deterministic, so searching again gives the same thresholds).
  std::vector<float> vs(n * k);
  for (int64_t j = 0; j < n; ++j)
    for (int64_t c = 0; c < k; ++c)
      vs[j * k + c] = v[j * k + c] * result.scales[c];
  const ClipResult clip = ClipSearcher(x.data(), t, k, result.scales, options)
                              .search(vs.data(), n, "v");
  applyClip(vs.data(), n, k, 64, clip);
  const QuantizedLinear wantV =
      quantizeLinear(vs.data(), n, k, options.params, {}, "v");
  EXPECT_EQ(result.layers[1].q, wantV.q);
  EXPECT_EQ(result.layers[1].scales, wantV.scales);

  const ClipStats &vc = result.reports[1].clip;
  EXPECT_TRUE(vc.searched);
  EXPECT_EQ(vc.groups, n * (k / 64));
  EXPECT_GT(vc.clippedGroups, 0);
  EXPECT_LE(vc.lossAfter, vc.lossBefore);
  EXPECT_LT(vc.meanShrink, 1.0);
  EXPECT_GE(vc.minShrink, 0.55 - 1e-12);
}

TEST(AwqRtn, RtnModeIsThePlainQuantizer) {
  const uint64_t seed = testSeed();
  SCOPED_TRACE(seedMessage(seed));
  std::mt19937_64 rng(seed);
  const int64_t t = 40, k = 128, n = 16;
  const std::vector<float> x = outlierActivations(rng, t, k, 2);
  const std::vector<float> w = heavyTailedWeights(rng, n, k);
  const std::vector<uint16_t> bias = toHalfs(normalVector(rng, n));
  // Weights and activations as fp16, bias as fp16: the usual checkpoint types.
  const std::vector<uint16_t> wh = toHalfs(w), xh = toHalfs(x);
  LinearGroupInput group;
  group.name = "g";
  group.activations = {xh.data(), ElementType::F16, t, k};
  group.layers.push_back({"l",
                          {wh.data(), ElementType::F16, n, k},
                          {bias.data(), ElementType::F16, n},
                          false});
  const QuantParams p{3, 32, false};
  const GroupResult result = quantizeInputGroup(group, QuantizeOptions::rtn(p));
  EXPECT_FALSE(result.scaleSearched);
  EXPECT_TRUE(result.ratioLosses.empty());
  for (float s : result.scales)
    EXPECT_EQ(s, 1.0f);
  const QuantizedLinear want = quantizeLinear(w.data(), n, k, p, bias, "l");
  EXPECT_EQ(result.layers[0].q, want.q);
  EXPECT_EQ(result.layers[0].scales, want.scales);
  EXPECT_EQ(result.layers[0].bias, bias);
  EXPECT_FALSE(result.reports[0].clip.searched);
  EXPECT_NEAR(result.reports[0].awqError, result.reports[0].rtnError,
              1e-6 * result.reports[0].rtnError);
  const double outMs = result.reports[0].outputMeanSquare;
  const std::vector<double> y = referenceDenseLinear(x, t, w, n);
  double want2 = 0;
  for (double v : y)
    want2 += v * v / double(t * n);
  EXPECT_NEAR(outMs, want2, 1e-4 * want2);
}

TEST(AwqDriver, BF16InputsAndActivationScale) {
  const uint64_t seed = testSeed();
  SCOPED_TRACE(seedMessage(seed));
  std::mt19937_64 rng(seed);
  const int64_t t = 32, k = 64, n = 8;
  const std::vector<float> x = outlierActivations(rng, t, k, 2);
  std::vector<uint16_t> wb(n * k);
  std::vector<float> w(n * k);
  for (int64_t i = 0; i < n * k; ++i) {
    float v = normalVector(rng, 1)[0];
    uint32_t bits;
    std::memcpy(&bits, &v, 4);
    wb[i] = static_cast<uint16_t>(bits >> 16); // Truncation: exact bf16 value.
    bits = uint32_t(wb[i]) << 16;
    std::memcpy(&w[i], &bits, 4);
  }
  LinearGroupInput group;
  group.name = "g";
  group.activations = f32View(x, t, k);
  group.layers.push_back(
      {"l", {wb.data(), ElementType::BF16, n, k}, {}, false});
  QuantizeOptions options;
  options.params = {4, 32, true};
  const GroupResult result = quantizeInputGroup(group, options);
  const double err = plainOutputMse(x, t, k, w, n, dequantize(result.layers[0]),
                                    result.scales);
  EXPECT_NEAR(result.reports[0].awqError, err, 1e-3 * err);

  // The explicit activation scale is fp16(1 / s), in referenceLinear's terms.
  const std::vector<uint16_t> a = activationScaleFromScales(result.scales);
  for (int64_t c = 0; c < k; ++c)
    EXPECT_EQ(a[c], floatToHalf(1.0f / result.scales[c]));
  EXPECT_THROW(activationScaleFromScales({1.0f, 0.0f}), Error);
}

TEST(AwqDriver, ProgressIsMonotoneAndCancellationStops) {
  std::mt19937_64 rng(testSeed());
  const int64_t t = 32, k = 128, n = 16;
  const std::vector<float> x = normalVector(rng, t * k);
  const std::vector<float> w = normalVector(rng, n * k);
  LinearGroupInput group;
  group.name = "g";
  group.activations = f32View(x, t, k);
  group.layers.push_back({"a", f32View(w, n, k), {}, false});
  group.layers.push_back({"b", f32View(w, n, k), {}, true});
  QuantizeOptions options;
  options.params = {4, 32, true};
  std::vector<QuantizeProgress> seen;
  options.onProgress = [&](const QuantizeProgress &p) { seen.push_back(p); };
  quantizeInputGroup(group, options);
  // Start, statistics, baseline, 20 ratios, 4 clip groups of "a", 2 layers.
  ASSERT_EQ(seen.size(), 1u + 1 + 1 + 20 + 4 + 2);
  for (size_t i = 0; i < seen.size(); ++i) {
    EXPECT_EQ(seen[i].done, int64_t(i));
    EXPECT_EQ(seen[i].total, seen.back().total);
    EXPECT_EQ(seen[i].group, "g");
  }
  EXPECT_EQ(seen.back().fraction(), 1.0);
  EXPECT_EQ(seen[25].stage, QuantizeStage::ClipSearch);
  EXPECT_EQ(seen[25].layer, "a");
  EXPECT_STREQ(stageName(seen.back().stage), "finalize");

  std::atomic<bool> cancel{false};
  options.cancel = &cancel;
  int calls = 0;
  options.onProgress = [&](const QuantizeProgress &) {
    if (++calls == 5)
      cancel = true;
  };
  EXPECT_THAT(
      [&] { quantizeInputGroup(group, options); },
      ::testing::ThrowsMessage<Cancelled>(HasSubstr("input group 'g'")));
  EXPECT_EQ(calls, 5);
}

TEST(AwqDriver, SameResultForAnyThreadCount) {
  const uint64_t seed = testSeed();
  SCOPED_TRACE(seedMessage(seed));
  std::mt19937_64 rng(seed);
  const int64_t t = 96, k = 256, n = 40;
  const std::vector<float> x = outlierActivations(rng, t, k, 3);
  const std::vector<float> w = heavyTailedWeights(rng, n, k);
  LinearGroupInput group;
  group.name = "g";
  group.activations = f32View(x, t, k);
  group.layers.push_back({"l", f32View(w, n, k), {}, false});
  QuantizeOptions options;
  options.params = {4, 64, true};
  options.numThreads = 1;
  const GroupResult one = quantizeInputGroup(group, options);
  options.numThreads = 3;
  const GroupResult three = quantizeInputGroup(group, options);
  EXPECT_EQ(one.scales, three.scales);
  EXPECT_EQ(one.ratioLosses, three.ratioLosses);
  EXPECT_EQ(one.layers[0].q, three.layers[0].q);
  EXPECT_EQ(one.layers[0].scales, three.layers[0].scales);
  EXPECT_EQ(one.layers[0].zeros, three.layers[0].zeros);
  EXPECT_EQ(one.reports[0].awqError, three.reports[0].awqError);
}

TEST(AwqDriver, SearchOnlyAndFixedScalesReproduceTheFullRun) {
  const uint64_t seed = testSeed();
  SCOPED_TRACE(seedMessage(seed));
  std::mt19937_64 rng(seed);
  const int64_t t = 64, k = 128, n = 24;
  const std::vector<float> x = outlierActivations(rng, t, k, 3);
  const std::vector<float> w = heavyTailedWeights(rng, n, k);
  LinearGroupInput group;
  group.name = "down";
  group.activations = f32View(x, t, k);
  group.layers.push_back({"down_proj", f32View(w, n, k), {}, false});
  QuantizeOptions options;
  options.params = {4, 32, true};
  const GroupResult full = quantizeInputGroup(group, options);
  const ScaleSearchResult found = searchGroupScales(group, options);
  EXPECT_EQ(found.scales, full.scales);
  EXPECT_EQ(found.ratio, full.ratio);
  EXPECT_EQ(found.ratioLosses, full.ratioLosses);

  options.fixedScales = found.scales;
  const GroupResult fixed = quantizeInputGroup(group, options);
  EXPECT_FALSE(fixed.scaleSearched);
  EXPECT_TRUE(fixed.ratioLosses.empty());
  EXPECT_EQ(fixed.scales, full.scales);
  EXPECT_EQ(fixed.layers[0].q, full.layers[0].q);
  EXPECT_EQ(fixed.layers[0].scales, full.layers[0].scales);

  options.fixedScales.pop_back();
  EXPECT_THAT([&] { quantizeInputGroup(group, options); },
              ::testing::ThrowsMessage<Error>(HasSubstr(
                  "fixedScales must have K = 128 elements, got 127")));
  options.fixedScales.push_back(-1.0f);
  EXPECT_THAT([&] { quantizeInputGroup(group, options); },
              ::testing::ThrowsMessage<Error>(
                  HasSubstr("fixedScales [127] must be positive")));
}

TEST(AwqDriver, RejectsBadInput) {
  std::vector<float> x(16 * 64, 1.0f), w(8 * 64, 0.5f), w2(8 * 32, 0.5f);
  QuantizeOptions options;
  options.params = {4, 32, true};
  auto make = [&] {
    LinearGroupInput g;
    g.name = "model.layers.3.mlp";
    g.activations = f32View(x, 16, 64);
    g.layers.push_back({"gate_proj", f32View(w, 8, 64), {}, false});
    return g;
  };
  auto throwsWith = [&](const LinearGroupInput &g, const QuantizeOptions &o,
                        const std::string &text) {
    EXPECT_THAT([&] { quantizeInputGroup(g, o); },
                ::testing::ThrowsMessage<Error>(HasSubstr(text)))
        << text;
  };
  LinearGroupInput g = make();
  g.layers.clear();
  throwsWith(g, options,
             "input group 'model.layers.3.mlp': has no linear layers");
  g = make();
  g.layers.push_back({"up_proj", f32View(w2, 8, 32), {}, false});
  throwsWith(g, options, "layer 'up_proj': weight has K = 32");
  g = make();
  g.activations.data = nullptr;
  throwsWith(g, options, "activations: data is missing");
  g = make();
  g.layers[0].bias = {w.data(), ElementType::F32, 7};
  throwsWith(g, options, "layer 'gate_proj': bias must have N = 8");
  g = make();
  QuantizeOptions bad = options;
  bad.params.groupSize = 48;
  throwsWith(g, bad, "group size 48");
  bad = options;
  bad.params.bits = 2;
  throwsWith(g, bad, "bits must be 3, 4 or 8");
  bad = options;
  bad.clipSteps = 30;
  throwsWith(g, bad, "clipSteps");
  x[5 * 64 + 7] = std::nanf("");
  throwsWith(make(), options, "activations: element [5, 7] is not finite");
  x[5 * 64 + 7] = 1.0f;
  w[3 * 64 + 1] = INFINITY;
  throwsWith(make(), options,
             "layer 'gate_proj': weight: element [3, 1] is not finite");
}

} // namespace

/// The clip search runs OpenBLAS single-threaded (its workers call BLAS
/// themselves) and gives OpenBLAS its thread count back afterwards.
TEST(AwqClip, RestoresOpenBlasThreads) {
  const auto get = reinterpret_cast<int (*)()>(
      dlsym(RTLD_DEFAULT, "openblas_get_num_threads"));
  const auto set = reinterpret_cast<void (*)(int)>(
      dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
  if (get == nullptr || set == nullptr)
    GTEST_SKIP() << "BLAS is not OpenBLAS";
  const uint64_t seed = testSeed();
  SCOPED_TRACE(seedMessage(seed));
  std::mt19937_64 rng(seed);
  const int before = get();
  set(2);
  const int64_t t = 64, k = 64, rows = 8;
  const std::vector<float> x = outlierActivations(rng, t, k, 2);
  const std::vector<float> w = heavyTailedWeights(rng, rows, k);
  QuantizeOptions options;
  options.params = {4, 32, true};
  ClipSearcher searcher(x.data(), t, k, {}, options);
  searcher.search(w.data(), rows, "layer");
  EXPECT_EQ(get(), 2);
  set(before);
}
