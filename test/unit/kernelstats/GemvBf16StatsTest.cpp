//===- GemvBf16StatsTest.cpp - bf16 GEMV machine code costs what fp16's does
//
// For each GEMV of the LLaMA-2-7B block (the kernels awq-kernel-stats
// reports) and each architecture with bf16 arithmetic (sm_80, sm_90,
// sm_120), builds the same instance with bf16 activations, compiles both
// with NVRTC, and requires the bf16 main loop's instructions per weight to
// be at most 5% above fp16's (issue 11, part 5) and its resident warps and
// weight bytes in flight per SM at least 95% of fp16's. bf16 costs a fixed
// +0.12 per weight (the per-unit power-of-two normalisation and the unit
// factor applied per column, about 31 instructions per lane and tile):
// +2.5% to +4.8% of the loop (the staging loop straight-line code; one-row
// bodies of paired layouts normalise each slot's pair of units by one power
// of two, so bf16 shares the pair's zero point and scale as fp16 does; it
// was +3.3% to +5.1%, over 5% on 4096 x 4096 for sm_90, when the loop was
// longer, and +8% while only fp16 paired its units). ALU-pipe instructions per
// weight may grow by 10%: widening bf16 is an integer shift or mask where
// fp16's HADD2.F32 runs on the FMA pipe. The scales' and zero points' high
// halves widen with a bf16x2 FMA instead (GemvElement::finitePairToFloat2);
// x's keep their mask. bf16 adds +0.03 to +0.04 ALU per weight in one-row
// bodies (+3.6% to +4.5%) and +0.07 to +0.09 in bodies of 2 and 4 rows (+6%
// to +8.6%) of fp16's ALU count, which the decode's multiply-high shifts
// made smaller (stop 25). Prints both, and the classes that differ, so the
// numbers can be quoted.
//
// Skips (GTEST_SKIP) when no disassembler is found.
//
//===----------------------------------------------------------------------===//
#include "compiler/kernelstats/Disassembler.h"
#include "compiler/kernelstats/KernelStats.h"
#include "compiler/kernelstats/KernelStatsCommand.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>

namespace awq {
namespace {

constexpr double kAllowed = 1.05;
constexpr double kAllowedAlu = 1.10;

class GemvBf16Stats : public ::testing::TestWithParam<const char *> {};

TEST_P(GemvBf16Stats, WithinFivePercentOfFp16) {
  const std::string arch = GetParam();
  const Disassembler tool = findDisassembler();
  if (tool.path.empty())
    GTEST_SKIP() << "no SASS disassembler (looked at "
                 << disassemblerSearchDescription() << ")";
  int checked = 0;
  for (const auto &[name, fp16] :
       compileKernelInstances(defaultKernelStatsInput(), arch, "gemv")) {
    ASSERT_EQ(fp16.family, KernelFamily::Gemv);
    LinearShape shape = fp16.shape;
    shape.activation = ActivationType::BF16;
    const KernelInstance bf16 = KernelInstance::makeGemv(shape, fp16.gemv);
    ASSERT_EQ(bf16.check(), "") << name;
    const KernelStats a = analyzeKernel(name, fp16, arch, tool);
    const KernelStats b = analyzeKernel(name + "_bf16", bf16, arch, tool);
    ASSERT_EQ(a.bodies.size(), b.bodies.size()) << name;
    EXPECT_EQ(b.spillStoreBytes, 0) << name;
    for (size_t i = 0; i < a.bodies.size(); ++i) {
      const RowBody &x = a.bodies[i], &y = b.bodies[i];
      SCOPED_TRACE(name + " (" + arch + "), rows " + std::to_string(x.rows));
      ASSERT_TRUE(y.loopFound);
      const int alu = static_cast<int>(sass::Pipe::Alu);
      std::printf("%-28s %-6s rows %lld  instr/weight fp16 %.3f bf16 %.3f "
                  "(%+.1f%%)  alu/weight fp16 %.3f bf16 %.3f  warps %lld/%lld"
                  "  in flight %lld/%lld B\n",
                  name.c_str(), arch.c_str(), static_cast<long long>(x.rows),
                  x.instructionsPerWeight, y.instructionsPerWeight,
                  100.0 *
                      (y.instructionsPerWeight / x.instructionsPerWeight - 1.0),
                  x.perPipe[alu], y.perPipe[alu],
                  static_cast<long long>(a.occupancy.warps),
                  static_cast<long long>(b.occupancy.warps),
                  static_cast<long long>(a.bytesInFlightPerSm),
                  static_cast<long long>(b.bytesInFlightPerSm));
      for (int c = 0; c < sass::kClassCount; ++c)
        if (x.perClass[c] != y.perClass[c])
          std::printf("    %-14s fp16 %.3f bf16 %.3f\n",
                      sass::className(static_cast<sass::Class>(c)),
                      x.perClass[c], y.perClass[c]);
      EXPECT_LE(y.instructionsPerWeight, x.instructionsPerWeight * kAllowed);
      EXPECT_LE(y.perPipe[alu], x.perPipe[alu] * kAllowedAlu);
      EXPECT_GE(static_cast<double>(b.occupancy.warps),
                static_cast<double>(a.occupancy.warps) / kAllowed);
      EXPECT_GE(static_cast<double>(b.bytesInFlightPerSm),
                static_cast<double>(a.bytesInFlightPerSm) / kAllowed);
      ++checked;
    }
  }
  EXPECT_EQ(checked, 12); // Four GEMVs, row bodies for 1, 2 and 4 rows.
}

INSTANTIATE_TEST_SUITE_P(LlamaBlock, GemvBf16Stats,
                         ::testing::Values("sm_80", "sm_90", "sm_120"),
                         [](const auto &info) {
                           return std::string(info.param);
                         });

} // namespace
} // namespace awq
