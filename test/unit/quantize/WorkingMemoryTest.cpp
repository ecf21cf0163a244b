//===- WorkingMemoryTest.cpp - The memory estimate bounds the real peak ---===//
//
// Its own test binary: it replaces the global operator new/delete to count
// the bytes the quantizer's buffers hold (every std::vector it allocates),
// and checks estimateWorkingMemory against the peak of a real run: never
// below it, and not so loose that it says nothing. It also checks that
// awqc synth holds about one tensor at a time, not the model.
//
//===----------------------------------------------------------------------===//

#include "test/unit/commands/CommandsTestSupport.h"

#include "compiler/quantize/QuantizeModel.h"
#include "compiler/quantize/SyntheticModel.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <malloc.h>
#include <new>
#include <optional>

namespace {

std::atomic<int64_t> liveBytes{0};
std::atomic<int64_t> peakBytes{0};

void countAllocation(void *p) {
  const int64_t size = static_cast<int64_t>(malloc_usable_size(p));
  const int64_t live = liveBytes.fetch_add(size) + size;
  int64_t peak = peakBytes.load();
  while (live > peak && !peakBytes.compare_exchange_weak(peak, live)) {
  }
}

void *countedAllocate(size_t size, size_t alignment = 0) noexcept {
  if (size == 0)
    size = 1;
  void *p = alignment > alignof(std::max_align_t)
                ? std::aligned_alloc(alignment, (size + alignment - 1) /
                                                    alignment * alignment)
                : std::malloc(size);
  if (p)
    countAllocation(p);
  return p;
}

void countedFree(void *p) noexcept {
  if (!p)
    return;
  liveBytes.fetch_sub(static_cast<int64_t>(malloc_usable_size(p)));
  std::free(p);
}

void *countedOrThrow(size_t size, size_t alignment = 0) {
  if (void *p = countedAllocate(size, alignment))
    return p;
  throw std::bad_alloc();
}

} // namespace

// Every replaceable form, so that no allocation of the run (std::stable_sort
// takes its buffer with the nothrow form) is made by one allocator and
// released by another.
void *operator new(size_t size) { return countedOrThrow(size); }
void *operator new[](size_t size) { return countedOrThrow(size); }
void *operator new(size_t size, const std::nothrow_t &) noexcept {
  return countedAllocate(size);
}
void *operator new[](size_t size, const std::nothrow_t &) noexcept {
  return countedAllocate(size);
}
void *operator new(size_t size, std::align_val_t alignment) {
  return countedOrThrow(size, static_cast<size_t>(alignment));
}
void *operator new[](size_t size, std::align_val_t alignment) {
  return countedOrThrow(size, static_cast<size_t>(alignment));
}
void *operator new(size_t size, std::align_val_t alignment,
                   const std::nothrow_t &) noexcept {
  return countedAllocate(size, static_cast<size_t>(alignment));
}
void *operator new[](size_t size, std::align_val_t alignment,
                     const std::nothrow_t &) noexcept {
  return countedAllocate(size, static_cast<size_t>(alignment));
}
void operator delete(void *p) noexcept { countedFree(p); }
void operator delete[](void *p) noexcept { countedFree(p); }
void operator delete(void *p, size_t) noexcept { countedFree(p); }
void operator delete[](void *p, size_t) noexcept { countedFree(p); }
void operator delete(void *p, const std::nothrow_t &) noexcept {
  countedFree(p);
}
void operator delete[](void *p, const std::nothrow_t &) noexcept {
  countedFree(p);
}
void operator delete(void *p, std::align_val_t) noexcept { countedFree(p); }
void operator delete[](void *p, std::align_val_t) noexcept { countedFree(p); }
void operator delete(void *p, size_t, std::align_val_t) noexcept {
  countedFree(p);
}
void operator delete[](void *p, size_t, std::align_val_t) noexcept {
  countedFree(p);
}
void operator delete(void *p, std::align_val_t,
                     const std::nothrow_t &) noexcept {
  countedFree(p);
}
void operator delete[](void *p, std::align_val_t,
                       const std::nothrow_t &) noexcept {
  countedFree(p);
}

namespace awq {
namespace {

struct Case {
  const char *name;
  QuantizeMethod method;
  bool actOrder;
  int64_t hidden, intermediate, tokens;
  std::optional<ClipSearchKind> clipSearch = std::nullopt;
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
  options.clipSearch = c.clipSearch;
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
                         256, 768, 2048},
                    Case{"awq_autoawq_clip", QuantizeMethod::Awq, false, 512,
                         1408, 256, ClipSearchKind::AutoAwq},
                    Case{"awq_gptq_asymmetric_clip", QuantizeMethod::AwqGptq,
                         true, 256, 768, 1024, ClipSearchKind::Asymmetric}),
    [](const testing::TestParamInfo<Case> &info) { return info.param.name; });

TEST(SyntheticModelMemory, HoldsAboutOneTensorAtATime) {
  test::TempDir dir;
  SynthOptions synth;
  synth.output = dir / "fp16";
  synth.hidden = 256;
  synth.intermediate = 1024;
  synth.layers = 16; // 33.5 MB of FP16 weights, 0.5 MB the largest tensor.
  synth.tokens = 64;
  const int64_t before = liveBytes.load();
  peakBytes.store(before);
  writeSyntheticModel(synth);
  const int64_t peak = peakBytes.load() - before;
  // The largest tensor is drawn as floats and encoded as FP16.
  const int64_t largest = synth.hidden * synth.intermediate * (4 + 2);
  EXPECT_LE(peak, 2 * largest) << "awqc synth held more than one tensor";
  RecordProperty("peak_bytes", std::to_string(peak));
}

} // namespace
} // namespace awq
