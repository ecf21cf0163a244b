//===- WorkingMemoryTest.cpp - The memory estimate bounds the real peak ---===//
//
// Its own test binary: it replaces the global operator new/delete to count
// the bytes the quantizer's buffers hold (every std::vector it allocates),
// and checks estimateWorkingMemory against the peak of a real run: never
// below it, and not so loose that it says nothing.
//
//===----------------------------------------------------------------------===//

#include "test/unit/commands/CommandsTestSupport.h"

#include "compiler/quantize/QuantizeModel.h"
#include "compiler/quantize/SyntheticModel.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <malloc.h>
#include <new>

namespace {

std::atomic<int64_t> liveBytes{0};
std::atomic<int64_t> peakBytes{0};

void *countedAllocate(size_t size) {
  void *p = std::malloc(size == 0 ? 1 : size);
  if (!p)
    throw std::bad_alloc();
  const int64_t live =
      liveBytes.fetch_add(static_cast<int64_t>(malloc_usable_size(p))) +
      static_cast<int64_t>(malloc_usable_size(p));
  int64_t peak = peakBytes.load();
  while (live > peak && !peakBytes.compare_exchange_weak(peak, live)) {
  }
  return p;
}

void countedFree(void *p) {
  if (!p)
    return;
  liveBytes.fetch_sub(static_cast<int64_t>(malloc_usable_size(p)));
  std::free(p);
}

} // namespace

void *operator new(size_t size) { return countedAllocate(size); }
void *operator new[](size_t size) { return countedAllocate(size); }
void operator delete(void *p) noexcept { countedFree(p); }
void operator delete[](void *p) noexcept { countedFree(p); }
void operator delete(void *p, size_t) noexcept { countedFree(p); }
void operator delete[](void *p, size_t) noexcept { countedFree(p); }

namespace awq {
namespace {

struct Case {
  const char *name;
  QuantizeMethod method;
  bool actOrder;
  int64_t hidden, intermediate, tokens;
};

class WorkingMemoryTest : public testing::TestWithParam<Case> {};

TEST_P(WorkingMemoryTest, EstimateBoundsThePeakOfARealRun) {
  const Case &c = GetParam();
  test::TempDir dir;
  SynthOptions synth;
  synth.output = dir / "fp16";
  synth.hidden = c.hidden;
  synth.intermediate = c.intermediate;
  synth.layers = 2;
  synth.tokens = c.tokens;
  synth.seed = 5;
  writeSyntheticModel(synth);

  ModelQuantizeOptions options;
  options.model = dir / "fp16";
  options.calibration = dir / "fp16/calibration.safetensors";
  options.output = dir / "out";
  options.method = c.method;
  options.actOrder = c.actOrder;
  options.threads = 2;
  uint64_t estimate = 0;
  options.onProgress = [&](const ModelProgress &p) {
    if (p.phase == ModelProgress::Phase::Planned)
      estimate = p.workingMemoryBytes;
  };
  // What is live before the run (the test framework, the synthetic
  // model's bookkeeping) is not the run's.
  const int64_t before = liveBytes.load();
  peakBytes.store(before);
  const ModelQuantizeResult result = quantizeModel(options);
  const int64_t peak = peakBytes.load() - before;

  ASSERT_GT(estimate, 0u);
  EXPECT_EQ(result.estimatedWorkingMemory, estimate);
  EXPECT_LE(peak, static_cast<int64_t>(estimate))
      << "the run needed more than the estimate";
  EXPECT_GE(2 * peak, static_cast<int64_t>(estimate))
      << "the estimate is more than twice the real peak";
  RecordProperty("peak_bytes", std::to_string(peak));
  RecordProperty("estimate_bytes", std::to_string(estimate));
}

INSTANTIATE_TEST_SUITE_P(
    Methods, WorkingMemoryTest,
    testing::Values(Case{"awq", QuantizeMethod::Awq, false, 512, 1408, 256},
                    Case{"rtn", QuantizeMethod::Rtn, false, 512, 1408, 256},
                    Case{"gptq_act_order", QuantizeMethod::Gptq, true, 512,
                         1408, 256},
                    Case{"awq_gptq_many_tokens", QuantizeMethod::AwqGptq, false,
                         256, 768, 2048}),
    [](const testing::TestParamInfo<Case> &info) { return info.param.name; });

} // namespace
} // namespace awq
