//===- CudaDriver.cpp - The CUDA driver API, loaded at run time -----------===//

#include "runtime/backends/CudaDriver.h"

#include <cstdlib>
#include <dlfcn.h>
#include <map>
#include <mutex>

namespace awq {
namespace rt {

namespace {

const char *const kDefaultLibrary = "libcuda.so.1";

std::string libraryToLoad() {
  const char *path = std::getenv("AWQC_LIBCUDA");
  return path && *path ? path : kDefaultLibrary;
}

/// Names for errors a driver may be unable to name itself (the toolkit's
/// stub libcuda answers every call, cuGetErrorName included, with an error).
const char *knownErrorName(cu::Result result) {
  switch (result) {
  case cu::ERROR_INVALID_VALUE:
    return "CUDA_ERROR_INVALID_VALUE";
  case cu::ERROR_OUT_OF_MEMORY:
    return "CUDA_ERROR_OUT_OF_MEMORY";
  case cu::ERROR_NOT_INITIALIZED:
    return "CUDA_ERROR_NOT_INITIALIZED";
  case 34:
    return "CUDA_ERROR_STUB_LIBRARY";
  case 35:
    return "CUDA_ERROR_INSUFFICIENT_DRIVER";
  case cu::ERROR_NO_DEVICE:
    return "CUDA_ERROR_NO_DEVICE";
  case cu::ERROR_INVALID_DEVICE:
    return "CUDA_ERROR_INVALID_DEVICE";
  case cu::ERROR_NO_BINARY_FOR_GPU:
    return "CUDA_ERROR_NO_BINARY_FOR_GPU";
  case cu::ERROR_UNSUPPORTED_PTX_VERSION:
    return "CUDA_ERROR_UNSUPPORTED_PTX_VERSION";
  default:
    return nullptr;
  }
}

} // namespace

/// Opens and initialises one driver library (CudaDriver's loader).
struct CudaDriverLoader {
  static std::unique_ptr<CudaDriver> open(const std::string &path) {
    auto driver = std::make_unique<CudaDriver>();
    driver->libraryPath = path;
    // RTLD_LOCAL: the driver's symbols must not satisfy anyone else's.
    driver->handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!driver->handle) {
      const char *reason = dlerror();
      throw RuntimeError(
          AWQC_ERROR_NO_DRIVER,
          "cannot load the CUDA driver: " +
              std::string(reason ? reason : path + ": unknown error") +
              ". Install the NVIDIA driver: the runtime needs libcuda.so.1 "
              "(or set AWQC_LIBCUDA to the driver library's path)");
    }
    // Never dlclose: drivers do not support being unloaded, and a later
    // get() for the same path gets the same handle back.

    // Enough to run and explain cuInit first, so a library that cannot
    // initialise reports why rather than a missing symbol.
    resolve(*driver, driver->cuGetErrorName, {"cuGetErrorName"});
    resolve(*driver, driver->cuGetErrorString, {"cuGetErrorString"});
    resolve(*driver, driver->cuInit, {"cuInit"});
    resolve(*driver, driver->cuDriverGetVersion, {"cuDriverGetVersion"});
    if (cu::Result result = driver->cuInit(0)) {
      throw RuntimeError(result == cu::ERROR_NO_DEVICE ? AWQC_ERROR_NO_DEVICE
                                                       : AWQC_ERROR_NO_DRIVER,
                         "cannot initialise the CUDA driver (" + path +
                             "): cuInit: " + driver->describe(result));
    }
    driver->check(driver->cuDriverGetVersion(&driver->version),
                  "cuDriverGetVersion");

