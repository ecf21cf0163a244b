//===- HostKernelRunner.cpp - Run emitted kernels on the CPU and check them
//===//
#include "compiler/execute/HostKernelRunner.h"

#include "awq/linear_args.cuh"
#include "compiler/reference/Reference.h"
#include "runtime/host/HostModule.h"
#include "runtime/support/Error.h"
#include "runtime/support/Half.h"

#include <chrono>
#include <cmath>
#include <random>
#include <sstream>

namespace awq {
namespace {

/// Quiet NaNs: the poison an unwritten output element keeps.
uint16_t nanBits(ActivationType type) {
  return type == ActivationType::BF16 ? 0x7fc0 : 0x7e00;
}

double silu(double g) { return g / (1.0 + std::exp(-g)); }

/// |d silu / dg| <= 1.1 everywhere.
constexpr double kSiluSlope = 1.1;

std::vector<uint16_t> randomElements(std::mt19937_64 &rng, size_t count,
                                     float low, float high,
                                     ActivationType type) {
  std::uniform_real_distribution<float> dist(low, high);
  std::vector<uint16_t> result(count);
  for (uint16_t &v : result)
    v = floatToElement(dist(rng), type);
  return result;
}

/// S[m, n] = sum_k |x a| (|W| + |z s|): the magnitude the kernels' fp16 or
/// bf16 roundings act on. Every 16-bit value is in the layer's type.
std::vector<double> errorScale(const std::vector<uint16_t> &x, int64_t m,
                               const QuantizedLinear &layer,
                               const std::vector<uint16_t> &actScale) {
  const int64_t k = layer.k, n = layer.n, g = layer.params.groupSize;
  const ActivationType type = layer.activation;
  std::vector<double> weightMagnitude(static_cast<size_t>(k * n));
  for (int64_t kk = 0; kk < k; ++kk)
    for (int64_t nn = 0; nn < n; ++nn) {
      const int64_t group = kk / g;
      const double s = elementToFloat(layer.scales[group * n + nn], type);
      const int z = layer.zeroAt(group, nn);
      const double w = (layer.q[kk * n + nn] - z) * s;
      weightMagnitude[kk * n + nn] = std::fabs(w) + std::fabs(z * s);
    }
  std::vector<double> result(static_cast<size_t>(m * n), 0.0);
  for (int64_t row = 0; row < m; ++row)
    for (int64_t kk = 0; kk < k; ++kk) {
      double xa = elementToFloat(x[row * k + kk], type);
      if (!actScale.empty())
        xa *= elementToFloat(actScale[kk], type);
      xa = std::fabs(xa);
      if (xa == 0)
        continue;
      const double *w = &weightMagnitude[kk * n];
      double *out = &result[row * n];
      for (int64_t nn = 0; nn < n; ++nn)
        out[nn] += xa * w[nn];
    }
  return result;
}

std::string describeElement(const std::string &kernel, int64_t row, int64_t col,
                            double got, double ref, double bound) {
  std::ostringstream os;
  os << kernel << " (" << row << ", " << col << "): got " << got << ", want "
     << ref << ", |error| " << std::fabs(got - ref) << " > bound " << bound;
  return os.str();
}

} // namespace

HostKernelRunner::HostKernelRunner(std::vector<KernelSpec> kernels,
                                   std::vector<std::string> defines,
                                   int smVersion)
    : specs(std::move(kernels)) {
  std::string source;
  std::vector<std::string> names;
  for (const KernelSpec &spec : specs) {
    source += "// ===== kernel " + spec.name + " =====\n" + spec.source + "\n";
    names.push_back(spec.name);
  }
  host::HostCompileOptions options;
  options.defines = std::move(defines);
  options.smVersion = smVersion;
  options.sourceName =
      specs.empty() ? "kernels.cu" : specs.front().name + ".cu";
  module = host::HostModule::load(source, names, options);
}

HostKernelRunner::~HostKernelRunner() = default;

const KernelSpec &HostKernelRunner::kernel(const std::string &name) const {
  for (const KernelSpec &spec : specs)
    if (spec.name == name)
      return spec;
  throw Error("no kernel named '" + name + "' was compiled");
}

std::vector<uint16_t>
HostKernelRunner::execute(const std::string &name, const KernelData &data,
                          const std::vector<uint16_t> &x,
                          const std::vector<uint16_t> &residual, int64_t m,
                          double *seconds) const {
  const KernelSpec &spec = kernel(name);
  const LinearShape &shape = spec.instance.shape;
  const QuantizedLinear &layer = *data.layer;
  const int64_t nOut = shape.nOut();
  if (static_cast<int64_t>(x.size()) != m * shape.k ||
      (shape.residual && static_cast<int64_t>(residual.size()) != m * nOut))
    throw Error(name + ": activation or residual size does not match M = " +
                std::to_string(m));
  if (!data.weights || data.weights->layout != spec.instance.family)
    throw Error(name + ": the weights are not in the " +
                familyName(spec.instance.family) + " kernel's layout");
  if (shape.zeroPoint == data.weights->zeros.empty())
    throw Error(name + ": zero terms present and kernel zero point differ");
  if (layer.activation != shape.activation)
    throw Error(name + ": the weights are " +
                activationTypeName(layer.activation) + " but the kernel is " +
                activationTypeName(shape.activation));
  const KernelWeights &weights = *data.weights;
  const KernelLaunch launch = spec.instance.launch(m);
  std::vector<uint16_t> y(static_cast<size_t>(m * nOut),
                          nanBits(shape.activation));
  std::vector<float> workspace(static_cast<size_t>(launch.workspaceFloats),
                               0.0f);
  std::vector<unsigned> counters(static_cast<size_t>(launch.counters), 0u);
  LinearArgs args{};
  args.qweight = reinterpret_cast<const uint32_t *>(weights.qweight.data());
  args.scales = reinterpret_cast<const half *>(weights.scales.data());
  args.zeros = shape.zeroPoint
                   ? reinterpret_cast<const half *>(weights.zeros.data())
                   : nullptr;
  const host::Dim3 grid(static_cast<unsigned>(launch.gridX),
                        static_cast<unsigned>(launch.gridY),
                        static_cast<unsigned>(launch.gridZ));
  const host::Dim3 block(static_cast<unsigned>(launch.threads));
  const size_t sharedBytes = static_cast<size_t>(launch.sharedBytes);
  args.x = reinterpret_cast<const half *>(x.data());
  args.actScale = shape.actScale
                      ? reinterpret_cast<const half *>(data.actScale.data())
                      : nullptr;
  args.bias =
      shape.bias ? reinterpret_cast<const half *>(layer.bias.data()) : nullptr;
  args.residual = shape.residual
                      ? reinterpret_cast<const half *>(residual.data())
                      : nullptr;
  args.y = reinterpret_cast<half *>(y.data());
  args.workspace = workspace.empty() ? nullptr : workspace.data();
  args.counters = counters.empty() ? nullptr : counters.data();
  args.M = static_cast<int>(m);

  auto start = std::chrono::steady_clock::now();
  module->launch(name, grid, block, sharedBytes, &args);
  if (seconds)
    *seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();

  for (float w : workspace)
    if (w != 0.0f)
      throw Error(name + ": the split-K workspace was not cleared after the "
                         "launch");
  for (unsigned c : counters)
    if (c != 0)
      throw Error(name + ": a split-K counter was not reset after the launch");

  return y;
}

KernelRunResult
HostKernelRunner::run(const std::string &name, const KernelData &data,
                      int64_t m, uint64_t seed,
                      const std::optional<ErrorBound> &bound) const {
  const KernelSpec &spec = kernel(name);
  const LinearShape &shape = spec.instance.shape;
  if (m < 1)
    throw Error(name + ": M must be at least 1");
  std::mt19937_64 rng(seed);
  std::vector<uint16_t> x = randomElements(
      rng, static_cast<size_t>(m * shape.k), -1, 1, shape.activation);
  std::vector<uint16_t> residual;
  if (shape.residual)
    residual = randomElements(rng, static_cast<size_t>(m * shape.nOut()), -1, 1,
                              shape.activation);
  // Checked before the run: a mismatch is the caller's error, not the
  // kernel's.
  checkLinearOutput(name, shape, *data.layer, data.actScale, x, residual, m, {},
                    bound, /*shapeOnly=*/true);
  double seconds = 0;
  std::vector<uint16_t> y = execute(name, data, x, residual, m, &seconds);
  KernelRunResult result = checkLinearOutput(
      name, shape, *data.layer, data.actScale, x, residual, m, y, bound);
  result.seconds = seconds;
  return result;
}

KernelRunResult checkLinearOutput(
    const std::string &name, const LinearShape &shape,
    const QuantizedLinear &layer, const std::vector<uint16_t> &actScale,
    const std::vector<uint16_t> &x, const std::vector<uint16_t> &residual,
    int64_t m, const std::vector<uint16_t> &y,
    const std::optional<ErrorBound> &given, bool shapeOnly) {
  if (layer.k != shape.k || layer.n != shape.n ||
      layer.params.bits != shape.bits ||
      layer.params.groupSize != shape.group ||
      layer.params.zeroPoint != shape.zeroPoint ||
      layer.activation != shape.activation)
    throw Error(name + ": the weights do not match the kernel's shape");
  const ActivationType type = shape.activation;
  const ErrorBound bound =
      given ? *given : ErrorBound::forActivation(shape.activation);
  if (shape.bias != !layer.bias.empty() || shape.actScale != !actScale.empty())
    throw Error(name + ": bias or activation scale presence differs from the "
                       "kernel's");
  if (m < 1)
    throw Error(name + ": M must be at least 1");
  const int64_t nOut = shape.nOut();
  if (x.size() != size_t(m * shape.k) ||
      residual.size() != (shape.residual ? size_t(m * nOut) : 0))
    throw Error(name + ": x or residual has the wrong size");
  if (shapeOnly)
    return {};
  if (y.size() != size_t(m * nOut))
    throw Error(name + ": the output has the wrong size");
  // Reference: the product (with bias) in fp64, then the epilogue.
  std::vector<double> t = referenceLinear(x, m, layer, actScale);
  std::vector<double> scale = errorScale(x, m, layer, actScale);
  std::vector<double> ref(static_cast<size_t>(m * nOut));
  std::vector<double> tolerance(ref.size());
  for (int64_t row = 0; row < m; ++row)
    for (int64_t col = 0; col < nOut; ++col) {
      auto productBound = [&](int64_t n) {
        return bound.relative * std::fabs(t[row * shape.n + n]) +
               bound.sumFactor * scale[row * shape.n + n];
      };
      double value, propagated;
      if (shape.siluMul) {
        const double g = t[row * shape.n + 2 * col];
        const double u = t[row * shape.n + 2 * col + 1];
        value = silu(g) * u;
        propagated = kSiluSlope * std::fabs(u) * productBound(2 * col) +
                     std::fabs(silu(g)) * productBound(2 * col + 1);
      } else {
        value = t[row * shape.n + col];
        propagated = productBound(col);
      }
      if (shape.residual)
        value += elementToFloat(residual[row * nOut + col], type);
      ref[row * nOut + col] = value;
      tolerance[row * nOut + col] =
          propagated + bound.relative * std::fabs(value) + bound.absolute;
    }

  KernelRunResult result;
  result.m = m;
  result.count = static_cast<int64_t>(y.size());
  double maxRef = 0;
  for (int64_t row = 0; row < m; ++row)
    for (int64_t col = 0; col < nOut; ++col) {
      const size_t i = static_cast<size_t>(row * nOut + col);
      const double got = elementToFloat(y[i], type);
      const double error = std::fabs(got - ref[i]);
      if (!std::isfinite(got)) {
        if (result.nonFinite++ == 0 && result.worst.empty())
          result.worst =
              describeElement(name, row, col, got, ref[i], tolerance[i]);
        ++result.failures;
        result.worstBoundRatio = INFINITY;
        result.maxAbsError = INFINITY;
        continue;
      }
      result.maxAbsError = std::max(result.maxAbsError, error);
      maxRef = std::max(maxRef, std::fabs(ref[i]));
      const double ratio = error / tolerance[i];
      if (ratio > 1)
        ++result.failures;
      if (ratio > result.worstBoundRatio) {
        result.worstBoundRatio = ratio;
        result.worst =
            describeElement(name, row, col, got, ref[i], tolerance[i]);
      }
    }
  result.relError = result.nonFinite ? INFINITY
                    : maxRef > 0     ? result.maxAbsError / maxRef
                                     : result.maxAbsError;
  return result;
}

} // namespace awq
