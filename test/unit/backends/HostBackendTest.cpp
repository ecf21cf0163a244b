//===- HostBackendTest.cpp - The host backend: memory, modules, launches --===//

#include "BackendTestSupport.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <memory>

namespace {

using namespace awq::rt;
using ::testing::HasSubstr;

class HostBackendTest : public ::testing::Test {
protected:
  void SetUp() override {
    // One build per build tree, shared by the test processes.
    setenv("AWQ_HOST_CACHE_DIR", AWQ_BACKENDS_TEST_CACHE_DIR, 0);
    backend = makeHostBackend();
  }
  std::unique_ptr<Backend> backend;
};

TEST_F(HostBackendTest, Properties) {
  EXPECT_TRUE(backend->isHost());
  EXPECT_EQ(backend->properties().name, "host (CPU emulation)");
  EXPECT_EQ(backend->properties().arch, "");
  EXPECT_EQ(backend->properties().driverVersion, "");
}

TEST_F(HostBackendTest, AllocateCopyMemsetRoundTrip) {
  std::vector<uint8_t> pattern(1000);
  for (size_t i = 0; i < pattern.size(); ++i)
    pattern[i] = static_cast<uint8_t>(i * 7 + 3);
  void *device = backend->allocate(pattern.size(), "round trip buffer");
  ASSERT_NE(device, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(device) % 256, 0u);
  backend->copyToDevice(device, pattern.data(), pattern.size());
  backend->memsetAsync(static_cast<uint8_t *>(device) + 100, 0xab, 50, nullptr);
  backend->synchronize(nullptr);
  std::vector<uint8_t> back(pattern.size(), 0);
  backend->copyToHost(back.data(), device, back.size());
  for (size_t i = 100; i < 150; ++i)
    pattern[i] = 0xab;
  EXPECT_EQ(back, pattern);
  backend->release(device);
  backend->release(nullptr); // A no-op, as for free().
}

TEST_F(HostBackendTest, AllocationFailureIsOutOfMemory) {
#if defined(__SANITIZE_ADDRESS__)
  // ASan's operator new ends the process on an impossible size instead of
  // throwing std::bad_alloc (even with allocator_may_return_null=1).
  GTEST_SKIP() << "AddressSanitizer aborts on a failed operator new";
#endif
  const size_t huge = std::numeric_limits<size_t>::max() / 2;
  try {
    backend->allocate(huge, "the huge buffer");
    FAIL() << "no exception";
  } catch (const RuntimeError &error) {
    EXPECT_EQ(error.status(), AWQC_ERROR_OUT_OF_MEMORY);
    EXPECT_THAT(error.what(), HasSubstr("the huge buffer"));
    EXPECT_THAT(error.what(), HasSubstr(std::to_string(huge)));
  }
}

/// The GEMV module, built once per process.
struct LoadedGemv {
  awq::rt::test::GemvCase gemv;
  std::unique_ptr<LoadedModule> module;
};

LoadedGemv &loadedGemv(Backend &backend) {
  static LoadedGemv loaded = [&] {
    std::mt19937 rng(12345);
    LoadedGemv result;
    result.gemv = awq::rt::test::makeGemvCase("sm_80", rng);
    ModuleImage image;
    image.sourceName = result.gemv.kernel + ".cu";
    image.source = result.gemv.source;
    image.kernels = {result.gemv.kernel};
    image.deviceIncludeDir = AWQ_BACKENDS_TEST_DEVICE_INCLUDE;
    result.module = backend.load(image);
    return result;
  }();
  return loaded;
}

TEST_F(HostBackendTest, GemvMatchesReference) {
  const uint32_t seed = std::random_device{}();
  SCOPED_TRACE("random seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  LoadedGemv &loaded = loadedGemv(*backend);
  for (int m : {1, 5})
    awq::rt::test::runGemvAndCompare(*backend, *loaded.module, loaded.gemv, m,
                                     rng);
}

TEST_F(HostBackendTest, LaunchErrorsNameTheKernel) {
  LoadedGemv &loaded = loadedGemv(*backend);
  awq::LinearArgs args{};
  args.M = 1;
  const awq::KernelLaunch good = loaded.gemv.instance.launch(1);

  awq::KernelLaunch tooTall = good;
  tooTall.gridY = 70000;
  try {
    backend->launch(*loaded.module, loaded.gemv.kernel, tooTall, &args,
                    sizeof(args), nullptr);
    FAIL() << "no exception";
  } catch (const RuntimeError &error) {
    EXPECT_EQ(error.status(), AWQC_ERROR_INTERNAL);
    EXPECT_THAT(error.what(), HasSubstr(loaded.gemv.kernel));
    EXPECT_THAT(error.what(), HasSubstr("grid"));
  }

  try {
    backend->launch(*loaded.module, "no_such_kernel", good, &args, sizeof(args),
                    nullptr);
    FAIL() << "no exception";
  } catch (const RuntimeError &error) {
    EXPECT_EQ(error.status(), AWQC_ERROR_INTERNAL);
    EXPECT_THAT(error.what(), HasSubstr("no_such_kernel"));
  }
}

TEST_F(HostBackendTest, CompileErrorIsJit) {
  ModuleImage image;
  image.sourceName = "broken_kernel.cu";
  image.source = "#include \"awq/platform.cuh\"\n"
                 "extern \"C\" __global__ void broken(int) { not C++; }\n";
  image.kernels = {"broken"};
  image.deviceIncludeDir = AWQ_BACKENDS_TEST_DEVICE_INCLUDE;
  try {
    backend->load(image);
    FAIL() << "no exception";
  } catch (const RuntimeError &error) {
    EXPECT_EQ(error.status(), AWQC_ERROR_JIT);
    EXPECT_THAT(error.what(), HasSubstr("broken_kernel.cu"));
  }
}

} // namespace
