//===- CudaDriver.h - The CUDA driver API, loaded at run time -------------===//
//
// The runtime never links libcuda: it opens libcuda.so.1 (or $AWQC_LIBCUDA)
// with dlopen on first use and resolves the entry points it calls, taking
// the _v2 ABI where one exists (64-bit CUdeviceptr and sizes). The few
// driver types are declared here, so this builds and runs without the CUDA
// toolkit's cuda.h and without a driver; a machine without one gets a
// RuntimeError with AWQC_ERROR_NO_DRIVER when a GPU is asked for.
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_RUNTIME_BACKENDS_CUDADRIVER_H
#define AWQ_RUNTIME_BACKENDS_CUDADRIVER_H

#include "runtime/backends/Backend.h"

#include <cstddef>
#include <memory>
#include <string>

namespace awq {
namespace rt {

/// The driver API's types, ABI-compatible with cuda.h's.
namespace cu {
using Result = int;
using Device = int;
using DevicePtr = unsigned long long;
using Context = struct CUctx_st *;
using Module = struct CUmod_st *;
using Function = struct CUfunc_st *;
using Stream = struct CUstream_st *;
using Event = struct CUevent_st *;

/// The values of cuda.h's enums that the runtime uses.
enum : int {
  SUCCESS = 0,
  ERROR_INVALID_VALUE = 1,
  ERROR_OUT_OF_MEMORY = 2,
  ERROR_NOT_INITIALIZED = 3,
  ERROR_NO_DEVICE = 100,
  ERROR_INVALID_DEVICE = 101,
  ERROR_NO_BINARY_FOR_GPU = 209,
  ERROR_UNSUPPORTED_PTX_VERSION = 222,
};
enum : int {
  DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT = 16,
  DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75,
  DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76,
  DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN = 97,
};
enum : int { FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES = 8 };
enum : unsigned { EVENT_DEFAULT = 0 };
} // namespace cu

/// The driver library and its entry points. Obtain it with CudaDriver::get;
/// it stays loaded for the life of the process.
struct CudaDriver {
  /// The driver named by $AWQC_LIBCUDA, else libcuda.so.1, loaded and
  /// initialised (cuInit) once per path. Throws RuntimeError:
  /// AWQC_ERROR_NO_DRIVER when the library cannot be loaded, lacks an entry
  /// point or cuInit fails; AWQC_ERROR_NO_DEVICE when cuInit reports no GPU.
  /// Thread-safe.
  static const CudaDriver &get();

  /// Throws the RuntimeError for `result` of `call` unless it is SUCCESS:
  /// "[what: ]call: CUDA_ERROR_X (the driver's text)" with the mapped status.
  void check(cu::Result result, const char *call,
             const std::string &what = "") const;
  /// "CUDA_ERROR_X (the driver's text)" for `result`.
  std::string describe(cu::Result result) const;
  /// The C API status for a driver error.
  static awqc_status statusOf(cu::Result result);

  /// The driver version as "13.0".
  std::string versionString() const;

  std::string libraryPath; ///< What was opened.
  int version = 0;         ///< cuDriverGetVersion: 1000 * major + 10 * minor.

  // Entry points, named as in cuda.h (the _v2 ABI where there is one).
  cu::Result (*cuInit)(unsigned flags) = nullptr;
  cu::Result (*cuDriverGetVersion)(int *version) = nullptr;
  cu::Result (*cuDeviceGetCount)(int *count) = nullptr;
  cu::Result (*cuDeviceGet)(cu::Device *device, int ordinal) = nullptr;
  cu::Result (*cuDeviceGetName)(char *name, int length,
                                cu::Device device) = nullptr;
  cu::Result (*cuDeviceGetAttribute)(int *value, int attribute,
                                     cu::Device device) = nullptr;
  cu::Result (*cuDeviceTotalMem)(size_t *bytes, cu::Device device) = nullptr;
  cu::Result (*cuDevicePrimaryCtxRetain)(cu::Context *context,
                                         cu::Device device) = nullptr;
  cu::Result (*cuDevicePrimaryCtxRelease)(cu::Device device) = nullptr;
  cu::Result (*cuCtxSetCurrent)(cu::Context context) = nullptr;
  cu::Result (*cuCtxGetCurrent)(cu::Context *context) = nullptr;
  cu::Result (*cuCtxSynchronize)() = nullptr;
  cu::Result (*cuModuleLoadData)(cu::Module *module,
                                 const void *image) = nullptr;
  cu::Result (*cuModuleLoadDataEx)(cu::Module *module, const void *image,
                                   unsigned numOptions, int *options,
                                   void **optionValues) = nullptr;
  cu::Result (*cuModuleUnload)(cu::Module module) = nullptr;
  cu::Result (*cuModuleGetFunction)(cu::Function *function, cu::Module module,
                                    const char *name) = nullptr;
  cu::Result (*cuFuncSetAttribute)(cu::Function function, int attribute,
                                   int value) = nullptr;
  cu::Result (*cuLaunchKernel)(cu::Function function, unsigned gridX,
                               unsigned gridY, unsigned gridZ, unsigned blockX,
                               unsigned blockY, unsigned blockZ,
                               unsigned sharedBytes, cu::Stream stream,
                               void **kernelParams, void **extra) = nullptr;
  cu::Result (*cuMemAlloc)(cu::DevicePtr *pointer, size_t bytes) = nullptr;
  cu::Result (*cuMemFree)(cu::DevicePtr pointer) = nullptr;
  cu::Result (*cuMemcpyHtoD)(cu::DevicePtr device, const void *host,
                             size_t bytes) = nullptr;
  cu::Result (*cuMemcpyDtoH)(void *host, cu::DevicePtr device,
                             size_t bytes) = nullptr;
  cu::Result (*cuMemcpyDtoDAsync)(cu::DevicePtr destination,
                                  cu::DevicePtr source, size_t bytes,
                                  cu::Stream stream) = nullptr;
  cu::Result (*cuMemsetD8Async)(cu::DevicePtr device, unsigned char value,
                                size_t count, cu::Stream stream) = nullptr;
  cu::Result (*cuStreamSynchronize)(cu::Stream stream) = nullptr;
  cu::Result (*cuEventCreate)(cu::Event *event, unsigned flags) = nullptr;
  cu::Result (*cuEventRecord)(cu::Event event, cu::Stream stream) = nullptr;
  cu::Result (*cuEventSynchronize)(cu::Event event) = nullptr;
  cu::Result (*cuEventElapsedTime)(float *milliseconds, cu::Event start,
                                   cu::Event end) = nullptr;
  cu::Result (*cuEventDestroy)(cu::Event event) = nullptr;
  cu::Result (*cuGetErrorName)(cu::Result result, const char **name) = nullptr;
  cu::Result (*cuGetErrorString)(cu::Result result,
                                 const char **text) = nullptr;

private:
  void *handle = nullptr;
  friend struct CudaDriverLoader;
};

} // namespace rt
} // namespace awq

#endif // AWQ_RUNTIME_BACKENDS_CUDADRIVER_H
