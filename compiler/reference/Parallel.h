//===- Parallel.h - A minimal fork-join loop over index ranges ------------===//
//
// The CPU reference and the quantizer split coarse, independent work (rows of
// a matrix, output channels) over a few std::threads. Work items are large, so
// starting threads per call costs nothing measurable and keeps this obvious.
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_COMPILER_REFERENCE_PARALLEL_H
#define AWQ_COMPILER_REFERENCE_PARALLEL_H

#include <algorithm>
#include <cstdint>
#include <exception>
#include <thread>
#include <vector>

namespace awq {

/// Returns `requested` when positive, else the number of hardware threads
/// (at least 1).
inline int resolveThreadCount(int requested) {
  if (requested > 0)
    return requested;
  unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : static_cast<int>(hw);
}

/// Calls `body(begin, end)` on disjoint contiguous chunks covering
/// [0, count), using up to `numThreads` threads (0 = all hardware threads).
/// The calling thread runs the first chunk. The first exception thrown by any
/// chunk is rethrown here after every thread has joined.
template <typename Body>
void parallelFor(int64_t count, int numThreads, Body &&body) {
  if (count <= 0)
    return;
  const int64_t threads =
      std::min<int64_t>(resolveThreadCount(numThreads), count);
  if (threads == 1) {
    body(int64_t(0), count);
    return;
  }
  std::vector<std::exception_ptr> errors(threads);
  std::vector<std::thread> workers;
  workers.reserve(threads - 1);
  auto chunk = [&](int64_t t) {
    const int64_t begin = count * t / threads;
    const int64_t end = count * (t + 1) / threads;
    try {
      body(begin, end);
    } catch (...) {
      errors[t] = std::current_exception();
    }
  };
  for (int64_t t = 1; t < threads; ++t)
    workers.emplace_back(chunk, t);
  chunk(0);
  for (std::thread &w : workers)
    w.join();
  for (const std::exception_ptr &e : errors)
    if (e)
      std::rethrow_exception(e);
}

} // namespace awq

#endif // AWQ_COMPILER_REFERENCE_PARALLEL_H
