//===- ErrorTest.cpp - Misused barriers and collectives give errors -------===//
//
// Kernels of kernels/HostErrorKernels.cu break the execution model on
// purpose; each launch must throw awq::Error naming the kernel, the block
// and what went wrong, and never hang.
//
//===----------------------------------------------------------------------===//
#include "HostTestSupport.h"

#include <gtest/gtest.h>

#include <gmock/gmock.h>

namespace awq {
namespace host {
namespace test {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

struct ErrorArgs {
  int *out;
};

/// "HostErrorKernels.cu:<line>" of the line tagged `// @marker`.
std::string siteOf(const std::string &marker) {
  std::istringstream text(readKernelFile("HostErrorKernels.cu"));
  std::string line;
  for (int number = 1; std::getline(text, line); ++number)
    if (line.find("// @" + marker) != std::string::npos)
      return "HostErrorKernels.cu:" + std::to_string(number);
  ADD_FAILURE() << "no line tagged @" << marker;
  return "?";
}

/// Launches `kernel` and returns the error message it must fail with.
std::string launchError(const std::string &kernel, Dim3 grid, Dim3 block,
                        size_t shared = 0, HostLaunchOptions options = {}) {
  std::vector<int> out(grid.count() * block.count(), 0);
  ErrorArgs args{out.data()};
  try {
    errorModule().launch(kernel, grid, block, shared, &args, options);
  } catch (const Error &e) {
    return e.what();
  }
  ADD_FAILURE() << kernel << " did not fail";
  return std::string();
}

TEST(HostEmulationErrors, ThreadsSkippingABarrierAreReported) {
  const std::string message = launchError("earlyExitKernel", {2}, {128});
  EXPECT_THAT(message,
              AllOf(HasSubstr("kernel 'earlyExitKernel'"), HasSubstr("block ("),
                    HasSubstr("exited while 64 thread(s) of the block wait at "
                              "__syncthreads at " +
                              siteOf("early-exit-barrier")),
                    HasSubstr("barrier divergence")));
}

TEST(HostEmulationErrors, DifferentBarriersAreReported) {
  const std::string message = launchError("divergentBarrierKernel", {1}, {64});
  EXPECT_THAT(
      message,
      AllOf(HasSubstr("kernel 'divergentBarrierKernel' block (0,0,0)"),
            HasSubstr("__syncthreads at " + siteOf("divergent-second")),
            HasSubstr("wait at __syncthreads at " + siteOf("divergent-first")),
            HasSubstr("barrier divergence")));
}

TEST(HostEmulationErrors, DeadlockBetweenAWarpAndABarrierIsReported) {
  const std::string message =
      launchError("warpBarrierDeadlockKernel", {1}, {64});
  EXPECT_THAT(message,
              AllOf(HasSubstr("kernel 'warpBarrierDeadlockKernel' block "
                              "(0,0,0): deadlock"),
                    HasSubstr("threads 0-15 (linear index) wait in "
                              "__shfl_sync at " +
                              siteOf("deadlock-shuffle")),
                    HasSubstr("threads 16-63 (linear index) wait at "
                              "__syncthreads at " +
                              siteOf("deadlock-barrier"))));
}

TEST(HostEmulationErrors, PartialShuffleMaskIsReported) {
  const std::string message = launchError("partialMaskKernel", {1}, {32});
  EXPECT_THAT(message,
              AllOf(HasSubstr("__shfl_sync at " + siteOf("partial-mask")),
                    HasSubstr("mask 0x0000ffff"),
                    HasSubstr("partial masks are not supported")));
}

TEST(HostEmulationErrors, ShuffleNamingExitedLanesIsReported) {
  const std::string message = launchError("exitedLaneShuffleKernel", {1}, {32});
  EXPECT_THAT(message,
              AllOf(HasSubstr("__shfl_xor_sync"),
                    HasSubstr("lanes 0-7 of warp 0 that already exited")));
}

TEST(HostEmulationErrors, LdmatrixOutsideSharedMemoryIsReported) {
  const std::string message =
      launchError("ldmatrixOutOfBoundsKernel", {1}, {32}, 512);
  EXPECT_THAT(message, AllOf(HasSubstr("ldmatrix: lane 31"),
                             HasSubstr("outside the block's dynamic shared "
                                       "memory (512 bytes")));
}

TEST(HostEmulationErrors, MisalignedCpAsyncIsReported) {
  const std::string message =
      launchError("cpAsyncMisalignedKernel", {1}, {32}, 64);
  EXPECT_THAT(message, HasSubstr("cp.async: destination shared offset 8 is not "
                                 "aligned to 16 bytes"));
}

TEST(HostEmulationErrors, ErrorsLeaveTheModuleUsable) {
  // A failed block is abandoned cleanly: the next launch on the same OS
  // threads runs normally.
  launchError("earlyExitKernel", {4}, {128});
  std::vector<int> out(64, 300);
  ErrorArgs args{out.data()};
  HostLaunchOptions options;
  options.stackBytes = 4 << 20; // ~300 frames of 1 KB each
  errorModule().launch("deepStackKernel", {1}, {64}, 0, &args, options);
  for (int v : out)
    EXPECT_EQ(v, 7);
}

} // namespace
} // namespace test
} // namespace host
} // namespace awq