    CudaDriver &d = *driver;
    resolve(d, d.cuDeviceGetCount, {"cuDeviceGetCount"});
    resolve(d, d.cuDeviceGet, {"cuDeviceGet"});
    resolve(d, d.cuDeviceGetName, {"cuDeviceGetName"});
    resolve(d, d.cuDeviceGetAttribute, {"cuDeviceGetAttribute"});
    resolve(d, d.cuDeviceTotalMem, {"cuDeviceTotalMem_v2"});
    resolve(d, d.cuDevicePrimaryCtxRetain, {"cuDevicePrimaryCtxRetain"});
    resolve(d, d.cuDevicePrimaryCtxRelease, {"cuDevicePrimaryCtxRelease_v2"});
    resolve(d, d.cuCtxSetCurrent, {"cuCtxSetCurrent"});
    resolve(d, d.cuCtxGetCurrent, {"cuCtxGetCurrent"});
    resolve(d, d.cuCtxSynchronize, {"cuCtxSynchronize"});
    resolve(d, d.cuModuleLoadData, {"cuModuleLoadData"});
    resolve(d, d.cuModuleLoadDataEx, {"cuModuleLoadDataEx"});
    resolve(d, d.cuModuleUnload, {"cuModuleUnload"});
    resolve(d, d.cuModuleGetFunction, {"cuModuleGetFunction"});
    resolve(d, d.cuFuncSetAttribute, {"cuFuncSetAttribute"});
    resolve(d, d.cuLaunchKernel, {"cuLaunchKernel"});
    resolve(d, d.cuMemAlloc, {"cuMemAlloc_v2"});
    resolve(d, d.cuMemFree, {"cuMemFree_v2"});
    resolve(d, d.cuMemcpyHtoD, {"cuMemcpyHtoD_v2"});
    resolve(d, d.cuMemcpyDtoH, {"cuMemcpyDtoH_v2"});
    resolve(d, d.cuMemcpyDtoDAsync, {"cuMemcpyDtoDAsync_v2"});
    resolve(d, d.cuMemsetD8Async, {"cuMemsetD8Async"});
    resolve(d, d.cuStreamSynchronize, {"cuStreamSynchronize"});
    resolve(d, d.cuEventCreate, {"cuEventCreate"});
    resolve(d, d.cuEventRecord, {"cuEventRecord"});
    resolve(d, d.cuEventSynchronize, {"cuEventSynchronize"});
    // _v2 (CUDA 12.8+) and the original have the same signature.
    resolve(d, d.cuEventElapsedTime,
            {"cuEventElapsedTime_v2", "cuEventElapsedTime"});
    resolve(d, d.cuEventDestroy, {"cuEventDestroy_v2"});
    return driver;
  }

  template <typename Function>
  static void resolve(CudaDriver &driver, Function &function,
                      std::initializer_list<const char *> names) {
    for (const char *name : names) {
      if (void *symbol = dlsym(driver.handle, name)) {
        function = reinterpret_cast<Function>(symbol);
        return;
      }
    }
    throw RuntimeError(AWQC_ERROR_NO_DRIVER,
                       "the CUDA driver " + driver.libraryPath + " lacks " +
                           *names.begin() +
                           ": it is too old; update the NVIDIA driver");
  }
};

const CudaDriver &CudaDriver::get() {
  static std::mutex mutex;
  // Only drivers that initialised are kept: a failure is retried (and
  // reported again) on the next call. Keyed by path so that $AWQC_LIBCUDA
  // may change between calls (tests).
  static std::map<std::string, std::unique_ptr<CudaDriver>> loaded;
  const std::string path = libraryToLoad();
  std::lock_guard<std::mutex> lock(mutex);
  std::unique_ptr<CudaDriver> &slot = loaded[path];
  if (!slot) {
    try {
      slot = CudaDriverLoader::open(path);
    } catch (...) {
      loaded.erase(path);
      throw;
    }
  }
  return *slot;
}

std::string CudaDriver::describe(cu::Result result) const {
  const char *name = nullptr;
  const char *text = nullptr;
  if (!cuGetErrorName || cuGetErrorName(result, &name) != cu::SUCCESS || !name)
    name = knownErrorName(result);
  if (!cuGetErrorString || cuGetErrorString(result, &text) != cu::SUCCESS ||
      !text)
    text = nullptr;
  std::string message = name ? name : "CUDA error " + std::to_string(result);
  if (text)
    message += " (" + std::string(text) + ")";
  return message;
}

awqc_status CudaDriver::statusOf(cu::Result result) {
  switch (result) {
  case cu::SUCCESS:
    return AWQC_OK;
  case cu::ERROR_OUT_OF_MEMORY:
    return AWQC_ERROR_OUT_OF_MEMORY;
  case cu::ERROR_NO_DEVICE:
  case cu::ERROR_INVALID_DEVICE:
    return AWQC_ERROR_NO_DEVICE;
  case cu::ERROR_NO_BINARY_FOR_GPU:
  case cu::ERROR_UNSUPPORTED_PTX_VERSION:
    return AWQC_ERROR_UNSUPPORTED_ARCH;
  default:
    return AWQC_ERROR_DRIVER;
  }
}

void CudaDriver::check(cu::Result result, const char *call,
                       const std::string &what) const {
  if (result == cu::SUCCESS)
    return;
  std::string message = what.empty() ? "" : what + ": ";
  message += std::string(call) + ": " + describe(result);
  throw RuntimeError(statusOf(result), message);
}

std::string CudaDriver::versionString() const {
  return std::to_string(version / 1000) + "." +
         std::to_string(version % 1000 / 10);
}

} // namespace rt
} // namespace awq
