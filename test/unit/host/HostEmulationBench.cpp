//===- HostEmulationBench.cpp - Costs of the CUDA emulation on the CPU ----===//
//
// Google Benchmark timings of the synchronizing operations the kernels use
// most: warp shuffles, mma.sync, barriers, and an empty block (launch and
// fiber setup). Counters report nanoseconds per warp-wide operation (all 32
// lanes) or per block. Run single-threaded for stable numbers:
//   host_emulation_bench --benchmark_counters_tabular=true
//
//===----------------------------------------------------------------------===//
#include "HostTestSupport.h"

#include <benchmark/benchmark.h>

namespace {

using awq::host::HostLaunchOptions;
using awq::host::HostModule;

struct BenchArgs {
  float *out;
  int iterations;
};

const HostModule &benchModule() {
  static std::shared_ptr<const HostModule> module =
      HostModule::load(awq::host::test::readKernelFile("HostBenchKernels.cu"),
                       {"emptyKernel", "shuffleBenchKernel",
                        "barrierBenchKernel", "mmaBenchKernel"},
                       awq::host::test::testOptions("HostBenchKernels.cu"));
  return *module;
}

/// Runs `kernel` on `blocks` blocks of `threads`, single OS thread.
void runKernel(benchmark::State &state, const char *kernel, int blocks,
               int threads, int iterations, size_t shared,
               double opsPerIteration, const char *counter) {
  std::vector<float> out(static_cast<size_t>(blocks) * threads);
  BenchArgs args{out.data(), iterations};
  HostLaunchOptions options;
  options.maxThreads = 1;
  const HostModule &module = benchModule();
  for (auto _ : state) {
    module.launch(kernel, {static_cast<unsigned>(blocks)},
                  {static_cast<unsigned>(threads)}, shared, &args, options);
    benchmark::DoNotOptimize(out.data());
  }
  const double ops = opsPerIteration * iterations * blocks;
  state.counters[counter] = benchmark::Counter(ops * state.iterations(),
                                               benchmark::Counter::kIsRate |
                                                   benchmark::Counter::kInvert);
}

void BM_EmptyBlock(benchmark::State &state) {
  const int threads = static_cast<int>(state.range(0));
  runKernel(state, "emptyKernel", 64, threads, 1, 0, 1.0, "s_per_block");
}
BENCHMARK(BM_EmptyBlock)
    ->Arg(32)
    ->Arg(128)
    ->Arg(256)
    ->Unit(benchmark::kMicrosecond);

void BM_WarpShuffle(benchmark::State &state) {
  const int threads = static_cast<int>(state.range(0));
  runKernel(state, "shuffleBenchKernel", 4, threads, 256, 0, threads / 32.0,
            "s_per_warp_shfl");
}
BENCHMARK(BM_WarpShuffle)->Arg(32)->Arg(256)->Unit(benchmark::kMicrosecond);

void BM_MmaM16N8K16(benchmark::State &state) {
  const int threads = static_cast<int>(state.range(0));
  runKernel(state, "mmaBenchKernel", 4, threads, 64, 0, threads / 32.0,
            "s_per_warp_mma");
}
BENCHMARK(BM_MmaM16N8K16)->Arg(32)->Arg(128)->Unit(benchmark::kMicrosecond);

void BM_SyncThreads(benchmark::State &state) {
  const int threads = static_cast<int>(state.range(0));
  runKernel(state, "barrierBenchKernel", 4, threads, 64,
            static_cast<size_t>(threads) * sizeof(float), 2.0, "s_per_barrier");
}
BENCHMARK(BM_SyncThreads)->Arg(128)->Arg(256)->Unit(benchmark::kMicrosecond);

} // namespace

BENCHMARK_MAIN();
