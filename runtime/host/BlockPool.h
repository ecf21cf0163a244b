//===- BlockPool.h - OS threads that run thread blocks --------------------===//
//
// A process-wide pool runs the blocks of host launches in parallel. Each OS
// thread owns a BlockWorkspace (fiber stacks with guard pages and the
// dynamic shared memory buffer) that it reuses from block to block, so a
// block costs no system calls. Launches from several threads share the pool;
// the launching thread always works on its own launch, so a launch makes
// progress even when the pool is busy.
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_RUNTIME_HOST_BLOCKPOOL_H
#define AWQ_RUNTIME_HOST_BLOCKPOOL_H

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace awq {
namespace host {

/// Per-OS-thread resources for running blocks.
class BlockWorkspace {
public:
  BlockWorkspace() = default;
  BlockWorkspace(const BlockWorkspace &) = delete;
  BlockWorkspace &operator=(const BlockWorkspace &) = delete;
  ~BlockWorkspace();

  /// `count` stacks of `bytes` usable bytes (page-rounded) each; stack i
  /// starts at the returned [i] and has a PROT_NONE guard page below it, so
  /// an overflow faults instead of corrupting a neighbour.
  void *const *stacks(unsigned count, size_t bytes);
  /// The rounded size stacks() used.
  size_t stackBytes() const { return stackSize; }
  /// A 128-byte aligned buffer of at least `bytes`.
  unsigned char *shared(size_t bytes);
  char *errorBuffer() { return error; }
  size_t errorCapacity() const { return sizeof(error); }

private:
  void releaseStacks();
  unsigned char *stackRegion = nullptr;
  size_t regionBytes = 0;
  size_t stackSize = 0;
  std::vector<void *> stackStarts;
  unsigned char *sharedBuffer = nullptr;
  size_t sharedCapacity = 0;
  char error[16384];
};

class BlockPool {
public:
  /// Runs one block; returns false with `error` set to stop the launch.
  using Body =
      std::function<bool(uint64_t index, BlockWorkspace &, std::string &error)>;

  /// The pool: $AWQ_HOST_THREADS OS threads in all (the launching thread
  /// counts as one), else the hardware concurrency.
  static BlockPool &instance();

  /// OS threads a launch may use, the caller included.
  unsigned concurrency() const {
    return static_cast<unsigned>(workers.size()) + 1;
  }

  /// Calls body(i) for every i in [0, count) on at most `maxThreads` OS
  /// threads (0: all), the caller included. After the first failure no new
  /// indices are handed out; returns that failure's message, or "".
  std::string run(uint64_t count, unsigned maxThreads, const Body &body);

  ~BlockPool();

private:
  struct Job;
  explicit BlockPool(unsigned threads);
  void workerLoop();
  static void work(Job &job);

  std::mutex mutex;
  std::condition_variable wake;
  std::deque<Job *> jobs;
  std::vector<std::thread> workers;
  bool stopping = false;
};

} // namespace host
} // namespace awq

#endif // AWQ_RUNTIME_HOST_BLOCKPOOL_H
