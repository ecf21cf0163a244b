//===- KernelStatsRegressionTest.cpp - Guard the kernels' machine code ----===//
//
// Compiles the kernels of a LLaMA-2-7B block (examples/llama-2-7b-block.json,
// the 7B benchmark shapes) for sm_75 (register-staged GEMM, m16n8k8), sm_80,
// sm_90 and sm_120 (100 KB of shared memory per SM) exactly as awq-kernel-stats
// does and checks, per kernel and row body, that the main loop's
// instructions per weight and ALU-pipe instructions per weight do not grow
// beyond today's values plus 3%, and that resident warps per SM and weight
// bytes in flight per SM do not shrink. A change that makes the machine code
// worse fails here; one that makes it better should lower the table.
//
// The table is today's measurement (NVRTC 13.0, December 2026), not the
// goal. The goals of the kernel-performance issue are checked apart
// (expectIssueTargets, on sm_80 and sm_90): for decode (M = 1) <= 2.5
// instructions per weight, <= 1.0 on the ALU pipe, >= 16 resident warps,
// >= 32 KB of weight bytes in flight per SM and the H200 estimate; for the
// GEMM at M <= 16 <= 3.0, >= 24 KB in flight and every SM busy; <= +0.6
// instructions per weight per row beyond the first at M = 2, 4, 8
// (KernelStatsExtraRows). docs/kernels.md, "Reading the machine code".
// GEMM bodies: 16 rows is the small-M body, 64 the row split.
//
// The same guard for the bf16 GEMMs (the block's kernels with bf16
// activations, awq-kernel-stats --activation bf16; sm_80+): their resident
// warps and bytes in flight must equal the fp16 kernels'. And for the block
// with 3-bit and with 8-bit weights on sm_80 and sm_90.
//
// Skips (GTEST_SKIP) when no disassembler is found.
//
//===----------------------------------------------------------------------===//
#include "compiler/kernelstats/Disassembler.h"
#include "compiler/kernelstats/KernelStats.h"
#include "compiler/kernelstats/KernelStatsCommand.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <tuple>
#include <unistd.h>

