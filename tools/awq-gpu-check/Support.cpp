//===- Support.cpp - awq-gpu-check: buffers, data, kernels, events --------===//

#include "GpuCheck.h"

#include "runtime/jit/JitCompiler.h"
#include "runtime/nvrtc/NvrtcCompiler.h"
#include "runtime/support/Half.h"
#include "runtime/support/ParallelFor.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

namespace fs = std::filesystem;

namespace awq {
namespace gpucheck {

DeviceBuffer::DeviceBuffer(rt::Backend &backend, size_t bytes,
                           const std::string &what)
    : backend(&backend), pointer(backend.allocate(bytes, what)), bytes(bytes) {}

DeviceBuffer &DeviceBuffer::operator=(DeviceBuffer &&other) noexcept {
  if (this != &other) {
    reset();
    backend = other.backend;
    pointer = other.pointer;
    bytes = other.bytes;
    other.pointer = nullptr;
    other.bytes = 0;
  }
  return *this;
}

void DeviceBuffer::reset() {
  if (pointer && backend)
    backend->release(pointer);
  pointer = nullptr;
  bytes = 0;
}

void DeviceBuffer::uploadBytes(const void *data, size_t count) {
  if (count > bytes)
    throw Error("upload of " + std::to_string(count) + " bytes into a " +
                std::to_string(bytes) + "-byte buffer");
  backend->copyToDevice(pointer, data, count);
}

void DeviceBuffer::downloadBytes(void *data, size_t count) const {
  if (count > bytes)
    throw Error("download of " + std::to_string(count) + " bytes from a " +
                std::to_string(bytes) + "-byte buffer");
  backend->copyToHost(data, pointer, count);
}

namespace {

/// Fills `count` elements with make(random) on all cores; slices are fixed
/// (not thread-count dependent) so a seed gives the same data everywhere.
template <typename T, typename Make>
std::vector<T> generate(size_t count, uint64_t seed, Make make) {
  std::vector<T> data(count);
  constexpr size_t kSlice = size_t(1) << 20;
  const int64_t slices = static_cast<int64_t>((count + kSlice - 1) / kSlice);
  parallelChunks(slices, 64, [&](int64_t begin, int64_t end) {
    for (int64_t s = begin; s < end; ++s) {
      Random random(seed * 0x100000001b3ULL + static_cast<uint64_t>(s) + 1);
      const size_t stop = std::min(count, (s + 1) * kSlice);
      for (size_t i = s * kSlice; i < stop; ++i)
        data[i] = make(random);
    }
  });
  return data;
}

} // namespace

std::vector<uint16_t> randomHalves(size_t count, double lo, double hi,
                                   uint64_t seed, ActivationType type) {
  return generate<uint16_t>(count, seed, [=](Random &r) {
    return floatToElement(static_cast<float>(r.uniform(lo, hi)), type);
  });
}

std::vector<uint16_t> randomScales(size_t count, double loExp, double hiExp,
                                   uint64_t seed, ActivationType type) {
  return generate<uint16_t>(count, seed, [=](Random &r) {
    return floatToElement(
        static_cast<float>(std::exp2(r.uniform(loExp, hiExp))), type);
  });
}

std::vector<uint8_t> randomBytes(size_t count, uint64_t seed) {
  return generate<uint8_t>(count, seed, [](Random &r) {
    return static_cast<uint8_t>(r.next() >> 56);
  });
}

namespace {

/// Every file under <include>/awq, by include name ("awq/gemv.cuh").
std::vector<std::pair<std::string, std::string>>
readDeviceHeaders(const std::string &includeDir) {
  const fs::path root = fs::path(includeDir);
  if (!fs::is_directory(root / "awq"))
    throw Error("the device library headers are not at " +
                (root / "awq").string() +
                " (set --device-include or AWQ_DEVICE_INCLUDE_DIR)");
  std::vector<std::pair<std::string, std::string>> headers;
  for (const auto &entry : fs::recursive_directory_iterator(root / "awq")) {
    if (!entry.is_regular_file())
      continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    headers.emplace_back(fs::relative(entry.path(), root).generic_string(),
                         text.str());
  }
  std::sort(headers.begin(), headers.end());
  return headers;
}

double secondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
      .count();
}

} // namespace

std::vector<LoadedKernel>
buildKernels(const Device &device, const std::vector<KernelToBuild> &kernels,
             const Options &options, bool loadThem) {
  const std::string includeDir = options.deviceIncludeDir.empty()
                                     ? deviceIncludeDir()
                                     : options.deviceIncludeDir;
  std::vector<LoadedKernel> loaded(kernels.size());
  std::vector<rt::JitKernel> sources;
  for (size_t i = 0; i < kernels.size(); ++i) {
    loaded[i].instance = kernels[i].instance;
    loaded[i].name = kernels[i].name;
    sources.push_back(
        {kernels[i].name, kernels[i].instance.source(kernels[i].name)});
  }
  const auto start = std::chrono::steady_clock::now();
  if (device.host) {
    // The host backend builds the sources itself (cached on disk).
    if (!loadThem)
      return loaded;
    for (size_t i = 0; i < kernels.size(); ++i) {
      rt::ModuleImage image;
      image.sourceName = sources[i].name + ".cu";
      image.source = sources[i].source;
      image.kernels = {sources[i].name};
      image.deviceIncludeDir = includeDir;
      const auto one = std::chrono::steady_clock::now();
      loaded[i].module = device.backend->load(image);
      loaded[i].compileSeconds = secondsSince(one);
    }
    std::cout << "  built " << kernels.size() << " host kernel module(s) in "
              << secondsSince(start) << " s\n";
    return loaded;
  }
  rt::JitOptions jit;
  jit.target = device.target;
  jit.headers = readDeviceHeaders(includeDir);
  jit.threads = 0; // One per core.
  const rt::JitSummary summary = rt::jitCompile(sources, jit);
  double cpu = 0;
  for (const rt::JitResult &result : summary.kernels)
    cpu += result.seconds;
  std::cout << "  compiled " << kernels.size() << " kernel(s) for "
            << device.target << " with NVRTC " << nvrtcVersionString() << " in "
            << summary.seconds << " s (" << cpu << " s summed over threads)\n";
  for (size_t i = 0; i < kernels.size(); ++i) {
    loaded[i].compileSeconds = summary.kernels[i].seconds;
    if (!loadThem)
      continue;
    rt::ModuleImage image;
    image.sourceName = sources[i].name + ".cu";
    image.cubin = summary.kernels[i].cubin;
    image.kernels = {sources[i].name};
    loaded[i].module = device.backend->load(image);
  }
  return loaded;
}

void launchKernel(const Device &device, const LoadedKernel &kernel, int64_t m,
                  const void *args, size_t argsBytes) {
  device.backend->launch(*kernel.module, kernel.name, kernel.instance.launch(m),
                         args, argsBytes,
                         /*stream=*/nullptr);
}

EventTimer::EventTimer(const Device &device, int count)
    : driver(*device.driver), events(static_cast<size_t>(count), nullptr) {
  for (rt::cu::Event &event : events)
    driver.check(driver.cuEventCreate(&event, rt::cu::EVENT_DEFAULT),
                 "cuEventCreate");
}

EventTimer::~EventTimer() {
  for (rt::cu::Event event : events)
    if (event)
      driver.cuEventDestroy(event);
}

void EventTimer::record(int index) {
  driver.check(driver.cuEventRecord(events.at(static_cast<size_t>(index)),
                                    /*stream=*/nullptr),
               "cuEventRecord");
}

std::vector<double> EventTimer::intervalsMicroseconds() {
  driver.check(driver.cuEventSynchronize(events.back()), "cuEventSynchronize");
  std::vector<double> intervals;
  for (size_t i = 0; i + 1 < events.size(); ++i) {
    float milliseconds = 0;
    driver.check(
        driver.cuEventElapsedTime(&milliseconds, events[i], events[i + 1]),
        "cuEventElapsedTime");
    intervals.push_back(1000.0 * milliseconds);
  }
  return intervals;
}

double median(std::vector<double> values) {
  if (values.empty())
    return NAN;
  std::sort(values.begin(), values.end());
  const size_t mid = values.size() / 2;
  return values.size() % 2 ? values[mid]
                           : 0.5 * (values[mid - 1] + values[mid]);
}

} // namespace gpucheck
} // namespace awq
