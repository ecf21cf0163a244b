//===- HostBackend.cpp - The host CPU through the host executor -----------===//
//
// "Device" memory is host memory, copies are memcpy, and a module is the
// host build of the kernels' CUDA source (runtime/host), so a bundle runs
// without a GPU: the same sources, launch geometry and arguments as on CUDA.
// Launches complete before they return; streams are ignored.
//
//===----------------------------------------------------------------------===//

#include "runtime/backends/Backend.h"
#include "runtime/backends/LaunchLimits.h"
#include "runtime/host/HostModule.h"

#include <cstring>
#include <new>

namespace awq {
namespace rt {

namespace {

/// As cudaMalloc's, so kernels' vector loads see the same alignment.
constexpr std::align_val_t kAlignment{256};

class HostLoadedModule final : public LoadedModule {
public:
  std::shared_ptr<const host::HostModule> module;
  bool fromCache() const override { return module->loadedFromCache(); }
};

class HostBackend final : public Backend {
public:
  HostBackend() { props.name = "host (CPU emulation)"; }

  const DeviceProperties &properties() const override { return props; }
  bool isHost() const override { return true; }

  void *allocate(size_t bytes, const std::string &what) override {
    try {
      return ::operator new(bytes, kAlignment);
    } catch (const std::bad_alloc &) {
      throw RuntimeError(AWQC_ERROR_OUT_OF_MEMORY,
                         "cannot allocate " + what + " (" +
                             std::to_string(bytes) + " bytes) in host memory");
    }
  }
  void release(void *pointer) noexcept override {
    ::operator delete(pointer, kAlignment);
  }
  void copyToDevice(void *device, const void *host, size_t bytes) override {
    if (bytes)
      std::memcpy(device, host, bytes);
  }
  void copyToHost(void *host, const void *device, size_t bytes) override {
    if (bytes)
      std::memcpy(host, device, bytes);
  }
  void memsetAsync(void *device, int value, size_t bytes, void *) override {
    if (bytes)
      std::memset(device, value, bytes);
  }
  void synchronize(void *) override {}

  std::unique_ptr<LoadedModule> load(const ModuleImage &image) override {
    host::HostCompileOptions options;
    if (!image.deviceIncludeDir.empty())
      options.deviceIncludeDir = image.deviceIncludeDir;
    if (!image.sourceName.empty())
      options.sourceName = image.sourceName;
    options.smVersion = image.smVersion;
    auto loaded = std::make_unique<HostLoadedModule>();
    try {
      loaded->module =
          host::HostModule::load(image.source, image.kernels, options);
    } catch (const RuntimeError &) {
      throw;
    } catch (const Error &error) {
      // The host compiler's output with the numbered source.
      throw RuntimeError(AWQC_ERROR_JIT, error.what());
    }
    return loaded;
  }

  void launch(const LoadedModule &module, const std::string &kernel,
              const KernelLaunch &launch, const void *args, size_t argsBytes,
              void *) override {
    const auto *loaded = dynamic_cast<const HostLoadedModule *>(&module);
    if (!loaded)
      throw RuntimeError(AWQC_ERROR_INTERNAL,
                         "kernel " + kernel +
                             ": its module was not loaded by the host backend");
    if (!args || argsBytes == 0)
      throw RuntimeError(AWQC_ERROR_INTERNAL,
                         "kernel " + kernel + ": no kernel arguments");
    checkLaunchGeometry(kernel, launch);
    try {
      loaded->module->launch(kernel,
                             host::Dim3(static_cast<unsigned>(launch.gridX),
                                        static_cast<unsigned>(launch.gridY),
                                        static_cast<unsigned>(launch.gridZ)),
                             host::Dim3(static_cast<unsigned>(launch.threads)),
                             static_cast<size_t>(launch.sharedBytes), args);
    } catch (const RuntimeError &) {
      throw;
    } catch (const Error &error) {
      // The executor's messages name the source, kernel and block.
      throw RuntimeError(AWQC_ERROR_INTERNAL, error.what());
    }
  }

private:
  DeviceProperties props;
};

} // namespace

std::unique_ptr<Backend> makeHostBackend() {
  return std::make_unique<HostBackend>();
}

} // namespace rt
} // namespace awq
