//===- GemmHostTest.cpp - GEMM kernels on the host emulation vs the oracle ===//
//
// Runs GEMM kernel sources (KernelInstance::source, exactly as the compiler
// emits them, for chosen tilings checked with KernelInstance::check and for
// the tiling planGemm picks) through the host executor on fresh random layers
// and activations for M in {1, 7, 16, 17, 33, 64}, with the output poisoned
// with NaN first, and compares with referenceLinear (fp64). Covers 3/4/8 bits,
// grouped and per-column scales, zero points and symmetric layers, every
// epilogue, N and K tails, split-K (including splits that start inside a
// group), relaunching (the split-K scratch must come back zeroed) and shuffled
// block order. The fault injection test proves the comparison catches each
// planted bug. Every case runs with fp16 and with bf16 activations (bf16:
// its own rounding bound, 2^-8 where fp16 has 2^-11; docs/numerics.md).
//
//===----------------------------------------------------------------------===//
#include "compiler/reference/Compare.h"
#include "compiler/reference/Reference.h"
#include "runtime/host/HostModule.h"
#include "runtime/kernels/GemmLayout.h"
#include "runtime/kernels/KernelInstance.h"
#include "runtime/kernels/KernelPlan.h"
#include "runtime/support/Half.h"

#include "awq/linear_args.cuh"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <vector>

