//===- GemvBench.cpp - Host-side costs of the GEMV family -----------------===//
//
// What a model load and a cold JIT pay per GEMV layer on the host: repacking
// the logical weights into the GEMV layout, and compiling one emitted kernel
// to CUBIN with NVRTC. (Kernel speed needs a GPU; see docs/kernels.md.)
//
//===----------------------------------------------------------------------===//

#include "compiler/repack/GemvKernelConfig.h"
#include "runtime/kernels/GemvLayout.h"
#include "runtime/nvrtc/NvrtcCompiler.h"
#include "runtime/support/Half.h"

#include <benchmark/benchmark.h>

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

void nvrtcCompileGemv(benchmark::State &state) {
  awq::GemvKernelConfig c;
  c.k = 4096;
  c.n = 4096;
  c.bits = 4;
  c = awq::planGemvTiling(c, static_cast<int>(state.range(0)), 132);
  const std::string source = c.kernelSource("bench_gemv");
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
