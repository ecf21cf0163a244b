//===- JitBench.cpp - Cold vs warm jitCompile of a 7B model's kernels -----===//
//
// The 8 distinct kernels of a LLaMA-2-7B-shaped model (merged q/k/v, o with
// the residual, merged gate/up with SiLU, down with the residual; 4-bit,
// group 128, zero point; GEMV and GEMM), as the planner picks them for
// sm_90, through jitCompile with the device library in memory:
//   cold       an empty kernel cache: every kernel compiled;
//   warm       the same cache again: every kernel loaded;
//   pch-*      NVRTC's automatic precompiled headers (--pch, CUDA 12.8+)
//              with a fresh PCH directory (first use creates the PCH files)
//              and again with the PCH files left by the previous run, once
//              with the sources as they are (two preludes: awq/gemv.cuh,
//              awq/gemm.cuh) and once with one shared prelude including
//              both.
// Usage: jit_bench [--threads N] [--reps R] [--target sm_90]
// Prints the best of R repetitions per row (wall seconds), then single
// kernels compiled on one thread plain and with an explicit PCH (the most a
// PCH can save), and the NVRTC log of one automatic-PCH compile, so a
// reader sees whether a PCH was created or used.
//
//===----------------------------------------------------------------------===//
#include "runtime/jit/JitCompiler.h"
#include "runtime/kernels/KernelInstance.h"
#include "runtime/kernels/KernelPlan.h"
#include "runtime/nvrtc/NvrtcCompiler.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#ifndef AWQ_JIT_TEST_DEVICE_INCLUDE
#error "AWQ_JIT_TEST_DEVICE_INCLUDE must be defined by the build"
#endif

namespace {

namespace fs = std::filesystem;
using awq::rt::JitKernel;
using awq::rt::JitOptions;
using awq::rt::KernelCache;
using awq::rt::KernelCacheOptions;

std::vector<JitKernel> llama7bDistinctKernels(const awq::ArchInfo &arch) {
  struct Linear {
    int64_t k, n;
    bool residual, siluMul;
  };
  const Linear linears[] = {{4096, 12288, false, false},
                            {4096, 4096, true, false},
                            {4096, 22016, false, true},
                            {11008, 4096, true, false}};
  std::vector<JitKernel> kernels;
  std::set<std::string> seen;
  for (const Linear &linear : linears) {
    awq::LinearShape shape;
    shape.k = linear.k;
    shape.n = linear.n;
    shape.bits = 4;
    shape.group = 128;
    shape.residual = linear.residual;
    shape.siluMul = linear.siluMul;
    for (const awq::KernelInstance &instance :
         {awq::KernelInstance::makeGemv(shape, *awq::planGemv(shape, arch)),
          awq::KernelInstance::makeGemm(shape, *awq::planGemm(shape, arch))}) {
      if (!seen.insert(instance.configType()).second)
        continue;
      const std::string name = instance.suggestedName();
      kernels.push_back({name, instance.source(name)});
    }
  }
  return kernels;
}

std::vector<std::pair<std::string, std::string>> deviceLibraryHeaders() {
  const fs::path root = AWQ_JIT_TEST_DEVICE_INCLUDE;
  std::vector<std::pair<std::string, std::string>> headers;
  for (const auto &entry : fs::recursive_directory_iterator(root / "awq")) {
    if (!entry.is_regular_file())
      continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    headers.emplace_back(fs::relative(entry.path(), root).generic_string(),
                         text.str());
  }
  return headers;
}

std::string makeTempDir(const char *what) {
  std::string pattern =
      (fs::temp_directory_path() / "awqc-jit-bench-").string() + what +
      "-XXXXXX";
  if (!mkdtemp(pattern.data())) {
    std::perror("mkdtemp");
    std::exit(1);
  }
  return pattern;
}

/// The best wall time of `reps` runs of `run`, each after `prepare`.
double best(int reps, const std::function<void()> &prepare,
            const std::function<double()> &run) {
  double result = 1e30;
  for (int r = 0; r < reps; ++r) {
    prepare();
    result = std::min(result, run());
  }
  return result;
}

} // namespace

