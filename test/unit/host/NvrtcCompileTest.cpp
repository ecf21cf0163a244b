//===- NvrtcCompileTest.cpp - Host-tested kernels also build for GPUs -----===//
//
// The kernels the host tests run are compiled by NVRTC to sm_80 (and sm_90)
// cubins: the same source, with inline PTX instead of the emulation, is
// valid CUDA. A cubin (not just PTX) makes ptxas check the inline asm.
//
//===----------------------------------------------------------------------===//
#include "HostTestSupport.h"

#include <gtest/gtest.h>

#include <nvrtc.h>

namespace awq {
namespace host {
namespace test {
namespace {

/// Compiles `source` to a cubin for `arch`; returns the log on failure.
std::string compileWithNvrtc(const std::string &source, const std::string &name,
                             const std::string &arch, size_t &cubinBytes) {
  nvrtcProgram program;
  if (nvrtcCreateProgram(&program, source.c_str(), name.c_str(), 0, nullptr,
                         nullptr) != NVRTC_SUCCESS)
    return "nvrtcCreateProgram failed";
  const std::string archOption = "--gpu-architecture=" + arch;
  const std::string cudaInclude = "--include-path=" AWQ_HOST_TEST_CUDA_INCLUDE;
  const std::string deviceInclude = "-I" AWQ_HOST_TEST_DEVICE_INCLUDE;
  const std::string kernelInclude = "-I" + kernelDir();
  const char *options[] = {archOption.c_str(), "-std=c++17",
                           cudaInclude.c_str(), deviceInclude.c_str(),
                           kernelInclude.c_str()};
  const nvrtcResult result = nvrtcCompileProgram(program, 5, options);
  size_t logSize = 0;
  nvrtcGetProgramLogSize(program, &logSize);
  std::string log(logSize, '\0');
  if (logSize)
    nvrtcGetProgramLog(program, &log[0]);
  cubinBytes = 0;
  if (result == NVRTC_SUCCESS)
    nvrtcGetCUBINSize(program, &cubinBytes);
  nvrtcDestroyProgram(&program);
  return result == NVRTC_SUCCESS
             ? std::string()
             : std::string(nvrtcGetErrorString(result)) + "\n" + log;
}

class NvrtcCompile : public ::testing::TestWithParam<const char *> {};

TEST_P(NvrtcCompile, TestKernelsBuildCubins) {
  const std::string file = GetParam();
  const std::string source = readKernelFile(file);
  for (const char *arch : {"sm_80", "sm_90"}) {
    size_t cubinBytes = 0;
    const std::string error = compileWithNvrtc(source, file, arch, cubinBytes);
    EXPECT_EQ(error, "") << file << " for " << arch;
    EXPECT_GT(cubinBytes, 0u) << file << " for " << arch;
  }
}

INSTANTIATE_TEST_SUITE_P(HostKernelFiles, NvrtcCompile,
                         ::testing::Values("HostTestKernels.cu",
                                           "HostErrorKernels.cu",
                                           "HostBenchKernels.cu"));

} // namespace
} // namespace test
} // namespace host
} // namespace awq
