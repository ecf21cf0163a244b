//===- ParallelTest.cpp - Tests of the compiler's fork-join loop ----------===//

#include "compiler/reference/Parallel.h"

#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <thread>
#include <vector>

namespace awq {
namespace {

TEST(ParallelFor, ChunksCoverTheRangeOnceInOrderWithinEachChunk) {
  for (int64_t count : {1, 2, 7, 64, 1001}) {
    for (int threads : {0, 1, 3, 16}) {
      SCOPED_TRACE("count " + std::to_string(count) + ", threads " +
                   std::to_string(threads));
      std::vector<std::atomic<int>> hits(static_cast<size_t>(count));
      std::atomic<int> chunks{0};
      parallelFor(count, threads, [&](int64_t begin, int64_t end) {
        EXPECT_LT(begin, end);
        ++chunks;
        for (int64_t i = begin; i < end; ++i)
          ++hits[static_cast<size_t>(i)];
      });
      for (const std::atomic<int> &hit : hits)
        EXPECT_EQ(hit.load(), 1);
      EXPECT_LE(chunks.load(),
                std::min<int64_t>(resolveThreadCount(threads), count));
    }
  }
  int calls = 0;
  parallelFor(0, 4, [&](int64_t, int64_t) { ++calls; });
  EXPECT_EQ(calls, 0);
}

TEST(ParallelFor, OneThreadRunsOnTheCaller) {
  const std::thread::id caller = std::this_thread::get_id();
  parallelFor(100, 1, [&](int64_t begin, int64_t end) {
    EXPECT_EQ(begin, 0);
    EXPECT_EQ(end, 100);
    EXPECT_EQ(std::this_thread::get_id(), caller);
  });
}

TEST(ParallelFor, RethrowsAChunksExceptionAfterAllFinished) {
  std::atomic<int> finished{0};
  EXPECT_THROW(parallelFor(8, 8,
                           [&](int64_t begin, int64_t) {
                             if (begin == 3)
                               throw std::runtime_error("chunk 3");
                             ++finished;
                           }),
               std::runtime_error);
  EXPECT_EQ(finished.load(), 7);
}

TEST(ParallelFor, NestedLoopsComplete) {
  std::atomic<int64_t> sum{0};
  parallelFor(8, 0, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i)
      parallelFor(16, 0, [&](int64_t b, int64_t e) {
        for (int64_t j = b; j < e; ++j)
          sum += i * 16 + j;
      });
  });
  EXPECT_EQ(sum.load(), 128 * 127 / 2);
}

} // namespace
} // namespace awq
