//===- NvrtcTestHelpers.cpp - Compile many kernel sources with NVRTC ------===//

#include "NvrtcTestHelpers.h"

#include "runtime/support/Error.h"

#include <atomic>
#include <thread>

namespace awq {
namespace test {

const std::vector<std::string> &targetArchs() {
  static const std::vector<std::string> archs = {"sm_75", "sm_80", "sm_86",
                                                 "sm_89", "sm_90", "sm_120"};
  return archs;
}

std::vector<CompileOutcome> compileAll(const std::vector<CompileJob> &jobs,
                                       unsigned threads) {
  std::vector<CompileOutcome> outcomes(jobs.size());
  if (threads == 0)
    threads = std::max(1u, std::thread::hardware_concurrency());
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t i = next++; i < jobs.size(); i = next++) {
      try {
        outcomes[i].result = compileToCubin(
            jobs[i].source, jobs[i].kernelName + ".cu", jobs[i].options);
      } catch (const std::exception &e) {
        outcomes[i].error = e.what();
      }
    }
  };
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads && t < jobs.size(); ++t)
    pool.emplace_back(worker);
  worker();
  for (std::thread &t : pool)
    t.join();
  return outcomes;
}

::testing::AssertionResult
compiledWithoutSpills(const CompileJob &job, const CompileOutcome &outcome) {
  return kernelWithoutSpills(job.label + " on " + job.options.arch, outcome,
                             job.kernelName);
}

::testing::AssertionResult kernelWithoutSpills(const std::string &where,
                                               const CompileOutcome &outcome,
                                               const std::string &kernelName) {
  if (!outcome.error.empty())
    return ::testing::AssertionFailure() << where << " failed to compile:\n"
                                         << outcome.error;
  const KernelResources *kernel = outcome.result.find(kernelName);
  if (!kernel)
    return ::testing::AssertionFailure()
           << where << ": ptxas reported no kernel '" << kernelName
           << "'; log:\n"
           << outcome.result.log;
  if (!kernel->isEntry || kernel->registers <= 0)
    return ::testing::AssertionFailure()
           << where << ": '" << kernelName
           << "' has no entry resource line; log:\n"
           << outcome.result.log;
  if (kernel->spillStoreBytes != 0 || kernel->spillLoadBytes != 0 ||
      kernel->stackBytes != 0)
    return ::testing::AssertionFailure()
           << where << ": " << kernel->registers << " registers, "
           << kernel->spillStoreBytes << " bytes spill stores, "
           << kernel->spillLoadBytes << " bytes spill loads, "
           << kernel->stackBytes << " bytes stack";
  return ::testing::AssertionSuccess();
}

} // namespace test
} // namespace awq
