//===- scheduler.h - CUDA threads as fibers, one thread block at a time ---===//
//
// Host side of the CUDA thread model. Every CUDA thread of a block is a
// Boost.Context fiber; the block's fibers run cooperatively on one OS thread,
// so a block needs no locks and its shared memory is plain memory. A fiber
// runs until it blocks in a barrier (__syncthreads) or a warp collective
// (shuffle, vote, __syncwarp, mma, ldmatrix) and then switches straight to
// the next ready fiber (one context switch, no trip through a scheduler).
// The last arrival of a barrier or collective completes it and makes the
// waiters ready again.
//
// Misuse is reported, never hung on: a thread that exits while others wait
// for it, threads waiting at different barriers or different collectives, a
// partial shuffle mask, and a block whose threads all wait (deadlock) each
// end the block with an error naming the kernel, block, threads and source
// lines. Errors travel to the executor as text through the C ABI (abi.h).
//
// Everything is header-only and compiled into each kernel module, so the
// executor and the modules share no C++ symbols.
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_DEVICE_HOST_SCHEDULER_H
#define AWQ_DEVICE_HOST_SCHEDULER_H

#include "awq/host/abi.h"

#include <boost/context/detail/exception.hpp>
#include <boost/context/fiber.hpp>
#include <boost/context/preallocated.hpp>
#include <boost/context/stack_context.hpp>

#include <vector_types.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

// AWQ_HOST_ASAN: the module is built with AddressSanitizer (a sanitized
// executor builds its modules so, see docs/testing.md). ASan must then be told
// of every stack switch, else it takes a fiber's frames for the OS thread's
// stack and misreports (e.g. when an exception unwinds a fiber). Boost.Context
// annotates only its ucontext variant; the fcontext fibers used here are
// annotated in BlockState (switchTo, ThreadBody, abandonFibers).
#if defined(__SANITIZE_ADDRESS__)
#define AWQ_HOST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define AWQ_HOST_ASAN 1
#endif
#endif
#ifndef AWQ_HOST_ASAN
#define AWQ_HOST_ASAN 0
#endif
#if AWQ_HOST_ASAN
#include <sanitizer/common_interface_defs.h>
#endif

// Module-private state is hidden: a default-visibility inline variable would
// become a GNU "unique" symbol that the dynamic linker merges across modules.
#define AWQ_HOST_PRIVATE __attribute__((visibility("hidden")))

// The CUDA built-in variables. They are per OS thread and rewritten on every
// fiber switch; a fiber never migrates between OS threads, so code that
// caches their addresses stays correct.
AWQ_HOST_PRIVATE inline thread_local uint3 threadIdx;
AWQ_HOST_PRIVATE inline thread_local uint3 blockIdx;
AWQ_HOST_PRIVATE inline thread_local dim3 blockDim;
AWQ_HOST_PRIVATE inline thread_local dim3 gridDim;

namespace awq {
namespace host {
namespace detail {

/// Throws the error type of the emulation. Kernel modules see no awq::Error:
/// the text is what crosses the C ABI.
[[noreturn]] inline void raise(const std::string &message) {
  throw std::runtime_error(message);
}

/// Where a synchronizing call sits in the kernel source.
struct Site {
  const char *what = "";
  const char *file = "";
  int line = 0;