namespace awq {
namespace {

struct Guard {
  const char *arch, *family;
  int64_t k, n, rows;
  double instructionsPerWeight, aluPerWeight;
  int64_t residentWarps, bytesInFlightPerSm;
};

/// Measured with `awq-kernel-stats --json --target sm_75,sm_80,sm_90,sm_120`
/// (no INPUT).
constexpr Guard kToday[] = {
    {"sm_75", "gemv", 4096, 12288, 1, 2.42, 0.94, 16, 65536},
    {"sm_75", "gemm", 4096, 12288, 16, 3.64, 1.36, 8, 8192},
    {"sm_75", "gemm", 4096, 12288, 64, 8.00, 2.66, 8, 8192},
    {"sm_75", "gemv", 4096, 4096, 1, 2.42, 0.94, 16, 65536},
    {"sm_75", "gemm", 4096, 4096, 16, 3.67, 1.36, 8, 8192},
    {"sm_75", "gemm", 4096, 4096, 64, 8.00, 2.66, 8, 8192},
    {"sm_75", "gemv", 4096, 22016, 1, 2.42, 0.94, 16, 65536},
    {"sm_75", "gemm", 4096, 22016, 16, 3.64, 1.41, 8, 8192},
    {"sm_75", "gemm", 4096, 22016, 64, 8.00, 2.84, 8, 8192},
    {"sm_75", "gemv", 11008, 4096, 1, 2.44, 0.95, 16, 65536},
    {"sm_75", "gemm", 11008, 4096, 16, 3.67, 1.36, 8, 8192},
    {"sm_75", "gemm", 11008, 4096, 64, 8.00, 2.66, 8, 8192},
    {"sm_80", "gemv", 4096, 12288, 1, 2.42, 0.95, 16, 65536},
    {"sm_80", "gemm", 4096, 12288, 16, 2.59, 0.89, 8, 32768},
    {"sm_80", "gemm", 4096, 12288, 64, 5.66, 1.87, 8, 32768},
    {"sm_80", "gemv", 4096, 4096, 1, 2.45, 0.96, 16, 65536},
    {"sm_80", "gemm", 4096, 4096, 16, 2.59, 0.89, 8, 32768},
    {"sm_80", "gemm", 4096, 4096, 64, 5.66, 1.87, 8, 32768},
    {"sm_80", "gemv", 4096, 22016, 1, 2.42, 0.95, 16, 65536},
    {"sm_80", "gemm", 4096, 22016, 16, 2.59, 0.89, 8, 32768},
    {"sm_80", "gemm", 4096, 22016, 64, 5.92, 1.96, 8, 32768},
    {"sm_80", "gemv", 11008, 4096, 1, 2.47, 0.97, 16, 65536},
    {"sm_80", "gemm", 11008, 4096, 16, 2.59, 0.89, 8, 32768},
    {"sm_80", "gemm", 11008, 4096, 64, 5.66, 1.87, 8, 32768},
    {"sm_90", "gemv", 4096, 12288, 1, 2.41, 0.94, 16, 65536},
    {"sm_90", "gemm", 4096, 12288, 16, 2.66, 0.86, 12, 49152},
    {"sm_90", "gemm", 4096, 12288, 64, 5.75, 1.83, 12, 49152},
    {"sm_90", "gemv", 4096, 4096, 1, 2.45, 0.96, 16, 65536},
    {"sm_90", "gemm", 4096, 4096, 16, 2.66, 0.86, 12, 49152},
    {"sm_90", "gemm", 4096, 4096, 64, 5.75, 1.83, 12, 49152},
    {"sm_90", "gemv", 4096, 22016, 1, 2.41, 0.94, 16, 65536},
    {"sm_90", "gemm", 4096, 22016, 16, 2.66, 0.88, 12, 49152},
    {"sm_90", "gemm", 4096, 22016, 64, 6.04, 1.95, 12, 49152},
    {"sm_90", "gemv", 11008, 4096, 1, 2.47, 0.97, 16, 65536},
    {"sm_90", "gemm", 11008, 4096, 16, 2.66, 0.86, 12, 49152},
    {"sm_90", "gemm", 11008, 4096, 64, 5.75, 1.83, 12, 49152},
    {"sm_120", "gemv", 4096, 12288, 1, 2.42, 0.92, 16, 65536},
    {"sm_120", "gemm", 4096, 12288, 16, 3.23, 1.30, 8, 16384},
    {"sm_120", "gemm", 4096, 12288, 64, 6.23, 1.94, 8, 16384},
    {"sm_120", "gemv", 4096, 4096, 1, 2.42, 0.92, 16, 65536},
    {"sm_120", "gemm", 4096, 4096, 16, 3.23, 1.30, 8, 16384},
    {"sm_120", "gemm", 4096, 4096, 64, 6.23, 1.94, 8, 16384},
    {"sm_120", "gemv", 4096, 22016, 1, 2.42, 0.92, 16, 65536},
    {"sm_120", "gemm", 4096, 22016, 16, 3.23, 1.30, 8, 16384},
    {"sm_120", "gemm", 4096, 22016, 64, 6.23, 1.94, 8, 16384},
    {"sm_120", "gemv", 11008, 4096, 1, 2.42, 0.92, 16, 65536},
    {"sm_120", "gemm", 11008, 4096, 16, 3.23, 1.30, 8, 16384},
    {"sm_120", "gemm", 11008, 4096, 64, 6.23, 1.94, 8, 16384},
};

/// The bf16 GEMMs, measured with `awq-kernel-stats --families gemm
/// --activation bf16 --target sm_80,sm_90,sm_120`. Compared with fp16 the
/// 4-bit decode needs two more shifts per 8 weights (docs/kernels.md, "bf16
/// activations"): +0.25 ALU instructions per weight.
constexpr Guard kTodayBf16[] = {
    {"sm_80", "gemm", 4096, 12288, 16, 2.84, 1.11, 8, 32768},
    {"sm_80", "gemm", 4096, 12288, 64, 6.15, 2.34, 8, 32768},
    {"sm_80", "gemm", 4096, 4096, 16, 2.84, 1.11, 8, 32768},
    {"sm_80", "gemm", 4096, 4096, 64, 6.15, 2.34, 8, 32768},
    {"sm_80", "gemm", 4096, 22016, 16, 2.84, 1.11, 8, 32768},
    {"sm_80", "gemm", 4096, 22016, 64, 6.42, 2.43, 8, 32768},
    {"sm_80", "gemm", 11008, 4096, 16, 2.84, 1.11, 8, 32768},
    {"sm_80", "gemm", 11008, 4096, 64, 6.15, 2.34, 8, 32768},
    {"sm_90", "gemm", 4096, 12288, 16, 2.93, 1.11, 12, 49152},
    {"sm_90", "gemm", 4096, 12288, 64, 6.23, 2.30, 12, 49152},
    {"sm_90", "gemm", 4096, 4096, 16, 2.93, 1.11, 12, 49152},
    {"sm_90", "gemm", 4096, 4096, 64, 6.23, 2.30, 12, 49152},
    {"sm_90", "gemm", 4096, 22016, 16, 2.93, 1.12, 12, 49152},
    {"sm_90", "gemm", 4096, 22016, 64, 6.53, 2.38, 12, 49152},
    {"sm_90", "gemm", 11008, 4096, 16, 2.93, 1.11, 12, 49152},
    {"sm_90", "gemm", 11008, 4096, 64, 6.23, 2.30, 12, 49152},
    {"sm_120", "gemm", 4096, 12288, 16, 3.47, 1.47, 8, 16384},
    {"sm_120", "gemm", 4096, 12288, 64, 6.94, 2.36, 8, 16384},
    {"sm_120", "gemm", 4096, 4096, 16, 3.47, 1.47, 8, 16384},
    {"sm_120", "gemm", 4096, 4096, 64, 6.94, 2.36, 8, 16384},
    {"sm_120", "gemm", 4096, 22016, 16, 3.47, 1.47, 8, 16384},
    {"sm_120", "gemm", 4096, 22016, 64, 6.94, 2.36, 8, 16384},
    {"sm_120", "gemm", 11008, 4096, 16, 3.47, 1.47, 8, 16384},
    {"sm_120", "gemm", 11008, 4096, 64, 6.94, 2.36, 8, 16384},
};

/// The same block with 3-bit and with 8-bit weights (`"bits": 4` replaced in
/// examples/llama-2-7b-block.json), measured with `awq-kernel-stats DESC
/// --json --target sm_80,sm_90`. The issue's targets at M = 1 are <= 3.0
/// (3-bit) and <= 2.5 (8-bit) instructions per weight.
constexpr Guard kToday3Bit[] = {
    {"sm_80", "gemv", 4096, 12288, 1, 2.56, 1.16, 16, 49152},
    {"sm_80", "gemm", 4096, 12288, 16, 2.73, 1.02, 8, 24576},
    {"sm_80", "gemm", 4096, 12288, 64, 6.27, 2.29, 8, 24576},
    {"sm_80", "gemv", 4096, 4096, 1, 2.58, 1.16, 16, 49152},
    {"sm_80", "gemm", 4096, 4096, 16, 2.73, 1.02, 8, 24576},
    {"sm_80", "gemm", 4096, 4096, 64, 6.27, 2.29, 8, 24576},
    {"sm_80", "gemv", 4096, 22016, 1, 2.56, 1.15, 16, 49152},
    {"sm_80", "gemm", 4096, 22016, 16, 2.73, 1.02, 8, 24576},
    {"sm_80", "gemm", 4096, 22016, 64, 6.27, 2.29, 8, 24576},
    {"sm_80", "gemv", 11008, 4096, 1, 2.63, 1.17, 16, 49152},
    {"sm_80", "gemm", 11008, 4096, 16, 2.73, 1.02, 8, 24576},
    {"sm_80", "gemm", 11008, 4096, 64, 6.27, 2.29, 8, 24576},
    {"sm_90", "gemv", 4096, 12288, 1, 2.56, 1.16, 16, 49152},
    {"sm_90", "gemm", 4096, 12288, 16, 2.85, 1.04, 12, 36864},
    {"sm_90", "gemm", 4096, 12288, 64, 6.40, 2.23, 12, 36864},
    {"sm_90", "gemv", 4096, 4096, 1, 2.60, 1.16, 16, 49152},
    {"sm_90", "gemm", 4096, 4096, 16, 2.85, 1.04, 12, 36864},
    {"sm_90", "gemm", 4096, 4096, 64, 6.40, 2.23, 12, 36864},
    {"sm_90", "gemv", 4096, 22016, 1, 2.56, 1.16, 16, 49152},
    {"sm_90", "gemm", 4096, 22016, 16, 2.85, 1.05, 12, 36864},
    {"sm_90", "gemm", 4096, 22016, 64, 6.40, 2.28, 12, 36864},
    {"sm_90", "gemv", 11008, 4096, 1, 2.62, 1.20, 16, 49152},
    {"sm_90", "gemm", 11008, 4096, 16, 2.85, 1.04, 12, 36864},
    {"sm_90", "gemm", 11008, 4096, 64, 6.40, 2.23, 12, 36864},
};
/// The 8-bit gate/up GEMMs on sm_80 and sm_90 run without split-K since the
/// planner fills one wave (stop 26): ptxas then moves some of their loop's
/// integer work to the ALU pipe (+0.1 to +0.2 ALU per weight in the 64-row
/// body, +0.07 in sm_90's small-M body; totals within +0.015).
constexpr Guard kToday8Bit[] = {
    {"sm_80", "gemv", 4096, 12288, 1, 2.37, 0.86, 8, 65536},
    {"sm_80", "gemm", 4096, 12288, 16, 2.54, 0.80, 8, 32768},
    {"sm_80", "gemm", 4096, 12288, 64, 5.54, 1.61, 8, 32768},
    {"sm_80", "gemv", 4096, 4096, 1, 2.39, 0.88, 8, 65536},
    {"sm_80", "gemm", 4096, 4096, 16, 2.54, 0.80, 8, 32768},
    {"sm_80", "gemm", 4096, 4096, 64, 5.54, 1.61, 8, 32768},
    {"sm_80", "gemv", 4096, 22016, 1, 2.37, 0.86, 8, 65536},
    {"sm_80", "gemm", 4096, 22016, 16, 2.54, 0.80, 8, 32768},
    {"sm_80", "gemm", 4096, 22016, 64, 5.80, 1.80, 8, 32768},
    {"sm_80", "gemv", 11008, 4096, 1, 2.42, 0.90, 8, 65536},
    {"sm_80", "gemm", 11008, 4096, 16, 2.54, 0.80, 8, 32768},
    {"sm_80", "gemm", 11008, 4096, 64, 5.54, 1.61, 8, 32768},
    {"sm_90", "gemv", 4096, 12288, 1, 2.39, 0.87, 8, 65536},
    {"sm_90", "gemm", 4096, 12288, 16, 2.65, 0.75, 8, 65536},
    {"sm_90", "gemm", 4096, 12288, 64, 5.63, 1.61, 8, 65536},
    {"sm_90", "gemv", 4096, 4096, 1, 2.41, 0.89, 8, 65536},
    {"sm_90", "gemm", 4096, 4096, 16, 2.65, 0.75, 8, 65536},
    {"sm_90", "gemm", 4096, 4096, 64, 5.63, 1.61, 8, 65536},
    {"sm_90", "gemv", 4096, 22016, 1, 2.39, 0.87, 8, 65536},
    {"sm_90", "gemm", 4096, 22016, 16, 2.66, 0.86, 8, 65536},
    {"sm_90", "gemm", 4096, 22016, 64, 5.93, 1.95, 8, 65536},
    {"sm_90", "gemv", 11008, 4096, 1, 2.44, 0.91, 8, 65536},
    {"sm_90", "gemm", 11008, 4096, 16, 2.65, 0.75, 8, 65536},
    {"sm_90", "gemm", 11008, 4096, 64, 5.63, 1.61, 8, 65536},
};

/// Relative headroom on the counts: small, so a real regression fails.
constexpr double kMargin = 1.03;

/// Checks every row body of `kernels` (compiled for `arch`) against its
/// guard in `table`; returns how many bodies were checked.
template <size_t N>
int expectWithinGuards(
    const std::vector<std::pair<std::string, KernelInstance>> &kernels,
    const std::string &arch, const Guard (&table)[N], const std::string &label,
    const Disassembler &tool, std::vector<KernelStats> *reports = nullptr) {
  int checked = 0;
  for (const auto &[name, instance] : kernels) {
    const KernelStats stats = analyzeKernel(name, instance, arch, tool);
    if (reports)
      reports->push_back(stats);
    for (const RowBody &body : stats.bodies) {
      SCOPED_TRACE(name + " " + label + " (" + arch + "), rows " +
                   std::to_string(body.rows));
      const Guard *guard = nullptr;
      for (const Guard &g : table)
        if (g.arch == arch &&
            g.family == std::string(familyName(instance.family)) &&
            g.k == instance.shape.k && g.n == instance.shape.n &&
            g.rows == body.rows)
          guard = &g;
      EXPECT_NE(guard, nullptr)
          << "no guard for this kernel: the planner or the row bodies "
             "changed; measure with awq-kernel-stats --json and update the "
             "table";
      if (!guard)
        continue;
      EXPECT_TRUE(body.loopFound);
      EXPECT_EQ(body.mathFound, body.mathExpected);
      EXPECT_LE(body.instructionsPerWeight,
                guard->instructionsPerWeight * kMargin);
      EXPECT_LE(body.perPipe[static_cast<int>(sass::Pipe::Alu)],
                guard->aluPerWeight * kMargin);
      EXPECT_GE(stats.occupancy.warps, guard->residentWarps);
      EXPECT_GE(stats.bytesInFlightPerSm, guard->bytesInFlightPerSm);
      EXPECT_EQ(stats.spillStoreBytes, 0);
      ++checked;
    }
  }
  return checked;
}

/// The kernel-performance issue's targets on sm_80 and sm_90, checked on
/// the reports themselves (today's table above allows 3% more): the GEMV at
/// M = 1 at most `gemvPerWeight` instructions per weight (4 bits 2.5, 3 bits
/// 3.0, 8 bits 2.5); at 4 bits also at most 1.0 on the ALU pipe, at least 16
/// resident warps and 32 KB of weights in flight per SM, and on sm_90 a
/// model estimate of at least 85% of an H200's measured 4.3 TB/s copy
/// bandwidth (75% for 4096 x 4096); the GEMM's small-M body at most 3.0,
/// with at least 24 KB in flight per SM and a grid that gives every SM a
/// block.
void expectIssueTargets(const std::vector<KernelStats> &reports,
                        const std::string &arch, int bits,
                        double gemvPerWeight) {
  constexpr double kH200CopyGBs = 4300;
  const ArchInfo &info = *parseTarget(arch)->arch;
  for (const KernelStats &stats : reports)
    for (const RowBody &body : stats.bodies) {
      SCOPED_TRACE(stats.name + " (" + arch + "), rows " +
                   std::to_string(body.rows) + ": the issue's target");
      const LinearShape &shape = stats.instance.shape;
      if (stats.instance.family == KernelFamily::Gemv && body.rows == 1) {
        EXPECT_LE(body.instructionsPerWeight, gemvPerWeight);
        if (bits != 4)
          continue;
        EXPECT_LE(body.perPipe[static_cast<int>(sass::Pipe::Alu)], 1.0);
        EXPECT_GE(stats.occupancy.warps, 16);
        EXPECT_GE(stats.bytesInFlightPerSm, 32 * 1024);
        for (const BandwidthEstimate &e : body.estimates)
          if (e.gpu == std::string("H200 SXM"))
            EXPECT_GE(e.estimateGBs,
                      (shape.k == 4096 && shape.n == 4096 ? 0.75 : 0.85) *
                          kH200CopyGBs);
      } else if (stats.instance.family == KernelFamily::Gemm &&
                 body.rows == 16 && bits == 4) {
        EXPECT_LE(body.instructionsPerWeight, 3.0);
        EXPECT_GE(stats.bytesInFlightPerSm, 24 * 1024);
        const KernelLaunch launch = stats.instance.launch(16);
        EXPECT_GE(launch.gridX * launch.gridY * launch.gridZ, info.smCount);
      }
    }
}

/// The disassembler, or an empty path (the caller skips).
Disassembler disassemblerOrSkipReason(std::string &why) {
  const Disassembler tool = findDisassembler();
  if (tool.path.empty())
    why = "no SASS disassembler (looked at " + disassemblerSearchDescription() +
          "); run .ci/bootstrap.sh to install nvdisasm into .venv";
  return tool;
}

class KernelStatsRegression : public ::testing::TestWithParam<const char *> {};

TEST_P(KernelStatsRegression, CountsStayWithinTodaysValues) {
  const std::string arch = GetParam();
  std::string why;
  const Disassembler tool = disassemblerOrSkipReason(why);
  if (tool.path.empty())
    GTEST_SKIP() << why;
  // Four GEMVs with one row body (the GEMV serves M = 1), and four GEMMs
  // with two (the small-M body and the row split).
  std::vector<KernelStats> reports;
  EXPECT_EQ(expectWithinGuards(
                compileKernelInstances(defaultKernelStatsInput(), arch, "both"),
                arch, kToday, "fp16", tool, &reports),
            12);
  if (arch == "sm_80" || arch == "sm_90")
    expectIssueTargets(reports, arch, 4, 2.5);
}

INSTANTIATE_TEST_SUITE_P(LlamaBlock, KernelStatsRegression,
                         ::testing::Values("sm_75", "sm_80", "sm_90", "sm_120"),
                         [](const auto &info) {
                           return std::string(info.param);
                         });

/// The issue's target for batched decode, on the kernels and row bodies the
/// default plan runs for M rows (the GEMV for M = 1, the GEMM's small-M body
/// from M = 2): each row beyond the first adds at most 0.6 instructions per
/// weight at M = 2, 4 and 8, on every layer of the block.
constexpr double kTargetPerExtraRow = 0.6;

class KernelStatsExtraRows : public ::testing::TestWithParam<const char *> {};

TEST_P(KernelStatsExtraRows, EachRowBeyondTheFirstAddsAtMostTheTarget) {
  const std::string arch = GetParam();
  std::string why;
  const Disassembler tool = disassemblerOrSkipReason(why);
  if (tool.path.empty())
    GTEST_SKIP() << why;
  const CompiledKernels compiled =
      compileKernels(defaultKernelStatsInput(), arch, "both", 8);
  std::vector<KernelStats> reports;
  for (const auto &[name, instance] : compiled.kernels)
    reports.push_back(analyzeKernel(name, instance, arch, tool));
  ASSERT_EQ(compiled.layers.size(), 4u);
  for (const LayerKernels &layer : compiled.layers) {
    const LayerRowsCost costs{
        layer.name, arch,
        costByRows(layer.kernels, reports, arch, {1, 2, 4, 8})};
    ASSERT_EQ(costs.costs.size(), 4u) << layer.name;
    for (const RowsCost &cost : costs.costs) {
      SCOPED_TRACE(layer.name + " (" + arch +
                   "), M = " + std::to_string(cost.m) + ", " + cost.kernel);
      EXPECT_TRUE(cost.counted);
      if (cost.m == 1)
        continue;
      const std::optional<double> extra = costs.perExtraRow(cost);
      ASSERT_TRUE(extra.has_value());
      EXPECT_LE(*extra, kTargetPerExtraRow);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(LlamaBlock, KernelStatsExtraRows,
                         ::testing::Values("sm_80", "sm_90"),
                         [](const auto &info) {
                           return std::string(info.param);
                         });

class KernelStatsRegressionBf16
    : public ::testing::TestWithParam<const char *> {};

TEST_P(KernelStatsRegressionBf16, GemmCountsStayWithinTodaysValues) {
  const std::string arch = GetParam();
  std::string why;
  const Disassembler tool = disassemblerOrSkipReason(why);
  if (tool.path.empty())
    GTEST_SKIP() << why;
  auto kernels =
      compileKernelInstances(defaultKernelStatsInput(), arch, "gemm");
  for (auto &kernel : kernels)
    kernel.second.shape.activation = ActivationType::BF16;
  EXPECT_EQ(expectWithinGuards(kernels, arch, kTodayBf16, "bf16", tool), 8);
}

INSTANTIATE_TEST_SUITE_P(LlamaBlock, KernelStatsRegressionBf16,
                         ::testing::Values("sm_80", "sm_90", "sm_120"),
                         [](const auto &info) {
                           return std::string(info.param);
                         });

/// The LLaMA-2-7B block description with every layer's width set to `bits`,
/// written to a fresh temporary file; returns its path.
std::string blockDescriptionWithBits(int bits) {
  std::ifstream in(defaultKernelStatsInput());
  std::stringstream text;
  text << in.rdbuf();
  std::string description = text.str();
  const std::string from = "\"bits\": 4";
  const std::string to = "\"bits\": " + std::to_string(bits);
  size_t replaced = 0;
  for (size_t at = description.find(from); at != std::string::npos;
       at = description.find(from, at + to.size()), ++replaced)
    description.replace(at, from.size(), to);
  if (replaced == 0)
    throw std::runtime_error("no " + from + " in " + defaultKernelStatsInput());
  std::string path = ::testing::TempDir() + "kernelstats-block-" +
                     std::to_string(bits) + "bit-XXXXXX.json";
  // The input's kind comes from its extension, so the name keeps ".json".
  const int fd = ::mkstemps(path.data(), 5);
  if (fd < 0)
    throw std::runtime_error("mkstemps failed for " + path);
  ::close(fd);
  std::ofstream(path) << description;
  return path;
}

class KernelStatsRegressionBits
    : public ::testing::TestWithParam<std::tuple<int, const char *>> {};

TEST_P(KernelStatsRegressionBits, CountsStayWithinTodaysValues) {
  const auto [bits, archName] = GetParam();
  const std::string arch = archName;
  std::string why;
  const Disassembler tool = disassemblerOrSkipReason(why);
  if (tool.path.empty())
    GTEST_SKIP() << why;
  const std::string input = blockDescriptionWithBits(bits);
  const auto kernels = compileKernelInstances(input, arch, "both");
  std::remove(input.c_str());
  std::vector<KernelStats> reports;
  const int checked = bits == 3 ? expectWithinGuards(kernels, arch, kToday3Bit,
                                                     "3-bit", tool, &reports)
                                : expectWithinGuards(kernels, arch, kToday8Bit,
                                                     "8-bit", tool, &reports);
  EXPECT_EQ(checked, 12);
  expectIssueTargets(reports, arch, bits, bits == 3 ? 3.0 : 2.5);
}

INSTANTIATE_TEST_SUITE_P(LlamaBlock, KernelStatsRegressionBits,
                         ::testing::Combine(::testing::Values(3, 8),
                                            ::testing::Values("sm_80",
                                                              "sm_90")),
                         [](const auto &info) {
                           return std::to_string(std::get<0>(info.param)) +
                                  "bit_" + std::get<1>(info.param);
                         });

} // namespace
} // namespace awq
