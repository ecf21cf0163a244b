//===- GpuCheck.h - awq-gpu-check: kernels on a real GPU ------------------===//
//
// Shared pieces of awq-gpu-check: the options, the device it runs on, device
// buffers, random data, kernel compilation (NVRTC through the runtime's JIT,
// device library headers read from disk) and the CUDA events it times with.
// MLIR-free, so it builds in the runtime-only tree (AWQC_RUNTIME_ONLY).
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_TOOLS_GPUCHECK_GPUCHECK_H
#define AWQ_TOOLS_GPUCHECK_GPUCHECK_H

#include "runtime/backends/Backend.h"
#include "runtime/backends/CudaDriver.h"
#include "runtime/kernels/KernelInstance.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace awq {
namespace gpucheck {

struct Options {
  bool quick = false;
  bool numericsOnly = false;
  bool benchOnly = false;
  /// Stop after compiling the kernels (checks NVRTC and the plans).
  bool compileOnly = false;
  /// Run the numerics on the host device (CPU emulation) instead of a GPU:
  /// tests the tool itself on a machine without one. Tiny shapes only.
  bool host = false;
  int ordinal = 0;
  uint64_t seed = 0x5eed;
  int timedIterations = 30;
  int warmupIterations = 5;
  std::string jsonPath = "gpu-check.json";
  std::string deviceIncludeDir; ///< Empty: deviceIncludeDir().
};

/// The device the checks run on and what the planner needs of it.
struct Device {
  std::unique_ptr<rt::Backend> backend;
  const ArchInfo *arch = nullptr;
  std::string target; ///< "sm_90"
  int64_t smCount = 0;
  int64_t l2Bytes = 0;
  bool host = false;
  /// Set on a GPU: the driver for events and device-to-device copies.
  const rt::CudaDriver *driver = nullptr;
};

/// Device memory, freed with the backend that allocated it.
class DeviceBuffer {
public:
  DeviceBuffer() = default;
  DeviceBuffer(rt::Backend &backend, size_t bytes, const std::string &what);
  DeviceBuffer(DeviceBuffer &&other) noexcept { *this = std::move(other); }
  DeviceBuffer &operator=(DeviceBuffer &&other) noexcept;
  ~DeviceBuffer() { reset(); }
  void reset();
  void *get() const { return pointer; }
  size_t size() const { return bytes; }
  template <typename T> T *as() const { return static_cast<T *>(pointer); }
  /// Uploads `count` elements (all of `data` when count is 0).
  template <typename T> void upload(const std::vector<T> &data) {
    uploadBytes(data.data(), data.size() * sizeof(T));
  }
  void uploadBytes(const void *data, size_t count);
  template <typename T> std::vector<T> download(size_t count) const {
    std::vector<T> data(count);
    downloadBytes(data.data(), count * sizeof(T));
    return data;
  }
  void downloadBytes(void *data, size_t count) const;

private:
  rt::Backend *backend = nullptr;
  void *pointer = nullptr;
  size_t bytes = 0;
};

/// splitmix64: fast, seedable, good enough for test data.
class Random {
public:
  explicit Random(uint64_t seed) : state(seed) {}
  uint64_t next() {
    uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  /// Uniform in [0, 1).
  double uniform() { return (next() >> 11) * (1.0 / 9007199254740992.0); }
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  uint32_t below(uint32_t bound) {
    return static_cast<uint32_t>((next() >> 32) * bound >> 32);
  }

private:
  uint64_t state;
};

/// fp16 (or `type`'s) bits of values uniform in [lo, hi], `count` of them,
/// generated on all cores (each slice with its own stream from `seed`).
std::vector<uint16_t> randomHalves(size_t count, double lo, double hi,
                                   uint64_t seed,
                                   ActivationType type = ActivationType::F16);
/// fp16 (or `type`'s) bits of 2^u with u uniform in [loExp, hiExp] (scales).
std::vector<uint16_t> randomScales(size_t count, double loExp, double hiExp,
                                   uint64_t seed,
                                   ActivationType type = ActivationType::F16);
/// Uniform random bytes.
std::vector<uint8_t> randomBytes(size_t count, uint64_t seed);

/// One kernel to build: its instance and entry name.
struct KernelToBuild {
  KernelInstance instance;
  std::string name;
};

/// A kernel loaded on the device.
struct LoadedKernel {
  KernelInstance instance;
  std::string name;
  std::unique_ptr<rt::LoadedModule> module;
  double compileSeconds = 0;
};

/// Compiles (NVRTC for the device's target, in parallel; on the host the
/// backend builds them) and loads every kernel. Kernels are independent:
/// a failure to compile or load one throws.
std::vector<LoadedKernel>
buildKernels(const Device &device, const std::vector<KernelToBuild> &kernels,
             const Options &options, bool loadThem = true);

/// Launches `kernel` for `m` rows with `args` (awq::LinearArgs) on the
/// default stream.
void launchKernel(const Device &device, const LoadedKernel &kernel, int64_t m,
                  const void *args, size_t argsBytes);

/// Events on the default stream; times in milliseconds as the driver gives.
class EventTimer {
public:
  EventTimer(const Device &device, int count);
  ~EventTimer();
  EventTimer(const EventTimer &) = delete;
  EventTimer &operator=(const EventTimer &) = delete;
  void record(int index);
  /// Waits for event `count - 1`, then returns the `count - 1` intervals in
  /// microseconds.
  std::vector<double> intervalsMicroseconds();

private:
  const rt::CudaDriver &driver;
  std::vector<rt::cu::Event> events;
};

double median(std::vector<double> values);

/// The numerics matrix; adds its results to `report["numerics"]`. Returns
/// the number of failing cases.
int64_t runNumerics(const Device &device, const Options &options,
                    nlohmann::json &report);

/// The benchmark; adds its results to `report["bench"]` and returns the
/// readable table (printed last).
std::string runBench(const Device &device, const Options &options,
                     nlohmann::json &report);

} // namespace gpucheck
} // namespace awq

#endif // AWQ_TOOLS_GPUCHECK_GPUCHECK_H
