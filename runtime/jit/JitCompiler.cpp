//===- JitCompiler.cpp - Kernels to CUBINs with NVRTC, cached, in parallel ===//

#include "runtime/jit/JitCompiler.h"

#include "runtime/backends/Backend.h"
#include "runtime/kernels/KernelPlan.h"
#include "runtime/nvrtc/NvrtcCompiler.h"
#include "runtime/support/ParallelFor.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <exception>
#include <thread>

#ifndef AWQC_VERSION
#error "AWQC_VERSION must be defined by the build"
#endif

namespace awq {
namespace rt {

namespace {

/// Bumped when what jitCompile hands NVRTC changes meaning without the
/// fields of the key changing.
constexpr const char *kKeySchema = "awqc-jit-key-1";

std::string joined(const std::vector<std::string> &items) {
  std::string text;
  for (const std::string &item : items)
    text += (text.empty() ? "" : ", ") + item;
  return text;
}

/// Throws AWQC_ERROR_UNSUPPORTED_ARCH unless both awqc's target table and
/// this NVRTC know `target`.
void checkTarget(const std::string &target) {
  const std::optional<Target> parsed = parseTarget(target);
  const std::vector<std::string> archs = nvrtcSupportedArchs();
  const std::string nvrtc = "NVRTC " + nvrtcVersionString();
  if (!parsed)
    throw RuntimeError(AWQC_ERROR_UNSUPPORTED_ARCH,
                       "JIT: unknown target '" + target + "'; awqc knows " +
                           knownTargets() +
                           " (and sm_XXa where the architecture has one); " +
                           nvrtc + " supports " + joined(archs));
  const std::string base = "sm_" + std::to_string(parsed->arch->smVersion);
  if (std::find(archs.begin(), archs.end(), base) == archs.end())
    throw RuntimeError(AWQC_ERROR_UNSUPPORTED_ARCH,
                       "JIT: " + nvrtc + " cannot compile for " + target +
                           "; it supports " + joined(archs));
}

double secondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
      .count();
}

} // namespace

JitSummary jitCompile(const std::vector<JitKernel> &kernels,
                      const JitOptions &options) {
  const auto start = std::chrono::steady_clock::now();
  checkTarget(options.target);

  NvrtcOptions nvrtc;
  nvrtc.arch = options.target;
  nvrtc.headers = options.headers;
  // Sorted, so the key does not depend on the order headers were listed in.
  std::sort(nvrtc.headers.begin(), nvrtc.headers.end());
  nvrtc.cudaIncludeDirOverride = options.cudaIncludeDir.empty()
                                     ? cudaIncludeDir()
                                     : options.cudaIncludeDir;
  nvrtc.extraOptions = options.extraOptions;
  // The resource report is for the compiler's checks; the JIT needs none.
  nvrtc.ptxasVerbose = false;

  // Everything but the kernel's name and source. The options
  // compileToCubin always passes (-std=c++17) are covered by kKeySchema.
  std::vector<std::string> common = {kKeySchema,
                                     AWQC_VERSION,
                                     nvrtcVersionString(),
                                     nvrtc.arch,
                                     nvrtc.cudaIncludeDirOverride,
                                     nvrtc.ptxasVerbose ? "ptxas-v" : "",
                                     nvrtc.lineInfo ? "lineinfo" : ""};
  common.push_back("headers:" + std::to_string(nvrtc.headers.size()));
  for (const auto &[name, contents] : nvrtc.headers) {
    common.push_back(name);
    common.push_back(contents);
  }
  common.push_back("options:" + std::to_string(nvrtc.extraOptions.size()));
  for (const std::string &option : nvrtc.extraOptions)
    common.push_back(option);
  // Hashed once: the headers are far larger than a kernel's source.
  const std::string commonKey = KernelCache::key(common);

  JitSummary summary;
  summary.kernels.resize(kernels.size());
  std::vector<std::exception_ptr> errors(kernels.size());
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};

  auto compileOne = [&](size_t i) {
    const JitKernel &kernel = kernels[i];
    JitResult &result = summary.kernels[i];
    result.name = kernel.name;
    const auto kernelStart = std::chrono::steady_clock::now();
    std::string key;
    if (options.cache) {
      key = KernelCache::key({commonKey, kernel.name, kernel.source});
      if (std::optional<std::vector<char>> cubin = options.cache->load(key)) {
        result.cubin = std::move(*cubin);
        result.fromCache = true;
        result.seconds = secondsSince(kernelStart);
        return;
      }
    }
    try {
      result.cubin =
          compileToCubin(kernel.source, kernel.name + ".cu", nvrtc).cubin;
    } catch (const RuntimeError &) {
      throw;
    } catch (const Error &error) {
      throw RuntimeError(AWQC_ERROR_JIT, "JIT: kernel '" + kernel.name +
                                             "' for " + options.target + ": " +
                                             error.what());
    }
    result.seconds = secondsSince(kernelStart);
    if (options.cache)
      options.cache->store(key, result.cubin);
  };

  // Workers take kernels one at a time: compile times differ several-fold
  // (a GEMV's unrolled rows vs a GEMM), so fixed slices would idle cores.
  const int64_t workers = std::max<int64_t>(
      1,
      std::min<int64_t>(static_cast<int64_t>(kernels.size()),
                        options.threads ? options.threads
                                        : std::thread::hardware_concurrency()));
  // After a failure, workers take no new kernel: the call fails anyway.
  auto work = [&] {
    while (!failed) {
      const size_t i = next++;
      if (i >= kernels.size())
        return;
      try {
        compileOne(i);
      } catch (...) {
        errors[i] = std::current_exception();
        failed = true;
      }
    }
  };
  // parallelChunks may give one thread several workers' slices (it caps
  // threads at the core count); each runs the same loop, so that is fine.
  parallelChunks(workers, workers, [&](int64_t begin, int64_t end) {
    for (int64_t w = begin; w < end; ++w)
      work();
  });
  // The first failure in input order, whichever thread met it first.
  for (const std::exception_ptr &error : errors)
    if (error)
      std::rethrow_exception(error);

  for (const JitResult &result : summary.kernels)
    ++(result.fromCache ? summary.cached : summary.compiled);
  summary.seconds = secondsSince(start);
  return summary;
}

} // namespace rt
} // namespace awq
