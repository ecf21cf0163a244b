//===- GemvBench.cpp - Host-side costs of the GEMV family -----------------===//
//
// What a model load and a cold JIT pay per GEMV layer on the host: repacking
// the logical weights into the GEMV layout, and compiling one emitted kernel
// to CUBIN with NVRTC. (Kernel speed needs a GPU; see docs/kernels.md.)
//
//===----------------------------------------------------------------------===//

#include "runtime/kernels/GemvLayout.h"
#include "runtime/kernels/KernelInstance.h"
#include "runtime/kernels/KernelPlan.h"
#include "runtime/nvrtc/NvrtcCompiler.h"
#include "runtime/support/Half.h"

#include <benchmark/benchmark.h>

#include <algorithm>
#include <random>

namespace {

awq::QuantizedLinear randomLayer(int64_t k, int64_t n, int bits) {
  std::mt19937 rng(1);
  std::uniform_int_distribution<int> q(0, (1 << bits) - 1);
  awq::QuantizedLinear layer;
  layer.k = k;
  layer.n = n;
  layer.params = {bits, 128, true};
  layer.q.resize(static_cast<size_t>(k * n));
  for (uint8_t &v : layer.q)
    v = static_cast<uint8_t>(q(rng));
  const size_t groups = static_cast<size_t>(layer.numGroups() * n);
  layer.scales.assign(groups, awq::floatToHalf(0.01f));
  layer.zeros.resize(groups);
  for (uint8_t &z : layer.zeros)
    z = static_cast<uint8_t>(q(rng));
  return layer;
}

void repackGemv(benchmark::State &state) {
  const awq::QuantizedLinear layer = randomLayer(
      state.range(0), state.range(1), static_cast<int>(state.range(2)));
  for (auto _ : state) {
    awq::GemvWeights w = awq::repackGemv(layer, "bench");
    benchmark::DoNotOptimize(w.qweight.data());
  }
  state.SetItemsProcessed(state.iterations() * layer.k * layer.n);
  state.counters["weights/s"] =
      benchmark::Counter(static_cast<double>(layer.k * layer.n),
                         benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(repackGemv)
    ->Args({4096, 4096, 4})
    ->Args({4096, 11008, 4})
    ->Args({11008, 4096, 3})
    ->Args({4096, 4096, 8})
    ->Unit(benchmark::kMillisecond);

/// Compiles the GEMV instance the planner picks for 4096 x 4096 on an H100,
/// with its rows per block replaced by the argument (4 is the plan itself;
/// 1 and 8 are the template's extremes, 8 with 4 columns per warp).
void nvrtcCompileGemv(benchmark::State &state) {
  awq::LinearShape shape;
  shape.k = 4096;
  shape.n = 4096;
  shape.bits = 4;
  shape.group = 128;
  awq::GemvParams params = *awq::planGemv(shape, *awq::findArch(90));
  params.maxRows = state.range(0);
  params.colsPerWarp =
      std::min<int64_t>(params.colsPerWarp, 32 / params.maxRows);
  const awq::KernelInstance instance =
      awq::KernelInstance::makeGemv(shape, params);
  if (const std::string why = instance.check(); !why.empty()) {
    state.SkipWithError(why.c_str());
    return;
  }
  state.SetLabel(instance.suggestedName());
  const std::string source = instance.source("bench_gemv");
  awq::NvrtcOptions options;
  options.arch = "sm_90";
  for (auto _ : state) {
    awq::CompileResult r =
        awq::compileToCubin(source, "bench_gemv.cu", options);
    benchmark::DoNotOptimize(r.cubin.data());
  }
}
BENCHMARK(nvrtcCompileGemv)
    ->Arg(1)
    ->Arg(4)
    ->Arg(8)
    ->Iterations(3)
    ->Unit(benchmark::kMillisecond);

} // namespace

BENCHMARK_MAIN();
