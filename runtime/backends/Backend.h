//===- Backend.h - The device a model runs on: CUDA or the host CPU -------===//
//
// The runtime binds a bundle to one Backend: memory, copies, module loading
// and kernel launches. CudaBackend drives a GPU through the driver API
// (loaded with dlopen, never linked); HostBackend runs the same kernel
// sources on the CPU through the host executor. Failures throw
// RuntimeError with the C API's status, so every path reports the same
// codes.
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_RUNTIME_BACKENDS_BACKEND_H
#define AWQ_RUNTIME_BACKENDS_BACKEND_H

#include "awqc_runtime.h"
#include "runtime/kernels/KernelInstance.h"
#include "runtime/support/Error.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace awq {
namespace rt {

/// An awq::Error with the status the C API returns for it.
class RuntimeError : public Error {
public:
  RuntimeError(awqc_status status, const std::string &message)
      : Error(message), code(status) {}
  awqc_status status() const { return code; }

private:
  awqc_status code;
};

/// What the planner and the JIT need to know of a device.
struct DeviceProperties {
  std::string name; ///< "NVIDIA H200", or "host (CPU emulation)".
  std::string arch; ///< "sm_90"; empty on the host.
  int ordinal = 0;  ///< CUDA device ordinal.
  int smCount = 0;  ///< Streaming multiprocessors (host: 0).
  /// Largest dynamic shared memory one block may opt in to.
  int64_t sharedPerBlockOptin = 0;
  int64_t totalMemory = 0;   ///< Bytes of device memory.
  std::string driverVersion; ///< "13.0"; empty on the host.
};

/// What a module is made from: the CUBIN for a GPU, the CUDA source for the
/// host (built by the host executor), and the extern "C" kernels it defines.
struct ModuleImage {
  std::string sourceName;           ///< For messages ("gemv_k4096_...cu").
  std::string source;               ///< Needed by the host backend.
  std::vector<char> cubin;          ///< Needed by the CUDA backend.
  std::vector<std::string> kernels; ///< Entry points to resolve.
  /// Include directory holding awq/*.cuh for the host build.
  std::string deviceIncludeDir;
  /// The architecture the host build emulates (compute capability x 10;
  /// 0: the device library's default).
  int smVersion = 0;
};

/// A loaded module; launch its kernels through the backend that loaded it.
class LoadedModule {
public:
  virtual ~LoadedModule() = default;
  /// Whether loading reused a cached build (the host backend's builds).
  virtual bool fromCache() const { return false; }
};

class Backend {
public:
  virtual ~Backend() = default;
  virtual const DeviceProperties &properties() const = 0;
  /// True for the host CPU (pointers are host pointers, streams ignored).
  virtual bool isHost() const = 0;

  /// Device memory; throws RuntimeError(AWQC_ERROR_OUT_OF_MEMORY) naming
  /// `what` and the size.
  virtual void *allocate(size_t bytes, const std::string &what) = 0;
  virtual void release(void *pointer) noexcept = 0;
  /// Synchronous copies.
  virtual void copyToDevice(void *device, const void *host, size_t bytes) = 0;
  virtual void copyToHost(void *host, const void *device, size_t bytes) = 0;
  /// Sets `bytes` at `device` to `value`, ordered on `stream`.
  virtual void memsetAsync(void *device, int value, size_t bytes,
                           void *stream) = 0;
  virtual void synchronize(void *stream) = 0;

  /// Loads a module (CUBIN or host build). Throws RuntimeError.
  virtual std::unique_ptr<LoadedModule> load(const ModuleImage &image) = 0;
  /// Launches `kernel` of `module` with the launch geometry and the kernel's
  /// single by-value parameter `args` (awq::LinearArgs), ordered on
  /// `stream`. Throws RuntimeError naming the kernel.
  virtual void launch(const LoadedModule &module, const std::string &kernel,
                      const KernelLaunch &launch, const void *args,
                      size_t argsBytes, void *stream) = 0;
};

/// The host CPU: kernels run through the host executor.
std::unique_ptr<Backend> makeHostBackend();

/// The GPU `ordinal` through the driver API. Throws RuntimeError with
/// AWQC_ERROR_NO_DRIVER (libcuda.so.1 missing or cuInit failing),
/// AWQC_ERROR_NO_DEVICE (no GPU, or no GPU `ordinal`) or AWQC_ERROR_DRIVER.
std::unique_ptr<Backend> makeCudaBackend(int ordinal);

} // namespace rt
} // namespace awq

#endif // AWQ_RUNTIME_BACKENDS_BACKEND_H
