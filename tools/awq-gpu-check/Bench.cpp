//===- Bench.cpp - awq-gpu-check: kernel timings against copy and cuBLAS --===//
//
// LLaMA-shaped layers (4-bit, group 128, zero point), both kernel families
// at every M, timed with CUDA events (median of the timed launches after a
// warm-up), each launch reading another copy of the weights so that the
// copies together exceed 4x the L2 and every launch streams its weights from
// DRAM. For scale, in the same run: a device-to-device copy of the bytes a
// launch moves (the bandwidth ceiling) and cuBLAS's FP16 GEMM of the same
// shape (loaded with dlopen; skipped when absent). Rows marked bf16 run the
// bf16 kernels; their cuBLAS column is still the FP16 GEMM (the same bytes).
//
//===----------------------------------------------------------------------===//

#include "GpuCheck.h"

#define AWQ_HOST_ARGS_ONLY
#include "awq/linear_args.cuh"
#include "runtime/backends/Cublas.h"
#include "runtime/kernels/KernelPlan.h"
#include "runtime/nvrtc/NvrtcCompiler.h"
#include "runtime/support/Half.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>

#ifndef AWQC_SOURCE_DIR
#define AWQC_SOURCE_DIR "."
#endif

namespace fs = std::filesystem;

namespace awq {
namespace gpucheck {

namespace {

/// The pipeline's default gemm_min_m: GEMV below, GEMM from this many rows
/// on.
constexpr int64_t kGemmMinM = kDefaultGemmMinM;

struct BenchShape {
  int64_t k, n;
  bool siluMul;
  std::string label;
  ActivationType activation = ActivationType::F16;
};

std::vector<BenchShape> benchShapes(const Options &options) {
  std::vector<BenchShape> all = {
      {4096, 4096, false, "4096x4096"},
      {4096, 12288, false, "4096x12288"},
      {4096, 22016, true, "4096x22016 silu"},
      {11008, 4096, false, "11008x4096"},
      {8192, 8192, false, "8192x8192"},
      {8192, 28672, false, "8192x28672"},
      {28672, 8192, false, "28672x8192"},
      {4096, 12288, false, "4096x12288 bf16", ActivationType::BF16},
      {11008, 4096, false, "11008x4096 bf16", ActivationType::BF16},
      {4096, 22016, true, "4096x22016 silu bf16", ActivationType::BF16},
  };
  if (!options.quick)
    return all;
  return {all[0], all[2], all[5], all[9]};
}

std::vector<int64_t> benchRows(const Options &options) {
  if (options.quick)
    return {1, 4, 16, 64};
  return {1, 2, 4, 8, 16, 32, 64, 128};
}

//===----------------------------------------------------------------------===//
// Timing
//===----------------------------------------------------------------------===//

/// A kernel that keeps the GPU busy for a while: launched before a timed
/// series, it lets the CPU queue every launch and event of the series, so
/// the events time the GPU back to back and not the CPU's launch rate
/// (a 4096 x 4096 GEMV takes a few microseconds, about one launch's CPU
/// cost).
class Spinner {
public:
  explicit Spinner(const Device &device) : device(device) {
    module = device.backend->load(image(device.target));
  }
  /// The CUBIN module of the spinning kernel for `target`.
  static rt::ModuleImage image(const std::string &target) {
    const std::string source =
        "extern \"C\" __global__ void awq_gpu_check_spin(unsigned long long "
        "ns) {\n"
        "  unsigned long long start, now;\n"
        "  asm volatile(\"mov.u64 %0, %%globaltimer;\" : \"=l\"(start));\n"
        "  do {\n"
        "    asm volatile(\"mov.u64 %0, %%globaltimer;\" : \"=l\"(now));\n"
        "  } while (now - start < ns);\n"
        "}\n";
    NvrtcOptions nvrtc;
    nvrtc.arch = target;
    nvrtc.ptxasVerbose = false;
    rt::ModuleImage image;
    image.sourceName = "awq_gpu_check_spin.cu";
    image.cubin = compileToCubin(source, image.sourceName, nvrtc).cubin;
    image.kernels = {"awq_gpu_check_spin"};
    return image;
  }
  /// Occupies the GPU for `microseconds` (one block, one warp).
  void spin(double microseconds) {
    unsigned long long ns =
        static_cast<unsigned long long>(microseconds * 1000.0);
    KernelLaunch launch;
    launch.threads = 32;
    device.backend->launch(*module, "awq_gpu_check_spin", launch, &ns,
                           sizeof(ns), nullptr);
  }

private:
  const Device &device;
  std::unique_ptr<rt::LoadedModule> module;
};

/// Median microseconds of `timed` calls of launch(i) (i counts from 0
/// over warm-up and timed calls, for rotating buffers), one event interval
/// per call, all queued behind a spinning kernel.
template <typename Launch>
double timeLaunches(const Device &device, const Options &options,
                    Spinner &spinner, Launch launch) {
  // 20 ms covers the CPU cost of queuing the series (~10 us a launch).
  spinner.spin(20000.0);
  int i = 0;
  for (int w = 0; w < options.warmupIterations; ++w)
    launch(i++);
  EventTimer timer(device, options.timedIterations + 1);
  timer.record(0);
  for (int t = 0; t < options.timedIterations; ++t) {
    launch(i++);
    timer.record(t + 1);
  }
  return median(timer.intervalsMicroseconds());
}

/// One weight copy: packed weights, scales and zero terms at 256-byte
/// aligned offsets of one allocation, with `slack` bytes after them so a
/// copy of a whole launch's bytes (weights + x + y) fits in it too.
struct WeightCopies {
  std::vector<DeviceBuffer> copies;
  size_t qOffset = 0, sOffset = 0, zOffset = 0, used = 0;
};

size_t align256(size_t bytes) { return (bytes + 255) / 256 * 256; }

WeightCopies makeWeightCopies(const Device &device, KernelFamily family,
                              const LinearShape &shape, size_t slack,
                              uint64_t seed) {
  const WeightBuffers wb = weightBuffers(family, shape);
  const ActivationType type = shape.activation;
  WeightCopies w;
  const size_t qBytes = static_cast<size_t>(wb.qweightBytes);
  const size_t sBytes = static_cast<size_t>(wb.scaleBytes());
  w.sOffset = align256(qBytes);
  w.zOffset = w.sOffset + align256(sBytes);
  w.used = w.zOffset + (wb.zeros ? align256(sBytes) : 0);
  const size_t total = w.used + slack;
  const size_t count = std::max<size_t>(
      2, static_cast<size_t>(
             std::ceil(4.0 * device.l2Bytes / static_cast<double>(w.used))));
  // Random weights (any bit pattern is a valid packed weight), scales in
  // [2^-8, 2^-6], zero terms small and finite.
  std::vector<uint8_t> host(total, 0);
  const std::vector<uint8_t> q = randomBytes(qBytes, seed);
  std::copy(q.begin(), q.end(), host.begin());
  const size_t halves = sBytes / 2;
  const std::vector<uint16_t> s = randomScales(halves, -8, -6, seed + 1, type);
  std::memcpy(host.data() + w.sOffset, s.data(), sBytes);
  if (wb.zeros) {
    // The GEMV layout, and the GEMM's for bf16, hold z itself; the fp16
    // GEMM's holds z * s.
    const bool integral =
        family == KernelFamily::Gemv || type == ActivationType::BF16;
    const std::vector<uint16_t> z =
        integral ? randomHalves(halves, 0, 15, seed + 2, type)
                 : randomHalves(halves, 0, 15.0 / 64, seed + 2, type);
    std::vector<uint16_t> zi = z;
    if (integral)
      for (uint16_t &v : zi)
        v = floatToElement(std::round(elementToFloat(v, type)), type);
    std::memcpy(host.data() + w.zOffset, zi.data(), sBytes);
  }
  for (size_t c = 0; c < count; ++c) {
    w.copies.emplace_back(*device.backend, total, "weight copy");
    if (c == 0)
      w.copies[0].uploadBytes(host.data(), total);
    else
      device.driver->check(
          device.driver->cuMemcpyDtoDAsync(
              reinterpret_cast<rt::cu::DevicePtr>(w.copies[c].get()),
              reinterpret_cast<rt::cu::DevicePtr>(w.copies[0].get()), total,
              nullptr),
          "cuMemcpyDtoDAsync");
  }
  device.backend->synchronize(nullptr);
  return w;
}

struct Row {
  std::string shape;
  int64_t m = 0;
  std::string family;
  bool picked = false;
  double us = NAN, gbps = NAN, copyUs = NAN, copyGbps = NAN, cublasUs = NAN;
  int64_t bytes = 0;
};

std::string fixed(double value, int precision) {
  if (!std::isfinite(value))
    return "-";
  std::ostringstream out;
  out << std::fixed << std::setprecision(precision) << value;
  return out.str();
}

} // namespace

std::string runBench(const Device &device, const Options &options,
                     nlohmann::json &report) {
  const std::vector<BenchShape> shapes = benchShapes(options);
  const std::vector<int64_t> rows = benchRows(options);
  const int64_t maxM = *std::max_element(rows.begin(), rows.end());
  nlohmann::json &out = report["bench"];
  std::cout << "\n== Benchmark: " << shapes.size()
            << " layers, 4-bit, group 128, zero point; M in {";
  for (size_t i = 0; i < rows.size(); ++i)
    std::cout << (i ? ", " : "") << rows[i];
  std::cout << "}; median of " << options.timedIterations << " launches after "
            << options.warmupIterations << " warm-up, L2 "
            << device.l2Bytes / (1 << 20) << " MiB\n";
  out["l2_bytes"] = device.l2Bytes;
  out["timed_iterations"] = options.timedIterations;
  out["warmup_iterations"] = options.warmupIterations;
  out["gemm_min_m"] = kGemmMinM;

  // Plan and compile both families of every shape at once.
  std::vector<KernelToBuild> toBuild;
  std::vector<std::array<int, 2>> kernelOf(shapes.size(), {-1, -1});
  PlanOptions plan;
  plan.smCount = device.smCount;
  for (size_t i = 0; i < shapes.size(); ++i) {
    LinearShape s;
    s.k = shapes[i].k;
    s.n = shapes[i].n;
    s.bits = 4;
    s.group = 128;
    s.zeroPoint = true;
    s.siluMul = shapes[i].siluMul;
    s.activation = shapes[i].activation;
    if (std::optional<GemvParams> p = planGemv(s, *device.arch, plan)) {
      kernelOf[i][0] = static_cast<int>(toBuild.size());
      KernelInstance instance = KernelInstance::makeGemv(s, *p);
      toBuild.push_back({instance, "bench" + std::to_string(toBuild.size()) +
                                       "_" + instance.suggestedName()});
    }
    if (std::optional<GemmParams> p = planGemm(s, *device.arch, plan)) {
      kernelOf[i][1] = static_cast<int>(toBuild.size());
      KernelInstance instance = KernelInstance::makeGemm(s, *p);
      toBuild.push_back({instance, "bench" + std::to_string(toBuild.size()) +
                                       "_" + instance.suggestedName()});
    }
  }
  std::vector<LoadedKernel> kernels =
      buildKernels(device, toBuild, options, !options.compileOnly);
  if (options.compileOnly) {
    std::cout << "  spin kernel: " << Spinner::image(device.target).cubin.size()
              << "-byte CUBIN\n  --compile-only: not launching\n";
    out["compile_only"] = true;
    return "";
  }

  // Comparators.
  std::string cublasNote;
  std::unique_ptr<rt::Cublas> cublas = rt::openCublas(cublasNote);
  if (cublas)
    std::cout << "  cuBLAS: " << cublas->path << "\n";
  else
    std::cout << "  " << cublasNote << "\n  (the cuBLAS columns stay empty)\n";
  out["cublas"] = cublas ? cublas->path : cublasNote;
  // TODO(comparators/marlin): a Marlin comparison. When comparators/marlin
  // (git-ignored) holds a built Marlin library, load it here like cuBLAS
  // (dlopen), repack the same random layer into Marlin's layout and time
  // its GEMM next to ours per (shape, M), adding a "marlin_us" column.
  // Not implemented: the hook only reports that the directory exists.
  const fs::path marlin = fs::path(AWQC_SOURCE_DIR) / "comparators" / "marlin";
  if (fs::exists(marlin)) {
    std::cout << "  " << marlin.string()
              << " exists, but the Marlin comparison is not implemented "
                 "(TODO in tools/awq-gpu-check/Bench.cpp)\n";
    out["marlin"] = "present, not implemented";
  }

  rt::Backend &backend = *device.backend;
  const rt::CudaDriver &driver = *device.driver;
  Spinner spinner(device);
  std::vector<Row> table;
  out["results"] = nlohmann::json::array();
  for (size_t i = 0; i < shapes.size(); ++i) {
    const BenchShape &bs = shapes[i];
    const int64_t nOut = bs.siluMul ? bs.n / 2 : bs.n;
    std::cout << "  " << bs.label << ":" << std::flush;
    const size_t slack = static_cast<size_t>(maxM * (bs.k + nOut) * 2);
    DeviceBuffer x(backend, static_cast<size_t>(maxM * bs.k) * 2, "x");
    x.upload(randomHalves(static_cast<size_t>(maxM * bs.k), -1, 1,
                          options.seed + i, bs.activation));
    DeviceBuffer y(backend, static_cast<size_t>(maxM * bs.n) * 2, "y");

    // Per family, then M: time, bytes.
    std::map<std::pair<int, int64_t>, Row> results;
    for (int f = 0; f < 2; ++f) {
      if (kernelOf[i][f] < 0)
        continue;
      const LoadedKernel &kernel = kernels[static_cast<size_t>(kernelOf[i][f])];
      const LinearShape &s = kernel.instance.shape;
      const KernelFamily family = kernel.instance.family;
      WeightCopies w = makeWeightCopies(device, family, s, slack,
                                        options.seed * 31 + i * 2 + f);
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
      for (int64_t m : rows) {
        const KernelLaunch l = kernel.instance.launch(m);
        auto launch = [&](int iteration) {
          const DeviceBuffer &copy =
              w.copies[static_cast<size_t>(iteration) % w.copies.size()];
          char *base = copy.as<char>();
          LinearArgs args{};
          args.x = x.as<const half>();
          args.qweight = reinterpret_cast<const uint32_t *>(base + w.qOffset);
          args.scales = reinterpret_cast<const half *>(base + w.sOffset);
          args.zeros = reinterpret_cast<const half *>(base + w.zOffset);
          args.y = y.as<half>();
          args.workspace = l.workspaceFloats ? workspace.as<float>() : nullptr;
          args.counters =
              l.counters ? counterBuffer.as<unsigned int>() : nullptr;
          args.M = static_cast<int>(m);
          launchKernel(device, kernel, m, &args, sizeof(args));
        };
        Row row;
        row.shape = bs.label;
        row.m = m;
        row.family = familyName(family);
        row.picked = (family == KernelFamily::Gemv) == (m < kGemmMinM);
        row.bytes = kernel.instance.weightBytes() + m * bs.k * 2 + m * nOut * 2;
        row.us = timeLaunches(device, options, spinner, launch);
        row.gbps = row.bytes / (row.us * 1e3);
        // The bandwidth ceiling: a copy of the same bytes, rotating over the
        // same copies (source c, destination c + 1: identical contents).
        auto copy = [&](int iteration) {
          const size_t c = static_cast<size_t>(iteration) % w.copies.size();
          const size_t d = (c + 1) % w.copies.size();
          driver.check(
              driver.cuMemcpyDtoDAsync(
                  reinterpret_cast<rt::cu::DevicePtr>(w.copies[d].get()),
                  reinterpret_cast<rt::cu::DevicePtr>(w.copies[c].get()),
                  static_cast<size_t>(row.bytes), nullptr),
              "cuMemcpyDtoDAsync");
        };
        row.copyUs = timeLaunches(device, options, spinner, copy);
        // A copy reads and writes each byte.
        row.copyGbps = 2.0 * row.bytes / (row.copyUs * 1e3);
        results[{f, m}] = row;
        std::cout << " " << row.family << "@" << m << std::flush;
      }
      backend.synchronize(nullptr);
    }

    // cuBLAS: y[M, N] = x[M, K] W[K, N] in fp16 with fp32 accumulation.
    // Column-major, that is y^T (N x M) = W^T (N x K) x^T (K x M) with
    // leading dimensions N, K, N.
    std::map<int64_t, double> cublasUs;
    if (cublas) {
      const size_t wBytes = static_cast<size_t>(bs.k * bs.n) * 2;
      const size_t count = std::max<size_t>(
          1, static_cast<size_t>(std::ceil(4.0 * device.l2Bytes /
                                           static_cast<double>(wBytes))));
      std::vector<DeviceBuffer> wCopies;
      try {
        for (size_t c = 0; c < count; ++c) {
          wCopies.emplace_back(backend, wBytes, "cuBLAS weights");
          if (c == 0)
            wCopies[0].upload(
                randomHalves(wBytes / 2, -0.05, 0.05, options.seed + 77 + i));
          else
            driver.check(
                driver.cuMemcpyDtoDAsync(
                    reinterpret_cast<rt::cu::DevicePtr>(wCopies[c].get()),
                    reinterpret_cast<rt::cu::DevicePtr>(wCopies[0].get()),
                    wBytes, nullptr),
                "cuMemcpyDtoDAsync");
        }
        for (int64_t m : rows) {
          auto gemm = [&](int iteration) {
            const DeviceBuffer &wc =
                wCopies[static_cast<size_t>(iteration) % wCopies.size()];
            cublas->gemmFp16(m, bs.n, bs.k, wc.get(), x.get(), y.get());
          };
          cublasUs[m] = timeLaunches(device, options, spinner, gemm);
          std::cout << " cublas@" << m << std::flush;
        }
      } catch (const std::exception &e) {
        std::cout << "\n  cuBLAS failed on " << bs.label << ": " << e.what()
                  << "\n";
        out["cublas_errors"].push_back(bs.label + ": " + e.what());
      }
    }
    std::cout << "\n";

    for (int64_t m : rows)
      for (int f = 0; f < 2; ++f) {
        auto found = results.find({f, m});
        if (found == results.end())
          continue;
        Row row = found->second;
        if (cublasUs.count(m))
          row.cublasUs = cublasUs[m];
        table.push_back(row);
        out["results"].push_back(
            {{"shape", row.shape},
             {"k", bs.k},
             {"n", bs.n},
             {"silu_mul", bs.siluMul},
             {"activation", activationTypeName(bs.activation)},
             {"m", row.m},
             {"family", row.family},
             {"picked", row.picked},
             {"kernel", kernels[static_cast<size_t>(kernelOf[i][f])].name},
             {"us", row.us},
             {"bytes", row.bytes},
             {"gbps", row.gbps},
             {"copy_us", row.copyUs},
             {"copy_gbps", row.copyGbps},
             {"percent_of_copy", 100.0 * row.gbps / row.copyGbps},
             {"cublas_us", std::isfinite(row.cublasUs)
                               ? nlohmann::json(row.cublasUs)
                               : nlohmann::json(nullptr)},
             {"speedup_over_cublas", std::isfinite(row.cublasUs)
                                         ? nlohmann::json(row.cublasUs / row.us)
                                         : nlohmann::json(nullptr)}});
      }
  }

  // The table, printed last by main.
  std::ostringstream text;
  text << "\n== Results (" << device.backend->properties().name << ", "
       << device.target << "; * = the family the runtime picks, GEMV for M < "
       << kGemmMinM << ")\n";
  text << std::left << std::setw(16) << "shape" << std::right << std::setw(5)
       << "M"
       << "  " << std::left << std::setw(6) << "family" << std::right
       << std::setw(10) << "us" << std::setw(9) << "GB/s" << std::setw(8)
       << "%copy" << std::setw(11) << "cuBLAS us" << std::setw(9) << "speedup"
       << "\n";
  std::string last;
  for (const Row &row : table) {
    if (row.shape != last && !last.empty())
      text << "\n";
    last = row.shape;
    text << std::left << std::setw(16) << row.shape << std::right
         << std::setw(5) << row.m << "  " << std::left << std::setw(6)
         << (row.family + (row.picked ? "*" : "")) << std::right
         << std::setw(10) << fixed(row.us, 1) << std::setw(9)
         << fixed(row.gbps, 0) << std::setw(8)
         << fixed(100.0 * row.gbps / row.copyGbps, 0) << std::setw(11)
         << fixed(row.cublasUs, 1) << std::setw(9)
         << fixed(row.cublasUs / row.us, 2) << "\n";
  }
  if (!cublas)
    text << "(cuBLAS columns empty: cuBLAS was not found or did not start; "
            "see the log)\n";
  return text.str();
}

} // namespace gpucheck
} // namespace awq
