//===- CudaGpuTest.cpp - The CUDA backend on a real GPU -------------------===//
//
// Labelled `gpu` in ctest. Each test skips (with the reason) when the
// machine has no driver or no GPU. A GEMV instance planned for the GPU found
// is compiled with NVRTC for its architecture, loaded, launched through the
// backend and compared with the fp64 reference; a CUBIN for another major
// architecture must be refused as AWQC_ERROR_UNSUPPORTED_ARCH.
//
//===----------------------------------------------------------------------===//

#include "BackendTestSupport.h"

#include "runtime/nvrtc/NvrtcCompiler.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace {

using namespace awq::rt;
using ::testing::HasSubstr;

class CudaGpuTest : public ::testing::Test {
protected:
  void SetUp() override {
    try {
      backend = makeCudaBackend(0);
    } catch (const RuntimeError &error) {
      if (error.status() == AWQC_ERROR_NO_DRIVER ||
          error.status() == AWQC_ERROR_NO_DEVICE)
        GTEST_SKIP() << "no GPU to test on: " << error.what();
      throw;
    }
  }
  std::unique_ptr<Backend> backend;
};

TEST_F(CudaGpuTest, Properties) {
  const DeviceProperties &props = backend->properties();
  std::cout << "device: " << props.name << " (" << props.arch << ", "
            << props.smCount << " SMs, driver " << props.driverVersion << ")\n";
  EXPECT_FALSE(props.name.empty());
  EXPECT_THAT(props.arch, ::testing::StartsWith("sm_"));
  EXPECT_GT(props.smCount, 0);
  EXPECT_GE(props.sharedPerBlockOptin, 48 * 1024);
  EXPECT_GT(props.totalMemory, 0);
  EXPECT_THAT(props.driverVersion, ::testing::MatchesRegex("[0-9]+\\.[0-9]"));
}

TEST_F(CudaGpuTest, MemoryRoundTrip) {
  std::vector<uint8_t> data(4096);
  for (size_t i = 0; i < data.size(); ++i)
    data[i] = static_cast<uint8_t>(i * 13);
  void *device = backend->allocate(data.size(), "buffer");
  backend->copyToDevice(device, data.data(), data.size());
  backend->memsetAsync(static_cast<uint8_t *>(device) + 1000, 0x77, 100,
                       nullptr);
  backend->synchronize(nullptr);
  std::vector<uint8_t> back(data.size());
  backend->copyToHost(back.data(), device, back.size());
  std::fill(data.begin() + 1000, data.begin() + 1100, 0x77);
  EXPECT_EQ(back, data);
  backend->release(device);
}

TEST_F(CudaGpuTest, GemvMatchesReference) {
  const std::string arch = backend->properties().arch;
  if (!awq::parseTarget(arch))
    GTEST_SKIP() << arch << " is not in the architecture table";
  const uint32_t seed = std::random_device{}();
  SCOPED_TRACE("random seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  const test::GemvCase gemv = test::makeGemvCase(arch, rng);
  awq::NvrtcOptions options;
  options.arch = arch;
  ModuleImage image;
  image.sourceName = gemv.kernel + ".cu";
  image.cubin =
      awq::compileToCubin(gemv.source, image.sourceName, options).cubin;
  image.kernels = {gemv.kernel};
  std::unique_ptr<LoadedModule> module = backend->load(image);
  for (int m : {1, 5, 33})
    test::runGemvAndCompare(*backend, *module, gemv, m, rng);
}

TEST_F(CudaGpuTest, CubinForAnotherArchIsUnsupportedArch) {
  const std::string arch = backend->properties().arch;
  // Cubins run only within their major architecture.
  const std::string other = arch.rfind("sm_8", 0) == 0 ? "sm_90" : "sm_80";
  std::mt19937 rng(1);
  const test::GemvCase gemv = test::makeGemvCase(other, rng);
  awq::NvrtcOptions options;
  options.arch = other;
  ModuleImage image;
  image.sourceName = gemv.kernel + ".cu";
  image.cubin =
      awq::compileToCubin(gemv.source, image.sourceName, options).cubin;
  image.kernels = {gemv.kernel};
  try {
    backend->load(image);
    FAIL() << "an " << other << " CUBIN loaded on " << arch;
  } catch (const RuntimeError &error) {
    EXPECT_EQ(error.status(), AWQC_ERROR_UNSUPPORTED_ARCH) << error.what();
    EXPECT_THAT(error.what(),
                HasSubstr("cuModuleLoadData: CUDA_ERROR_NO_BINARY_FOR_GPU"));
  }
}

} // namespace
