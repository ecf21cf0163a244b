//===- CudaBackend.cpp - A GPU through the CUDA driver API ----------------===//
//
// One backend per device ordinal, on the device's primary context (the one
// the CUDA runtime and other libraries share). Every call that reaches the
// driver first makes that context current on the calling thread, so the
// backend can be used from any thread. Modules retain the primary context
// too, so they may outlive the backend that loaded them.
//
//===----------------------------------------------------------------------===//

#include "runtime/backends/Backend.h"
#include "runtime/backends/CudaDriver.h"
#include "runtime/backends/LaunchLimits.h"

#include "awq/contract.h"

#include <algorithm>
#include <cstdint>
#include <mutex>
#include <unordered_map>

namespace awq {
namespace rt {

namespace {

/// Dynamic shared memory a block gets without opting in.
constexpr int64_t kDefaultSharedLimit = 48 * 1024;

cu::DevicePtr devicePointer(const void *pointer) {
  return static_cast<cu::DevicePtr>(reinterpret_cast<uintptr_t>(pointer));
}

cu::Stream streamOf(void *stream) { return static_cast<cu::Stream>(stream); }

/// Makes `context` current on this thread (a no-op when it already is).
void makeCurrent(const CudaDriver &driver, cu::Context context) {
  cu::Context current = nullptr;
  driver.check(driver.cuCtxGetCurrent(&current), "cuCtxGetCurrent");
  if (current != context)
    driver.check(driver.cuCtxSetCurrent(context), "cuCtxSetCurrent");
}

class CudaModule final : public LoadedModule {
public:
  struct Kernel {
    cu::Function function = nullptr;
    /// The dynamic shared memory the function is opted in to (raised by
    /// launches, under `mutex`).
    mutable int64_t sharedLimit = kDefaultSharedLimit;
  };

  CudaModule(const CudaDriver &driver, cu::Device device, std::string name)
      : driver(driver), device(device), name(std::move(name)) {}

  ~CudaModule() override {
    if (!context)
      return;
    // Errors are ignored: nothing can be done about them in a destructor.
    cu::Context current = nullptr;
    if (driver.cuCtxGetCurrent(&current) == cu::SUCCESS &&
        (current == context ||
         driver.cuCtxSetCurrent(context) == cu::SUCCESS)) {
      if (module)
        driver.cuModuleUnload(module);
    }
    driver.cuDevicePrimaryCtxRelease(device);
  }

  const CudaDriver &driver;
  cu::Device device;
  cu::Context context = nullptr;
  cu::Module module = nullptr;
  std::string name;
  std::unordered_map<std::string, Kernel> kernels;
  /// Guards Kernel::sharedLimit: launches may come from several threads.
  mutable std::mutex mutex;
};

class CudaBackend final : public Backend {
public:
  explicit CudaBackend(int ordinal);
  ~CudaBackend() override {
    if (context)
      driver.cuDevicePrimaryCtxRelease(device);
  }

  const DeviceProperties &properties() const override { return props; }
  bool isHost() const override { return false; }

  void *allocate(size_t bytes, const std::string &what) override;
  void release(void *pointer) noexcept override;
  void copyToDevice(void *device, const void *host, size_t bytes) override;
  void copyToHost(void *host, const void *device, size_t bytes) override;
  void memsetAsync(void *device, int value, size_t bytes,
                   void *stream) override;
  void synchronize(void *stream) override;
  std::unique_ptr<LoadedModule> load(const ModuleImage &image) override;
  void launch(const LoadedModule &module, const std::string &kernel,
              const KernelLaunch &launch, const void *args, size_t argsBytes,
              void *stream) override;

private:
  void bind() const { makeCurrent(driver, context); }

