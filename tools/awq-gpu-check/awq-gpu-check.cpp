//===- awq-gpu-check.cpp - The kernels on a real GPU: numerics and speed --===//
//
// One run on a GPU machine: the device, the numerics matrix (both kernel
// families against an fp64 reference) and the benchmark (against a copy of
// the same bytes and cuBLAS). Writes everything as JSON (--json) and prints
// the readable table last. Exit status: 0 when every numerics case passes,
// 1 when one fails or a step errs, 77 (skipped) without a GPU, 2 for bad
// usage. See docs/gpu-check.md.
//
//===----------------------------------------------------------------------===//

#include "GpuCheck.h"

#include "runtime/kernels/KernelPlan.h"
#include "runtime/nvrtc/NvrtcCompiler.h"

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iostream>

using namespace awq;
using namespace awq::gpucheck;

namespace {

constexpr int kExitSkipped = 77;

void usage(std::ostream &out) {
  out << "usage: awq-gpu-check [options]\n"
         "  --quick             fewer layers and row counts (a smoke run)\n"
         "  --numerics-only     only the numerics matrix\n"
         "  --bench-only        only the benchmark\n"
         "  --json PATH         the JSON report (default gpu-check.json)\n"
         "  --device N          CUDA device ordinal (default 0)\n"
         "  --iterations N      timed launches per measurement (default 30)\n"
         "  --seed N            random data seed\n"
         "  --device-include D  the device library's include directory\n"
         "  --compile-only      plan and compile the kernels, launch nothing\n"
         "  --target sm_XY      with --compile-only: compile for this target\n"
         "                      without a GPU\n"
         "  --host              numerics on the host device (CPU emulation,\n"
         "                      tiny layers): tests this tool without a GPU\n"
         "Exit status: 0 all numerics pass, 1 a failure, 77 no GPU (skipped),\n"
         "2 usage.\n";
}

std::string nowText() {
  const std::time_t now = std::time(nullptr);
  char text[64];
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  return text;
}

void writeJson(const std::string &path, const nlohmann::json &report) {
  std::ofstream out(path);
  out << report.dump(2) << "\n";
  if (!out)
    std::cerr << "awq-gpu-check: cannot write " << path << "\n";
  else
    std::cout << "JSON report: " << path << "\n";
}

} // namespace

