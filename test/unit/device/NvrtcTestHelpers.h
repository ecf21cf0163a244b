//===- NvrtcTestHelpers.h - Compile many kernel sources with NVRTC in tests
//===//
//
// Shared by the GEMV and GEMM compile tests: runs a list of (source, arch)
// jobs on one thread per core and checks ptxas' report for an entry kernel
// (found, no spill stores or loads, no stack frame).
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_TEST_UNIT_DEVICE_NVRTCTESTHELPERS_H
#define AWQ_TEST_UNIT_DEVICE_NVRTCTESTHELPERS_H

#include "runtime/nvrtc/NvrtcCompiler.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace awq {
namespace test {

/// The real architectures every kernel must build for.
const std::vector<std::string> &targetArchs();

/// One compilation to run.
struct CompileJob {
  std::string label;      ///< For messages, e.g. the config's type name.
  std::string kernelName; ///< The extern "C" entry expected in the report.
  std::string source;
  NvrtcOptions options; ///< options.arch selects the architecture.
};

/// The outcome of one job: `error` is empty on success.
struct CompileOutcome {
  CompileResult result;
  std::string error;
};

/// Runs every job, `threads` at a time (0: one per hardware thread), and
/// returns the outcomes in job order. Never throws for a failed compile.
std::vector<CompileOutcome> compileAll(const std::vector<CompileJob> &jobs,
                                       unsigned threads = 0);

/// Success when the job compiled, ptxas reported its entry kernel, and the
/// kernel has no spill stores, spill loads or stack frame.
::testing::AssertionResult compiledWithoutSpills(const CompileJob &job,
                                                 const CompileOutcome &outcome);

/// The same for kernel `kernelName` of a program that defines several;
/// `where` names it in messages.
::testing::AssertionResult kernelWithoutSpills(const std::string &where,
                                               const CompileOutcome &outcome,
                                               const std::string &kernelName);

} // namespace test
} // namespace awq

#endif // AWQ_TEST_UNIT_DEVICE_NVRTCTESTHELPERS_H
