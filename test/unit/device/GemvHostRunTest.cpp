//===- GemvHostRunTest.cpp - The GEMV kernel on the host vs the fp64 oracle
//===//
//
// Emits the GEMV kernel source for a layer exactly as the compiler would
// (KernelInstance::source, for the tiling the planner picks on sm_90 or a
// chosen one checked with KernelInstance::check), builds it with the host
// executor, launches it with KernelInstance::launch's geometry on fresh
// random data with NaN-poisoned outputs and compares with referenceLinear.
// Each case launches twice (blocks in shuffled order the second time) to
// prove the split-K workspace and counters are left zero. bf16 cases also
// push x, a and the scales to the ends of bf16's range (docs/numerics.md,
// "bf16 GEMV", derives the bound they are held to).
//
//===----------------------------------------------------------------------===//

#include "awq/linear_args.cuh"

#include "compiler/reference/Compare.h"
#include "compiler/reference/Reference.h"
#include "runtime/host/HostModule.h"
#include "runtime/kernels/GemvLayout.h"
#include "runtime/kernels/KernelInstance.h"
#include "runtime/kernels/KernelPlan.h"
#include "runtime/kernels/MergeLayers.h"
#include "runtime/support/Half.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#ifndef AWQ_DEVICE_TEST_CACHE_DIR
#error "AWQ_DEVICE_TEST_CACHE_DIR must be defined by the build"
#endif

