//===- ParallelFor.h - The runtime's one fan-out over worker threads ------===//
//
// The runtime stays free of LLVM, so it cannot use llvm::parallelFor; this is
// its one replacement. The compiler uses llvm::parallelFor
// (compiler/reference/Parallel.h).
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_RUNTIME_SUPPORT_PARALLELFOR_H
#define AWQ_RUNTIME_SUPPORT_PARALLELFOR_H

#include <algorithm>
#include <cstdint>
#include <exception>
#include <thread>
#include <vector>

namespace awq {

/// Runs body(begin, end) on `chunks` contiguous slices of [0, count), at
/// most `maxThreads` at once (the calling thread takes the first slice) and
/// no more than the hardware has. The first exception a slice throws is
/// rethrown after every slice has finished.
template <typename Body>
void parallelChunks(int64_t count, int64_t maxThreads, Body &&body) {
  const int64_t threads = std::max<int64_t>(
      1, std::min<int64_t>(
             {count, maxThreads,
              std::max<int64_t>(1, std::thread::hardware_concurrency())}));
  if (threads <= 1) {
    if (count > 0)
      body(int64_t(0), count);
    return;
  }
  std::vector<std::exception_ptr> errors(static_cast<size_t>(threads));
  auto run = [&](int64_t t) {
    try {
      body(count * t / threads, count * (t + 1) / threads);
    } catch (...) {
      errors[static_cast<size_t>(t)] = std::current_exception();
    }
  };
  std::vector<std::thread> pool;
  for (int64_t t = 1; t < threads; ++t)
    pool.emplace_back(run, t);
  run(0);
  for (std::thread &thread : pool)
    thread.join();
  for (const std::exception_ptr &error : errors)
    if (error)
      std::rethrow_exception(error);
}

} // namespace awq

#endif // AWQ_RUNTIME_SUPPORT_PARALLELFOR_H
