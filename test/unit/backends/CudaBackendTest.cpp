//===- CudaBackendTest.cpp - The CUDA backend without a GPU ---------------===//
//
// Driver loading and error mapping against a missing library, the toolkit's
// stub libcuda and a fake driver (FakeLibcuda.c) that emulates one device in
// host memory: properties, memory, module loading, per-thread contexts and
// the launch checks. Real launches are in CudaGpuTest.cpp.
//
//===----------------------------------------------------------------------===//

#include "runtime/backends/Backend.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <dlfcn.h>
#include <fstream>
#include <thread>

namespace {

using namespace awq::rt;
using ::testing::HasSubstr;

/// FakeLibcuda.c's record of the last launch.
struct FakeLaunch {
  unsigned grid[3], block[3], sharedBytes;
  void *stream;
  void *param0;
  int launches, sharedAttributeSets, sharedAttributeValue, retained;
};

FakeLaunch &fakeState() {
  // The same path gives the handle the backend opened.
  void *handle = dlopen(AWQ_FAKE_LIBCUDA, RTLD_NOW | RTLD_LOCAL);
  if (!handle)
    throw std::runtime_error(dlerror());
  auto get =
      reinterpret_cast<FakeLaunch *(*)()>(dlsym(handle, "fakeCudaLastLaunch"));
  return *get();
}

/// The status and message makeCudaBackend(ordinal) throws.
RuntimeError creationError(int ordinal = 0) {
  try {
    makeCudaBackend(ordinal);
  } catch (const RuntimeError &error) {
    return error;
  }
  return RuntimeError(AWQC_OK, "makeCudaBackend did not throw");
}

class FakeDriverTest : public ::testing::Test {
protected:
  void SetUp() override {
    setenv("AWQC_LIBCUDA", AWQ_FAKE_LIBCUDA, 1);
    setenv("FAKE_CUDA_INIT_RESULT", "0", 1);
    setenv("FAKE_CUDA_DEVICES", "1", 1);
    setenv("FAKE_CUDA_CC", "90", 1);
  }
};

TEST(CudaBackendTest, MissingDriverIsNoDriver) {
  setenv("AWQC_LIBCUDA", "/nonexistent/awqc-test/libcuda.so.1", 1);
  const RuntimeError error = creationError();
  EXPECT_EQ(error.status(), AWQC_ERROR_NO_DRIVER) << error.what();
  EXPECT_THAT(error.what(), HasSubstr("/nonexistent/awqc-test/libcuda.so.1"));
  EXPECT_THAT(error.what(), HasSubstr("needs libcuda.so.1"));
}

TEST(CudaBackendTest, ToolkitStubIsNoDriver) {
  if (!std::ifstream(AWQ_CUDA_STUB_LIBCUDA))
    GTEST_SKIP() << "no stub driver at " AWQ_CUDA_STUB_LIBCUDA;
  // The stub exports every entry point but cuInit refuses to work.
  setenv("AWQC_LIBCUDA", AWQ_CUDA_STUB_LIBCUDA, 1);
  const RuntimeError error = creationError();
  EXPECT_EQ(error.status(), AWQC_ERROR_NO_DRIVER) << error.what();
  EXPECT_THAT(error.what(), HasSubstr("cuInit: CUDA_ERROR_STUB_LIBRARY"));
}

TEST_F(FakeDriverTest, InitWithoutDeviceIsNoDevice) {
  setenv("FAKE_CUDA_INIT_RESULT", "100", 1);
  const RuntimeError error = creationError();
  EXPECT_EQ(error.status(), AWQC_ERROR_NO_DEVICE) << error.what();
  EXPECT_THAT(error.what(),
              HasSubstr("cuInit: CUDA_ERROR_NO_DEVICE (no CUDA-capable device "
                        "is detected)"));
}

TEST_F(FakeDriverTest, OtherInitFailureIsNoDriver) {
  setenv("FAKE_CUDA_INIT_RESULT", "34", 1);
  const RuntimeError error = creationError();
  EXPECT_EQ(error.status(), AWQC_ERROR_NO_DRIVER) << error.what();
  EXPECT_THAT(error.what(), HasSubstr("CUDA_ERROR_STUB_LIBRARY"));
}

TEST_F(FakeDriverTest, ZeroDevicesIsNoDevice) {
  setenv("FAKE_CUDA_DEVICES", "0", 1);
  const RuntimeError error = creationError();
  EXPECT_EQ(error.status(), AWQC_ERROR_NO_DEVICE) << error.what();
  EXPECT_THAT(error.what(), HasSubstr("no GPU"));
}

TEST_F(FakeDriverTest, MissingOrdinalIsNoDevice) {
  setenv("FAKE_CUDA_DEVICES", "2", 1);
  const RuntimeError error = creationError(2);
  EXPECT_EQ(error.status(), AWQC_ERROR_NO_DEVICE) << error.what();
  EXPECT_THAT(error.what(), HasSubstr("no CUDA device 2"));
  EXPECT_THAT(error.what(), HasSubstr("2 GPUs"));
}

TEST_F(FakeDriverTest, OldGpuIsUnsupportedArch) {
  setenv("FAKE_CUDA_CC", "70", 1);
  const RuntimeError error = creationError();
  EXPECT_EQ(error.status(), AWQC_ERROR_UNSUPPORTED_ARCH) << error.what();
  EXPECT_THAT(error.what(), HasSubstr("Fake GPU"));
  EXPECT_THAT(error.what(), HasSubstr("sm_70"));
  EXPECT_THAT(error.what(), HasSubstr("sm_75"));
}

TEST_F(FakeDriverTest, Properties) {
  setenv("FAKE_CUDA_CC", "121", 1);
  std::unique_ptr<Backend> backend = makeCudaBackend(0);
  const DeviceProperties &props = backend->properties();
  EXPECT_FALSE(backend->isHost());
  EXPECT_EQ(props.name, "Fake GPU");
  EXPECT_EQ(props.arch, "sm_121");
  EXPECT_EQ(props.ordinal, 0);
  EXPECT_EQ(props.smCount, 7);
  EXPECT_EQ(props.sharedPerBlockOptin, 227 * 1024);
  EXPECT_EQ(props.totalMemory, int64_t(80) << 30);
  EXPECT_EQ(props.driverVersion, "13.0");
}

TEST_F(FakeDriverTest, MemoryRoundTripFromAnotherThread) {
  std::unique_ptr<Backend> backend = makeCudaBackend(0);
  // A thread that never saw the context: the backend makes it current.
  std::thread([&] {
    std::vector<uint8_t> data(300);
    for (size_t i = 0; i < data.size(); ++i)
      data[i] = static_cast<uint8_t>(i);
    void *device = backend->allocate(data.size(), "buffer");
    backend->copyToDevice(device, data.data(), data.size());
    backend->memsetAsync(static_cast<uint8_t *>(device) + 10, 0x5a, 20,
                         nullptr);
    backend->synchronize(nullptr);
    std::vector<uint8_t> back(data.size());
    backend->copyToHost(back.data(), device, back.size());
    std::fill(data.begin() + 10, data.begin() + 30, 0x5a);
    EXPECT_EQ(back, data);
    backend->release(device);
  }).join();
}

TEST_F(FakeDriverTest, OutOfMemory) {
  std::unique_ptr<Backend> backend = makeCudaBackend(0);
  try {
    backend->allocate(size_t(1) << 41, "the weights of layer 3");
    FAIL() << "no exception";
  } catch (const RuntimeError &error) {
    EXPECT_EQ(error.status(), AWQC_ERROR_OUT_OF_MEMORY);
    EXPECT_THAT(error.what(), HasSubstr("the weights of layer 3"));
    EXPECT_THAT(error.what(), HasSubstr("2199023255552 bytes"));
    EXPECT_THAT(error.what(),
                HasSubstr("cuMemAlloc: CUDA_ERROR_OUT_OF_MEMORY (out of "
                          "memory)"));
  }
}

ModuleImage fakeImage(std::vector<std::string> kernels) {
  ModuleImage image;
  image.sourceName = "fake.cu";
  const std::string cubin = "FAKECUBIN";
  image.cubin.assign(cubin.begin(), cubin.end() + 1);
  image.kernels = std::move(kernels);
  return image;
}

TEST_F(FakeDriverTest, CubinForAnotherGpuIsUnsupportedArch) {
  std::unique_ptr<Backend> backend = makeCudaBackend(0);
  ModuleImage image = fakeImage({"k"});
  image.cubin = {'\x7f', 'E', 'L', 'F', 0, 0, 0, 0, 0, 0};
  try {
    backend->load(image);
    FAIL() << "no exception";
  } catch (const RuntimeError &error) {
    EXPECT_EQ(error.status(), AWQC_ERROR_UNSUPPORTED_ARCH);
    EXPECT_THAT(error.what(), HasSubstr("fake.cu"));
    EXPECT_THAT(error.what(),
                HasSubstr("cuModuleLoadData: CUDA_ERROR_NO_BINARY_FOR_GPU (no "
                          "kernel image is available for execution on the "
                          "device)"));
  }
  image.cubin.clear();
  try {
    backend->load(image);
    FAIL() << "no exception";
  } catch (const RuntimeError &error) {
    EXPECT_EQ(error.status(), AWQC_ERROR_INTERNAL);
    EXPECT_THAT(error.what(), HasSubstr("no CUBIN"));
  }
}

TEST_F(FakeDriverTest, MissingKernelIsDriverError) {
  std::unique_ptr<Backend> backend = makeCudaBackend(0);
  try {
    backend->load(fakeImage({"present", "missing"}));
    FAIL() << "no exception";
  } catch (const RuntimeError &error) {
    EXPECT_EQ(error.status(), AWQC_ERROR_DRIVER);
    EXPECT_THAT(error.what(), HasSubstr("kernel missing"));
    EXPECT_THAT(error.what(), HasSubstr("cuModuleGetFunction: "
                                        "CUDA_ERROR_NOT_FOUND"));
  }
}

TEST_F(FakeDriverTest, Launch) {
  std::unique_ptr<Backend> backend = makeCudaBackend(0);
  const int retainedBefore = fakeState().retained;
  std::unique_ptr<LoadedModule> module = backend->load(fakeImage({"k"}));
  EXPECT_EQ(fakeState().retained, retainedBefore + 1);

  awq::KernelLaunch launch;
  launch.gridX = 3;
  launch.gridY = 4;
  launch.gridZ = 5;
  launch.threads = 128;
  launch.sharedBytes = 100 * 1024;
  int args = 42;
  auto *stream = reinterpret_cast<void *>(uintptr_t(0x1000));
  const int setsBefore = fakeState().sharedAttributeSets;
  const int launchesBefore = fakeState().launches;
  for (int i = 0; i < 2; ++i)
    std::thread([&] {
      backend->launch(*module, "k", launch, &args, sizeof(args), stream);
    }).join();
  const FakeLaunch &last = fakeState();
  EXPECT_EQ(last.launches, launchesBefore + 2);
  // The opt-in is set once per function, not per launch.
  EXPECT_EQ(last.sharedAttributeSets, setsBefore + 1);
  EXPECT_EQ(last.sharedAttributeValue, 100 * 1024);
  EXPECT_EQ(last.grid[0], 3u);
  EXPECT_EQ(last.grid[1], 4u);
  EXPECT_EQ(last.grid[2], 5u);
  EXPECT_EQ(last.block[0], 128u);
  EXPECT_EQ(last.block[1], 1u);
  EXPECT_EQ(last.sharedBytes, 100u * 1024);
  EXPECT_EQ(last.stream, stream);
  EXPECT_EQ(last.param0, &args);

  awq::KernelLaunch tooMuchShared = launch;
  tooMuchShared.sharedBytes = 228 * 1024;
  try {
    backend->launch(*module, "k", tooMuchShared, &args, sizeof(args), stream);
    FAIL() << "no exception";
  } catch (const RuntimeError &error) {
    EXPECT_EQ(error.status(), AWQC_ERROR_UNSUPPORTED_ARCH);
    EXPECT_THAT(error.what(), HasSubstr("kernel k needs 233472 bytes"));
    EXPECT_THAT(error.what(), HasSubstr("at most 232448"));
  }

  awq::KernelLaunch tooDeep = launch;
  tooDeep.gridZ = 65536;
  try {
    backend->launch(*module, "k", tooDeep, &args, sizeof(args), stream);
    FAIL() << "no exception";
  } catch (const RuntimeError &error) {
    EXPECT_EQ(error.status(), AWQC_ERROR_INTERNAL);
    EXPECT_THAT(error.what(), HasSubstr("kernel k (grid (3, 4, 65536)"));
  }

  try {
    backend->launch(*module, "other", launch, &args, sizeof(args), stream);
    FAIL() << "no exception";
  } catch (const RuntimeError &error) {
    EXPECT_EQ(error.status(), AWQC_ERROR_INTERNAL);
    EXPECT_THAT(error.what(), HasSubstr("kernel other"));
  }
  EXPECT_EQ(fakeState().launches, launchesBefore + 2);

  // The module keeps the context until it is unloaded, even past the backend.
  backend.reset();
  EXPECT_EQ(fakeState().retained, retainedBefore);
  module.reset();
  EXPECT_EQ(fakeState().retained, retainedBefore - 1);
}

} // namespace