int main(int argc, char **argv) {
  // Unbuffered: a run cut short by a time limit still leaves its log.
  std::cout.setf(std::ios::unitbuf);
  Options options;
  std::string target;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << "awq-gpu-check: " << arg << " needs a value\n";
        std::exit(2);
      }
      return argv[++i];
    };
    try {
      if (arg == "--quick")
        options.quick = true;
      else if (arg == "--numerics-only")
        options.numericsOnly = true;
      else if (arg == "--bench-only")
        options.benchOnly = true;
      else if (arg == "--compile-only")
        options.compileOnly = true;
      else if (arg == "--host")
        options.host = true;
      else if (arg == "--json")
        options.jsonPath = value();
      else if (arg == "--device")
        options.ordinal = std::stoi(value());
      else if (arg == "--iterations")
        options.timedIterations = std::max(1, std::stoi(value()));
      else if (arg == "--seed")
        options.seed = std::stoull(value());
      else if (arg == "--device-include")
        options.deviceIncludeDir = value();
      else if (arg == "--target")
        target = value();
      else if (arg == "--help" || arg == "-h") {
        usage(std::cout);
        return 0;
      } else {
        std::cerr << "awq-gpu-check: unknown option " << arg << "\n";
        usage(std::cerr);
        return 2;
      }
    } catch (const std::exception &) {
      std::cerr << "awq-gpu-check: bad value for " << arg << "\n";
      return 2;
    }
  }
  if (options.numericsOnly && options.benchOnly) {
    std::cerr << "awq-gpu-check: --numerics-only and --bench-only exclude "
                 "each other\n";
    return 2;
  }
  if (!target.empty() && !options.compileOnly) {
    std::cerr << "awq-gpu-check: --target is for --compile-only\n";
    return 2;
  }

  nlohmann::json report;
  report["tool"] = "awq-gpu-check";
  report["started"] = nowText();
  report["options"] = {{"quick", options.quick},
                       {"numerics_only", options.numericsOnly},
                       {"bench_only", options.benchOnly},
                       {"compile_only", options.compileOnly},
                       {"host", options.host},
                       {"seed", options.seed},
                       {"iterations", options.timedIterations}};
  const auto start = std::chrono::steady_clock::now();

  Device device;
  try {
    if (options.host) {
      device.backend = rt::makeHostBackend();
      device.host = true;
      device.target = "sm_90";
    } else if (!target.empty()) {
      device.target = target; // Compile only: no device needed.
    } else {
      try {
        device.backend = rt::makeCudaBackend(options.ordinal);
      } catch (const rt::RuntimeError &e) {
        if (e.status() == AWQC_ERROR_NO_DRIVER ||
            e.status() == AWQC_ERROR_NO_DEVICE) {
          std::cout << "awq-gpu-check: no GPU here (" << e.what()
                    << ").\nSkipped (exit status 77): run it on a machine "
                       "with an NVIDIA GPU and driver.\n";
          return kExitSkipped;
        }
        throw;
      }
      device.driver = &rt::CudaDriver::get();
      device.target = device.backend->properties().arch;
    }
    const std::optional<Target> parsed = parseTarget(device.target);
    if (!parsed) {
      std::cerr << "awq-gpu-check: awqc knows no target " << device.target
                << " (it knows " << knownTargets() << ")\n";
      return 1;
    }
    device.arch = parsed->arch;
    if (const char *why = archViolation(*device.arch)) {
      std::cerr << "awq-gpu-check: " << device.target << ": " << why << "\n";
      return 1;
    }
    device.smCount = device.arch->smCount;
    device.l2Bytes = 50ll << 20;
    if (device.backend && !device.host) {
      const rt::DeviceProperties &p = device.backend->properties();
      device.smCount = p.smCount;
      // CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE (38), in bytes.
      const rt::CudaDriver &d = *device.driver;
      rt::cu::Device cuDevice = 0;
      int l2 = 0;
      d.check(d.cuDeviceGet(&cuDevice, options.ordinal), "cuDeviceGet");
      if (d.cuDeviceGetAttribute(&l2, 38, cuDevice) == rt::cu::SUCCESS &&
          l2 > 0)
        device.l2Bytes = l2;
      std::cout << "GPU " << options.ordinal << ": " << p.name << ", " << p.arch
                << ", " << p.smCount << " SMs, " << p.totalMemory / (1ll << 20)
                << " MiB, L2 " << device.l2Bytes / (1 << 20) << " MiB, driver "
                << p.driverVersion << " (" << d.libraryPath << ")\n";
      report["device"] = {{"name", p.name},
                          {"arch", p.arch},
                          {"sm_count", p.smCount},
                          {"memory_bytes", p.totalMemory},
                          {"l2_bytes", device.l2Bytes},
                          {"shared_per_block_optin", p.sharedPerBlockOptin},
                          {"driver", p.driverVersion},
                          {"driver_library", d.libraryPath}};
    } else {
      std::cout << (device.host ? "Host device (CPU emulation)"
                                : "No device (compile only)")
                << ", planning for " << device.target << " with "
                << device.smCount << " SMs (" << device.arch->part << ")\n";
      report["device"] = {{"name", device.host ? "host" : "none"},
                          {"arch", device.target},
                          {"sm_count", device.smCount}};
    }
    std::cout << "NVRTC " << nvrtcVersionString() << ", CUDA headers "
              << cudaIncludeDir() << ", device library "
              << (options.deviceIncludeDir.empty() ? deviceIncludeDir()
                                                   : options.deviceIncludeDir)
              << "\n";
    report["nvrtc"] = nvrtcVersionString();
  } catch (const std::exception &e) {
    std::cerr << "awq-gpu-check: " << e.what() << "\n";
    return 1;
  }

  int status = 0;
  std::string table;
  try {
    if (!options.benchOnly) {
      const int64_t failures = runNumerics(device, options, report);
      if (failures)
        status = 1;
    }
    if (!options.numericsOnly && !options.host)
      table = runBench(device, options, report);
  } catch (const std::exception &e) {
    std::cerr << "\nawq-gpu-check: error: " << e.what() << "\n";
    report["error"] = e.what();
    status = 1;
  }
  report["seconds"] =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  report["status"] = status == 0 ? "pass" : "fail";
  writeJson(options.jsonPath, report);
  if (report.contains("numerics") && report["numerics"].contains("failed"))
    std::cout << "Numerics: " << report["numerics"]["passed"] << " passed, "
              << report["numerics"]["failed"] << " failed, "
              << report["numerics"]["skipped"] << " skipped\n";
  std::cout << (status == 0 ? "awq-gpu-check: PASS" : "awq-gpu-check: FAIL")
            << "\n";
  // The table last, where a reader of the log's tail finds it.
  if (!table.empty())
    std::cout << table << std::flush;
  return status;
}
