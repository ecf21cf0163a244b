//===- ModelJitBench.cpp - NVRTC cost of a whole model's kernels ----------===//
//
// The kernels of a LLaMA-2-7B-shaped model (32 blocks; merged q/k/v, o with
// the residual, merged gate/up with SiLU, down with the residual; 4-bit,
// group 128, zero point), as the planner picks them for sm_90, compiled to
// CUBIN with the project's NVRTC path, one after another on one core:
//   BM_JitModel/distinct:0  one kernel per layer and family (256 sources), as
//                           the compiler emitted them before kernels were
//                           named by their template instance;
//   BM_JitModel/distinct:1  each template instance once (8 sources), as the
//                           compiler emits them now.
// Counters: kernels compiled, and seconds per kernel.
// --nvrtc-option=OPTION (repeatable, before the benchmark's own flags) passes
// OPTION to NVRTC after the project's options, to time a compile option
// (docs/jit-cache.md); the runtime passes none.
//
//===----------------------------------------------------------------------===//
#include "runtime/kernels/KernelInstance.h"
#include "runtime/kernels/KernelPlan.h"
#include "runtime/nvrtc/NvrtcCompiler.h"

#include <benchmark/benchmark.h>

#include <cstring>
#include <set>
#include <string>
#include <vector>

namespace {

/// NVRTC options from --nvrtc-option, set by main before the benchmarks run.
std::vector<std::string> extraNvrtcOptions;

struct Use {
  std::string layer;
  awq::KernelInstance instance;
};

/// Every kernel use of the model: for each block and linear, a GEMV and a
/// GEMM instance.
std::vector<Use> llama7bUses() {
  struct Linear {
    const char *name;
    int64_t k, n;
    bool residual, siluMul;
  };
  const Linear linears[] = {{"qkv", 4096, 12288, false, false},
                            {"o", 4096, 4096, true, false},
                            {"gate_up", 4096, 22016, false, true},
                            {"down", 11008, 4096, true, false}};
  const awq::ArchInfo &arch = *awq::findArch(90);
  std::vector<Use> uses;
  for (int block = 0; block < 32; ++block)
    for (const Linear &linear : linears) {
      awq::LinearShape shape;
      shape.k = linear.k;
      shape.n = linear.n;
      shape.bits = 4;
      shape.group = 128;
      shape.residual = linear.residual;
      shape.siluMul = linear.siluMul;
      const std::string layer =
          "model_layers_" + std::to_string(block) + "_" + linear.name;
      // The GEMV serves the rows below the pipeline's gemm_min_m.
      awq::PlanOptions gemvRows;
      gemvRows.gemvRows = awq::kDefaultGemmMinM - 1;
      uses.push_back(
          {layer + "_gemv", awq::KernelInstance::makeGemv(
                                shape, *awq::planGemv(shape, arch, gemvRows))});
      uses.push_back(
          {layer + "_gemm",
           awq::KernelInstance::makeGemm(shape, *awq::planGemm(shape, arch))});
    }
  return uses;
}

void BM_JitModel(benchmark::State &state) {
  const bool distinct = state.range(0) != 0;
  std::vector<std::pair<std::string, std::string>> sources;
  std::set<std::string> seen;
  for (const Use &use : llama7bUses()) {
    if (distinct && !seen.insert(use.instance.configType()).second)
      continue;
    const std::string name =
        distinct ? use.instance.suggestedName() : use.layer;
    sources.emplace_back(name, use.instance.source(name));
  }
  awq::NvrtcOptions options;
  options.arch = "sm_90";
  options.extraOptions = extraNvrtcOptions;
  for (auto _ : state)
    for (const auto &[name, source] : sources)
      benchmark::DoNotOptimize(
          awq::compileToCubin(source, name + ".cu", options).cubin.data());
  state.counters["kernels"] = static_cast<double>(sources.size());
  state.counters["s_per_kernel"] =
      benchmark::Counter(static_cast<double>(sources.size()),
                         benchmark::Counter::kIsIterationInvariantRate |
                             benchmark::Counter::kInvert);
}
BENCHMARK(BM_JitModel)
    ->ArgName("distinct")
    ->Arg(1)
    ->Arg(0)
    ->Iterations(1)
    ->Unit(benchmark::kSecond);

} // namespace

int main(int argc, char **argv) {
  // Take --nvrtc-option=OPTION out of argv; Google Benchmark gets the rest.
  const char *const prefix = "--nvrtc-option=";
  std::vector<char *> rest;
  for (int i = 0; i < argc; ++i) {
    if (i > 0 && std::strncmp(argv[i], prefix, std::strlen(prefix)) == 0)
      extraNvrtcOptions.emplace_back(argv[i] + std::strlen(prefix));
    else
      rest.push_back(argv[i]);
  }
  int restCount = static_cast<int>(rest.size());
  benchmark::Initialize(&restCount, rest.data());
  if (benchmark::ReportUnrecognizedArguments(restCount, rest.data()))
    return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