  bool sameAs(const Site &other) const {
    return line == other.line && std::strcmp(file, other.file) == 0 &&
           std::strcmp(what, other.what) == 0;
  }
  std::string str() const {
    std::string s = what;
    if (line > 0)
      s += std::string(" at ") + file + ":" + std::to_string(line);
    return s;
  }
};

/// The warp collectives. Lanes of one warp rendezvous only on the same kind
/// (PTX requires the same qualifiers and the same member mask).
enum class WarpOp : uint8_t {
  None,
  ShflIdx,
  ShflUp,
  ShflDown,
  ShflXor,
  VoteBallot,
  VoteAny,
  VoteAll,
  SyncWarp,
  Mma,
  Ldmatrix,
};

inline const char *warpOpName(WarpOp op) {
  switch (op) {
  case WarpOp::None:
    return "nothing";
  case WarpOp::ShflIdx:
    return "__shfl_sync";
  case WarpOp::ShflUp:
    return "__shfl_up_sync";
  case WarpOp::ShflDown:
    return "__shfl_down_sync";
  case WarpOp::ShflXor:
    return "__shfl_xor_sync";
  case WarpOp::VoteBallot:
    return "__ballot_sync";
  case WarpOp::VoteAny:
    return "__any_sync";
  case WarpOp::VoteAll:
    return "__all_sync";
  case WarpOp::SyncWarp:
    return "__syncwarp";
  case WarpOp::Mma:
    return "mma.sync.m16n8k16";
  case WarpOp::Ldmatrix:
    return "ldmatrix";
  }
  return "?";
}

/// What one lane brings to a warp collective.
struct LaneInput {
  uint64_t value;  ///< Shuffle payload or vote predicate.
  uint32_t b, c;   ///< Shuffle operands as PTX encodes them.
  uint32_t a[4];   ///< mma A fragment.
  uint32_t bf[2];  ///< mma B fragment.
  float cf[4];     ///< mma C fragment.
  bool bf16;       ///< mma A/B fragments hold bf16 (else fp16) pairs.
  const void *row; ///< ldmatrix row address.
  int count;       ///< ldmatrix matrix count.
  bool transpose;  ///< ldmatrix .trans.
};

/// What one lane takes from a completed collective.
struct LaneOutput {
  uint32_t word[4];
};

struct WarpState {
  uint32_t memberMask = 0;  ///< Lanes that exist (a last warp may be partial).
  uint32_t exitedMask = 0;  ///< Lanes whose thread returned.
  uint32_t arrivedMask = 0; ///< Lanes waiting in the open collective.
  WarpOp op = WarpOp::None; ///< The open collective.
  Site site;                ///< Where its first lane called it.
  uint32_t generation = 0;  ///< Completed collectives, selects `out`.
  LaneInput in[32];
  /// Double-buffered: a lane released from collective g may still read
  /// out[g & 1] while the fastest lane already opens collective g + 1.
  LaneOutput out[2][32];
};

/// One cp.async not yet landed: the source bytes are read at issue (zero
/// filled past src-size) and written to shared memory by the covering wait.
struct PendingCopy {
  unsigned char *dst;
  int bytes;
  unsigned char data[16];
};

/// A thread's cp.async state: copies in issue order, split into committed
/// groups (oldest first) and the uncommitted tail.
struct CpAsyncState {
  std::vector<PendingCopy> copies;
  size_t landed = 0; ///< copies[0, landed) are done.
  std::vector<size_t> groupEnds;
  size_t firstOpenGroup = 0; ///< groupEnds[0, firstOpenGroup) are done.

  void reset() {
    copies.clear();
    landed = 0;
    groupEnds.clear();
    firstOpenGroup = 0;
  }
  size_t pendingGroups() const { return groupEnds.size() - firstOpenGroup; }
  /// Completes the oldest committed group.
  void landOldestGroup() {
    const size_t end = groupEnds[firstOpenGroup++];
    for (; landed < end; ++landed)
      std::memcpy(copies[landed].dst, copies[landed].data,
                  static_cast<size_t>(copies[landed].bytes));
    if (landed == copies.size() && firstOpenGroup == groupEnds.size())
      reset(); // Keep the vectors short in long pipelines.
  }
};

enum class ThreadWait : uint8_t { Ready, Running, Barrier, Warp, Exited };

struct ThreadState {
  boost::context::fiber context; ///< Set while the fiber is suspended.
  uint3 index;
  unsigned linear = 0;
  unsigned warp = 0;
  unsigned lane = 0;
  ThreadWait wait = ThreadWait::Ready;
  Site site; ///< Where it waits.
  CpAsyncState cp;
};

/// Hands the executor's preallocated stack to Boost.Context; the executor
/// keeps and reuses it, so deallocation does nothing.
struct ExternalStack {
  boost::context::stack_context allocate() {
    raise("awq host emulation: fibers only run on executor-provided stacks");
  }
  void deallocate(boost::context::stack_context &) noexcept {}
};

/// Formats sorted thread indices as ranges: "0-31, 64, 96-127".
inline std::string formatRanges(const std::vector<unsigned> &items) {
  std::string s;
  for (size_t i = 0; i < items.size();) {
    size_t j = i;
    while (j + 1 < items.size() && items[j + 1] == items[j] + 1)
      ++j;
    if (!s.empty())
      s += ", ";
    s += std::to_string(items[i]);
    if (j > i)
      s += "-" + std::to_string(items[j]);
    i = j + 1;
  }
  return s;
}

inline std::string describeThread(const uint3 &index) {
  return "thread (" + std::to_string(index.x) + "," + std::to_string(index.y) +
         "," + std::to_string(index.z) + ")";
}

struct ThreadBody;

/// The state of the thread block running on this OS thread.
class BlockState {
public:
  const AwqHostBlockTask *task = nullptr;
  unsigned numThreads = 0;
  std::vector<ThreadState> threads;
  std::vector<WarpState> warps;
  unsigned current = 0; ///< Running fiber; numThreads = the scheduler.
  unsigned exitedCount = 0;
  unsigned firstExited = 0;
  unsigned barrierArrived = 0;
  Site barrierSite;
  bool failed = false;
  std::string message;