int main(int argc, char **argv) {
  unsigned threads = std::max(1u, std::thread::hardware_concurrency());
  int reps = 3;
  std::string target = "sm_90";
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--threads"))
      threads = static_cast<unsigned>(std::atoi(argv[i + 1]));
    else if (!std::strcmp(argv[i], "--reps"))
      reps = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--target"))
      target = argv[i + 1];
  }
  const std::vector<JitKernel> kernels =
      llama7bDistinctKernels(*awq::parseTarget(target)->arch);
  std::vector<JitKernel> sharedPrelude = kernels;
  for (JitKernel &kernel : sharedPrelude)
    kernel.source = "#include \"awq/gemm.cuh\"\n#include \"awq/gemv.cuh\"\n" +
                    kernel.source;

  const std::string cacheDir = makeTempDir("cache");
  const std::string pchDir = makeTempDir("pch");
  std::printf("jit_bench: %zu kernels for %s, NVRTC %s, %u thread(s), best "
              "of %d\n",
              kernels.size(), target.c_str(), awq::nvrtcVersionString().c_str(),
              threads, reps);

  JitOptions base;
  base.target = target;
  base.headers = deviceLibraryHeaders();
  base.threads = threads;

  auto clearDir = [](const std::string &dir) {
    for (const auto &entry : fs::directory_iterator(dir))
      fs::remove_all(entry.path());
  };
  auto timed = [&](const std::vector<JitKernel> &which, JitOptions options,
                   const char *expectFrom) {
    return [&, which, options, expectFrom]() {
      KernelCacheOptions cacheOptions;
      cacheOptions.directory = cacheDir;
      KernelCache cache(cacheOptions);
      JitOptions o = options;
      o.cache = &cache;
      const awq::rt::JitSummary summary = awq::rt::jitCompile(which, o);
      const bool wantCached = !std::strcmp(expectFrom, "cache");
      if (summary.cached != (wantCached ? int64_t(which.size()) : 0)) {
        std::fprintf(stderr, "unexpected: %lld cached\n",
                     static_cast<long long>(summary.cached));
        std::exit(1);
      }
      return summary.seconds;
    };
  };
  auto row = [&](const char *name, double seconds) {
    std::printf("  %-34s %7.3f s  (%.3f s per kernel)\n", name, seconds,
                seconds / static_cast<double>(kernels.size()));
    std::fflush(stdout);
  };

  const auto none = [] {};
  row("cold (no PCH)",
      best(
          reps, [&] { clearDir(cacheDir); }, timed(kernels, base, "nvrtc")));
  row("warm (cache hits)", best(reps, none, timed(kernels, base, "cache")));

  JitOptions pch = base;
  pch.extraOptions = {"--pch", "--pch-dir=" + pchDir};
  for (const auto &[label, which] :
       {std::pair<const char *, const std::vector<JitKernel> *>{"as emitted",
                                                                &kernels},
        {"shared prelude", &sharedPrelude}}) {
    const std::string fresh = std::string("cold, PCH created (") + label + ")";
    const std::string reused = std::string("cold, PCH reused (") + label + ")";
    row(fresh.c_str(), best(
                           reps,
                           [&] {
                             clearDir(cacheDir);
                             clearDir(pchDir);
                           },
                           timed(*which, pch, "nvrtc")));
    row(reused.c_str(),
        best(
            reps, [&] { clearDir(cacheDir); }, timed(*which, pch, "nvrtc")));
  }

  std::uintmax_t pchBytes = 0;
  for (const auto &entry : fs::directory_iterator(pchDir))
    pchBytes += entry.file_size();
  std::printf("  PCH files after the last row: %ju bytes\n", pchBytes);

  // One kernel at a time, on this thread: what a PCH can save at most.
  std::printf("one kernel, serial (best of %d): plain vs --use-pch\n", reps);
  const JitKernel headersOnly = {
      "headers_only", "#include \"awq/gemv.cuh\"\n"
                      "extern \"C\" __global__ void headers_only(int *p) "
                      "{ *p = 1; }\n"};
  const JitKernel noInclude = {
      "no_include",
      "extern \"C\" __global__ void no_include(int *p) { *p = 1; }\n"};
  for (const JitKernel &kernel :
       {noInclude, headersOnly, kernels[0], kernels[1]}) {
    awq::NvrtcOptions options;
    options.arch = target;
    options.headers = base.headers;
    options.ptxasVerbose = false;
    auto compile = [&](std::vector<std::string> extra) {
      awq::NvrtcOptions o = options;
      o.extraOptions = std::move(extra);
      return awq::compileToCubin(kernel.source, kernel.name + ".cu", o).seconds;
    };
    const std::string pchFile = pchDir + "/one.pch";
    clearDir(pchDir);
    double plain = 1e30, used = 1e30;
    for (int r = 0; r < reps; ++r)
      plain = std::min(plain, compile({}));
    const double created = compile({"--create-pch=" + pchFile});
    for (int r = 0; r < reps; ++r)
      used = std::min(used, compile({"--use-pch=" + pchFile}));
    std::printf("  %-44s %.3f s, create %.3f s, use %.3f s\n",
                kernel.name.c_str(), plain, created, used);
  }

  // What NVRTC says about an automatic PCH made by another kernel.
  awq::NvrtcOptions nvrtc;
  nvrtc.arch = target;
  nvrtc.headers = base.headers;
  nvrtc.ptxasVerbose = false;
  nvrtc.extraOptions = pch.extraOptions;
  clearDir(pchDir);
  awq::compileToCubin(sharedPrelude[1].source, sharedPrelude[1].name + ".cu",
                      nvrtc);
  const awq::CompileResult one = awq::compileToCubin(
      sharedPrelude[0].source, sharedPrelude[0].name + ".cu", nvrtc);
  std::printf("NVRTC log of one PCH compile (%.3f s):\n%s\n", one.seconds,
              one.log.c_str());

  fs::remove_all(cacheDir);
  fs::remove_all(pchDir);
  return 0;
}