namespace {

using awq::KernelInstance;
using awq::QuantizedLinear;

struct HostRunCase {
  std::string name;
  int64_t k, n; ///< n: output columns before any gate/up merge.
  int bits;
  int64_t groupSize; ///< 0 means per column (G = K).
  bool zeroPoint, actScale, bias, residual, siluMul;
  /// The tiling; threads == 0: the one planGemv picks for an H100 (sm_90).
  int threads, colsPerWarp, kSplit, maxRows;
  std::vector<int> rowCounts;
  awq::ActivationType activation = awq::ActivationType::F16;
  /// x, a and the scales are drawn as usual, then multiplied by 2^xExponent,
  /// 2^actExponent and 2^scaleExponent; `spread` multiplies x and a
  /// additionally by 2^e with e uniform in [-spread, spread] per element, so
  /// one unit holds values far apart.
  int xExponent = 0, actExponent = 0, scaleExponent = 0, spread = 0;
};

std::ostream &operator<<(std::ostream &os, const HostRunCase &c) {
  return os << c.name;
}

QuantizedLinear randomLayer(int64_t k, int64_t n, int bits, int64_t groupSize,
                            bool zeroPoint, bool bias, std::mt19937 &rng,
                            awq::ActivationType activation, int scaleExponent) {
  QuantizedLinear layer;
  layer.k = k;
  layer.n = n;
  layer.activation = activation;
  layer.params.bits = bits;
  layer.params.groupSize = groupSize;
  layer.params.zeroPoint = zeroPoint;
  std::uniform_int_distribution<int> q(0, (1 << bits) - 1);
  std::uniform_real_distribution<float> scale(0.002f, 0.03f);
  std::uniform_real_distribution<float> unit(-1.0f, 1.0f);
  layer.q.resize(static_cast<size_t>(k * n));
  for (uint8_t &v : layer.q)
    v = static_cast<uint8_t>(q(rng));
  const size_t groups = static_cast<size_t>(layer.numGroups() * n);
  layer.scales.resize(groups);
  for (uint16_t &s : layer.scales)
    s = awq::floatToElement(std::ldexp(scale(rng), scaleExponent), activation);
  if (zeroPoint) {
    layer.zeros.resize(groups);
    for (uint8_t &z : layer.zeros)
      z = static_cast<uint8_t>(q(rng));
  }
  if (bias) {
    layer.bias.resize(static_cast<size_t>(n));
    for (uint16_t &b : layer.bias)
      b = awq::floatToElement(unit(rng), activation);
  }
  return layer;
}

/// Elements of `type` drawn uniformly from [lo, hi], times 2^exponent and
/// times 2^e, e uniform in [-spread, spread] per element.
std::vector<uint16_t> randomElements(size_t count, float lo, float hi,
                                     std::mt19937 &rng,
                                     awq::ActivationType type, int exponent = 0,
                                     int spread = 0) {
  std::uniform_real_distribution<float> dist(lo, hi);
  std::uniform_int_distribution<int> spreadDist(-spread, spread);
  std::vector<uint16_t> out(count);
  for (uint16_t &h : out) {
    do
      h = awq::floatToElement(
          std::ldexp(dist(rng), exponent + (spread ? spreadDist(rng) : 0)),
          type);
    while ((h & 0x7fffu) == 0); // Never zero: zeros hide missing terms.
  }
  return out;
}

/// sum_k |x[m, k] a[k] W[k, n]| for every (m, n): the scale of the fp32
/// rounding error of any summation order.
std::vector<double> absoluteMass(const std::vector<uint16_t> &x, int64_t m,
                                 const QuantizedLinear &layer,
                                 const std::vector<uint16_t> &act) {
  const std::vector<float> w = awq::dequantize(layer);
  std::vector<double> mass(static_cast<size_t>(m * layer.n), 0.0);
  for (int64_t r = 0; r < m; ++r)
    for (int64_t kk = 0; kk < layer.k; ++kk) {
      double xa = awq::elementToFloat(x[static_cast<size_t>(r * layer.k + kk)],
                                      layer.activation);
      if (!act.empty())
        xa *=
            awq::elementToFloat(act[static_cast<size_t>(kk)], layer.activation);
      const float *row = w.data() + kk * layer.n;
      double *out = mass.data() + r * layer.n;
      for (int64_t c = 0; c < layer.n; ++c)
        out[c] += std::fabs(xa * row[c]);
    }
  return mass;
}

class GemvHostRun : public ::testing::TestWithParam<HostRunCase> {};

TEST_P(GemvHostRun, MatchesReference) {
  const HostRunCase &tc = GetParam();
  std::mt19937 rng(std::hash<std::string>()(tc.name) & 0xffffffffu);
  const int64_t groupSize = tc.groupSize == 0 ? tc.k : tc.groupSize;

  // The logical layer(s) and the merged layer the kernel runs.
  QuantizedLinear gate, up, merged;
  const awq::ActivationType type = tc.activation;
  const bool bf16 = type == awq::ActivationType::BF16;
  if (tc.siluMul) {
    gate = randomLayer(tc.k, tc.n, tc.bits, groupSize, tc.zeroPoint, tc.bias,
                       rng, type, tc.scaleExponent);
    up = randomLayer(tc.k, tc.n, tc.bits, groupSize, tc.zeroPoint, tc.bias, rng,
                     type, tc.scaleExponent);
    merged = awq::interleaveGateUp(gate, up, tc.name);
    // Older interleaveGateUp left the merged layer fp16 (fixed on main).
    merged.activation = type;
  } else {
    merged = randomLayer(tc.k, tc.n, tc.bits, groupSize, tc.zeroPoint, tc.bias,
                         rng, type, tc.scaleExponent);
  }
  const awq::GemvWeights packed = awq::repackGemv(merged, tc.name);

  awq::LinearShape shape;
  shape.k = tc.k;
  shape.n = merged.n;
  shape.bits = tc.bits;
  shape.group = groupSize;
  shape.zeroPoint = tc.zeroPoint;
  shape.actScale = tc.actScale;
  shape.bias = tc.bias;
  shape.residual = tc.residual;
  shape.siluMul = tc.siluMul;
  shape.activation = type;
  awq::GemvParams params{tc.threads, tc.colsPerWarp, tc.kSplit, tc.maxRows};
  if (tc.threads == 0) {
    const std::optional<awq::GemvParams> planned =
        awq::planGemv(shape, *awq::findArch(90));
    ASSERT_TRUE(planned.has_value());
    params = *planned;
  }
  const KernelInstance instance = KernelInstance::makeGemv(shape, params);
  ASSERT_EQ(instance.check(), "");
  SCOPED_TRACE(instance.configType());
  const std::string kernel = "awq_gemv_" + tc.name;
  const std::string source = instance.source(kernel);

  awq::host::HostCompileOptions options;
  options.cacheDir = AWQ_DEVICE_TEST_CACHE_DIR;
  options.sourceName = kernel + ".cu";
#if defined(AWQ_FAULT_WRONG_NIBBLE_ORDER)
  options.defines.push_back("AWQ_FAULT_WRONG_NIBBLE_ORDER");
#endif
  std::shared_ptr<const awq::host::HostModule> module;
  ASSERT_NO_THROW(module =
                      awq::host::HostModule::load(source, {kernel}, options))
      << source;

  for (int m : tc.rowCounts) {
    SCOPED_TRACE("M = " + std::to_string(m));
    const int64_t nOut = shape.nOut();
    const awq::KernelLaunch geometry = instance.launch(m);
    const std::vector<uint16_t> x =
        randomElements(static_cast<size_t>(m * tc.k), -1.0f, 1.0f, rng, type,
                       tc.xExponent, tc.spread);
    const std::vector<uint16_t> act =
        tc.actScale ? randomElements(static_cast<size_t>(tc.k), 0.25f, 2.0f,
                                     rng, type, tc.actExponent, tc.spread)
                    : std::vector<uint16_t>();
    const std::vector<uint16_t> residual =
        tc.residual ? randomElements(static_cast<size_t>(m * nOut), -2.0f, 2.0f,
                                     rng, type)
                    : std::vector<uint16_t>();

    // Reference and the error scale of an fp32 kernel.
    std::vector<double> ref(static_cast<size_t>(m * nOut));
    double errorScale = 0.0;
    if (tc.siluMul) {
      const std::vector<double> g = awq::referenceLinear(x, m, gate, act);
      const std::vector<double> u = awq::referenceLinear(x, m, up, act);
      const std::vector<double> gMass = absoluteMass(x, m, gate, act);
      const std::vector<double> uMass = absoluteMass(x, m, up, act);
      for (size_t i = 0; i < ref.size(); ++i) {
        const double silu = g[i] / (1.0 + std::exp(-g[i]));
        ref[i] = silu * u[i] +
                 (tc.residual ? awq::elementToFloat(residual[i], type) : 0.0);
        // d(silu(g) u) <= 1.1 |u| dg + |silu(g)| du.
        errorScale = std::max(errorScale, 1.1 * std::fabs(u[i]) * gMass[i] +
                                              std::fabs(silu) * uMass[i]);
      }
    } else {
      ref = awq::referenceLinear(x, m, merged, act, residual);
      for (double v : absoluteMass(x, m, merged, act))
        errorScale = std::max(errorScale, v);
    }
    // fp32 accumulation: far below 2^-14 of the absolute mass; the fp16
    // output rounding: half an ulp, below 2^-10 relative.
    awq::Tolerance tolerance{std::ldexp(errorScale, -14) + 1e-6,
                             std::ldexp(1.0, -10)};
    if (bf16) {
      // docs/numerics.md, "bf16 GEMV": the same accumulation term, half a
      // bf16 ulp (2^-8, twice that here) relative, half the smallest bf16
      // subnormal, and the normalisation's absolute term 2^-100 K max|s|
      // (X A + 2^-25), X = max(max|x|, 2^-126), A likewise (1 without a).
      // No 1e-6 floor: outputs may be ~2^-120.
      double maxX = std::ldexp(1.0, -126), maxA = 1.0, maxS = 0.0;
      for (uint16_t v : x)
        maxX = std::max<double>(maxX, std::fabs(awq::bfloat16ToFloat(v)));
      if (tc.actScale) {
        maxA = std::ldexp(1.0, -126);
        for (uint16_t v : act)
          maxA = std::max<double>(maxA, std::fabs(awq::bfloat16ToFloat(v)));
      }
      for (const QuantizedLinear *l : {&merged, &gate, &up})
        for (uint16_t v : l->scales)
          maxS = std::max<double>(maxS, std::fabs(awq::bfloat16ToFloat(v)));
      const double normalisation =
          std::ldexp(static_cast<double>(tc.k) * maxS *
                         (maxX * maxA + std::ldexp(1.0, -25)),
                     -100);
      tolerance = awq::Tolerance{std::ldexp(errorScale, -14) + normalisation +
                                     std::ldexp(1.0, -134),
                                 std::ldexp(1.0, -7)};
    }

    std::vector<uint16_t> y(static_cast<size_t>(m * nOut));
    std::vector<float> workspace(static_cast<size_t>(geometry.workspaceFloats),
                                 0.0f);
    std::vector<unsigned> counters(static_cast<size_t>(geometry.counters), 0u);
    awq::LinearArgs args{};
    args.x = reinterpret_cast<const half *>(x.data());
    args.qweight = packed.qweight.data();
    args.scales = reinterpret_cast<const half *>(packed.scales.data());
    args.zeros = tc.zeroPoint
                     ? reinterpret_cast<const half *>(packed.zeros.data())
                     : nullptr;
    args.actScale =
        tc.actScale ? reinterpret_cast<const half *>(act.data()) : nullptr;
    args.bias =
        tc.bias ? reinterpret_cast<const half *>(merged.bias.data()) : nullptr;
    args.residual =
        tc.residual ? reinterpret_cast<const half *>(residual.data()) : nullptr;
    args.y = reinterpret_cast<half *>(y.data());
    args.workspace = workspace.empty() ? nullptr : workspace.data();
    args.counters = counters.empty() ? nullptr : counters.data();
    args.M = m;

    const awq::host::Dim3 grid(static_cast<unsigned>(geometry.gridX),
                               static_cast<unsigned>(geometry.gridY),
                               static_cast<unsigned>(geometry.gridZ));
    std::vector<uint16_t> first;
    for (int launch = 0; launch < 2; ++launch) {
      SCOPED_TRACE("launch " + std::to_string(launch));
      std::fill(y.begin(), y.end(),
                bf16 ? uint16_t{0x7fc0} : uint16_t{0x7e00}); // NaN
      awq::host::HostLaunchOptions launchOptions;
      launchOptions.shuffleBlocks = launch == 1;
      launchOptions.shuffleSeed = 7;
      ASSERT_NO_THROW(module->launch(
          kernel, grid,
          awq::host::Dim3(static_cast<unsigned>(geometry.threads)),
          static_cast<size_t>(geometry.sharedBytes), &args, launchOptions));
      awq::Comparison cmp;
      if (bf16) {
        std::vector<float> got(y.size());
        for (size_t i = 0; i < y.size(); ++i)
          got[i] = awq::bfloat16ToFloat(y[i]);
        cmp = awq::compareToReference(got, ref, tolerance, nOut);
      } else {
        cmp = awq::compareHalfToReference(y, ref, tolerance, nOut);
      }
      ASSERT_TRUE(cmp.ok()) << cmp.describe(kernel);
      for (float w : workspace)
        ASSERT_EQ(w, 0.0f) << "split-K workspace not cleared";
      for (unsigned c : counters)
        ASSERT_EQ(c, 0u) << "split-K counter not reset";
      if (launch == 0) {
        first = y;
      } else if (params.kSplit == 1) {
        ASSERT_EQ(y, first) << "relaunch changed the output";
      }
    }
  }
}

// name, k, n, bits, group (0 = K), zp, act, bias, res, silu, threads (0:
// planned), cols, kSplit, maxRows, M values.
const HostRunCase kCases[] = {
    {"Bits4HostRun_SplitK",
     2048,
     72,
     4,
     128,
     true,
     true,
     true,
     false,
     false,
     256,
     4,
     2,
     4,
     {3, 5}},
    {"Bits4HostRun_MultiTile",
     3072,
     40,
     4,
     64,
     false,
     false,
     false,
     true,
     false,
     128,
     4,
     1,
     1,
     {1, 2}},
    {"Bits4HostRun_SiluMul",
     1024,
     48,
     4,
     128,
     true,
     false,
     true,
     false,
     true,
     256,
     4,
     1,
     2,
     {2}},
    {"Bits4HostRun_SiluMulSplitK",
     2048,
     24,
     4,
     32,
     true,
     true,
     false,
     true,
     true,
     128,
     4,
     2,
     1,
     {1}},
    {"Bits4HostRun_PartialTile",
     1056,
     16,
     4,
     32,
     true,
     false,
     false,
     false,
     false,
     64,
     4,
     2,
     1,
     {1}},
    {"Bits3HostRun_Rows8",
     2048,
     40,
     3,
     32,
     true,
     true,
     false,
     false,
     false,
     256,
     4,
     2,
     8,
     {8, 6}},
    {"Bits3HostRun_OddK",
     100,
     37,
     3,
     0,
     true,
     false,
     true,
     true,
     false,
     64,
     4,
     1,
     1,
     {1}},
    {"Bits8HostRun_PerColumn",
     1536,
     33,
     8,
     0,
     true,
     false,
     false,
     false,
     false,
     128,
     4,
     2,
     2,
     {2}},
    {"Bits8HostRun_SiluResidual",
     96,
     5,
     8,
     32,
     false,
     false,
     false,
     true,
     true,
     64,
     2,
     1,
     4,
     {4}},
    // The planner's picks (sm_90): 4 rows per block, split-K.
    {"Bits4HostRun_Planned",
     2048,
     40,
     4,
     128,
     true,
     false,
     true,
     true,
     true,
     0,
     0,
     0,
     0,
     {1, 5}},
    {"Bits8HostRun_Planned",
     2112,
     24,
     8,
     64,
     false,
     true,
     false,
     false,
     false,
     0,
     0,
     0,
     0,
     {3}},
    // 8-bit one-row body with 8 columns per warp (the planner's one-row
    // pick): split-K over a short last tile, N not a multiple of the block's
    // 32 columns, SiLU-and-multiply.
    {"Bits8HostRun_OneRowEightColumns",
     2112,
     38,
     8,
     64,
     true,
     false,
     true,
     false,
     true,
     128,
     8,
     2,
     1,
     {1}},
    // One row in blocks of 8 warps (the default plan's 3/4-bit decode
    // kernels): 8 threads stage a unit, 4 values each. K % 8 != 0 takes the
    // per-value loads, and N leaves the last block's warps past the end.
    {"Bits4HostRun_EightWarpsOddK",
     2100,
     72,
     4,
     0,
     true,
     true,
     false,
     true,
     false,
     256,
     8,
     2,
     1,
     {1},
     awq::ActivationType::F16},
    {"Bits4HostRun_EightWarpsEightColumns",
     2048,
     136,
     4,
     128,
     true,
     false,
     true,
     false,
     false,
     256,
     8,
     1,
     1,
     {1},
     awq::ActivationType::F16},
    {"Bits3HostRun_EightWarpsSilu",
     4096,
     80,
     3,
     128,
     false,
     false,
     false,
     false,
     true,
     256,
     8,
     2,
     1,
     {1},
     awq::ActivationType::F16},
    // Paired units (K whole pairs of tiles, groups of 64 or more values):
    // a one-row body pays z and s once per pair of units, over blocks of
    // 4 tiles (two pairs), 2 tiles (split-K, the loop runs once), and a
    // one-row chunk after a chunk of 4 rows.
    {"Bits4HostRun_PairedUnits",
     4096,
     72,
     4,
     128,
     true,
     true,
     false,
     true,
     false,
     256,
     8,
     1,
     1,
     {1},
     awq::ActivationType::F16},
    {"Bits8HostRun_PairedUnitsSplitK",
     4096,
     40,
     8,
     64,
     false,
     false,
     true,
     false,
     true,
     128,
     4,
     2,
     4,
     {5, 1},
     awq::ActivationType::F16},
    {"Bits3HostRun_PairedPerColumn",
     2048,
     24,
     3,
     0,
     true,
     false,
     false,
     false,
     false,
     256,
     8,
     1,
     1,
     {1},
     awq::ActivationType::F16},
    // Paired up to the last whole pair of tiles, then one or two unpaired
    // tail tiles, which a one-row body computes after its loop (in the last
    // block only): the 7B down projection's shape (344 units, a tail of 24
    // in the last of 4/4/3-tile blocks); a whole and a short tail tile in a
    // block of its own (split-K of 2-tile blocks: its loop never runs);
    // a short tail in K = 4000 (the last unit padded) after one pair; one
    // block of all 5 tiles (an odd count) of K = 5120; and a body of several
    // rows, whose loads tell paired tiles at run time.
    {"Bits4HostRun_PairedTailDownProjection",
     11008,
     72,
     4,
     128,
     true,
     true,
     true,
     false,
     false,
     256,
     8,
     3,
     1,
     {1},
     awq::ActivationType::F16},
    {"Bits8HostRun_PairedTwoTailTilesSplitK",
     3840,
     40,
     8,
     128,
     false,
     false,
     false,
     true,
     false,
     128,
     8,
     2,
     1,
     {1, 2},
     awq::ActivationType::F16},
    {"Bits3HostRun_PairedShortTailPaddedK",
     4000,
     24,
     3,
     0,
     true,
     false,
     false,
     false,
     true,
     256,
     8,
     1,
     1,
     {1},
     awq::ActivationType::F16},
    {"Bits4HostRun_PairedTailOneBlock",
     5120,
     24,
     4,
     64,
     true,
     false,
     false,
     false,
     false,
     128,
     8,
     1,
     1,
     {1},
     awq::ActivationType::F16},
    {"Bits4HostRun_PartlyPairedRows",
     11008,
     40,
     4,
     128,
     true,
     false,
     true,
     false,
     false,
     128,
     4,
     2,
     4,
     {3, 1},
     awq::ActivationType::F16},
    {"Bf16Bits4_EightWarpsOddK",
     2100,
     72,
     4,
     0,
     true,
     true,
     false,
     true,
     false,
     256,
     8,
     2,
     1,
     {1},
     awq::ActivationType::BF16},
    // bf16: the same ground (3/4/8 bits, groups, zero point or symmetric,
    // every epilogue, split-K, 1..8 rows), then the ends of bf16's range.
    {"Bf16Bits4_SplitK",
     2048,
     72,
     4,
     128,
     true,
     true,
     true,
     false,
     false,
     256,
     4,
     2,
     4,
     {3, 5},
     awq::ActivationType::BF16},
    {"Bf16Bits4_MultiTile",
     3072,
     40,
     4,
     64,
     false,
     false,
     false,
     true,
     false,
     128,
     4,
     1,
     1,
     {1, 2},
     awq::ActivationType::BF16},
    {"Bf16Bits4_SiluMul",
     1024,
     48,
     4,
     128,
     true,
     false,
     true,
     false,
     true,
     256,
     4,
     1,
     2,
     {2},
     awq::ActivationType::BF16},
    {"Bf16Bits4_SiluMulSplitK",
     2048,
     24,
     4,
     32,
     true,
     true,
     false,
     true,
     true,
     128,
     4,
     2,
     1,
     {1},
     awq::ActivationType::BF16},
    {"Bf16Bits3_Rows8",
     2048,
     40,
     3,
     32,
     true,
     true,
     false,
     false,
     false,
     256,
     4,
     2,
     8,
     {8, 7},
     awq::ActivationType::BF16},
    {"Bf16Bits3_OddK",
     100,
     37,
     3,
     0,
     false,
     false,
     true,
     true,
     false,
     64,
     4,
     1,
     1,
     {1},
     awq::ActivationType::BF16},
    {"Bf16Bits8_PerColumn",
     1536,
     33,
     8,
     0,
     true,
     false,
     false,
     false,
     false,
     128,
     4,
     2,
     2,
     {2, 1},
     awq::ActivationType::BF16},
    {"Bf16Bits8_SiluResidual",
     96,
     5,
     8,
     32,
     false,
     false,
     false,
     true,
     true,
     64,
     2,
     1,
     4,
     {4, 3},
     awq::ActivationType::BF16},
    {"Bf16Bits4_Planned",
     2048,
     40,
     4,
     128,
     true,
     false,
     true,
     true,
     true,
     0,
     0,
     0,
     0,
     {1, 6},
     awq::ActivationType::BF16},
    {"Bf16Bits8_Planned",
     2112,
     24,
     8,
     64,
     false,
     true,
     false,
     false,
     false,
     0,
     0,
     0,
     0,
     {3},
     awq::ActivationType::BF16},
    // |x| near 2^110 (the fp16 path's fixed prescale would overflow at 2^43).
    {"Bf16Edge_LargeX",
     1024,
     24,
     4,
     128,
     true,
     false,
     false,
     false,
     false,
     128,
     4,
     1,
     2,
     {1, 2},
     awq::ActivationType::BF16,
     110},
    // Paired units in a one-row body: both tiles of an iteration staged at
    // once, each slot's two units normalised by one power of two; then x
    // and a spread over 2^+-50 within every pair.
    {"Bf16Bits4_PairedUnits",
     4096,
     72,
     4,
     128,
     true,
     true,
     false,
     true,
     false,
     256,
     8,
     1,
     1,
     {1},
     awq::ActivationType::BF16},
    {"Bf16Edge_SpreadPaired",
     4096,
     40,
     4,
     64,
     true,
     true,
     false,
     false,
     false,
     128,
     4,
     2,
     4,
     {1, 5},
     awq::ActivationType::BF16,
     -40,
     40,
     0,
     50},
    // A whole unpaired tail tile after two pairs (K = 5120), in 2-tile
    // blocks (the tail alone in the last), x and a spread within pairs.
    {"Bf16Edge_SpreadPairedTail",
     5120,
     40,
     4,
     128,
     true,
     true,
     false,
     false,
     false,
     256,
     8,
     3,
     1,
     {1},
     awq::ActivationType::BF16,
     -40,
     40,
     0,
     50},
    // |x| up to 2^127 with scales near 2^-40: a finite output of size 2^90.
    {"Bf16Edge_HugeXSmallScale",
     1056,
     16,
     4,
     32,
     true,
     false,
     false,
     false,
     false,
     64,
     4,
     2,
     1,
     {1},
     awq::ActivationType::BF16,
     126,
     0,
     -40},
    // |x| near 2^-120 and bf16 subnormals below 2^-126.
    {"Bf16Edge_TinyX",
     2048,
     24,
     4,
     128,
     true,
     false,
     false,
     false,
     false,
     128,
     4,
     1,
     1,
     {1},
     awq::ActivationType::BF16,
     -120},
    {"Bf16Edge_SubnormalX",
     2048,
     24,
     8,
     0,
     false,
     false,
     false,
     false,
     false,
     128,
     4,
     2,
     1,
     {1, 2},
     awq::ActivationType::BF16,
     -127},
    // Huge scales (2^90) on tiny activations.
    {"Bf16Edge_HugeScaleTinyX",
     1024,
     16,
     3,
     64,
     true,
     false,
     false,
     false,
     false,
     64,
     4,
     1,
     1,
     {1},
     awq::ActivationType::BF16,
     -100,
     0,
     90},
    // x and a each spread over 2^-50 .. 2^50 within every unit, a centred
    // at 2^40 and x at 2^-40: |x a| peaks at other k than |x| and |a|.
    {"Bf16Edge_SpreadActScale",
     2048,
     40,
     4,
     64,
     true,
     true,
     false,
     false,
     false,
     256,
     4,
     2,
     4,
     {4, 1},
     awq::ActivationType::BF16,
     -40,
     40,
     0,
     50},
    {"Bf16Edge_SpreadX",
     1024,
     24,
     4,
     128,
     false,
     false,
     false,
     false,
     false,
     128,
     4,
     1,
     1,
     {1},
     awq::ActivationType::BF16,
     0,
     0,
     0,
     60},
};

INSTANTIATE_TEST_SUITE_P(Cases, GemvHostRun, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<HostRunCase> &info) {
                           return info.param.name;
                         });

} // namespace