namespace awq {
namespace {

constexpr uint16_t kHalfNaN = 0x7E00;
constexpr uint16_t kBfloat16NaN = 0x7FC0;

/// log2 of the unit roundoff of the activation type: fp16 has 11
/// significant bits (2^-11), bf16 8 (2^-8).
int unitRoundoffExponent(ActivationType type) {
  return type == ActivationType::BF16 ? -8 : -11;
}

/// Compares output elements of `type` with the oracle.
Comparison compareOutput(const std::vector<uint16_t> &y, ActivationType type,
                         const std::vector<double> &ref, Tolerance tolerance,
                         int64_t cols) {
  if (type == ActivationType::F16)
    return compareHalfToReference(y, ref, tolerance, cols);
  std::vector<float> values(y.size());
  for (size_t i = 0; i < y.size(); ++i)
    values[i] = bfloat16ToFloat(y[i]);
  return compareToReference(values, ref, tolerance, cols);
}

/// One kernel instance under test.
struct HostCase {
  const char *name;
  KernelInstance spec;
};

/// A chosen GEMM tiling (epilogue flags set by the caller).
KernelInstance makeSpec(int64_t k, int64_t n, int bits, int64_t group,
                        bool zeroPoint, int tileM, int tileN, int tileK,
                        int warpsM, int warpsN, int stages, int splitK) {
  LinearShape shape;
  shape.k = k;
  shape.n = n;
  shape.bits = bits;
  shape.group = group;
  shape.zeroPoint = zeroPoint;
  return KernelInstance::makeGemm(
      shape, GemmParams{tileM, tileN, tileK, warpsM, warpsN, stages, splitK});
}

/// Loads (compiles or reuses from the test cache) the kernel of `spec`,
/// optionally with fault-injection macros. The instance must be valid.
std::shared_ptr<const host::HostModule>
loadKernel(const KernelInstance &spec, const std::string &name,
           const std::vector<std::string> &defines = {}) {
  const std::string why = spec.check();
  EXPECT_EQ(why, "") << spec.configType();
  host::HostCompileOptions options;
  options.cacheDir = AWQ_GEMM_TEST_CACHE_DIR;
  options.defines = defines;
  options.sourceName = name + ".cu";
  return host::HostModule::load(spec.source(name), {name}, options);
}

/// Fresh random inputs for one layer and the buffers a launch needs.
struct Problem {
  QuantizedLinear layer;
  GemmWeights weights;
  std::vector<uint16_t> x, actScale, residual;
};

Problem randomProblem(const KernelInstance &instance, int64_t m,
                      std::mt19937 &rng) {
  const LinearShape &spec = instance.shape;
  Problem p;
  QuantizedLinear &layer = p.layer;
  const ActivationType type = spec.activation;
  auto element = [type](float v) { return floatToElement(v, type); };
  layer.activation = type;
  layer.k = spec.k;
  layer.n = spec.n;
  layer.params.bits = spec.bits;
  layer.params.groupSize = spec.group;
  layer.params.zeroPoint = spec.zeroPoint;
  const int levels = 1 << spec.bits;
  std::uniform_int_distribution<int> level(0, levels - 1);
  std::uniform_real_distribution<float> unit(-1.0f, 1.0f);
  // Scales as a quantizer would produce for weights of about +-0.1.
  std::uniform_real_distribution<float> scale(0.05f / levels, 0.4f / levels);
  layer.q.resize(static_cast<size_t>(layer.k * layer.n));
  for (uint8_t &q : layer.q)
    q = static_cast<uint8_t>(level(rng));
  layer.scales.resize(static_cast<size_t>(layer.numGroups() * layer.n));
  for (uint16_t &s : layer.scales)
    s = element(scale(rng));
  if (spec.zeroPoint) {
    layer.zeros.resize(layer.scales.size());
    for (uint8_t &z : layer.zeros)
      z = static_cast<uint8_t>(level(rng));
  }
  if (spec.bias) {
    layer.bias.resize(static_cast<size_t>(layer.n));
    for (uint16_t &b : layer.bias)
      b = element(unit(rng));
  }
  p.weights = repackGemm(layer, "test layer");
  p.x.resize(static_cast<size_t>(m * layer.k));
  for (uint16_t &v : p.x)
    v = element(2.0f * unit(rng));
  if (spec.actScale) {
    p.actScale.resize(static_cast<size_t>(layer.k));
    for (uint16_t &a : p.actScale)
      a = element(std::exp2(2.0f * unit(rng))); // 0.25 .. 4
  }
  if (spec.residual) {
    const int64_t nOut = spec.siluMul ? spec.n / 2 : spec.n;
    p.residual.resize(static_cast<size_t>(m * nOut));
    for (uint16_t &r : p.residual)
      r = element(2.0f * unit(rng));
  }
  return p;
}

/// The fp64 oracle for the whole epilogue, and the tolerance that models the
/// kernel's roundings: x * a and w = q * s - zs (bf16: (q - z) * s) are
/// rounded to the activation type (each at most half an ulp, u = 2^-11
/// relative for fp16, 2^-8 for bf16; an fp16 zs contributes its own),
/// products accumulate in fp32 and the output is rounded to the activation
/// type. The rounding errors are independent, so their sum is bounded by a
/// few standard deviations: 4 u sqrt(sum_k (x a)^2 (2 |w| + |zs|)^2) per
/// output, amplified through SiLU-and-multiply by 1.1 |up| + |silu(gate)|;
/// relative 2 u for the output's own rounding (4 u after SiLU-and-multiply).
struct Expected {
  std::vector<double> y;
  Tolerance tolerance;
};

Expected expectedOutput(const KernelInstance &instance, const Problem &p,
                        int64_t m) {
  const LinearShape &spec = instance.shape;
  const QuantizedLinear &layer = p.layer;
  const int64_t k = layer.k, n = layer.n;
  const ActivationType type = spec.activation;
  auto value = [type](uint16_t bits) { return elementToFloat(bits, type); };
  const int u = unitRoundoffExponent(type);
  Expected e;
  std::vector<double> linear =
      referenceLinear(p.x, m, layer, p.actScale,
                      spec.siluMul ? std::vector<uint16_t>() : p.residual);

  const std::vector<float> w = dequantize(layer);
  double worst = 0.0;
  std::vector<double> spread(static_cast<size_t>(m * n));
  for (int64_t row = 0; row < m; ++row) {
    std::vector<double> sum(static_cast<size_t>(n), 0.0);
    for (int64_t r = 0; r < k; ++r) {
      double xa = value(p.x[row * k + r]);
      if (!p.actScale.empty())
        xa *= value(p.actScale[r]);
      for (int64_t c = 0; c < n; ++c) {
        const int64_t g = r / layer.params.groupSize;
        const double zs = layer.params.zeroPoint
                              ? double(layer.zeros[g * n + c]) *
                                    value(layer.scales[g * n + c])
                              : 0.0;
        const double term = xa * (2.0 * std::fabs(w[r * n + c]) + zs);
        sum[c] += term * term;
      }
    }
    for (int64_t c = 0; c < n; ++c) {
      spread[row * n + c] = std::sqrt(sum[c]);
      worst = std::max(worst, spread[row * n + c]);
    }
  }
  const double roundingBound = 4.0 * std::ldexp(1.0, u);
  if (!spec.siluMul) {
    e.y = std::move(linear);
    e.tolerance.atol = roundingBound * worst + 1e-6;
    e.tolerance.rtol = std::ldexp(1.0, u + 1);
    return e;
  }
  const int64_t nOut = n / 2;
  std::vector<float> gate(static_cast<size_t>(m * nOut)),
      up(static_cast<size_t>(m * nOut));
  double amplify = 0.0;
  for (int64_t row = 0; row < m; ++row)
    for (int64_t j = 0; j < nOut; ++j) {
      gate[row * nOut + j] = static_cast<float>(linear[row * n + 2 * j]);
      up[row * nOut + j] = static_cast<float>(linear[row * n + 2 * j + 1]);
      const double g = linear[row * n + 2 * j];
      const double silu = g / (1.0 + std::exp(-g));
      amplify = std::max(amplify, 1.1 * std::fabs(linear[row * n + 2 * j + 1]) +
                                      std::fabs(silu) + 1.0);
    }
  e.y = referenceSiluMul(gate, up);
  for (size_t i = 0; i < e.y.size() && !p.residual.empty(); ++i)
    e.y[i] += value(p.residual[i]);
  e.tolerance.atol = roundingBound * worst * amplify + 1e-6;
  e.tolerance.rtol = std::ldexp(1.0, u + 2);
  return e;
}

/// Runs the kernel for `m` rows (output poisoned with NaN) and returns y.
/// Checks that split-K scratch is zero again afterwards.
std::vector<uint16_t>
runKernel(const host::HostModule &module, const std::string &name,
          const KernelInstance &instance, const Problem &p, int64_t m,
          std::vector<float> &workspace, std::vector<unsigned> &counters,
          bool shuffle = false, uint64_t seed = 0) {
  const LinearShape &spec = instance.shape;
  const KernelLaunch launch = instance.launch(m);
  const int64_t nOut = spec.siluMul ? spec.n / 2 : spec.n;
  std::vector<uint16_t> y(static_cast<size_t>(m * nOut),
                          spec.activation == ActivationType::BF16 ? kBfloat16NaN
                                                                  : kHalfNaN);
  if (workspace.size() < static_cast<size_t>(launch.workspaceFloats))
    workspace.assign(static_cast<size_t>(launch.workspaceFloats), 0.0f);
  if (counters.size() < static_cast<size_t>(launch.counters))
    counters.assign(static_cast<size_t>(launch.counters), 0u);

  LinearArgs args{};
  args.x = reinterpret_cast<const half *>(p.x.data());
  args.qweight = reinterpret_cast<const uint32_t *>(p.weights.qweight.data());
  args.scales = reinterpret_cast<const half *>(p.weights.scales.data());
  args.zeros = spec.zeroPoint
                   ? reinterpret_cast<const half *>(p.weights.zeroScales.data())
                   : nullptr;
  args.actScale = spec.actScale
                      ? reinterpret_cast<const half *>(p.actScale.data())
                      : nullptr;
  args.bias =
      spec.bias ? reinterpret_cast<const half *>(p.layer.bias.data()) : nullptr;
  args.residual = spec.residual
                      ? reinterpret_cast<const half *>(p.residual.data())
                      : nullptr;
  args.y = reinterpret_cast<half *>(y.data());
  args.workspace = launch.workspaceFloats ? workspace.data() : nullptr;
  args.counters = launch.counters ? counters.data() : nullptr;
  args.M = static_cast<int>(m);

  host::HostLaunchOptions options;
  options.shuffleBlocks = shuffle;
  options.shuffleSeed = seed;
  module.launch(name,
                {static_cast<unsigned>(launch.gridX),
                 static_cast<unsigned>(launch.gridY),
                 static_cast<unsigned>(launch.gridZ)},
                {static_cast<unsigned>(launch.threads)},
                static_cast<size_t>(launch.sharedBytes), &args, options);

  for (size_t i = 0; i < static_cast<size_t>(launch.workspaceFloats); ++i)
    if (workspace[i] != 0.0f) {
      ADD_FAILURE() << "split-K workspace[" << i << "] = " << workspace[i]
                    << " after the launch (must be cleared)";
      break;
    }
  for (size_t i = 0; i < static_cast<size_t>(launch.counters); ++i)
    if (counters[i] != 0u) {
      ADD_FAILURE() << "split-K counter " << i << " = " << counters[i]
                    << " after the launch (must be reset)";
      break;
    }
  return y;
}

const std::vector<HostCase> &hostCases() {
  static const std::vector<HostCase> cases = [] {
    std::vector<HostCase> c;
    // 4 bits, zero points, N tail inside the second 256-column tile, split-K.
    c.push_back({"gemm_b4_g64_zp_splitk",
                 makeSpec(512, 320, 4, 64, true, 16, 256, 128, 1, 4, 4, 2)});
    // 3 bits symmetric, G = 32 (two groups per K tile), 3 warps along N,
    // activation scale, bias and residual.
    {
      KernelInstance s =
          makeSpec(384, 192, 3, 32, false, 32, 192, 64, 1, 3, 3, 1);
      s.shape.actScale = s.shape.bias = s.shape.residual = true;
      c.push_back({"gemm_b3_g32_sym_epilogue", s});
    }
    // 8 bits, one group per column, K not a multiple of the tile, SiLU-mul
    // with bias, two warp rows.
    {
      KernelInstance s =
          makeSpec(200, 136, 8, 200, true, 64, 128, 64, 2, 2, 2, 1);
      s.shape.bias = s.shape.siluMul = true;
      c.push_back({"gemm_b8_percol_silu", s});
    }
    // The large-M tile (2 x 2 warps of 64 x 64) with SiLU-mul, residual and
    // activation scale.
    {
      KernelInstance s =
          makeSpec(256, 256, 4, 128, true, 128, 128, 64, 2, 2, 4, 1);
      s.shape.actScale = s.shape.residual = s.shape.siluMul = true;
      c.push_back({"gemm_b4_g128_bigtile_silu", s});
    }
    // Groups spanning 4 K tiles of 32 and 5 splits that start inside a
    // group (the scale ring must reload it), 2 stages.
    {
      KernelInstance s =
          makeSpec(768, 64, 4, 128, false, 16, 64, 32, 1, 1, 2, 5);
      s.shape.bias = true;
      c.push_back({"gemm_b4_g128_split5_midgroup", s});
    }
    // The small-M body (M <= 16) with split-K, groups smaller than the K
    // tile (two per warp share) and an N tail in the second column tile.
    c.push_back({"gemm_b4_g32_small_splitk",
                 makeSpec(1024, 200, 4, 32, true, 32, 128, 128, 2, 2, 3, 3)});
    // Four warp rows share each K tile's four packets (3 bits, symmetric,
    // group 64, two splits).
    {
      KernelInstance s =
          makeSpec(512, 128, 3, 64, false, 64, 64, 128, 4, 1, 2, 2);
      s.shape.actScale = s.shape.bias = true;
      c.push_back({"gemm_b3_g64_small_4warprows", s});
    }
    // Every case again with bf16 activations.
    static std::vector<std::string> bf16Names;
    bf16Names.reserve(c.size());
    const size_t fp16Cases = c.size();
    for (size_t i = 0; i < fp16Cases; ++i) {
      bf16Names.push_back(std::string(c[i].name) + "_bf16");
      KernelInstance s = c[i].spec;
      s.shape.activation = ActivationType::BF16;
      c.push_back({bf16Names.back().c_str(), s});
    }
    return c;
  }();
  return cases;
}

TEST(GemmHostCases, CoverTheSmallMBody) {
  // M = 1, 7 and 16 run the small-M body of these cases (gemmSmallBodyRows);
  // the others run the row split at every M.
  int withSmallBody = 0;
  for (const HostCase &c : hostCases())
    withSmallBody += gemmSmallBodyRows(c.spec.shape, c.spec.gemm) > 0;
  EXPECT_GE(withSmallBody, 4);
}

class GemmHost : public ::testing::TestWithParam<size_t> {};

TEST_P(GemmHost, MatchesReferenceForAllRowCounts) {
  const HostCase &c = hostCases()[GetParam()];
  const uint32_t seed = std::random_device{}();
  SCOPED_TRACE(std::string(c.name) + " = " + c.spec.configType() +
               ", random seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  const auto module = loadKernel(c.spec, c.name);
  std::vector<float> workspace;
  std::vector<unsigned> counters;
  const int64_t nOut = c.spec.shape.nOut();
  for (int64_t m : {1, 7, 16, 17, 33, 64}) {
    SCOPED_TRACE("M = " + std::to_string(m));
    const Problem p = randomProblem(c.spec, m, rng);
    const Expected expected = expectedOutput(c.spec, p, m);
    const std::vector<uint16_t> y =
        runKernel(*module, c.name, c.spec, p, m, workspace, counters);
    const ActivationType type = c.spec.shape.activation;
    const Comparison cmp =
        compareOutput(y, type, expected.y, expected.tolerance, nOut);
    EXPECT_TRUE(cmp.ok()) << cmp.describe(c.name);
    // How close the worst element comes to the bound (reported, not checked:
    // the bound is what is checked).
    if (cmp.worstIndex >= 0)
      RecordProperty(
          "worst_error_over_bound_m" + std::to_string(m),
          std::to_string(std::fabs(cmp.worstGot - cmp.worstRef) /
                         (expected.tolerance.atol +
                          expected.tolerance.rtol * std::fabs(cmp.worstRef))));

    // Relaunch in shuffled block order: same inputs, same answer (split-K
    // sums may round differently in fp32, so compare to the oracle again).
    const std::vector<uint16_t> again = runKernel(
        *module, c.name, c.spec, p, m, workspace, counters, true, seed + m);
    const Comparison cmpAgain =
        compareOutput(again, type, expected.y, expected.tolerance, nOut);
    EXPECT_TRUE(cmpAgain.ok())
        << cmpAgain.describe(std::string(c.name) + " (relaunch, shuffled)");
  }
}

INSTANTIATE_TEST_SUITE_P(Kernels, GemmHost,
                         ::testing::Range<size_t>(0, hostCases().size()),
                         [](const ::testing::TestParamInfo<size_t> &info) {
                           return std::string(hostCases()[info.param].name);
                         });

TEST(GemmHost, PlannedTilingRunsCorrectly) {
  // What the compiler emits for a small gate/up layer on an A100: the
  // planner's 64 x 128 x 64 tiles with 4 splits of K; fp16 and bf16.
  for (ActivationType type : {ActivationType::F16, ActivationType::BF16}) {
    LinearShape shape;
    shape.k = 512;
    shape.n = 384;
    shape.bits = 4;
    shape.group = 128;
    shape.zeroPoint = true;
    shape.bias = shape.siluMul = true;
    shape.activation = type;
    const std::optional<GemmParams> planned = planGemm(shape, *findArch(80));
    ASSERT_TRUE(planned.has_value());
    EXPECT_GT(planned->splitK, 1);
    const KernelInstance spec = KernelInstance::makeGemm(shape, *planned);
    const uint32_t seed = std::random_device{}();
    SCOPED_TRACE(spec.configType() + ", random seed " + std::to_string(seed));
    std::mt19937 rng(seed);
    const std::string name =
        std::string("gemm_planned_") + activationTypeName(type);
    const auto module = loadKernel(spec, name);
    std::vector<float> workspace;
    std::vector<unsigned> counters;
    for (int64_t m : {1, 33, 64, 65}) {
      const Problem p = randomProblem(spec, m, rng);
      const Expected expected = expectedOutput(spec, p, m);
      const std::vector<uint16_t> y =
          runKernel(*module, name, spec, p, m, workspace, counters);
      const Comparison cmp =
          compareOutput(y, type, expected.y, expected.tolerance, shape.nOut());
      EXPECT_TRUE(cmp.ok()) << cmp.describe("M = " + std::to_string(m));
    }
  }
}

/// Each planted bug must make the comparison fail: proof that the suite
/// would catch it.
class GemmHostFaults : public ::testing::TestWithParam<ActivationType> {};

TEST_P(GemmHostFaults, FaultInjectionIsDetected) {
  KernelInstance spec =
      makeSpec(256, 192, 4, 64, true, 32, 128, 64, 1, 2, 3, 1);
  const ActivationType type = GetParam();
  spec.shape.activation = type;
  const std::string suffix = type == ActivationType::BF16 ? "_bf16" : "";
  const uint32_t seed = std::random_device{}();
  SCOPED_TRACE("random seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  const int64_t m = 33;
  const Problem p = randomProblem(spec, m, rng);
  const Expected expected = expectedOutput(spec, p, m);
  std::vector<float> workspace;
  std::vector<unsigned> counters;

  const std::string cleanName = "gemm_fault_none" + suffix;
  const auto clean = loadKernel(spec, cleanName);
  const Comparison ok = compareOutput(
      runKernel(*clean, cleanName, spec, p, m, workspace, counters), type,
      expected.y, expected.tolerance, spec.shape.n);
  EXPECT_TRUE(ok.ok()) << ok.describe("fault-free build");

  for (const char *fault :
       {"AWQ_FAULT_WRONG_NIBBLE_ORDER", "AWQ_FAULT_SKIP_BARRIER",
        "AWQ_FAULT_WRONG_FRAGMENT_INDEX"}) {
    const std::string name = std::string("gemm_fault_") + fault + suffix;
    const auto module = loadKernel(spec, name, {fault});
    const Comparison bad =
        compareOutput(runKernel(*module, name, spec, p, m, workspace, counters),
                      type, expected.y, expected.tolerance, spec.shape.n);
    EXPECT_FALSE(bad.ok()) << fault
                           << " went unnoticed: " << bad.describe(name);
    EXPECT_GT(bad.failures, bad.count / 10) << fault;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Activations, GemmHostFaults,
    ::testing::Values(ActivationType::F16, ActivationType::BF16),
    [](const ::testing::TestParamInfo<ActivationType> &info) {
      return std::string(activationTypeName(info.param));
    });

} // namespace
} // namespace awq
