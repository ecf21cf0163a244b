//===- GemvCompileTest.cpp - Every GEMV shape builds for sm_80..sm_90 -----===//
//
// Emits GEMV kernels for LLaMA-2-7B's shapes, 8192 x 28672 and small odd
// shapes across bit widths, group sizes, zero point / symmetric and the
// epilogues, compiles each to CUBIN for sm_80, sm_86, sm_89 and sm_90 with
// NVRTC, and requires ptxas to report no spills and no stack frame.
//
//===----------------------------------------------------------------------===//

#include "NvrtcTestHelpers.h"

#include "compiler/repack/GemvKernelConfig.h"

#include <gtest/gtest.h>

#include <cstdio>

namespace {

using awq::GemvKernelConfig;

struct Shape {
  const char *name;
  int64_t k, n;
  int bits;
  int64_t group; ///< 0: per column.
  bool zeroPoint, actScale, bias, residual, siluMul;
  int maxRows;
};

TEST(GemvCompile, AllShapesAllArchsWithoutSpills) {
  const Shape shapes[] = {
      {"o_proj", 4096, 4096, 4, 128, true, false, false, true, false, 1},
      {"gate_up", 4096, 22016, 4, 128, true, false, false, false, true, 4},
      {"down_proj", 11008, 4096, 4, 128, true, true, false, true, false, 1},
      {"qkv", 4096, 12288, 4, 64, false, false, true, false, false, 8},
      {"up_70b", 8192, 28672, 4, 128, true, false, false, false, false, 2},
      {"o_proj_3bit", 4096, 4096, 3, 128, true, true, false, false, false, 2},
      {"down_3bit", 11008, 4096, 3, 32, false, false, false, true, false, 2},
      {"up_8bit", 4096, 11008, 8, 0, false, false, false, false, false, 4},
      {"down_8bit", 11008, 4096, 8, 32, true, false, true, false, false, 1},
      {"odd_3bit", 100, 37, 3, 0, true, false, true, true, false, 4},
      {"odd_8bit_silu", 96, 10, 8, 32, false, false, false, false, true, 2},
      {"odd_4bit", 1056, 72, 4, 32, true, true, false, false, false, 8},
  };
  std::vector<awq::test::CompileJob> jobs;
  std::vector<GemvKernelConfig> configs;
  for (const Shape &s : shapes) {
    GemvKernelConfig c;
    c.k = s.k;
    c.n = s.n;
    c.bits = s.bits;
    c.groupSize = s.group == 0 ? s.k : s.group;
    c.zeroPoint = s.zeroPoint;
    c.actScale = s.actScale;
    c.bias = s.bias;
    c.residual = s.residual;
    c.siluMul = s.siluMul;
    ASSERT_NO_THROW(c = awq::planGemvTiling(c, s.maxRows, 132)) << s.name;
    for (const std::string &arch : awq::test::targetArchs()) {
      awq::test::CompileJob job;
      job.label = std::string(s.name) + " " + c.typeName();
      job.kernelName = std::string("gemv_") + s.name;
      job.source = c.kernelSource(job.kernelName);
      job.options.arch = arch;
      jobs.push_back(job);
      configs.push_back(c);
    }
  }
  const std::vector<awq::test::CompileOutcome> outcomes =
      awq::test::compileAll(jobs);
  for (size_t i = 0; i < jobs.size(); ++i) {
    EXPECT_TRUE(awq::test::compiledWithoutSpills(jobs[i], outcomes[i]));
    if (const awq::KernelResources *k =
            outcomes[i].result.find(jobs[i].kernelName))
      std::printf("%-28s %-6s %3d regs  %.2f s  %s\n",
                  jobs[i].kernelName.c_str(), jobs[i].options.arch.c_str(),
                  k->registers, outcomes[i].result.seconds,
                  configs[i].typeName().c_str());
  }
}

} // namespace
