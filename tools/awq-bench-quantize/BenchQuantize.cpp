//===- BenchQuantize.cpp - Benchmarks of AWQ calibration on the CPU -------===//
//
// The headline case calibrates one 4096x4096 linear (a Llama-7B projection)
// on 512 tokens at 4 bits, group 128, with the scale and the clip search.
// Inputs are synthetic but shaped like real ones: fp16 weights with a heavy
// tail, activations with a few outlier channels. The result's output error
// relative to RTN is reported as a counter so a faster run that quietly
// computes something else shows up.
//
//===----------------------------------------------------------------------===//

#include "compiler/quantize/Awq.h"
#include "compiler/quantize/Quantizer.h"
#include "runtime/support/Half.h"

#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <iterator>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace {

struct Inputs {
  int64_t t, k, n;
  std::vector<uint16_t> x; ///< fp16 [t, k]
  std::vector<uint16_t> w; ///< fp16 [n, k]
};

Inputs makeInputs(int64_t t, int64_t k, int64_t n) {
  std::mt19937_64 rng(0x5eed + t * 31 + k * 7 + n);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_real_distribution<float> uni(0.0f, 1.0f);
  Inputs in{t, k, n, std::vector<uint16_t>(t * k),
            std::vector<uint16_t>(n * k)};
  std::vector<float> channel(k);
  for (float &c : channel)
    c = 0.5f + uni(rng);
  for (int i = 0; i < 8; ++i) // A few outlier channels, 20-100x larger.
    channel[static_cast<int64_t>(uni(rng) * k) % k] = 20.0f + 80.0f * uni(rng);
  for (int64_t r = 0; r < t; ++r)
    for (int64_t c = 0; c < k; ++c)
      in.x[r * k + c] = awq::floatToHalf(normal(rng) * channel[c]);
  for (uint16_t &v : in.w) {
    float f = 0.02f * normal(rng);
    if (uni(rng) < 0.01f)
      f *= 4.0f + 4.0f * uni(rng);
    v = awq::floatToHalf(f);
  }
  return in;
}

const Inputs &cachedInputs(int64_t t, int64_t k, int64_t n) {
  static std::vector<std::unique_ptr<Inputs>> cache;
  for (const auto &in : cache)
    if (in->t == t && in->k == k && in->n == n)
      return *in;
  cache.push_back(std::make_unique<Inputs>(makeInputs(t, k, n)));
  return *cache.back();
}

/// Args: tokens, K, N, scale search (0/1), clip search (0/1).
void BM_CalibrateLinear(benchmark::State &state) {
  const Inputs &in =
      cachedInputs(state.range(0), state.range(1), state.range(2));
  awq::LinearGroupInput group;
  group.name = "bench";
  group.activations = {in.x.data(), awq::ElementType::F16, in.t, in.k};
  group.layers.push_back(
      {"linear", {in.w.data(), awq::ElementType::F16, in.n, in.k}, {}, false});
  awq::QuantizeOptions options;
  options.params = {4, 128, true};
  options.searchScales = state.range(3) != 0;
  options.searchClip = state.range(4) != 0;
  // Wall time per stage, from the progress callback (seconds, last run).
  double stageSeconds[5] = {0, 0, 0, 0, 0};
  auto last = std::chrono::steady_clock::now();
  options.onProgress = [&](const awq::QuantizeProgress &p) {
    const auto now = std::chrono::steady_clock::now();
    if (p.done > 0)
      stageSeconds[static_cast<int>(p.stage)] +=
          std::chrono::duration<double>(now - last).count();
    last = now;
  };
  awq::GroupResult result;
  for (auto _ : state) {
    std::fill(std::begin(stageSeconds), std::end(stageSeconds), 0.0);
    last = std::chrono::steady_clock::now();
    result = awq::quantizeInputGroup(group, options);
    benchmark::DoNotOptimize(result.layers.data());
  }
  for (int s = 0; s < 5; ++s) {
    std::string name =
        std::string("s_") + awq::stageName(static_cast<awq::QuantizeStage>(s));
    std::replace(name.begin(), name.end(), ' ', '_');
    state.counters[name] = stageSeconds[s];
  }
  const awq::LayerReport &rep = result.reports[0];
  state.counters["awq_over_rtn_mse"] = rep.awqError / rep.rtnError;
  state.counters["ratio"] = result.ratio;
  state.counters["clipped_groups"] =
      static_cast<double>(rep.clip.clippedGroups);
}
BENCHMARK(BM_CalibrateLinear)
    ->ArgNames({"tokens", "K", "N", "scale", "clip"})
    ->Args({512, 4096, 4096, 1, 1})
    ->Args({512, 4096, 4096, 1, 0})
    ->Args({512, 4096, 4096, 0, 0})
    ->Args({512, 1024, 1024, 1, 1})
    ->Unit(benchmark::kMillisecond)
    ->MeasureProcessCPUTime()
    ->UseRealTime()
    ->Iterations(1);

/// The clip search alone on a 4096x4096 linear (args: tokens, K, N).
void BM_ClipSearch(benchmark::State &state) {
  const Inputs &in =
      cachedInputs(state.range(0), state.range(1), state.range(2));
  std::vector<float> x(in.x.size()), w(in.w.size());
  for (size_t i = 0; i < x.size(); ++i)
    x[i] = awq::halfToFloat(in.x[i]);
  for (size_t i = 0; i < w.size(); ++i)
    w[i] = awq::halfToFloat(in.w[i]);
  awq::QuantizeOptions options;
  options.params = {4, 128, true};
  for (auto _ : state) {
    awq::ClipSearcher searcher(x.data(), in.t, in.k, {}, options);
    awq::ClipResult clip = searcher.search(w.data(), in.n, "bench");
    benchmark::DoNotOptimize(clip.maxVal.data());
  }
}
BENCHMARK(BM_ClipSearch)
    ->ArgNames({"tokens", "K", "N"})
    ->Args({512, 4096, 4096})
    ->Unit(benchmark::kMillisecond)
    ->MeasureProcessCPUTime()
    ->UseRealTime()
    ->Iterations(1);

/// Round-to-nearest quantization of a 4096x4096 fp32 weight (args: K, N).
void BM_QuantizeLinearRtn(benchmark::State &state) {
  const Inputs &in = cachedInputs(512, state.range(0), state.range(1));
  std::vector<float> w(in.w.size());
  for (size_t i = 0; i < w.size(); ++i)
    w[i] = awq::halfToFloat(in.w[i]);
  for (auto _ : state) {
    awq::QuantizedLinear l =
        awq::quantizeLinear(w.data(), in.n, in.k, {4, 128, true}, {}, "bench");
    benchmark::DoNotOptimize(l.q.data());
  }
  state.SetItemsProcessed(state.iterations() * in.n * in.k);
}
BENCHMARK(BM_QuantizeLinearRtn)
    ->ArgNames({"K", "N"})
    ->Args({4096, 4096})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

} // namespace

BENCHMARK_MAIN();