  const CudaDriver &driver;
  cu::Device device = 0;
  cu::Context context = nullptr;
  DeviceProperties props;
};

CudaBackend::CudaBackend(int ordinal) : driver(CudaDriver::get()) {
  int count = 0;
  driver.check(driver.cuDeviceGetCount(&count), "cuDeviceGetCount");
  if (count == 0)
    throw RuntimeError(AWQC_ERROR_NO_DEVICE, "the CUDA driver reports no GPU");
  if (ordinal < 0 || ordinal >= count)
    throw RuntimeError(AWQC_ERROR_NO_DEVICE,
                       "there is no CUDA device " + std::to_string(ordinal) +
                           ": the driver reports " + std::to_string(count) +
                           " GPU" + (count == 1 ? "" : "s") +
                           " (ordinals 0 to " + std::to_string(count - 1) +
                           ")");
  const std::string what = "CUDA device " + std::to_string(ordinal);
  driver.check(driver.cuDeviceGet(&device, ordinal), "cuDeviceGet", what);

  char name[256] = {};
  driver.check(driver.cuDeviceGetName(name, sizeof(name) - 1, device),
               "cuDeviceGetName", what);
  auto attribute = [&](int which) {
    int value = 0;
    driver.check(driver.cuDeviceGetAttribute(&value, which, device),
                 "cuDeviceGetAttribute", what);
    return value;
  };
  const int major = attribute(cu::DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR);
  const int minor = attribute(cu::DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR);
  props.name = name;
  props.arch = "sm_" + std::to_string(major) + std::to_string(minor);
  props.ordinal = ordinal;

  // The oldest architecture is the first of the contract's table.
  const int oldest = kArchTable[0].smVersion;
  if (major * 10 + minor < oldest)
    throw RuntimeError(AWQC_ERROR_UNSUPPORTED_ARCH,
                       what + " (" + props.name + ") is " + props.arch +
                           " (compute capability " + std::to_string(major) +
                           "." + std::to_string(minor) +
                           "); awqc supports sm_" + std::to_string(oldest) +
                           " and newer");

  props.smCount = attribute(cu::DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT);
  props.sharedPerBlockOptin =
      attribute(cu::DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN);
  size_t totalMemory = 0;
  driver.check(driver.cuDeviceTotalMem(&totalMemory, device),
               "cuDeviceTotalMem", what);
  props.totalMemory = static_cast<int64_t>(totalMemory);
  props.driverVersion = driver.versionString();

  driver.check(driver.cuDevicePrimaryCtxRetain(&context, device),
               "cuDevicePrimaryCtxRetain", what);
  try {
    bind();
  } catch (...) {
    driver.cuDevicePrimaryCtxRelease(device);
    throw;
  }
}

void *CudaBackend::allocate(size_t bytes, const std::string &what) {
  bind();
  cu::DevicePtr pointer = 0;
  // cuMemAlloc refuses 0 bytes; callers expect a distinct non-null pointer.
  const cu::Result result =
      driver.cuMemAlloc(&pointer, std::max<size_t>(bytes, 1));
  driver.check(result, "cuMemAlloc",
               "cannot allocate " + what + " (" + std::to_string(bytes) +
                   " bytes) on " + props.name);
  return reinterpret_cast<void *>(static_cast<uintptr_t>(pointer));
}

void CudaBackend::release(void *pointer) noexcept {
  if (!pointer)
    return;
  cu::Context current = nullptr;
  if (driver.cuCtxGetCurrent(&current) != cu::SUCCESS ||
      (current != context && driver.cuCtxSetCurrent(context) != cu::SUCCESS))
    return;
  driver.cuMemFree(devicePointer(pointer));
}

void CudaBackend::copyToDevice(void *device, const void *host, size_t bytes) {
  if (bytes == 0)
    return;
  bind();
  driver.check(driver.cuMemcpyHtoD(devicePointer(device), host, bytes),
               "cuMemcpyHtoD",
               "copying " + std::to_string(bytes) + " bytes to " + props.name);
}

void CudaBackend::copyToHost(void *host, const void *device, size_t bytes) {
  if (bytes == 0)
    return;
  bind();
  driver.check(
      driver.cuMemcpyDtoH(host, devicePointer(device), bytes), "cuMemcpyDtoH",
      "copying " + std::to_string(bytes) + " bytes from " + props.name);
}

void CudaBackend::memsetAsync(void *device, int value, size_t bytes,
                              void *stream) {
  if (bytes == 0)
    return;
  bind();
  driver.check(driver.cuMemsetD8Async(devicePointer(device),
                                      static_cast<unsigned char>(value), bytes,
                                      streamOf(stream)),
               "cuMemsetD8Async");
}

void CudaBackend::synchronize(void *stream) {
  bind();
  // No stream: everything of this context, not just the legacy stream.
  if (stream)
    driver.check(driver.cuStreamSynchronize(streamOf(stream)),
                 "cuStreamSynchronize");
  else
    driver.check(driver.cuCtxSynchronize(), "cuCtxSynchronize");
}

std::unique_ptr<LoadedModule> CudaBackend::load(const ModuleImage &image) {
  const std::string what = "module " + image.sourceName;
  if (image.cubin.empty())
    throw RuntimeError(AWQC_ERROR_INTERNAL, what + ": no CUBIN to load");
  bind();
  auto module = std::make_unique<CudaModule>(driver, device, image.sourceName);
  driver.check(driver.cuDevicePrimaryCtxRetain(&module->context, device),
               "cuDevicePrimaryCtxRetain", what);
  const cu::Result loaded =
      driver.cuModuleLoadData(&module->module, image.cubin.data());
  if (loaded == cu::ERROR_NO_BINARY_FOR_GPU ||
      loaded == cu::ERROR_UNSUPPORTED_PTX_VERSION)
    driver.check(loaded, "cuModuleLoadData",
                 what + " (for " + props.name + ", " + props.arch +
                     ", driver " + props.driverVersion + ")");
  driver.check(loaded, "cuModuleLoadData", what);
  for (const std::string &kernel : image.kernels) {
    CudaModule::Kernel entry;
    driver.check(driver.cuModuleGetFunction(&entry.function, module->module,
                                            kernel.c_str()),
                 "cuModuleGetFunction", what + ", kernel " + kernel);
    module->kernels.emplace(kernel, entry);
  }
  return module;
}

void CudaBackend::launch(const LoadedModule &loaded, const std::string &kernel,
                         const KernelLaunch &launch, const void *args,
                         size_t argsBytes, void *stream) {
  const std::string what = "kernel " + kernel;
  const auto *module = dynamic_cast<const CudaModule *>(&loaded);
  if (!module)
    throw RuntimeError(AWQC_ERROR_INTERNAL,
                       what + ": its module was not loaded by a CUDA backend");
  auto found = module->kernels.find(kernel);
  if (found == module->kernels.end())
    throw RuntimeError(AWQC_ERROR_INTERNAL, what + " is not one of module " +
                                                module->name + "'s kernels");
  if (!args || argsBytes == 0)
    throw RuntimeError(AWQC_ERROR_INTERNAL, what + ": no kernel arguments");

  checkLaunchGeometry(kernel, launch);
  const std::string geometry = describeGeometry(launch);
  if (launch.sharedBytes > props.sharedPerBlockOptin)
    throw RuntimeError(AWQC_ERROR_UNSUPPORTED_ARCH,
                       what + " needs " + std::to_string(launch.sharedBytes) +
                           " bytes of dynamic shared memory a block; " +
                           props.name + " (" + props.arch +
                           ") allows at most " +
                           std::to_string(props.sharedPerBlockOptin) +
                           " (was it planned for another architecture?)");

  bind();
  const CudaModule::Kernel &entry = found->second;
  if (launch.sharedBytes > kDefaultSharedLimit) {
    std::lock_guard<std::mutex> lock(module->mutex);
    if (launch.sharedBytes > entry.sharedLimit) {
      driver.check(driver.cuFuncSetAttribute(
                       entry.function,
                       cu::FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                       static_cast<int>(launch.sharedBytes)),
                   "cuFuncSetAttribute", what);
      entry.sharedLimit = launch.sharedBytes;
    }
  }
  // The kernel's one by-value parameter: the driver copies argsBytes from it.
  void *params[] = {const_cast<void *>(args)};
  driver.check(
      driver.cuLaunchKernel(entry.function, static_cast<unsigned>(launch.gridX),
                            static_cast<unsigned>(launch.gridY),
                            static_cast<unsigned>(launch.gridZ),
                            static_cast<unsigned>(launch.threads), 1, 1,
                            static_cast<unsigned>(launch.sharedBytes),
                            streamOf(stream), params, nullptr),
      "cuLaunchKernel", what + " (" + geometry + ")");
}

} // namespace

std::unique_ptr<Backend> makeCudaBackend(int ordinal) {
  return std::make_unique<CudaBackend>(ordinal);
}

} // namespace rt
} // namespace awq
