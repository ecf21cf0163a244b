//===- ParallelForTest.cpp - The runtime's one fan-out --------------------===//
#include "runtime/support/ParallelFor.h"

#include "runtime/support/Error.h"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

namespace {

TEST(ParallelChunks, CoversEveryIndexOnceInContiguousSlices) {
  for (int64_t count : {0, 1, 7, 64, 1000})
    for (int64_t threads : {1, 2, 3, 8}) {
      std::vector<std::atomic<int>> hits(static_cast<size_t>(count));
      std::mutex mutex;
      std::vector<std::pair<int64_t, int64_t>> slices;
      awq::parallelChunks(count, threads, [&](int64_t begin, int64_t end) {
        {
          std::lock_guard<std::mutex> lock(mutex);
          slices.emplace_back(begin, end);
        }
        for (int64_t i = begin; i < end; ++i)
          ++hits[static_cast<size_t>(i)];
      });
      for (int64_t i = 0; i < count; ++i)
        EXPECT_EQ(hits[static_cast<size_t>(i)], 1)
            << "count " << count << ", threads " << threads << ", index " << i;
      for (auto [begin, end] : slices) {
        EXPECT_LT(begin, end) << "no empty slice is handed out";
        EXPECT_LE(end, count);
      }
      EXPECT_LE(static_cast<int64_t>(slices.size()),
                std::max<int64_t>(1, threads));
    }
}

TEST(ParallelChunks, RunsSlicesConcurrentlyWhenAsked) {
  if (std::thread::hardware_concurrency() < 2)
    GTEST_SKIP() << "one hardware thread: nothing runs concurrently";
  std::mutex mutex;
  std::set<std::thread::id> workers;
  awq::parallelChunks(2, 2, [&](int64_t, int64_t) {
    std::lock_guard<std::mutex> lock(mutex);
    workers.insert(std::this_thread::get_id());
  });
  EXPECT_EQ(workers.size(), 2u);
}

TEST(ParallelChunks, RethrowsAfterEverySliceFinished) {
  std::atomic<int> finished{0};
  try {
    awq::parallelChunks(4, 4, [&](int64_t begin, int64_t) {
      if (begin == 0) {
        ++finished;
        throw awq::Error("slice 0 failed");
      }
      ++finished;
    });
    ADD_FAILURE() << "the slice's error was swallowed";
  } catch (const awq::Error &error) {
    EXPECT_STREQ(error.what(), "slice 0 failed");
  }
  EXPECT_EQ(finished, std::min<int>(4, std::max(1u, std::thread::hardware_concurrency())));
}

} // namespace
