//===- FormatsBench.cpp - Throughput of packing and checkpoint I/O --------===//
//
// Speed figures for docs/formats.md: AWQ pack/unpack of a 4096x4096 layer,
// opening (mapping + validating) a many-tensor safetensors file, and a full
// export + import of one layer.
//
//===----------------------------------------------------------------------===//

#include "TestUtil.h"

#include "compiler/formats/AwqPacking.h"
#include "compiler/formats/QuantizedCheckpoint.h"
#include "runtime/formats/SafeTensors.h"
#include "runtime/formats/SafeTensorsWriter.h"

#include <benchmark/benchmark.h>

namespace awq::test {
namespace {

std::vector<uint8_t> randomValues(size_t count, int bits) {
  std::vector<uint8_t> values(count);
  std::uniform_int_distribution<int> value(0, (1 << bits) - 1);
  for (uint8_t &v : values)
    v = static_cast<uint8_t>(value(rng()));
  return values;
}

void BM_PackAwq(benchmark::State &state) {
  const int bits = static_cast<int>(state.range(0));
  const int64_t k = 4096, n = 4096;
  std::vector<uint8_t> values = randomValues(k * n, bits);
  for (auto _ : state) {
    std::vector<int32_t> words =
        packAwqRows(values.data(), k, n, bits, "bench");
    benchmark::DoNotOptimize(words.data());
  }
  state.SetItemsProcessed(state.iterations() * k * n);
}
BENCHMARK(BM_PackAwq)->Arg(3)->Arg(4)->Arg(8)->Unit(benchmark::kMillisecond);

void BM_UnpackAwq(benchmark::State &state) {
  const int bits = static_cast<int>(state.range(0));
  const int64_t k = 4096, n = 4096;
  std::vector<uint8_t> values = randomValues(k * n, bits);
  std::vector<int32_t> words = packAwqRows(values.data(), k, n, bits, "bench");
  std::vector<uint8_t> out(values.size());
  for (auto _ : state) {
    unpackAwqRows(words.data(), k, n, bits, out.data());
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * k * n);
}
BENCHMARK(BM_UnpackAwq)->Arg(3)->Arg(4)->Arg(8)->Unit(benchmark::kMillisecond);

/// Opening a file with as many tensors as a 7B AWQ checkpoint (~32 blocks x
/// 7 layers x 3 tensors + norms), and with 200k tensors (the header parser
/// must stay linear: it once took 20 s for 64k tensors and never finished
/// 200k).
void BM_OpenSafeTensors(benchmark::State &state) {
  TempDir dir;
  const int count = static_cast<int>(state.range(0));
  std::vector<uint8_t> bytes(64, 1);
  std::vector<TensorRef> refs;
  for (int i = 0; i < count; ++i)
    refs.push_back({"model.layers." + std::to_string(i) + ".weight",
                    DType::F16,
                    {32},
                    bytes.data(),
                    64});
  writeSafeTensors(dir.file("model.safetensors"), refs);
  for (auto _ : state) {
    SafeTensorsFile file(dir.file("model.safetensors"));
    benchmark::DoNotOptimize(file.tensors().data());
  }
  state.SetItemsProcessed(state.iterations() * count);
}
BENCHMARK(BM_OpenSafeTensors)
    ->Arg(800)
    ->Arg(64000)
    ->Arg(200000)
    ->Unit(benchmark::kMillisecond);

/// Writing as many tensors: the header is built by appending (ordered_json's
/// operator[] scans every key, which made a 200k-tensor header take a
/// minute).
void BM_WriteSafeTensors(benchmark::State &state) {
  TempDir dir;
  const int count = static_cast<int>(state.range(0));
  std::vector<uint8_t> bytes(64, 1);
  std::vector<TensorRef> refs;
  for (int i = 0; i < count; ++i)
    refs.push_back({"model.layers." + std::to_string(i) + ".weight",
                    DType::F16,
                    {32},
                    bytes.data(),
                    64});
  for (auto _ : state)
    writeSafeTensors(dir.file("model.safetensors"), refs);
  state.SetItemsProcessed(state.iterations() * count);
}
BENCHMARK(BM_WriteSafeTensors)
    ->Arg(800)
    ->Arg(64000)
    ->Arg(200000)
    ->Unit(benchmark::kMillisecond);

void BM_ExportImportLayer(benchmark::State &state) {
  TempDir dir;
  QuantParams params;
  QuantizedCheckpoint checkpoint;
  checkpoint.linears.emplace("proj", randomLayer(4096, 4096, params, false));
  for (auto _ : state) {
    exportAwqCheckpoint(checkpoint, dir.path());
    QuantizedCheckpoint imported = importAwqCheckpoint(dir.path());
    benchmark::DoNotOptimize(imported.linears.size());
  }
  state.SetItemsProcessed(state.iterations() * 4096 * 4096);
}
BENCHMARK(BM_ExportImportLayer)->Unit(benchmark::kMillisecond);

} // namespace
} // namespace awq::test

BENCHMARK_MAIN();
