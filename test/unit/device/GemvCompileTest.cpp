//===- GemvCompileTest.cpp - Every GEMV shape builds for sm_75..sm_120 ----===//
//
// For LLaMA-2-7B's shapes, 8192 x 28672 and small odd shapes across bit
// widths, group sizes, zero point / symmetric and the epilogues, takes the
// GEMV instance the planner (planGemv) picks on each of sm_75, sm_80,
// sm_86, sm_89, sm_90 and sm_120, plus chosen tilings that reach the
// template's extremes (1, 2 and 8 rows per block, 64 and 256 threads, 2
// columns per warp), emits each
// with KernelInstance::source, compiles one program per architecture (one
// test each) to CUBIN with NVRTC, and requires ptxas to report no spills and
// no stack frame for every kernel.
//
//===----------------------------------------------------------------------===//

#include "NvrtcTestHelpers.h"

#include "runtime/kernels/KernelInstance.h"
#include "runtime/kernels/KernelPlan.h"

#include <gtest/gtest.h>

#include <cstdio>

namespace {

using awq::GemvParams;
using awq::KernelInstance;

struct Shape {
  const char *name;
  int64_t k, n;
  int bits;
  int64_t group; ///< 0: per column.
  bool zeroPoint, actScale, bias, residual, siluMul;
};

const Shape kShapes[] = {
    {"o_proj", 4096, 4096, 4, 128, true, false, false, true, false},
    {"gate_up", 4096, 22016, 4, 128, true, false, false, false, true},
    {"down_proj", 11008, 4096, 4, 128, true, true, false, true, false},
    {"qkv", 4096, 12288, 4, 64, false, false, true, false, false},
    {"up_70b", 8192, 28672, 4, 128, true, false, false, false, false},
    {"o_proj_3bit", 4096, 4096, 3, 128, true, true, false, false, false},
    {"down_3bit", 11008, 4096, 3, 32, false, false, false, true, false},
    {"up_8bit", 4096, 11008, 8, 0, false, false, false, false, false},
    {"down_8bit", 11008, 4096, 8, 32, true, false, true, false, false},
    {"odd_3bit", 100, 37, 3, 0, true, false, true, true, false},
    {"odd_8bit_silu", 96, 10, 8, 32, false, false, false, false, true},
    {"odd_4bit", 1056, 72, 4, 32, true, true, false, false, false},
};

awq::LinearShape linearShape(const Shape &s) {
  awq::LinearShape shape;
  shape.k = s.k;
  shape.n = s.n;
  shape.bits = s.bits;
  shape.group = s.group == 0 ? s.k : s.group;
  shape.zeroPoint = s.zeroPoint;
  shape.actScale = s.actScale;
  shape.bias = s.bias;
  shape.residual = s.residual;
  shape.siluMul = s.siluMul;
  return shape;
}

/// Tilings the planner does not pick but the template serves, chosen to
/// reach its extremes: the most rows per block (8), one and two rows, the
/// smallest and a large block, on each bit width.
struct ChosenTiling {
  const char *shape;
  GemvParams params; ///< threads, cols per warp, k split, max rows.
};
const ChosenTiling kChosen[] = {
    {"qkv", {256, 4, 1, 8}},          {"odd_4bit", {64, 2, 2, 8}},
    {"down_8bit", {256, 2, 2, 8}},    {"down_proj", {256, 4, 3, 1}},
    {"up_70b", {256, 4, 1, 2}},       {"down_3bit", {256, 4, 2, 2}},
    {"odd_8bit_silu", {64, 2, 1, 2}},
};

struct Kernel {
  std::string name;
  KernelInstance instance;
};

class GemvCompile : public ::testing::TestWithParam<std::string> {};

TEST_P(GemvCompile, PlannedAndChosenTilingsWithoutSpills) {
  const std::string &archName = GetParam();
  const std::optional<awq::Target> target = awq::parseTarget(archName);
  ASSERT_TRUE(target.has_value()) << archName;
  std::vector<Kernel> kernels;
  for (const Shape &s : kShapes) {
    const awq::LinearShape shape = linearShape(s);
    const std::optional<GemvParams> planned =
        awq::planGemv(shape, *target->arch);
    ASSERT_TRUE(planned.has_value()) << s.name << " on " << archName;
    kernels.push_back({std::string("gemv_") + s.name,
                       KernelInstance::makeGemv(shape, *planned)});
  }
  for (const ChosenTiling &c : kChosen) {
    const Shape *s = nullptr;
    for (const Shape &candidate : kShapes)
      if (std::string(candidate.name) == c.shape)
        s = &candidate;
    ASSERT_NE(s, nullptr) << c.shape;
    kernels.push_back({std::string("gemv_") + c.shape + "_r" +
                           std::to_string(c.params.maxRows),
                       KernelInstance::makeGemv(linearShape(*s), c.params)});
  }
  // One program: the headers are parsed once.
  awq::test::CompileJob job;
  job.label = "GEMV kernels";
  for (const Kernel &k : kernels) {
    ASSERT_EQ(k.instance.check(), "") << k.name;
    job.source += k.instance.source(k.name);
  }
  job.kernelName = "gemv_" + archName;
  job.options.arch = archName;
  const awq::test::CompileOutcome outcome = awq::test::compileAll({job})[0];
  for (const Kernel &k : kernels) {
    EXPECT_TRUE(awq::test::kernelWithoutSpills(
        k.name + " = " + k.instance.configType() + " on " + archName, outcome,
        k.name));
    if (const awq::KernelResources *r = outcome.result.find(k.name))
      std::printf("%-22s %-6s %3d regs  %s\n", k.name.c_str(), archName.c_str(),
                  r->registers, k.instance.suggestedName().c_str());
  }
  std::printf("%s: %.2f s\n", archName.c_str(), outcome.result.seconds);
}

/// bf16 activations (issue 11, part 5): every shape above, planned, and
/// the chosen tilings, with bf16 x, y and parameters, on the parts with bf16
/// arithmetic; sm_75 has none and the planner refuses it.
class GemvCompileBf16 : public ::testing::TestWithParam<std::string> {};

TEST_P(GemvCompileBf16, PlannedAndChosenTilingsWithoutSpills) {
  const std::string &archName = GetParam();
  const std::optional<awq::Target> target = awq::parseTarget(archName);
  ASSERT_TRUE(target.has_value()) << archName;
  std::vector<Kernel> kernels;
  for (const Shape &s : kShapes) {
    awq::LinearShape shape = linearShape(s);
    shape.activation = awq::ActivationType::BF16;
    const std::optional<GemvParams> planned =
        awq::planGemv(shape, *target->arch);
    ASSERT_TRUE(planned.has_value()) << s.name << " on " << archName;
    EXPECT_FALSE(awq::planGemv(shape, *awq::findArch(75)).has_value())
        << "bf16 planned on sm_75: " << s.name;
    kernels.push_back({std::string("gemv_bf16_") + s.name,
                       KernelInstance::makeGemv(shape, *planned)});
  }
  for (const ChosenTiling &c : kChosen) {
    for (const Shape &s : kShapes)
      if (std::string(s.name) == c.shape) {
        awq::LinearShape shape = linearShape(s);
        shape.activation = awq::ActivationType::BF16;
        kernels.push_back({std::string("gemv_bf16_") + c.shape + "_r" +
                               std::to_string(c.params.maxRows),
                           KernelInstance::makeGemv(shape, c.params)});
      }
  }
  awq::test::CompileJob job;
  job.label = "bf16 GEMV kernels";
  for (const Kernel &k : kernels) {
    ASSERT_EQ(k.instance.check(), "") << k.name;
    ASSERT_NE(k.instance.configType().find("ActivationType::BF16"),
              std::string::npos)
        << k.name;
    job.source += k.instance.source(k.name);
  }
  job.kernelName = "gemv_bf16_" + archName;
  job.options.arch = archName;
  const awq::test::CompileOutcome outcome = awq::test::compileAll({job})[0];
  for (const Kernel &k : kernels) {
    EXPECT_TRUE(awq::test::kernelWithoutSpills(
        k.name + " = " + k.instance.configType() + " on " + archName, outcome,
        k.name));
    if (const awq::KernelResources *r = outcome.result.find(k.name))
      std::printf("%-26s %-6s %3d regs  %s\n", k.name.c_str(), archName.c_str(),
                  r->registers, k.instance.suggestedName().c_str());
  }
  std::printf("%s bf16: %.2f s\n", archName.c_str(), outcome.result.seconds);
}

INSTANTIATE_TEST_SUITE_P(Archs, GemvCompileBf16,
                         ::testing::Values("sm_80", "sm_90", "sm_120"),
                         [](const ::testing::TestParamInfo<std::string> &info) {
                           return info.param;
                         });

INSTANTIATE_TEST_SUITE_P(Archs, GemvCompile,
                         ::testing::ValuesIn(awq::test::targetArchs()),
                         [](const ::testing::TestParamInfo<std::string> &info) {
                           return info.param;
                         });

} // namespace
