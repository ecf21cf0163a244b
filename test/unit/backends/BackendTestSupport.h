//===- BackendTestSupport.h - A GEMV layer run through any Backend --------===//
//
// The kernel a backend test runs end to end: a small GEMV instance planned
// for a target, random quantized weights repacked into its layout, random
// activations, all moved through the backend's own memory calls, the output
// poisoned with NaN before the launch and compared with a plain fp64
// reference written here (w = (q - z) * s per group, y = x W).
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_TEST_UNIT_BACKENDS_BACKENDTESTSUPPORT_H
#define AWQ_TEST_UNIT_BACKENDS_BACKENDTESTSUPPORT_H

#include "awq/linear_args.cuh"

#include "runtime/backends/Backend.h"
#include "runtime/kernels/GemvLayout.h"
#include "runtime/kernels/KernelInstance.h"
#include "runtime/kernels/KernelPlan.h"
#include "runtime/support/Half.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace awq {
namespace rt {
namespace test {

/// fp16 bits -> double from the binary16 definition (independent of Half.h).
inline double plainHalfToDouble(uint16_t bits) {
  const int exponent = (bits >> 10) & 0x1f, mantissa = bits & 0x3ff;
  double magnitude =
      exponent == 0x1f ? (mantissa ? std::numeric_limits<double>::quiet_NaN()
                                   : std::numeric_limits<double>::infinity())
      : exponent == 0  ? std::ldexp(mantissa, -24)
                       : std::ldexp(1024 + mantissa, exponent - 25);
  return (bits >> 15) ? -magnitude : magnitude;
}

struct GemvCase {
  LinearShape shape;
  KernelInstance instance;
  std::string kernel;
  std::string source;
  QuantizedLinear layer;
  GemvWeights packed;
};

/// A 4-bit, group-128, zero-point layer of K = 512, N = 96 with the GEMV
/// tiling the planner picks for `target` ("sm_80").
inline GemvCase makeGemvCase(const std::string &target, std::mt19937 &rng) {
  GemvCase c;
  c.shape.k = 512;
  c.shape.n = 96;
  c.shape.bits = 4;
  c.shape.group = 128;
  c.shape.zeroPoint = true;
  const std::optional<Target> parsed = parseTarget(target);
  if (!parsed)
    throw Error("unknown target " + target);
  const std::optional<GemvParams> params = planGemv(c.shape, *parsed->arch);
  if (!params)
    throw Error("no GEMV plan");
  c.instance = KernelInstance::makeGemv(c.shape, *params);
  c.kernel = "backend_test_" + c.instance.suggestedName();
  c.source = c.instance.source(c.kernel);

  QuantizedLinear &layer = c.layer;
  layer.k = c.shape.k;
  layer.n = c.shape.n;
  layer.params.bits = 4;
  layer.params.groupSize = 128;
  layer.params.zeroPoint = true;
  std::uniform_int_distribution<int> q(0, 15);
  std::uniform_real_distribution<float> scale(0.002f, 0.03f);
  layer.q.resize(static_cast<size_t>(layer.k * layer.n));
  for (uint8_t &v : layer.q)
    v = static_cast<uint8_t>(q(rng));
  const size_t groups = static_cast<size_t>(layer.numGroups() * layer.n);
  layer.scales.resize(groups);
  for (uint16_t &s : layer.scales)
    s = floatToHalf(scale(rng));
  layer.zeros.resize(groups);
  for (uint8_t &z : layer.zeros)
    z = static_cast<uint8_t>(q(rng));
  c.packed = repackGemv(layer, "backend test layer");
  return c;
}

/// y = x W in fp64 for `m` rows of x (fp16 bits, [m, k]).
inline std::vector<double> referenceGemv(const QuantizedLinear &layer,
                                         const std::vector<uint16_t> &x,
                                         int64_t m) {
  std::vector<double> y(static_cast<size_t>(m * layer.n), 0.0);
  for (int64_t row = 0; row < m; ++row)
    for (int64_t k = 0; k < layer.k; ++k) {
      const double xv = plainHalfToDouble(x[row * layer.k + k]);
      const int64_t g = k / layer.params.groupSize;
      for (int64_t n = 0; n < layer.n; ++n) {
        const double w =
            (double(layer.q[k * layer.n + n]) - layer.zeros[g * layer.n + n]) *
            plainHalfToDouble(layer.scales[g * layer.n + n]);
        y[row * layer.n + n] += xv * w;
      }
    }
  return y;
}

/// Backend memory released at scope exit.
class DeviceBuffer {
public:
  DeviceBuffer(Backend &backend, size_t bytes, const std::string &what)
      : backend(backend), bytes(bytes),
        pointer(bytes ? backend.allocate(bytes, what) : nullptr) {}
  template <typename T>
  DeviceBuffer(Backend &backend, const std::vector<T> &host,
               const std::string &what)
      : DeviceBuffer(backend, host.size() * sizeof(T), what) {
    backend.copyToDevice(pointer, host.data(), bytes);
  }
  ~DeviceBuffer() { backend.release(pointer); }
  DeviceBuffer(const DeviceBuffer &) = delete;
  DeviceBuffer &operator=(const DeviceBuffer &) = delete;
  template <typename T> T *as() const { return static_cast<T *>(pointer); }

private:
  Backend &backend;
  size_t bytes;
  void *pointer;
};

/// Runs `c` on `m` random rows through `backend` and `module` (which holds
/// c.kernel) and compares with the fp64 reference.
inline void runGemvAndCompare(Backend &backend, const LoadedModule &module,
                              const GemvCase &c, int m, std::mt19937 &rng) {
  SCOPED_TRACE("M = " + std::to_string(m) + ", " + c.instance.configType());
  std::uniform_real_distribution<float> unit(-1.0f, 1.0f);
  std::vector<uint16_t> x(static_cast<size_t>(m * c.shape.k));
  for (uint16_t &v : x)
    v = floatToHalf(unit(rng));
  const std::vector<double> ref = referenceGemv(c.layer, x, m);
  const KernelLaunch geometry = c.instance.launch(m);

  DeviceBuffer dx(backend, x, "x");
  DeviceBuffer dq(backend, c.packed.qweight, "qweight");
  DeviceBuffer ds(backend, c.packed.scales, "scales");
  DeviceBuffer dz(backend, c.packed.zeros, "zeros");
  // NaN everywhere: an element the kernel does not write fails.
  DeviceBuffer dy(backend, std::vector<uint16_t>(ref.size(), 0x7e00), "y");
  const size_t workspaceBytes =
      static_cast<size_t>(geometry.workspaceFloats) * sizeof(float);
  const size_t counterBytes =
      static_cast<size_t>(geometry.counters) * sizeof(unsigned);
  DeviceBuffer workspace(backend, workspaceBytes, "workspace");
  DeviceBuffer counters(backend, counterBytes, "counters");
  backend.memsetAsync(workspace.as<void>(), 0, workspaceBytes, nullptr);
  backend.memsetAsync(counters.as<void>(), 0, counterBytes, nullptr);

  LinearArgs args{};
  args.x = dx.as<const half>();
  args.qweight = dq.as<const uint32_t>();
  args.scales = ds.as<const half>();
  args.zeros = dz.as<const half>();
  args.y = dy.as<half>();
  args.workspace = workspace.as<float>();
  args.counters = counters.as<unsigned>();
  args.M = m;
  backend.launch(module, c.kernel, geometry, &args, sizeof(args), nullptr);
  backend.synchronize(nullptr);

  std::vector<uint16_t> y(ref.size());
  backend.copyToHost(y.data(), dy.as<void>(), y.size() * sizeof(uint16_t));
  double scale = 0.0;
  for (double v : ref)
    scale = std::max(scale, std::fabs(v));
  ASSERT_GT(scale, 0.0);
  const double tolerance = std::ldexp(scale, -9);
  int failures = 0;
  for (size_t i = 0; i < y.size() && failures < 5; ++i) {
    const double got = plainHalfToDouble(y[i]);
    if (!(std::fabs(got - ref[i]) <= tolerance)) {
      ++failures;
      ADD_FAILURE() << "y[" << i / c.shape.n << ", " << i % c.shape.n
                    << "] = " << got << ", expected " << ref[i]
                    << " (tolerance " << tolerance << ")";
    }
  }
}

} // namespace test
} // namespace rt
} // namespace awq

#endif // AWQ_TEST_UNIT_BACKENDS_BACKENDTESTSUPPORT_H