  unsigned char *shared() const { return task->dynamicShared; }
  size_t sharedBytes() const { return task->dynamicSharedBytes; }
  ThreadState &self() { return threads[current]; }
  bool inKernelThread() const { return task && current < numThreads; }

  std::string where() const {
    return "kernel '" + std::string(task->kernelName) + "' block (" +
           std::to_string(task->blockIdx[0]) + "," +
           std::to_string(task->blockIdx[1]) + "," +
           std::to_string(task->blockIdx[2]) + ")";
  }

  /// Runs the block to completion; returns false with `message` set on error.
  bool run(const AwqHostBlockTask *newTask);

  /// Parks the running thread (its wait state already set) and runs the next
  /// ready one; returns once someone made this thread ready and it is resumed.
  void blockRunningThread() { switchTo(readyCount ? popReady() : numThreads); }

  void makeReady(unsigned thread) {
    threads[thread].wait = ThreadWait::Ready;
    readyRing[(readyHead + readyCount) & readyMask] = thread;
    ++readyCount;
  }

  /// Records the first error; the scheduler then abandons the block.
  void fail(const std::string &text) {
    if (!failed) {
      failed = true;
      message = text;
    }
  }

private:
  boost::context::fiber scheduler; ///< The OS thread's own context.
  std::vector<unsigned> readyRing; ///< Power-of-two sized: no division.
  unsigned readyMask = 0;
  unsigned readyHead = 0;
  unsigned readyCount = 0;
  unsigned previous = 0; ///< The fiber that switched to the running one.
  /// The OS thread's own stack, learnt from ASan on the first switch into a
  /// fiber (used only when AWQ_HOST_ASAN).
  const void *schedulerStackBottom = nullptr;
  size_t schedulerStackSize = 0;

  /// Tells ASan that this stack is about to switch to `next`'s. A null
  /// `fakeStack` says the current fiber ends.
  void startSwitch(void **fakeStack, unsigned next) {
#if AWQ_HOST_ASAN
    if (next == numThreads)
      __sanitizer_start_switch_fiber(fakeStack, schedulerStackBottom,
                                     schedulerStackSize);
    else
      __sanitizer_start_switch_fiber(fakeStack, task->stacks[next],
                                     task->stackBytes);
#else
    (void)fakeStack;
    (void)next;
#endif
  }

  /// Tells ASan that the switch to this stack is complete (`previous` names
  /// who switched here).
  void finishSwitch(void *fakeStack) {
#if AWQ_HOST_ASAN
    const void *bottom = nullptr;
    size_t size = 0;
    __sanitizer_finish_switch_fiber(fakeStack, &bottom, &size);
    if (previous == numThreads) {
      schedulerStackBottom = bottom;
      schedulerStackSize = size;
    }
#else
    (void)fakeStack;
#endif
  }

  boost::context::fiber &contextOf(unsigned index) {
    return index == numThreads ? scheduler : threads[index].context;
  }

  unsigned popReady() {
    const unsigned thread = readyRing[readyHead];
    readyHead = (readyHead + 1) & readyMask;
    --readyCount;
    return thread;
  }

  void enterThread(unsigned index) {
    current = index;
    threads[index].wait = ThreadWait::Running;
    ::threadIdx = threads[index].index;
  }

  void switchTo(unsigned next) {
    const unsigned me = current;
    previous = me;
    current = next;
    boost::context::fiber target = std::move(contextOf(next));
    void *fakeStack = nullptr;
    startSwitch(&fakeStack, next);
    boost::context::fiber from = std::move(target).resume();
    finishSwitch(fakeStack);
    // Resumed: `previous` names whoever switched to us (empty if it ended).
    contextOf(previous) = std::move(from);
    if (me < numThreads)
      enterThread(me);
    else
      current = me;
  }

  void prepare(const AwqHostBlockTask *newTask);
  void threadMain(unsigned index);
  void onThreadExit(unsigned index);
  std::string deadlockReport() const;
  void abandonFibers();

