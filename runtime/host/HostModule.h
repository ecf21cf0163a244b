//===- HostModule.h - Run CUDA kernel source on the CPU -------------------===//
//
// The host executor: compiles the exact CUDA source the compiler emits with
// the host C++ compiler against the emulation layer (awq/host/emulation.h),
// caches the shared object on disk, loads it and launches its kernels over a
// grid. Blocks run in parallel on a process-wide pool of OS threads; the
// threads of a block are fibers on one OS thread (see
// docs/host-execution.md).
//
//   auto module = awq::host::HostModule::load(source, {"myKernel"});
//   module->launch("myKernel", {gridX}, {256}, sharedBytes, &args);
//
// Every failure (compiler error, bad launch configuration, barrier
// divergence, deadlock, misuse of a primitive) is an awq::Error naming the
// source, kernel and block.
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_RUNTIME_HOST_HOSTMODULE_H
#define AWQ_RUNTIME_HOST_HOSTMODULE_H

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace awq {
namespace host {

/// A grid or block shape, like CUDA's dim3.
struct Dim3 {
  unsigned x = 1, y = 1, z = 1;
  Dim3() = default;
  Dim3(unsigned x, unsigned y = 1, unsigned z = 1) : x(x), y(y), z(z) {}
  uint64_t count() const { return uint64_t(x) * y * z; }
};

/// How a kernel source becomes a shared object.
struct HostCompileOptions {
  /// Preprocessor definitions, "NAME" or "NAME=VALUE" (e.g. fault injection
  /// macros such as AWQ_FAULT_SKIP_BARRIER).
  std::vector<std::string> defines;
  /// Extra include directories, searched after the device library's.
  std::vector<std::string> includeDirs;
  /// Extra compiler flags, appended last (e.g. "-g", "-O0").
  std::vector<std::string> extraFlags;
  /// Compiler command (may hold arguments, e.g. "ccache g++"); empty means
  /// $AWQ_HOST_CXX, else "c++".
  std::string compiler;
  /// Cache directory; empty means $AWQ_HOST_CACHE_DIR, else
  /// $XDG_CACHE_HOME/awqc/host, else ~/.cache/awqc/host.
  std::string cacheDir;
  /// The device library's include directory (the one holding awq/); empty
  /// means $AWQ_DEVICE_INCLUDE_DIR, else the source tree's
  /// runtime/device/include.
  std::string deviceIncludeDir;
  /// The name compiler messages and emulation errors use for the source.
  std::string sourceName = "kernel.cu";
  /// The architecture the kernels are built as, compute capability x 10
  /// (AWQ_HOST_SM: the device library takes that architecture's paths, as
  /// from __CUDA_ARCH__ on a GPU); 0 means the library's default, sm_80.
  int smVersion = 0;
};

/// How a launch runs on the CPU.
struct HostLaunchOptions {
  /// OS threads running blocks, the caller included; 0 means the pool size
  /// ($AWQ_HOST_THREADS, else the hardware concurrency).
  unsigned maxThreads = 0;
  /// Stack of each CUDA thread's fiber (a guard page sits below each).
  size_t stackBytes = 256 * 1024;
  /// Runs the blocks in a seeded pseudo-random order instead of x-major,
  /// to expose kernels that depend on block order.
  bool shuffleBlocks = false;
  uint64_t shuffleSeed = 0;
  /// The largest dynamic shared memory the launch may ask for; the default
  /// is sm_90's 227 KB opt-in limit (sm_80: 163 KB, sm_86/89: 99 KB).
  size_t maxDynamicSharedBytes = 227 * 1024;
};

/// A loaded kernel module: the host build of one CUDA source.
class HostModule {
public:
  /// Compiles `source` (or reuses the cached build) and loads it. Each name
  /// in `kernelNames` must have an AWQ_HOST_ENTRY in the source. Thread-safe.
  static std::shared_ptr<const HostModule>
  load(const std::string &source, const std::vector<std::string> &kernelNames,
       const HostCompileOptions &options = {});

  /// Runs `kernelName` over `grid` x `block` with `args` pointing at the
  /// kernel's by-value parameter; returns when every block finished.
  /// Thread-safe: several threads may launch on one module at once.
  void launch(const std::string &kernelName, Dim3 grid, Dim3 block,
              size_t dynamicSharedBytes, const void *args,
              const HostLaunchOptions &options = {}) const;

  /// True when load() found a valid build in the disk cache.
  bool loadedFromCache() const { return fromCache; }
  /// The shared object this module was loaded from.
  const std::string &libraryPath() const { return path; }
  const std::string &sourceName() const { return name; }

  ~HostModule();
  HostModule(const HostModule &) = delete;
  HostModule &operator=(const HostModule &) = delete;

private:
  HostModule() = default;

  void *handle = nullptr;
  void *runBlock = nullptr;
  std::unordered_map<std::string, void *> entries;
  std::string path;
  std::string name;
  bool fromCache = false;
};

} // namespace host
} // namespace awq

#endif // AWQ_RUNTIME_HOST_HOSTMODULE_H
