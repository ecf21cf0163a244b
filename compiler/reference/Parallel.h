//===- Parallel.h - The compiler's fork-join loop over index ranges -------===//
//
// The CPU reference and the quantizer split coarse, independent work (rows of
// a matrix, output channels) into a few contiguous chunks. The chunks run on
// LLVM's shared thread pool (llvm::parallelFor), so no code here starts
// threads of its own; a loop nested in a chunk runs serially on its worker.
// Compiler code only: runtime/ stays LLVM-free.
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_COMPILER_REFERENCE_PARALLEL_H
#define AWQ_COMPILER_REFERENCE_PARALLEL_H

#include "llvm/Support/Parallel.h"

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
/// [0, count): at most `numThreads` chunks (0 = one per hardware thread), so
/// at most that many run at once; a single chunk runs on the calling thread.
/// The first exception thrown by any chunk is rethrown here after all finished
/// (LLVM is built without exceptions: none may cross its frames).
template <typename Body>
void parallelFor(int64_t count, int numThreads, Body &&body) {
  if (count <= 0)
    return;
  const int64_t chunks =
      std::min<int64_t>(resolveThreadCount(numThreads), count);
  if (chunks == 1) {
    body(int64_t(0), count);
    return;
  }
  std::vector<std::exception_ptr> errors(static_cast<size_t>(chunks));
  llvm::parallelFor(0, static_cast<size_t>(chunks), [&](size_t chunk) {
    const int64_t t = static_cast<int64_t>(chunk);
    try {
      body(count * t / chunks, count * (t + 1) / chunks);
    } catch (...) {
      errors[chunk] = std::current_exception();
    }
  });
  for (const std::exception_ptr &e : errors)
    if (e)
      std::rethrow_exception(e);
}

} // namespace awq

#endif // AWQ_COMPILER_REFERENCE_PARALLEL_H
