//===- Numerics.cpp - awq-gpu-check: kernels against an fp64 reference ----===//
//
// Each case is a random quantized layer (q, zero points, scales in
// [2^-8, 2^-6]) repacked into both families' layouts, one kernel per family
// planned for the device's SM count, launched at every M of the list on
// NaN-poisoned outputs, and compared with a plainly written fp64 reference
// under docs/numerics.md's bound. The split-K workspace and counters must be
// zero again after every launch.
//
//===----------------------------------------------------------------------===//

#include "GpuCheck.h"

#define AWQ_HOST_ARGS_ONLY
#include "awq/linear_args.cuh"
#include "runtime/kernels/GemmLayout.h"
#include "runtime/kernels/GemvLayout.h"
#include "runtime/kernels/KernelPlan.h"
#include "runtime/support/Half.h"
#include "runtime/support/ParallelFor.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iomanip>
#include <iostream>
#include <limits>
#include <map>
#include <optional>
#include <sstream>

namespace awq {
namespace gpucheck {

namespace {

struct NumericsCase {
  LinearShape shape;
  std::string label;
};

std::string describeShape(const LinearShape &s) {
  std::ostringstream out;
  out << "K=" << s.k << " N=" << s.n << " b" << s.bits << " g"
      << (s.group == s.k ? std::string("K") : std::to_string(s.group))
      << (s.zeroPoint ? " zp" : " sym");
  if (s.bias)
    out << " +bias";
  if (s.siluMul)
    out << " +silu_mul";
  if (s.residual)
    out << " +residual";
  if (s.activation != ActivationType::F16)
    out << " " << activationTypeName(s.activation);
  return out.str();
}

/// The same layer with bf16 activations and parameters.
LinearShape asBf16(LinearShape s) {
  s.activation = ActivationType::BF16;
  return s;
}

LinearShape makeShape(int64_t k, int64_t n, int bits, int64_t group, bool zp,
                      int epilogue, bool silu = false) {
  LinearShape s;
  s.k = k;
  s.n = n;
  s.bits = bits;
  s.group = group == 0 ? k : group;
  s.zeroPoint = zp;
  s.bias = epilogue & 1;
  s.residual = epilogue & 2;
  s.siluMul = silu;
  return s;
}

/// The matrix: bits x groups x zero point on a 4096 x 4096 layer with
/// rotating epilogues, K and N tails (K = 4160: not a multiple of the GEMV's
/// 1024-value tile nor of the GEMM's 128-row alignment; N = 4104: not a
/// multiple of the 64-column packet), an odd N, SiLU-and-multiply, and two
/// real LLaMA layers (no split-K for the wide one). Group 0 means K.
std::vector<NumericsCase> numericsCases(const Options &options) {
  std::vector<LinearShape> shapes;
  if (options.host) {
    // The emulator runs every CUDA thread as a fiber: tiny layers only.
    shapes = {makeShape(256, 72, 4, 128, true, 1),
              makeShape(160, 96, 3, 32, false, 2),
              makeShape(256, 130, 8, 64, true, 3, /*silu=*/true),
              makeShape(200, 66, 4, 0, true, 0),
              // Two 1024-value K tiles and one column block: GEMV split-K.
              makeShape(2048, 40, 3, 64, true, 3),
              asBf16(makeShape(256, 72, 4, 128, true, 1)),
              asBf16(makeShape(256, 130, 8, 64, true, 3, /*silu=*/true))};
  } else if (options.quick) {
    for (int bits : {3, 4, 8})
      shapes.push_back(makeShape(4096, 4096, bits, 128, true, bits % 4));
    shapes.push_back(makeShape(4160, 4104, 4, 32, true, 3));
    shapes.push_back(makeShape(4096, 4099, 4, 128, false, 1));
    shapes.push_back(makeShape(4096, 5504, 4, 128, true, 1, true));
    for (int bits : {3, 4, 8})
      shapes.push_back(asBf16(makeShape(4096, 4096, bits, 128, true, 3)));
    shapes.push_back(asBf16(makeShape(4096, 5504, 4, 128, false, 1, true)));
  } else {
    int rotate = 0;
    for (int bits : {3, 4, 8})
      for (int64_t group : {32, 64, 128, 0}) {
        shapes.push_back(
            makeShape(4096, 4096, bits, group, true, rotate++ % 4));
        if (group == 128 || group == 0)
          shapes.push_back(
              makeShape(4096, 4096, bits, group, false, rotate++ % 4));
      }
    for (int bits : {3, 4, 8})
      for (int64_t group : {32, 64})
        shapes.push_back(
            makeShape(4160, 4104, bits, group, bits != 8, rotate++ % 4));
    shapes.push_back(makeShape(4096, 4099, 4, 128, true, 1));
    shapes.push_back(makeShape(4096, 4099, 3, 64, false, 2));
    shapes.push_back(makeShape(4096, 4099, 8, 0, true, 0));
    shapes.push_back(makeShape(4096, 5504, 4, 128, true, 1, true));
    shapes.push_back(makeShape(4096, 5504, 3, 64, true, 2, true));
    shapes.push_back(makeShape(4096, 5504, 8, 128, false, 0, true));
    shapes.push_back(makeShape(4160, 4104, 4, 32, true, 3, true));
    shapes.push_back(makeShape(11008, 4096, 4, 128, true, 2));
    shapes.push_back(makeShape(4096, 12288, 4, 128, true, 1));
    // bf16: every width, both zero modes, a tail, SiLU-and-multiply and a
    // real layer.
    for (int bits : {3, 4, 8}) {
      shapes.push_back(asBf16(makeShape(4096, 4096, bits, 128, true, 3)));
      shapes.push_back(asBf16(makeShape(4096, 4096, bits, 0, false, 1)));
    }
    shapes.push_back(asBf16(makeShape(4160, 4104, 4, 32, true, 3)));
    shapes.push_back(asBf16(makeShape(4096, 5504, 8, 64, true, 2, true)));
    shapes.push_back(asBf16(makeShape(11008, 4096, 4, 128, true, 2)));
  }
  std::vector<NumericsCase> cases;
  for (const LinearShape &s : shapes)
    cases.push_back({s, describeShape(s)});
  return cases;
}

std::vector<int64_t> numericsRows(const Options &options) {
  if (options.host)
    return {1, 3, 5, 33};
  if (options.quick)
    return {1, 3, 4, 8, 33, 128};
  return {1, 2, 3, 4, 8, 16, 33, 64, 128};
}

/// A kernel of one family for one case, or why there is none.
struct Planned {
  KernelFamily family;
  std::optional<KernelInstance> instance;
  std::string skipped;
  size_t kernelIndex = 0;
};

Planned planFor(const Device &device, const LinearShape &shape,
                KernelFamily family) {
  Planned planned{family, std::nullopt, "", 0};
  if (const char *why = activationViolation(shape, *device.arch)) {
    planned.skipped = why;
    return planned;
  }
  PlanOptions plan;
  plan.smCount = device.smCount;
  if (family == KernelFamily::Gemv) {
    if (std::optional<GemvParams> p = planGemv(shape, *device.arch, plan))
      planned.instance = KernelInstance::makeGemv(shape, *p);
    else
      planned.skipped = "no GEMV: " + checkGemv(shape, GemvParams{});
  } else {
    if (std::optional<GemmParams> p = planGemm(shape, *device.arch, plan)) {
      if (std::string why = checkGemmOnArch(shape, *p, *device.arch);
          !why.empty())
        planned.skipped = "no GEMM: " + why;
      else
        planned.instance = KernelInstance::makeGemm(shape, *p);
    } else {
      planned.skipped = "no GEMM: " + checkGemm(shape, GemmParams{});
    }
  }
  if (planned.instance) {
    if (std::string why = planned.instance->check(); !why.empty()) {
      planned.skipped = "contract: " + why;
      planned.instance.reset();
    }
  }
  return planned;
}

/// The layer and the inputs of one case, and the fp64 reference of the
/// product for the largest M: t = x W + bias and the error scale
/// S = sum_k |x_k| (|W_kn| + |z s|) per output of the product.
struct CaseData {
  QuantizedLinear layer;
  std::vector<uint16_t> x;        ///< [maxM, K]
  std::vector<uint16_t> residual; ///< [maxM, Nout] or empty.
  std::vector<double> t, s;       ///< [maxM, N]
};

CaseData makeCaseData(const LinearShape &shape, int64_t maxM, uint64_t seed) {
  CaseData d;
  QuantizedLinear &layer = d.layer;
  layer.k = shape.k;
  layer.n = shape.n;
  layer.params.bits = shape.bits;
  layer.params.groupSize = shape.group;
  layer.params.zeroPoint = shape.zeroPoint;
  const ActivationType type = layer.activation = shape.activation;
  const size_t weights = static_cast<size_t>(shape.k * shape.n);
  const size_t groups = static_cast<size_t>(layer.numGroups() * shape.n);
  const unsigned levels = 1u << shape.bits;
  // q and z uniform in [0, 2^bits): a byte's low bits are uniform.
  layer.q = randomBytes(weights, seed + 1);
  for (uint8_t &q : layer.q)
    q = static_cast<uint8_t>(q & (levels - 1));
  if (shape.zeroPoint) {
    layer.zeros = randomBytes(groups, seed + 2);
    for (uint8_t &z : layer.zeros)
      z = static_cast<uint8_t>(z & (levels - 1));
  }
  layer.scales = randomScales(groups, -8, -6, seed + 3, type);
  if (shape.bias)
    layer.bias =
        randomHalves(static_cast<size_t>(shape.n), -1, 1, seed + 4, type);
  d.x =
      randomHalves(static_cast<size_t>(maxM * shape.k), -1, 1, seed + 5, type);
  if (shape.residual)
    d.residual = randomHalves(static_cast<size_t>(maxM * shape.nOut()), -1, 1,
                              seed + 6, type);

  // The reference, by column blocks on all cores: every block streams its
  // slice of W once for all rows.
  const int64_t k = shape.k, n = shape.n;
  std::vector<double> xd(d.x.size());
  for (size_t i = 0; i < d.x.size(); ++i)
    xd[i] = elementToFloat(d.x[i], type);
  d.t.assign(static_cast<size_t>(maxM * n), 0.0);
  d.s.assign(static_cast<size_t>(maxM * n), 0.0);
  constexpr int64_t kBlock = 128;
  const int64_t blocks = (n + kBlock - 1) / kBlock;
  const int64_t group = shape.group;
  parallelChunks(blocks, 1024, [&](int64_t firstBlock, int64_t endBlock) {
    std::vector<double> w(kBlock), a(kBlock);
    for (int64_t b = firstBlock; b < endBlock; ++b) {
      const int64_t n0 = b * kBlock, n1 = std::min(n, n0 + kBlock);
      const int64_t width = n1 - n0;
      std::vector<double> t(static_cast<size_t>(maxM * width), 0.0),
          s(static_cast<size_t>(maxM * width), 0.0);
      for (int64_t kk = 0; kk < k; ++kk) {
        const int64_t g = kk / group;
        for (int64_t j = 0; j < width; ++j) {
          const int64_t col = n0 + j;
          const double scale = elementToFloat(layer.scales[g * n + col], type);
          const double z = layer.zeroAt(g, col);
          const double q = layer.q[kk * n + col];
          w[j] = (q - z) * scale;
          a[j] = std::fabs(w[j]) + std::fabs(z * scale);
        }
        for (int64_t m = 0; m < maxM; ++m) {
          const double xv = xd[m * k + kk];
          const double ax = std::fabs(xv);
          double *tr = &t[m * width];
          double *sr = &s[m * width];
          for (int64_t j = 0; j < width; ++j) {
            tr[j] += xv * w[j];
            sr[j] += ax * a[j];
          }
        }
      }
      for (int64_t m = 0; m < maxM; ++m)
        for (int64_t j = 0; j < width; ++j) {
          const int64_t col = n0 + j;
          d.t[m * n + col] =
              t[m * width + j] +
              (shape.bias ? elementToFloat(layer.bias[col], type) : 0.0);
          d.s[m * n + col] = s[m * width + j];
        }
    }
  });
  return d;
}

double silu(double g) { return g / (1.0 + std::exp(-g)); }

/// The comparison of one launch.
struct Comparison {
  int64_t failures = 0, nonFinite = 0, overflow = 0, count = 0;
  double worstRatio = 0, maxAbsError = 0;
  std::string worst;
};

/// docs/numerics.md: |got - ref| <= 2^-10 |ref| + 2^-9 S + 2^-24 per product
/// output (bf16: 2^-7 |ref| + 2^-6 S + 2^-24), propagated through
/// SiLU(gate) * up as 1.1 |u| dg + |silu(g)| du, plus the relative term of
/// the final value for the 16-bit store.
Comparison compare(const LinearShape &shape, const CaseData &d, int64_t m,
                   const std::vector<uint16_t> &y) {
  const ActivationType type = shape.activation;
  const bool bf16 = type == ActivationType::BF16;
  const double relative = std::ldexp(1.0, bf16 ? -7 : -10);
  const double sumFactor = std::ldexp(1.0, bf16 ? -6 : -9);
  const double absolute = std::ldexp(1.0, -24);
  const double largest = bf16 ? 3.3895313892515355e38 : 65504.0;
  const int64_t n = shape.n, nOut = shape.nOut();
  Comparison c;
  c.count = m * nOut;
  for (int64_t row = 0; row < m; ++row)
    for (int64_t col = 0; col < nOut; ++col) {
      auto productBound = [&](int64_t j) {
        return relative * std::fabs(d.t[row * n + j]) +
               sumFactor * d.s[row * n + j];
      };
      double value, propagated;
      if (shape.siluMul) {
        const double g = d.t[row * n + 2 * col];
        const double u = d.t[row * n + 2 * col + 1];
        value = silu(g) * u;
        propagated = 1.1 * std::fabs(u) * productBound(2 * col) +
                     std::fabs(silu(g)) * productBound(2 * col + 1);
      } else {
        value = d.t[row * n + col];
        propagated = productBound(col);
      }
      if (shape.residual)
        value += elementToFloat(d.residual[row * nOut + col], type);
      const double bound = propagated + relative * std::fabs(value) + absolute;
      const double got = elementToFloat(y[row * nOut + col], type);
      // Beyond the type's range the kernel may rightly store inf.
      if (std::fabs(value) > largest - bound) {
        ++c.overflow;
        continue;
      }
      // Only the worst element is described (the loop covers millions).
      auto where = [&]() {
        std::ostringstream text;
        text << "M=" << m << " row " << row << " col " << col << ": got " << got
             << ", ref " << value << ", bound " << bound;
        return text.str();
      };
      if (!std::isfinite(got)) {
        ++c.nonFinite;
        ++c.failures;
        if (c.worstRatio < INFINITY || c.worst.empty()) {
          c.worstRatio = INFINITY;
          c.worst = where() + " (not finite)";
        }
        continue;
      }
      const double error = std::fabs(got - value);
      c.maxAbsError = std::max(c.maxAbsError, error);
      const double ratio = error / bound;
      if (ratio > 1)
        ++c.failures;
      if (ratio > c.worstRatio) {
        c.worstRatio = ratio;
        c.worst = where() + ", |error| " + std::to_string(error);
      }
    }
  return c;
}

double secondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
      .count();
}

/// The device buffers of one family's weights.
struct FamilyWeights {
  DeviceBuffer qweight, scales, zeros;
};

FamilyWeights uploadWeights(const Device &device, KernelFamily family,
                            const QuantizedLinear &layer,
                            const std::string &what) {
  rt::Backend &backend = *device.backend;
  FamilyWeights w;
  if (family == KernelFamily::Gemv) {
    GemvWeights g = repackGemv(layer, what);
    w.qweight = DeviceBuffer(backend, g.qweight.size() * 4, "qweight");
    w.qweight.upload(g.qweight);
    w.scales = DeviceBuffer(backend, g.scales.size() * 2, "scales");
    w.scales.upload(g.scales);
    if (!g.zeros.empty()) {
      w.zeros = DeviceBuffer(backend, g.zeros.size() * 2, "zeros");
      w.zeros.upload(g.zeros);
    }
  } else {
    // The pipeline's path: fold z into fp16 z * s, then repack.
    GemmWeights g = repackGemm(layer, foldZeroPoints(layer, what), what);
    w.qweight = DeviceBuffer(backend, g.qweight.size(), "qweight");
    w.qweight.upload(g.qweight);
    w.scales = DeviceBuffer(backend, g.scales.size() * 2, "scales");
    w.scales.upload(g.scales);
    if (!g.zeroScales.empty()) {
      w.zeros = DeviceBuffer(backend, g.zeroScales.size() * 2, "zero terms");
      w.zeros.upload(g.zeroScales);
    }
  }
  return w;
}

} // namespace

int64_t runNumerics(const Device &device, const Options &options,
                    nlohmann::json &report) {
  const auto start = std::chrono::steady_clock::now();
  const std::vector<NumericsCase> cases = numericsCases(options);
  const std::vector<int64_t> rows = numericsRows(options);
  const int64_t maxM = *std::max_element(rows.begin(), rows.end());
  std::cout << "\n== Numerics: " << cases.size()
            << " layers x {GEMV, GEMM} x M in {";
  for (size_t i = 0; i < rows.size(); ++i)
    std::cout << (i ? ", " : "") << rows[i];
  std::cout << "}\n";

  // Plan every case, then compile the distinct kernels in one parallel JIT.
  std::vector<std::vector<Planned>> plans(cases.size());
  std::vector<KernelToBuild> toBuild;
  std::map<std::string, size_t> byConfig;
  for (size_t c = 0; c < cases.size(); ++c)
    for (KernelFamily family : {KernelFamily::Gemv, KernelFamily::Gemm}) {
      Planned planned = planFor(device, cases[c].shape, family);
      if (planned.instance) {
        const std::string key = planned.instance->configType();
        auto found = byConfig.find(key);
        if (found == byConfig.end()) {
          found = byConfig.emplace(key, toBuild.size()).first;
          toBuild.push_back(
              {*planned.instance, "chk" + std::to_string(toBuild.size()) + "_" +
                                      planned.instance->suggestedName()});
        }
        planned.kernelIndex = found->second;
      }
      plans[c].push_back(std::move(planned));
    }
  std::vector<LoadedKernel> kernels =
      buildKernels(device, toBuild, options, !options.compileOnly);
  nlohmann::json &out = report["numerics"];
  out["rows"] = rows;
  out["kernels"] = nlohmann::json::array();
  for (const LoadedKernel &k : kernels)
    out["kernels"].push_back({{"name", k.name},
                              {"config", k.instance.configType()},
                              {"launch", k.instance.describeLaunch()},
                              {"compile_s", k.compileSeconds}});
  if (options.compileOnly) {
    std::cout << "  --compile-only: not launching\n";
    out["compile_only"] = true;
    return 0;
  }

  int64_t failedCases = 0, passedCases = 0, skippedCases = 0;
  out["cases"] = nlohmann::json::array();
  rt::Backend &backend = *device.backend;
  for (size_t c = 0; c < cases.size(); ++c) {
    const NumericsCase &nc = cases[c];
    const LinearShape &shape = nc.shape;
    const auto caseStart = std::chrono::steady_clock::now();
    const CaseData data =
        makeCaseData(shape, maxM, options.seed * 1000003ULL + c * 7919ULL);
    const double referenceSeconds = secondsSince(caseStart);
    const int64_t nOut = shape.nOut();

    // Activations, bias, residual and the output: shared by both families.
    DeviceBuffer x(backend, data.x.size() * 2, "x");
    x.upload(data.x);
    DeviceBuffer bias, residual;
    if (shape.bias) {
      bias = DeviceBuffer(backend, data.layer.bias.size() * 2, "bias");
      bias.upload(data.layer.bias);
    }
    if (shape.residual) {
      residual = DeviceBuffer(backend, data.residual.size() * 2, "residual");
      residual.upload(data.residual);
    }
    DeviceBuffer y(backend, static_cast<size_t>(maxM * nOut) * 2, "y");
    const std::vector<uint16_t> poison(
        static_cast<size_t>(maxM * nOut),
        floatToElement(std::numeric_limits<float>::quiet_NaN(),
                       shape.activation));

    for (const Planned &planned : plans[c]) {
      nlohmann::json result = {
          {"layer", nc.label},
          {"family", familyName(planned.family)},
          {"k", shape.k},
          {"n", shape.n},
          {"bits", shape.bits},
          {"group", shape.group},
          {"zero_point", shape.zeroPoint},
          {"bias", shape.bias},
          {"residual", shape.residual},
          {"silu_mul", shape.siluMul},
          {"activation", activationTypeName(shape.activation)}};
      std::ostringstream line;
      line << "  " << std::left << std::setw(44) << nc.label << " "
           << familyName(planned.family) << "  ";
      if (!planned.instance) {
        ++skippedCases;
        result["status"] = "skipped";
        result["reason"] = planned.skipped;
        line << "skipped (" << planned.skipped << ")";
        std::cout << line.str() << "\n";
        out["cases"].push_back(result);
        continue;
      }
      const LoadedKernel &kernel = kernels[planned.kernelIndex];
      result["kernel"] = kernel.name;
      result["config"] = kernel.instance.configType();
      bool failed = false;
      std::string worstText;
      double worstRatio = 0;
      nlohmann::json perM = nlohmann::json::array();
      try {
        FamilyWeights w =
            uploadWeights(device, planned.family, data.layer, nc.label);
        int64_t workspaceFloats = 0, counters = 0;
        for (int64_t m : rows) {
          const KernelLaunch l = kernel.instance.launch(m);
          workspaceFloats = std::max(workspaceFloats, l.workspaceFloats);
          counters = std::max(counters, l.counters);
        }
        DeviceBuffer workspace, counterBuffer;
        if (workspaceFloats) {
          workspace = DeviceBuffer(backend, workspaceFloats * 4, "workspace");
          backend.memsetAsync(workspace.get(), 0, workspace.size(), nullptr);
        }
        if (counters) {
          counterBuffer = DeviceBuffer(backend, counters * 4, "counters");
          backend.memsetAsync(counterBuffer.get(), 0, counterBuffer.size(),
                              nullptr);
        }
        backend.synchronize(nullptr);
        for (int64_t m : rows) {
          const KernelLaunch l = kernel.instance.launch(m);
          y.uploadBytes(poison.data(), static_cast<size_t>(m * nOut) * 2);
          LinearArgs args{};
          args.x = x.as<const half>();
          args.qweight = w.qweight.as<const uint32_t>();
          args.scales = w.scales.as<const half>();
          args.zeros = w.zeros.as<const half>();
          args.actScale = nullptr;
          args.bias = bias.as<const half>();
          args.residual = residual.as<const half>();
          args.y = y.as<half>();
          args.workspace = l.workspaceFloats ? workspace.as<float>() : nullptr;
          args.counters =
              l.counters ? counterBuffer.as<unsigned int>() : nullptr;
          args.M = static_cast<int>(m);
          launchKernel(device, kernel, m, &args, sizeof(args));
          backend.synchronize(nullptr);
          const std::vector<uint16_t> got =
              y.download<uint16_t>(static_cast<size_t>(m * nOut));
          Comparison cmp = compare(shape, data, m, got);
          // Split-K scratch must be all zero again (the next launch relies
          // on it); re-zero it so one failure does not cascade.
          int64_t dirtyWorkspace = 0, dirtyCounters = 0;
          if (l.workspaceFloats) {
            for (float v : workspace.download<float>(
                     static_cast<size_t>(workspaceFloats)))
              dirtyWorkspace += v != 0.0f;
          }
          if (l.counters) {
            for (unsigned v : counterBuffer.download<unsigned>(
                     static_cast<size_t>(counters)))
              dirtyCounters += v != 0;
          }
          if (dirtyWorkspace || dirtyCounters) {
            if (workspaceFloats)
              backend.memsetAsync(workspace.get(), 0, workspace.size(),
                                  nullptr);
            if (counters)
              backend.memsetAsync(counterBuffer.get(), 0, counterBuffer.size(),
                                  nullptr);
            backend.synchronize(nullptr);
          }
          const bool bad = cmp.failures || dirtyWorkspace || dirtyCounters;
          perM.push_back(
              {{"m", m},
               {"failures", cmp.failures},
               {"non_finite", cmp.nonFinite},
               {"beyond_fp16", cmp.overflow},
               {"outputs", cmp.count},
               {"worst_error_over_bound",
                std::isfinite(cmp.worstRatio) ? cmp.worstRatio : -1.0},
               {"max_abs_error", cmp.maxAbsError},
               {"dirty_workspace", dirtyWorkspace},
               {"dirty_counters", dirtyCounters},
               {"split_k", l.workspaceFloats > 0}});
          if (bad) {
            if (!failed || cmp.worstRatio > worstRatio) {
              worstRatio = cmp.worstRatio;
              worstText = cmp.failures
                              ? cmp.worst + " (" +
                                    std::to_string(cmp.failures) + " of " +
                                    std::to_string(cmp.count) + " outputs)"
                              : "M=" + std::to_string(m);
              if (dirtyWorkspace || dirtyCounters)
                worstText += "; split-K scratch not zero after the launch: " +
                             std::to_string(dirtyWorkspace) +
                             " workspace floats, " +
                             std::to_string(dirtyCounters) + " counters";
            }
            failed = true;
          } else if (!failed && cmp.worstRatio > worstRatio) {
            worstRatio = cmp.worstRatio;
            worstText = cmp.worst;
          }
        }
      } catch (const std::exception &e) {
        failed = true;
        worstText = std::string("error: ") + e.what();
        // A launch failure can leave the context unusable; keep going so
        // the report says how far it got.
      }
      result["per_m"] = perM;
      result["worst_error_over_bound"] =
          std::isfinite(worstRatio) ? worstRatio : -1.0;
      result["worst"] = worstText;
      result["status"] = failed ? "fail" : "pass";
      if (failed) {
        ++failedCases;
        line << "FAIL  " << worstText;
      } else {
        ++passedCases;
        line << "pass  worst error/bound " << std::setprecision(3)
             << worstRatio;
      }
      std::cout << line.str() << "\n";
      out["cases"].push_back(result);
    }
    std::cout << "    (data + fp64 reference " << std::setprecision(3)
              << referenceSeconds << " s, case " << secondsSince(caseStart)
              << " s)\n";
  }
  out["passed"] = passedCases;
  out["failed"] = failedCases;
  out["skipped"] = skippedCases;
  out["seconds"] = secondsSince(start);
  std::cout << "Numerics: " << passedCases << " passed, " << failedCases
            << " failed, " << skippedCases << " skipped ("
            << std::setprecision(3) << secondsSince(start) << " s)\n";
  return failedCases;
}

} // namespace gpucheck
} // namespace awq
