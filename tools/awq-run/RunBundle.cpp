//===- RunBundle.cpp - awq-run on a model.awqb through the runtime's C API ===//
//
// The model runs through the public C API, as an integrator would run it.
// The reference comes from the bundle's own weight buffers, unpacked into the
// logical layer (runtime/kernels: unpackGemv, unpackGemm) and evaluated in
// fp64 by compiler/reference: a check of what the kernels compute against
// what the bundle says they should.
//
//===----------------------------------------------------------------------===//
#include "tools/awq-run/RunBundle.h"

#include "awqc_runtime.h"
#include "compiler/execute/HostKernelRunner.h"
#include "runtime/backends/Cublas.h"
#include "runtime/bundle/Bundle.h"
#include "runtime/formats/SafeTensors.h"
#include "runtime/kernels/GemmLayout.h"
#include "runtime/kernels/GemvLayout.h"
#include "runtime/support/Error.h"
#include "runtime/support/Half.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <random>

namespace awq {
namespace {

/// Throws awq::Error with the runtime's message when a call fails.
void check(awqc_status status, const std::string &what) {
  if (status != AWQC_OK)
    throw Error(what + ": " + awqc_status_name(status) + ": " +
                awqc_last_error());
}

std::vector<uint16_t> tensorHalfs(const bundle::Bundle &b,
                                  const std::string &name) {
  const TensorView &view = b.tensor(name);
  std::vector<uint16_t> out(view.size / 2);
  std::memcpy(out.data(), view.data, out.size() * 2);
  return out;
}

/// The logical layer the bundle's buffers hold, from its GEMV layout when
/// it has one (zero points stored exactly), else its GEMM layout.
QuantizedLinear logicalLayer(const bundle::Bundle &b,
                             const bundle::Layer &layer) {
  const LinearShape &s = layer.shape;
  QuantParams params;
  params.bits = s.bits;
  params.groupSize = s.group;
  params.zeroPoint = s.zeroPoint;
  QuantizedLinear out;
  auto gemv = layer.layouts.find(KernelFamily::Gemv);
  const bundle::LayoutBuffers &buffers =
      gemv != layer.layouts.end() ? gemv->second
                                  : layer.layouts.at(KernelFamily::Gemm);
  for (const std::string *tensor :
       {&buffers.qweight, &buffers.scales, &buffers.zeros})
    if (!tensor->empty())
      b.verify(*tensor);
  const TensorView &q = b.tensor(buffers.qweight);
  const std::vector<uint16_t> scales = tensorHalfs(b, buffers.scales);
  std::vector<uint16_t> zeros;
  if (s.zeroPoint)
    zeros = tensorHalfs(b, buffers.zeros);
  if (gemv != layer.layouts.end()) {
    std::vector<uint32_t> words(q.size / 4);
    std::memcpy(words.data(), q.data, words.size() * 4);
    out = unpackGemv(s.k, s.n, params, words.data(), scales.data(),
                     s.zeroPoint ? zeros.data() : nullptr, layer.name,
                     s.activation);
  } else {
    out = unpackGemm(s.k, s.n, params, q.data, scales.data(),
                     s.zeroPoint ? zeros.data() : nullptr, layer.name,
                     s.activation);
  }
  out.activation = s.activation;
  if (s.bias)
    out.bias = tensorHalfs(b, layer.bias);
  return out;
}

/// Uniform in [-1, 1), as bits of the layer's activation type.
std::vector<uint16_t> randomElements(std::mt19937_64 &rng, size_t count,
                                     ActivationType type) {
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<uint16_t> out(count);
  for (uint16_t &value : out)
    value = floatToElement(dist(rng), type);
  return out;
}

/// A device buffer owned through the model.
struct DeviceBuffer {
  awqc_model *model = nullptr;
  void *pointer = nullptr;
  DeviceBuffer(awqc_model *model, size_t bytes, const char *what)
      : model(model) {
    if (bytes)
      check(awqc_model_alloc(model, bytes, &pointer), what);
  }
  ~DeviceBuffer() { awqc_model_free(model, pointer); }
};

} // namespace

/// JIT-compiles the bundle for each target without a device.
int compileOnly(const BundleRunOptions &opts) {
  for (const std::string &target : opts.compileOnly) {
    awqc_open_options options;
    awqc_open_options_init(&options);
    options.compile_only_target = target.c_str();
    options.cache_dir = opts.cacheDir.empty() ? nullptr : opts.cacheDir.c_str();
    options.replan = opts.replan;
    awqc_model *raw = nullptr;
    check(awqc_model_open(opts.path.c_str(), &options, &raw),
          opts.path + " for " + target);
    std::unique_ptr<awqc_model, void (*)(awqc_model *)> model(raw,
                                                              awqc_model_close);
    awqc_model_info info;
    check(awqc_model_get_info(model.get(), &info), "model info");
    std::printf("jit %s: %lld kernels (%lld cached, %lld compiled, %lld "
                "embedded) in %.2f s\n",
                info.target, static_cast<long long>(info.num_kernels),
                static_cast<long long>(info.kernels_cached),
                static_cast<long long>(info.kernels_compiled),
                static_cast<long long>(info.kernels_embedded),
                info.jit_seconds);
  }
  return 0;
}

int runBundle(const BundleRunOptions &opts) {
  if (!opts.compileOnly.empty())
    return compileOnly(opts);
  awqc_open_options options;
  awqc_open_options_init(&options);
  std::string device = opts.device.empty() ? "cuda" : opts.device;
  options.device = device.c_str();
  options.cache_dir = opts.cacheDir.empty() ? nullptr : opts.cacheDir.c_str();
  options.replan = opts.replan;
  // The reference needs the weights; a bundle without them only times.
  std::unique_ptr<bundle::Bundle> file = bundle::Bundle::open(opts.path);
  const bundle::Manifest &manifest = file->manifest();
  options.random_weights = !manifest.hasWeights;
  options.random_seed = opts.seed;

  awqc_model *raw = nullptr;
  awqc_status status = awqc_model_open(opts.path.c_str(), &options, &raw);
  if (opts.device.empty() &&
      (status == AWQC_ERROR_NO_DRIVER || status == AWQC_ERROR_NO_DEVICE)) {
    std::cerr << "awq-run: no GPU (" << awqc_last_error()
              << "); running on the host device\n";
    device = "host";
    options.device = device.c_str();
    status = awqc_model_open(opts.path.c_str(), &options, &raw);
  }
  check(status, opts.path);
  std::unique_ptr<awqc_model, void (*)(awqc_model *)> model(raw,
                                                            awqc_model_close);
  awqc_model_info info;
  check(awqc_model_get_info(model.get(), &info), "model info");
  std::printf("bundle: %s (%s, %lld layers, %lld kernels for %s)\n",
              opts.path.c_str(), manifest.compiler.c_str(),
              static_cast<long long>(info.num_layers),
              static_cast<long long>(info.num_kernels), info.target);
  std::printf("device: %s; kernels: %lld cached, %lld compiled, %lld "
              "embedded in %.2f s\n",
              info.device, static_cast<long long>(info.kernels_cached),
              static_cast<long long>(info.kernels_compiled),
              static_cast<long long>(info.kernels_embedded), info.jit_seconds);
  std::printf("weights: %s\n", manifest.hasWeights
                                   ? "the bundle's"
                                   : "random (the bundle has none: timing "
                                     "only, no reference)");

  std::vector<int64_t> rows = opts.batches;
  if (rows.empty())
    rows = {1, 4, 8, 33};
  for (int64_t m : rows)
    if (m > info.max_m)
      throw Error("--batch " + std::to_string(m) +
                  " exceeds the bundle's "
                  "max M of " +
                  std::to_string(info.max_m));
  const int64_t largest = *std::max_element(rows.begin(), rows.end());
  size_t workspaceBytes = 0;
  check(awqc_model_workspace_bytes(model.get(), largest, &workspaceBytes),
        "workspace size");
  DeviceBuffer workspace(model.get(), workspaceBytes, "workspace");
  check(awqc_model_zero_workspace(model.get(), workspace.pointer,
                                  workspaceBytes, nullptr),
        "zeroing the workspace");

  // On a GPU, --bench also times cuBLAS's FP16 GEMM of each layer's shape.
  std::unique_ptr<rt::Cublas> cublas;
  if (opts.bench && device != "host") {
    std::string note;
    cublas = rt::openCublas(note);
    std::printf("cuBLAS: %s\n", cublas ? cublas->path.c_str() : note.c_str());
  }

  int nameWidth = 5;
  for (const bundle::Layer &layer : manifest.layers)
    nameWidth = std::max(nameWidth, static_cast<int>(layer.name.size()));
  std::printf("%-*s %-5s %5s %12s %12s %8s %10s %10s %10s %8s  %s\n", nameWidth,
              "layer", "kernel", "M", "max |err|", "rel err", "err/bound", "ms",
              opts.bench ? "GB/s" : "", cublas ? "cuBLAS ms" : "",
              cublas ? "speedup" : "", "status");
  int failures = 0;
  double worstRatio = 0;
  for (size_t index = 0; index < manifest.layers.size(); ++index) {
    const bundle::Layer &layer = manifest.layers[index];
    QuantizedLinear logical;
    std::vector<uint16_t> actScale;
    if (manifest.hasWeights) {
      logical = logicalLayer(*file, layer);
      if (layer.shape.actScale)
        actScale = tensorHalfs(*file, layer.actScale);
    }
    const int64_t k = layer.shape.k, nOut = layer.shape.nOut();
    // The FP16 weight cuBLAS multiplies by (values do not matter to time).
    std::unique_ptr<DeviceBuffer> fp16Weight;
    if (cublas)
      fp16Weight = std::make_unique<DeviceBuffer>(
          model.get(), size_t(k * layer.shape.n) * 2, "the FP16 weight");
    for (int64_t m : rows) {
      std::mt19937_64 rng(opts.seed * 1000003u + index * 7919u + m);
      const ActivationType type = layer.shape.activation;
      std::vector<uint16_t> x = randomElements(rng, size_t(m * k), type);
      std::vector<uint16_t> residual;
      if (layer.shape.residual)
        residual = randomElements(rng, size_t(m * nOut), type);
      // Poison: a quiet NaN of the layer's type everywhere the kernel must
      // write.
      std::vector<uint16_t> y(size_t(m * nOut), type == ActivationType::BF16
                                                    ? uint16_t(0x7fc0)
                                                    : uint16_t(0x7e00));
      DeviceBuffer dx(model.get(), x.size() * 2, "x");
      DeviceBuffer dr(model.get(), residual.size() * 2, "residual");
      DeviceBuffer dy(model.get(), y.size() * 2, "y");
      check(awqc_model_copy_to_device(model.get(), dx.pointer, x.data(),
                                      x.size() * 2),
            "copying x");
      check(awqc_model_copy_to_device(model.get(), dr.pointer, residual.data(),
                                      residual.size() * 2),
            "copying the residual");
      check(awqc_model_copy_to_device(model.get(), dy.pointer, y.data(),
                                      y.size() * 2),
            "poisoning y");
      awqc_layer_io io{dx.pointer, dr.pointer, dy.pointer};
      const std::string what = layer.name + " at M = " + std::to_string(m);
      auto runOnce = [&] {
        check(awqc_model_run_layer(model.get(), int64_t(index), m, &io,
                                   workspace.pointer, workspaceBytes, nullptr),
              what);
        check(awqc_model_synchronize(model.get(), nullptr), what);
      };
      auto start = std::chrono::steady_clock::now();
      runOnce();
      double ms = std::chrono::duration<double, std::milli>(
                      std::chrono::steady_clock::now() - start)
                      .count();
      check(awqc_model_copy_to_host(model.get(), y.data(), dy.pointer,
                                    y.size() * 2),
            "copying y");
      const bundle::KernelUse *use = layer.useFor(m);
      double gbps = 0;
      if (opts.bench) {
        // The median of repeated runs (fewer on the slow host emulation).
        const int runs = device == "host" ? 3 : 50;
        std::vector<double> times;
        for (int r = 0; r < runs; ++r) {
          auto t0 = std::chrono::steady_clock::now();
          runOnce();
          times.push_back(std::chrono::duration<double, std::milli>(
                              std::chrono::steady_clock::now() - t0)
                              .count());
        }
        std::nth_element(times.begin(), times.begin() + runs / 2, times.end());
        ms = times[runs / 2];
        gbps = double(weightBuffers(use->family, layer.shape).totalBytes()) /
               (ms * 1e6);
      }
      // The same median-of-runs timing for cuBLAS on the same shape.
      double cublasMs = 0;
      if (cublas && opts.bench) {
        DeviceBuffer full(model.get(), size_t(m * layer.shape.n) * 2,
                          "the FP16 output");
        std::vector<double> times;
        for (int r = 0; r < 53; ++r) {
          auto t0 = std::chrono::steady_clock::now();
          cublas->gemmFp16(m, layer.shape.n, k, fp16Weight->pointer, dx.pointer,
                           full.pointer);
          check(awqc_model_synchronize(model.get(), nullptr), "cuBLAS");
          if (r >= 3) // Warm-up runs are not timed.
            times.push_back(std::chrono::duration<double, std::milli>(
                                std::chrono::steady_clock::now() - t0)
                                .count());
        }
        std::nth_element(times.begin(), times.begin() + times.size() / 2,
                         times.end());
        cublasMs = times[times.size() / 2];
      }
      std::string statusText = "timed";
      KernelRunResult result;
      if (manifest.hasWeights) {
        result = checkLinearOutput(layer.name, layer.shape, logical, actScale,
                                   x, residual, m, y);
        failures += !result.ok();
        worstRatio = std::max(worstRatio, result.worstBoundRatio);
        statusText = result.ok() ? "ok" : "FAILED";
      }
      char bandwidth[32] = "", cublasText[32] = "", speedup[32] = "";
      if (opts.bench)
        std::snprintf(bandwidth, sizeof(bandwidth), "%.1f", gbps);
      if (cublasMs > 0) {
        std::snprintf(cublasText, sizeof(cublasText), "%.3f", cublasMs);
        std::snprintf(speedup, sizeof(speedup), "%.2fx", cublasMs / ms);
      }
      std::printf(
          "%-*s %-5s %5lld %12.3e %12.3e %8.3f %10.3f %10s %10s %8s  %s\n",
          nameWidth, layer.name.c_str(), familyName(use->family),
          static_cast<long long>(m), result.maxAbsError, result.relError,
          result.worstBoundRatio, ms, bandwidth, cublasText, speedup,
          statusText.c_str());
      if (!result.ok())
        std::printf("    %s\n", result.worst.c_str());
    }
  }
  if (!manifest.hasWeights) {
    std::printf("no reference: the bundle has no weights\n");
    return 0;
  }
  std::printf("rel err = max |err| / max |reference|, per launch\n");
  std::printf(
      "%s: %d failed; worst error/bound ratio %.3f (bound: docs/numerics.md)\n",
      failures ? "FAILED" : "all layers match the reference", failures,
      worstRatio);
  return failures ? 1 : 0;
}

} // namespace awq
