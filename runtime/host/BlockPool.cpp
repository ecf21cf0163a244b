//===- BlockPool.cpp - OS threads that run thread blocks ------------------===//

#include "runtime/host/BlockPool.h"

#include "runtime/support/Error.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <sys/mman.h>
#include <unistd.h>

// Under ASan, fiber stack memory is unpoisoned when mapped and before it is
// unmapped: frames a kernel module's fibers leave behind (Boost's fiber entry
// never returns, abandoned fibers unwind) keep their shadow, and this ASan
// does not clear shadow on munmap, so a later mapping at the same addresses
// would start with stale poison (stack-use-after-scope in a fresh fiber).
#if defined(__SANITIZE_ADDRESS__)
#define AWQ_HOST_EXECUTOR_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define AWQ_HOST_EXECUTOR_ASAN 1
#endif
#endif
#ifdef AWQ_HOST_EXECUTOR_ASAN
#include <sanitizer/asan_interface.h>
#define AWQ_UNPOISON_STACKS(p, n) __asan_unpoison_memory_region(p, n)
#else
#define AWQ_UNPOISON_STACKS(p, n) ((void)(p), (void)(n))
#endif

namespace awq {
namespace host {

namespace {
thread_local BlockWorkspace workspace;

size_t pageSize() {
  static const size_t size = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return size;
}
} // namespace

BlockWorkspace::~BlockWorkspace() {
  releaseStacks();
  std::free(sharedBuffer);
}

void BlockWorkspace::releaseStacks() {
  if (stackRegion) {
    AWQ_UNPOISON_STACKS(stackRegion, regionBytes);
    munmap(stackRegion, regionBytes);
  }
  stackRegion = nullptr;
  regionBytes = 0;
  stackStarts.clear();
}

void *const *BlockWorkspace::stacks(unsigned count, size_t bytes) {
  const size_t page = pageSize();
  const size_t rounded = (bytes + page - 1) / page * page;
  if (count <= stackStarts.size() && rounded == stackSize)
    return stackStarts.data();
  releaseStacks();
  // Grow in whole warps so that a slightly larger block reuses the mapping.
  const unsigned slots = (std::max(count, 1u) + 31) / 32 * 32;
  const size_t slot = rounded + page;
  regionBytes = slot * slots;
  // MAP_NORESERVE: only the pages a fiber touches ever become memory.
  void *region = mmap(nullptr, regionBytes, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (region == MAP_FAILED) {
    regionBytes = 0;
    throw Error("host executor: cannot map " + std::to_string(slots) +
                " fiber stacks of " + std::to_string(rounded) +
                " bytes: " + std::strerror(errno));
  }
  stackRegion = static_cast<unsigned char *>(region);
  AWQ_UNPOISON_STACKS(stackRegion, regionBytes);
  stackSize = rounded;
  for (unsigned i = 0; i < slots; ++i) {
    unsigned char *guard = stackRegion + i * slot;
    if (mprotect(guard, page, PROT_NONE) != 0) {
      const std::string reason = std::strerror(errno);
      releaseStacks();
      throw Error("host executor: cannot protect a fiber stack guard page: " +
                  reason);
    }
    stackStarts.push_back(guard + page);
  }
  return stackStarts.data();
}

unsigned char *BlockWorkspace::shared(size_t bytes) {
  if (bytes > sharedCapacity || !sharedBuffer) {
    std::free(sharedBuffer);
    sharedCapacity = std::max<size_t>((bytes + 127) / 128 * 128, 128);
    sharedBuffer =
        static_cast<unsigned char *>(std::aligned_alloc(128, sharedCapacity));
    if (!sharedBuffer) {
      sharedCapacity = 0;
      throw Error("host executor: cannot allocate " + std::to_string(bytes) +
                  " bytes of shared memory");
    }
  }
  return sharedBuffer;
}

struct BlockPool::Job {
  const Body *body = nullptr;
  uint64_t count = 0;
  std::atomic<uint64_t> next{0};
  std::atomic<bool> failed{false};
  unsigned maxParticipants = 1;
  unsigned participants = 0; ///< Guarded by the pool mutex.
  unsigned active = 0;       ///< Workers inside work(); pool mutex.
  std::condition_variable finished;
  std::mutex errorMutex;
  std::string error;

  bool hasWork() const {
    return !failed.load(std::memory_order_relaxed) &&
           next.load(std::memory_order_relaxed) < count;
  }
};

BlockPool &BlockPool::instance() {
  static BlockPool pool([] {
    unsigned threads = std::thread::hardware_concurrency();
    if (const char *env = std::getenv("AWQ_HOST_THREADS"); env && *env) {
      char *end = nullptr;
      const unsigned long value = std::strtoul(env, &end, 10);
      if (*end != '\0' || value == 0 || value > 4096)
        throw Error("AWQ_HOST_THREADS must be a thread count in [1, 4096], "
                    "got '" +
                    std::string(env) + "'");
      threads = static_cast<unsigned>(value);
    }
    return std::max(threads, 1u);
  }());
  return pool;
}

BlockPool::BlockPool(unsigned threads) {
  for (unsigned i = 1; i < threads; ++i)
    workers.emplace_back([this] { workerLoop(); });
}

BlockPool::~BlockPool() {
  {
    std::lock_guard<std::mutex> lock(mutex);
    stopping = true;
  }
  wake.notify_all();
  for (std::thread &worker : workers)
    worker.join();
}

void BlockPool::work(Job &job) {
  std::string error;
  for (;;) {
    if (job.failed.load(std::memory_order_relaxed))
      return;
    const uint64_t index = job.next.fetch_add(1, std::memory_order_relaxed);
    if (index >= job.count)
      return;
    bool ok = false;
    try {
      ok = (*job.body)(index, workspace, error);
    } catch (const std::exception &e) {
      error = e.what();
    }
    if (!ok) {
      std::lock_guard<std::mutex> lock(job.errorMutex);
      if (!job.failed.exchange(true))
        job.error = error;
      return;
    }
  }
}

void BlockPool::workerLoop() {
  std::unique_lock<std::mutex> lock(mutex);
  for (;;) {
    Job *job = nullptr;
    wake.wait(lock, [&] {
      if (stopping)
        return true;
      for (Job *candidate : jobs)
        if (candidate->hasWork() &&
            candidate->participants < candidate->maxParticipants) {
          job = candidate;
          return true;
        }
      return false;
    });
    if (stopping)
      return;
    ++job->participants;
    ++job->active;
    lock.unlock();
    work(*job);
    lock.lock();
    if (--job->active == 0)
      job->finished.notify_all();
  }
}

std::string BlockPool::run(uint64_t count, unsigned maxThreads,
                           const Body &body) {
  if (count == 0)
    return std::string();
  Job job;
  job.body = &body;
  job.count = count;
  const unsigned limit = maxThreads == 0 ? concurrency() : maxThreads;
  job.maxParticipants = static_cast<unsigned>(
      std::min<uint64_t>(std::min(limit, concurrency()), count));
  job.participants = 1; // The caller.
  const bool helpers = job.maxParticipants > 1;
  if (helpers) {
    std::lock_guard<std::mutex> lock(mutex);
    jobs.push_back(&job);
  }
  if (helpers)
    wake.notify_all();
  work(job);
  if (helpers) {
    std::unique_lock<std::mutex> lock(mutex);
    jobs.erase(std::find(jobs.begin(), jobs.end(), &job));
    job.finished.wait(lock, [&] { return job.active == 0; });
  }
  return job.failed
             ? (job.error.empty() ? std::string("unknown failure") : job.error)
             : std::string();
}

} // namespace host
} // namespace awq
