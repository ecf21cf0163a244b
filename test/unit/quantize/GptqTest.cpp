//===- GptqTest.cpp - Tests of GPTQ quantization --------------------------===//
//
// The reference below is the textbook form of GPTQ (the OBQ update): one
// column at a time in fp64, each column's error divided by the inverse
// Hessian's diagonal and spread along its row, then that column eliminated
// from the inverse (a rank-one downdate). No Cholesky factor, no lazy block
// updates, no transposed layout: it shares nothing with Gptq.cpp but the
// group grid (Quantizer.h, tested on its own in QuantizerTest.cpp).
//
//===----------------------------------------------------------------------===//

#include "compiler/quantize/Gptq.h"
#include "TestUtil.h"
#include "compiler/quantize/Quantizer.h"

#include "runtime/support/Error.h"
#include "runtime/support/Half.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>

using namespace awq;
using namespace awq::test;
using ::testing::HasSubstr;

namespace {

/// Gauss-Jordan inverse of a symmetric positive definite [k, k] matrix.
std::vector<double> invert(std::vector<double> a, int64_t k) {
  std::vector<double> inv(static_cast<size_t>(k * k), 0.0);
  for (int64_t i = 0; i < k; ++i)
    inv[i * k + i] = 1.0;
  for (int64_t c = 0; c < k; ++c) {
    const double pivot = a[c * k + c];
    for (int64_t j = 0; j < k; ++j) {
      a[c * k + j] /= pivot;
      inv[c * k + j] /= pivot;
    }
    for (int64_t r = 0; r < k; ++r) {
      if (r == c)
        continue;
      const double f = a[r * k + c];
      for (int64_t j = 0; j < k; ++j) {
        a[r * k + j] -= f * a[c * k + j];
        inv[r * k + j] -= f * inv[c * k + j];
      }
    }
  }
  return inv;
}

/// H = 2/T X^T X in fp64.
std::vector<double> plainHessian(const std::vector<float> &x, int64_t t,
                                 int64_t k) {
  std::vector<double> h(static_cast<size_t>(k * k), 0.0);
  for (int64_t i = 0; i < k; ++i)
    for (int64_t j = 0; j < k; ++j) {
      double sum = 0;
      for (int64_t s = 0; s < t; ++s)
        sum += double(x[s * k + i]) * x[s * k + j];
      h[i * k + j] = 2.0 * sum / double(t);
    }
  return h;
}

/// Textbook GPTQ, columns in channel order; returns codes [k, n] and the
/// grids [groups, n].
struct PlainResult {
  std::vector<int> codes;
  std::vector<GroupGrid> grids;
};
PlainResult plainGptq(std::vector<float> w, int64_t n, int64_t k,
                      const QuantParams &params, std::vector<double> h,
                      double dampening) {
  const int64_t g = params.groupSize;
  double meanDiag = 0;
  for (int64_t i = 0; i < k; ++i)
    meanDiag += h[i * k + i];
  meanDiag /= double(k);
  for (int64_t i = 0; i < k; ++i)
    h[i * k + i] += dampening * meanDiag;
  std::vector<double> hinv = invert(h, k);
  PlainResult out;
  out.codes.assign(static_cast<size_t>(k * n), 0);
  out.grids.resize(static_cast<size_t>(k / g * n));
  std::vector<double> wd(w.begin(), w.end());
  for (int64_t i = 0; i < k; ++i) {
    for (int64_t r = 0; r < n; ++r) {
      if (i % g == 0) {
        float lo = float(wd[r * k + i]), hi = lo;
        for (int64_t c = i; c < i + g; ++c) {
          lo = std::min(lo, float(wd[r * k + c]));
          hi = std::max(hi, float(wd[r * k + c]));
        }
        out.grids[(i / g) * n + r] = makeGroupGrid(lo, hi, params);
      }
      const GroupGrid &grid = out.grids[(i / g) * n + r];
      const int q = quantizeCode(float(wd[r * k + i]), grid);
      out.codes[i * n + r] = q;
      const double err = (wd[r * k + i] - double(q - grid.zero) * grid.scale) /
                         hinv[i * k + i];
      for (int64_t j = i + 1; j < k; ++j)
        wd[r * k + j] -= err * hinv[i * k + j];
    }
    // Eliminate column i: Hinv -= Hinv[:, i] Hinv[i, :] / Hinv[i, i], from
    // copies, since the update zeroes row and column i as it goes.
    const double d = hinv[i * k + i];
    std::vector<double> row(hinv.begin() + i * k, hinv.begin() + (i + 1) * k);
    std::vector<double> column(static_cast<size_t>(k));
    for (int64_t a = 0; a < k; ++a)
      column[a] = hinv[a * k + i];
    for (int64_t a = 0; a < k; ++a)
      for (int64_t b = 0; b < k; ++b)
        hinv[a * k + b] -= column[a] * row[b] / d;
  }
  return out;
}

/// Correlated activations: a shared random mixing of independent channels,
/// with a few loud channels, as real transformer inputs have.
std::vector<float> correlatedActivations(std::mt19937_64 &rng, int64_t t,
                                         int64_t k) {
  const std::vector<float> z = normalVector(rng, t * k);
  const std::vector<float> mix =
      normalVector(rng, k * k, 1.0f / std::sqrt(float(k)));
  std::vector<float> x(static_cast<size_t>(t * k), 0.0f);
  for (int64_t s = 0; s < t; ++s)
    for (int64_t i = 0; i < k; ++i) {
      double v = z[s * k + i];
      for (int64_t j = 0; j < k; ++j)
        v += 0.7 * z[s * k + j] * mix[j * k + i];
      x[s * k + i] = float(v * (i % 17 == 0 ? 8.0 : 1.0));
    }
  return x;
}

/// mean_{t,n} (x (Q - W)^T)^2 for codes [k, n] and weight [n, k].
double outputError(const QuantizedLinear &l, const std::vector<float> &w,
                   const std::vector<float> &x, int64_t t) {
  const int64_t k = l.k, n = l.n, g = l.params.groupSize;
  double sum = 0;
  for (int64_t s = 0; s < t; ++s)
    for (int64_t r = 0; r < n; ++r) {
      double y = 0;
      for (int64_t c = 0; c < k; ++c) {
        const double dq = double(int(l.q[c * n + r]) - l.zeroAt(c / g, r)) *
                          halfToFloat(l.scales[(c / g) * n + r]);
        y += double(x[s * k + c]) * (dq - w[r * k + c]);
      }
      sum += y * y;
    }
  return sum / double(t * n);
}

struct Problem {
  int64_t n = 24, k = 256, t = 600;
  std::vector<float> w, x, hessian;
};

Problem makeProblem(std::mt19937_64 &rng) {
  Problem p;
  p.w = normalVector(rng, p.n * p.k, 0.05f);
  p.x = correlatedActivations(rng, p.t, p.k);
  p.hessian = gptqHessian(p.x.data(), p.t, p.k, {}, 2);
  return p;
}

TEST(Gptq, HessianIsTwiceTheMeanOuterProduct) {
  const uint64_t seed = testSeed();
  SCOPED_TRACE(seedMessage(seed));
  std::mt19937_64 rng(seed);
  const int64_t t = 50, k = 40;
  const std::vector<float> x = normalVector(rng, t * k);
  std::vector<float> s(k);
  for (float &v : s)
    v = 0.5f + std::fabs(normalVector(rng, 1)[0]);
  const std::vector<float> h = gptqHessian(x.data(), t, k, s, 2);
  std::vector<float> xs(x.size());
  for (int64_t r = 0; r < t; ++r)
    for (int64_t c = 0; c < k; ++c)
      xs[r * k + c] = x[r * k + c] / s[c];
  const std::vector<double> want = plainHessian(xs, t, k);
  ASSERT_EQ(h.size(), want.size());
  for (size_t i = 0; i < h.size(); ++i)
    ASSERT_NEAR(h[i], want[i], 1e-4 * (1 + std::fabs(want[i]))) << i;
}

TEST(Gptq, MatchesTheTextbookUpdate) {
  const uint64_t seed = testSeed();
  SCOPED_TRACE(seedMessage(seed));
  std::mt19937_64 rng(seed);
  const Problem p = makeProblem(rng);
  for (int bits : {3, 4, 8})
    for (int64_t group : {int64_t(32), int64_t(128), p.k})
      for (int64_t block : {int64_t(128), int64_t(48)}) {
        SCOPED_TRACE(::testing::Message() << "bits " << bits << " group "
                                          << group << " block " << block);
        const QuantParams params{bits, group, true};
        GptqOptions options;
        options.blockSize = block;
        const QuantizedLinear l = gptqQuantizeLinear(
            p.w.data(), p.n, p.k, params, {}, p.hessian, options, "layer", 2);
        validate(l, "layer");
        std::vector<double> h(p.hessian.begin(), p.hessian.end());
        const PlainResult want =
            plainGptq(p.w, p.n, p.k, params, h, options.dampening);
        // fp32 Cholesky against fp64 elimination: a code may flip where a
        // weight sits on a rounding boundary, and the flip moves the later
        // columns of its row a little; 8 bits have 32x the boundaries of 3
        // (seen up to 2.1% there; a wrong update flips over 25%).
        int64_t differ = 0;
        for (size_t i = 0; i < want.codes.size(); ++i)
          differ += int(l.q[i]) != want.codes[i];
        EXPECT_LE(differ, int64_t(want.codes.size()) / (bits == 8 ? 25 : 200));
        const double err = outputError(l, p.w, p.x, p.t);
        QuantizedLinear ref = l;
        for (size_t i = 0; i < want.codes.size(); ++i)
          ref.q[i] = static_cast<uint8_t>(want.codes[i]);
        for (size_t i = 0; i < want.grids.size(); ++i) {
          ref.scales[i] = floatToHalf(want.grids[i].scale);
          ref.zeros[i] = static_cast<uint8_t>(want.grids[i].zero);
        }
        const double refErr = outputError(ref, p.w, p.x, p.t);
        EXPECT_NEAR(err, refErr, 0.02 * refErr);
      }
}

TEST(Gptq, BeatsRoundToNearestOnTheCalibrationTokens) {
  const uint64_t seed = testSeed();
  SCOPED_TRACE(seedMessage(seed));
  std::mt19937_64 rng(seed);
  const Problem p = makeProblem(rng);
  for (int bits : {3, 4})
    for (bool actOrder : {false, true}) {
      SCOPED_TRACE(::testing::Message()
                   << "bits " << bits << " act order " << actOrder);
      const QuantParams params{bits, 64, true};
      GptqOptions options;
      options.actOrder = actOrder;
      const QuantizedLinear gptq = gptqQuantizeLinear(
          p.w.data(), p.n, p.k, params, {}, p.hessian, options, "layer", 2);
      const QuantizedLinear rtn =
          quantizeLinear(p.w.data(), p.n, p.k, params, {}, "layer", 2);
      EXPECT_LT(outputError(gptq, p.w, p.x, p.t),
                0.8 * outputError(rtn, p.w, p.x, p.t));
      if (actOrder) {
        // Static groups: the grids are RTN's, from the unmodified weights.
        EXPECT_EQ(gptq.scales, rtn.scales);
        EXPECT_EQ(gptq.zeros, rtn.zeros);
      }
    }
}

TEST(Gptq, IdentityHessianIsRoundToNearest) {
  // With H = I nothing couples the columns: GPTQ has no error to spread.
  const uint64_t seed = testSeed();
  SCOPED_TRACE(seedMessage(seed));
  std::mt19937_64 rng(seed);
  const int64_t n = 10, k = 128;
  const std::vector<float> w = normalVector(rng, n * k, 0.1f);
  std::vector<float> identity(static_cast<size_t>(k * k), 0.0f);
  for (int64_t i = 0; i < k; ++i)
    identity[i * k + i] = 1.0f;
  for (bool actOrder : {false, true})
    for (bool zeroPoint : {true, false}) {
      const QuantParams params{4, 32, zeroPoint};
      GptqOptions options;
      options.actOrder = actOrder;
      const QuantizedLinear gptq = gptqQuantizeLinear(
          w.data(), n, k, params, {}, identity, options, "layer", 2);
      const QuantizedLinear rtn =
          quantizeLinear(w.data(), n, k, params, {}, "layer", 2);
      EXPECT_EQ(gptq.q, rtn.q);
      EXPECT_EQ(gptq.scales, rtn.scales);
      EXPECT_EQ(gptq.zeros, rtn.zeros);
    }
}

TEST(Gptq, DeadChannelsQuantizeToZero) {
  const uint64_t seed = testSeed();
  SCOPED_TRACE(seedMessage(seed));
  std::mt19937_64 rng(seed);
  Problem p = makeProblem(rng);
  // Channels 5 and 200 never fire.
  for (int64_t s = 0; s < p.t; ++s)
    p.x[s * p.k + 5] = p.x[s * p.k + 200] = 0.0f;
  p.hessian = gptqHessian(p.x.data(), p.t, p.k, {}, 2);
  const QuantizedLinear l =
      gptqQuantizeLinear(p.w.data(), p.n, p.k, {4, 64, true}, {}, p.hessian,
                         GptqOptions{}, "layer", 2);
  for (int64_t c : {int64_t(5), int64_t(200)})
    for (int64_t r = 0; r < p.n; ++r)
      EXPECT_EQ(int(l.q[c * p.n + r]), l.zeroAt(c / 64, r)) << c << " " << r;
}

TEST(Gptq, RejectsBadInput) {
  const int64_t n = 4, k = 32;
  std::vector<float> w(n * k, 0.5f);
  std::vector<float> identity(k * k, 0.0f);
  for (int64_t i = 0; i < k; ++i)
    identity[i * k + i] = 1.0f;
  const QuantParams params{4, 32, true};
  EXPECT_THAT(
      [&] {
        gptqQuantizeLinear(w.data(), n, k, params, {},
                           std::vector<float>(10, 1.0f), {}, "L", 1);
      },
      ::testing::ThrowsMessage<Error>(
          HasSubstr("L: GPTQ Hessian must be K x K")));
  // Strongly indefinite: diagonal 1, off-diagonal 20 (eigenvalue -19).
  std::vector<float> bad(k * k, 20.0f);
  for (int64_t i = 0; i < k; ++i)
    bad[i * k + i] = 1.0f;
  EXPECT_THAT(
      [&] { gptqQuantizeLinear(w.data(), n, k, params, {}, bad, {}, "L", 1); },
      ::testing::ThrowsMessage<Error>(HasSubstr("not positive definite")));
  w[7] = std::nanf("");
  EXPECT_THAT(
      [&] {
        gptqQuantizeLinear(w.data(), n, k, params, {}, identity, {}, "L", 1);
      },
      ::testing::ThrowsMessage<Error>(
          HasSubstr("L: weight [0, 7] is not finite")));
  w[7] = 0.5f;
  EXPECT_THAT(
      [&] {
        gptqQuantizeLinear(w.data(), n, k, {4, 24, true}, {}, identity, {}, "L",
                           1);
      },
      ::testing::ThrowsMessage<Error>(HasSubstr("group size 24")));
}

} // namespace