  friend struct ThreadBody;
};

/// The fiber function of one CUDA thread.
struct ThreadBody {
  BlockState *block;
  unsigned index;
  boost::context::fiber operator()(boost::context::fiber &&from) {
    BlockState &b = *block;
    b.finishSwitch(nullptr);
    b.contextOf(b.previous) = std::move(from);
    b.enterThread(index);
    b.threadMain(index);
    // Hand the OS thread on; this fiber's stack is released afterwards.
    const unsigned next =
        b.failed ? b.numThreads : (b.readyCount ? b.popReady() : b.numThreads);
    b.previous = index;
    b.current = next;
    b.startSwitch(nullptr, next); // This fiber ends here.
    return std::move(b.contextOf(next));
  }
};

/// The block this OS thread is running, or null between blocks.
AWQ_HOST_PRIVATE inline thread_local BlockState *runningBlock = nullptr;

/// This OS thread's block state, reused from block to block.
AWQ_HOST_PRIVATE inline thread_local BlockState blockSlot;

/// The running block, for an operation that only makes sense inside a kernel.
inline BlockState &activeBlock(const char *operation) {
  BlockState *block = runningBlock;
  if (!block || !block->inKernelThread())
    raise(std::string("awq host emulation: ") + operation +
          " called outside a kernel launch (only kernels run through the host "
          "executor may use it)");
  return *block;
}

inline void BlockState::threadMain(unsigned index) {
  try {
    task->entry(task->args);
    onThreadExit(index);
  } catch (const boost::context::detail::forced_unwind &) {
    throw; // Boost.Context unwinding an abandoned fiber's stack.
  } catch (const std::exception &e) {
    fail(where() + ", " + describeThread(threads[index].index) + ": " +
         e.what());
  } catch (...) {
    fail(where() + ", " + describeThread(threads[index].index) +
         ": unknown exception");
  }
  threads[index].wait = ThreadWait::Exited;
}

inline void BlockState::onThreadExit(unsigned index) {
  ThreadState &t = threads[index];
  // The hardware completes outstanding cp.async even if nobody waits.
  while (t.cp.pendingGroups())
    t.cp.landOldestGroup();
  t.cp.reset();
  if (exitedCount++ == 0)
    firstExited = index;
  WarpState &w = warps[t.warp];
  w.exitedMask |= 1u << t.lane;
  if (barrierArrived)
    raise("exited while " + std::to_string(barrierArrived) +
          " thread(s) of the block wait at " + barrierSite.str() +
          " (barrier divergence: every thread must reach each barrier)");
  if (w.arrivedMask)
    raise("exited while lanes of its warp wait in " + w.site.str() +
          " (warp divergence: every lane named in the mask must arrive)");
}

inline void BlockState::prepare(const AwqHostBlockTask *newTask) {
  task = newTask;
  const unsigned bx = task->blockDim[0], by = task->blockDim[1],
                 bz = task->blockDim[2];
  numThreads = bx * by * bz;
  if (numThreads == 0 || numThreads > 1024)
    raise(where() + ": a block must have 1 to 1024 threads, got " +
          std::to_string(numThreads));
  const unsigned numWarps = (numThreads + 31) / 32;
  threads.resize(numThreads);
  warps.resize(numWarps);
  unsigned ringSize = 1;
  while (ringSize < numThreads)
    ringSize *= 2;
  readyRing.assign(ringSize, 0);
  readyMask = ringSize - 1;
  readyHead = 0;
  readyCount = 0;
  exitedCount = 0;
  firstExited = 0;
  barrierArrived = 0;
  barrierSite = Site();
  failed = false;
  message.clear();
  // Threads are numbered x fastest, then y, then z; warps take 32 in a row.
  for (unsigned i = 0; i < numThreads; ++i) {
    ThreadState &t = threads[i];
    t.index = uint3{i % bx, (i / bx) % by, i / (bx * by)};
    t.linear = i;
    t.warp = i / 32;
    t.lane = i % 32;
    t.wait = ThreadWait::Ready;
    t.site = Site();
    t.cp.reset();
  }
  for (unsigned w = 0; w < numWarps; ++w) {
    WarpState &warp = warps[w];
    const unsigned lanes = std::min(32u, numThreads - w * 32);
    warp.memberMask = lanes == 32 ? 0xffffffffu : ((1u << lanes) - 1u);
    warp.exitedMask = 0;
    warp.arrivedMask = 0;
    warp.op = WarpOp::None;
    warp.site = Site();
    warp.generation = 0;
  }
}

inline std::string BlockState::deadlockReport() const {
  // Group the threads by what they wait for.
  struct Group {
    std::string state;
    std::vector<unsigned> members;
  };
  std::vector<Group> groups;
  for (unsigned i = 0; i < numThreads; ++i) {
    const ThreadState &t = threads[i];
    std::string state;
    switch (t.wait) {
    case ThreadWait::Barrier:
      state = "wait at " + t.site.str();
      break;
    case ThreadWait::Warp:
      state = "wait in " + t.site.str();
      break;
    case ThreadWait::Exited:
      state = "exited";
      break;
    default:
      state = "are runnable";
      break;
    }
    auto it = groups.begin();
    for (; it != groups.end(); ++it)
      if (it->state == state)
        break;
    if (it == groups.end()) {
      groups.push_back({state, {}});
      it = groups.end() - 1;
    }
    it->members.push_back(i);
  }
  std::string report = where() + ": deadlock, no thread can make progress:";
  for (const Group &g : groups)
    report += " threads " + formatRanges(g.members) + " (linear index) " +
              g.state + ";";
  report.back() = '.';
  return report;
}

inline void BlockState::abandonFibers() {
  // Destroying a suspended fiber unwinds its stack (Boost throws
  // forced_unwind inside it), so kernel-side destructors still run.
  for (unsigned i = 0; i < threads.size(); ++i) {
    ThreadState &t = threads[i];
    if (!t.context)
      continue;
#if AWQ_HOST_ASAN
    // The switch into the fiber is announced here; Boost switches back
    // (the unwound fiber's last jump) without a word to ASan, so that switch
    // is completed here and one back to this stack is recorded. A fiber never
    // started unwinds inside Boost's entry function, so ThreadBody cannot
    // annotate either side.
    void *fakeStack = nullptr;
    __sanitizer_start_switch_fiber(&fakeStack, task->stacks[i],
                                   task->stackBytes);
    t.context = boost::context::fiber();
    __sanitizer_finish_switch_fiber(fakeStack, nullptr, nullptr);
    __sanitizer_start_switch_fiber(&fakeStack, schedulerStackBottom,
                                   schedulerStackSize);
    __sanitizer_finish_switch_fiber(fakeStack, nullptr, nullptr);
#else
    t.context = boost::context::fiber();
#endif
  }
}

inline bool BlockState::run(const AwqHostBlockTask *newTask) {
  prepare(newTask);
  ::blockIdx = uint3{task->blockIdx[0], task->blockIdx[1], task->blockIdx[2]};
  ::blockDim = dim3(task->blockDim[0], task->blockDim[1], task->blockDim[2]);
  ::gridDim = dim3(task->gridDim[0], task->gridDim[1], task->gridDim[2]);
  // 0xFF bytes read as fp16 NaN (and fp32 NaN): reading shared memory nobody
  // wrote in this block shows up in the results.
  if (task->dynamicSharedBytes)
    std::memset(task->dynamicShared, 0xFF, task->dynamicSharedBytes);
  for (unsigned i = 0; i < numThreads; ++i) {
    boost::context::stack_context stack;
    stack.size = task->stackBytes;
    stack.sp = static_cast<char *>(task->stacks[i]) + task->stackBytes;
    threads[i].context = boost::context::fiber(
        std::allocator_arg,
        boost::context::preallocated(stack.sp, stack.size, stack),
        ExternalStack(), ThreadBody{this, i});
    makeReady(i);
  }
  BlockState *outer = runningBlock;
  runningBlock = this;
  current = numThreads;
  switchTo(popReady());
  runningBlock = outer;
  // Back on the scheduler: every thread exited, one failed, or all wait.
  if (!failed && exitedCount != numThreads)
    fail(deadlockReport());
  abandonFibers();
  task = nullptr;
  return !failed;
}

} // namespace detail
} // namespace host
} // namespace awq

extern "C" {

/// The module's ABI version; the executor refuses a mismatch.
__attribute__((visibility("default"), used)) inline int
awq_host_abi_version(void) {
  return AWQ_HOST_ABI_VERSION;
}

/// Runs one thread block on the calling OS thread (see abi.h).
__attribute__((visibility("default"), used)) inline int
awq_host_run_block(const AwqHostBlockTask *task) {
  awq::host::detail::BlockState &state = awq::host::detail::blockSlot;
  std::string message;
  try {
    if (!task || task->abiVersion != AWQ_HOST_ABI_VERSION)
      message = "awq host emulation: block task has a different ABI version "
                "than the kernel module (" +
                std::to_string(AWQ_HOST_ABI_VERSION) + ")";
    else if (state.run(task))
      return 0;
    else
      message = state.message;
  } catch (const std::exception &e) {
    message = std::string("awq host emulation: ") + e.what();
  }
  if (task && task->error && task->errorCapacity) {
    const size_t n = std::min(message.size(), task->errorCapacity - 1);
    std::memcpy(task->error, message.data(), n);
    task->error[n] = '\0';
  }
  return 1;
}

} // extern "C"

#endif // AWQ_DEVICE_HOST_SCHEDULER_H
