//===- KernelInstanceTest.cpp - Kernel instances: source, names, launches -===//
//
// runtime/kernels/KernelInstance.h is the one place that turns a family and
// its template parameters into CUDA source (what the compiler emits and the
// runtime compiles) and into launch geometry. These check the emitted text
// against configType(), the kernel-name rules, and launch() against the
// contract's geometry including CUDA's grid limits.
//
//===----------------------------------------------------------------------===//

#include "runtime/kernels/KernelInstance.h"
#include "runtime/kernels/KernelPlan.h"

#include "runtime/support/Error.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <set>
#include <string>

namespace awq {
namespace {

LinearShape layer(int64_t k, int64_t n, int bits, int64_t group) {
  LinearShape s;
  s.k = k;
  s.n = n;
  s.bits = bits;
  s.group = group;
  return s;
}

/// `source` with comments and whitespace removed.
std::string squeeze(const std::string &source) {
  std::string out;
  for (size_t i = 0; i < source.size(); ++i) {
    if (source.compare(i, 2, "/*") == 0) {
      i = source.find("*/", i + 2) + 1;
      continue;
    }
    if (source.compare(i, 2, "//") == 0) {
      i = source.find('\n', i);
      continue;
    }
    if (!std::isspace(static_cast<unsigned char>(source[i])))
      out += source[i];
  }
  return out;
}

/// Expects `body` to throw awq::Error whose message contains `needle`.
template <typename Body>
void expectError(Body body, const std::string &needle) {
  try {
    body();
    ADD_FAILURE() << "expected an awq::Error containing '" << needle << "'";
  } catch (const Error &e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos)
        << "message: " << e.what();
  }
}

TEST(KernelInstance, GemvSourceNamesTheConfigType) {
  LinearShape s = layer(4096, 4096, 4, 128);
  s.bias = true;
  const KernelInstance instance =
      KernelInstance::makeGemv(s, GemvParams{256, 4, 1, 1});
  EXPECT_EQ(instance.family, KernelFamily::Gemv);
  EXPECT_EQ(instance.check(), "");
  EXPECT_EQ(instance.configType(),
            "awq::GemvConfig<4096, 4096, 4, 128, true, 256, 4, 1, 1, false, "
            "true, false, false>");
  const std::string source = instance.source("layer0_o_proj");
  EXPECT_NE(source.find("#include \"awq/gemv.cuh\""), std::string::npos);
  EXPECT_NE(source.find("AWQ_GEMV_KERNEL(layer0_o_proj, layer0_o_proj_config)"),
            std::string::npos)
      << source;
  // The alias the kernel is instantiated with is exactly configType().
  std::string type = instance.configType();
  type.erase(std::remove(type.begin(), type.end(), ' '), type.end());
  EXPECT_NE(squeeze(source).find("usinglayer0_o_proj_config=" + type + ";"),
            std::string::npos)
      << source;
  // The source names no layer beyond the kernel name: the same instance
  // gives the same text under the same name.
  EXPECT_EQ(KernelInstance::makeGemv(s, GemvParams{256, 4, 1, 1})
                .source("layer0_o_proj"),
            source);
  EXPECT_NE(source.find(instance.describeLaunch()), std::string::npos);
}

TEST(KernelInstance, GemmSourceAndLaunchGeometry) {
  LinearShape s = layer(4096, 4000, 4, 128);
  const KernelInstance instance =
      KernelInstance::makeGemm(s, GemmParams{64, 256, 64, 1, 4, 4, 2});
  EXPECT_EQ(instance.family, KernelFamily::Gemm);
  EXPECT_EQ(instance.check(), "");
  // One M tile of 64: both splits.
  KernelLaunch launch = instance.launch(64);
  EXPECT_EQ(launch.gridX, 16);
  EXPECT_EQ(launch.gridY, 1);
  EXPECT_EQ(launch.gridZ, 2);
  EXPECT_EQ(launch.threads, 128);
  EXPECT_EQ(launch.threads, instance.threads());
  EXPECT_EQ(launch.sharedBytes, instance.sharedBytes());
  EXPECT_EQ(launch.workspaceFloats, 64 * 4000);
  EXPECT_EQ(launch.counters, 16);
  // Two M tiles double the blocks: no split, no workspace.
  launch = instance.launch(65);
  EXPECT_EQ(launch.gridY, 2);
  EXPECT_EQ(launch.gridZ, 1);
  EXPECT_EQ(launch.workspaceFloats, 0);
  EXPECT_EQ(launch.counters, 0);
  expectError([&] { instance.launch(0); }, "M must be at least 1");

  EXPECT_EQ(instance.configType(),
            "awq::GemmConfig<4096, 4000, 4, 128, true, 64, 256, 64, 1, 4, 4, "
            "2, false, false, false, false>");
  const std::string source = instance.source("blk0_qkv");
  EXPECT_NE(source.find("#include \"awq/gemm.cuh\""), std::string::npos);
  EXPECT_NE(source.find("AWQ_GEMM_KERNEL(blk0_qkv, blk0_qkv_config)"),
            std::string::npos);
  std::string type = instance.configType();
  type.erase(std::remove(type.begin(), type.end(), ' '), type.end());
  EXPECT_NE(squeeze(source).find("usingblk0_qkv_config=" + type + ";"),
            std::string::npos)
      << source;
  EXPECT_NE(source.find("fp16_magic_lop3"), std::string::npos) << source;
  expectError([&] { instance.source("9lives"); }, "is not a C identifier");
  KernelInstance bad = instance;
  bad.gemm.stages = 1;
  expectError([&] { bad.source("k"); }, "stages must be 2, 3 or 4");
}

TEST(KernelInstance, SplitKScratchOnlyWithSplits) {
  const LinearShape s = layer(4096, 4096, 4, 128);
  KernelInstance gemv = KernelInstance::makeGemv(s, GemvParams{128, 8, 2, 4});
  KernelLaunch launch = gemv.launch(9);
  EXPECT_EQ(launch.gridX, 128);
  EXPECT_EQ(launch.gridY, 2);
  EXPECT_EQ(launch.gridZ, 3);
  EXPECT_EQ(launch.workspaceFloats, 9 * 4096);
  EXPECT_EQ(launch.counters, 128 * 3);
  gemv.gemv.kSplit = 1;
  launch = gemv.launch(9);
  EXPECT_EQ(launch.gridY, 1);
  EXPECT_EQ(launch.workspaceFloats, 0);
  EXPECT_EQ(launch.counters, 0);
  KernelInstance gemm =
      KernelInstance::makeGemm(s, GemmParams{64, 128, 64, 2, 2, 4, 1});
  launch = gemm.launch(65);
  EXPECT_EQ(launch.gridY, 2);
  EXPECT_EQ(launch.gridZ, 1);
  EXPECT_EQ(launch.workspaceFloats, 0);
  EXPECT_EQ(launch.counters, 0);
}

TEST(KernelInstance, LaunchRejectsGridsBeyondCudaLimits) {
  const LinearShape s = layer(4096, 4096, 4, 128);
  const KernelInstance gemv =
      KernelInstance::makeGemv(s, GemvParams{128, 8, 1, 1});
  EXPECT_EQ(gemv.launch(65535).gridZ, 65535);
  expectError([&] { gemv.launch(65536); }, "beyond CUDA's limits");
  const KernelInstance gemm =
      KernelInstance::makeGemm(s, GemmParams{16, 64, 64, 1, 1, 2, 1});
  EXPECT_EQ(gemm.launch(int64_t(16) * 65535).gridY, 65535);
  expectError([&] { gemm.launch(int64_t(16) * 65535 + 1); },
              "M = 1048561 needs a grid of (64, 65536, 1) blocks");
}

TEST(KernelInstance, KernelNames) {
  for (const char *name : {"gemv", "layer0_o_proj", "a", "_x", "k9", "x__y"})
    EXPECT_TRUE(isKernelName(name)) << name;
  for (const char *name :
       {"", "0bad", "has space", "__global", "_Cap", "_", "a-b", "a.b", "ä"})
    EXPECT_FALSE(isKernelName(name)) << name;
  const KernelInstance instance = KernelInstance::makeGemv(
      layer(4096, 4096, 4, 128), GemvParams{128, 8, 1, 4});
  for (const char *name : {"0bad", "has space", "__global", "_Cap"})
    expectError([&] { instance.source(name); }, "is not a C identifier");
}

TEST(KernelInstance, SuggestedNamesAreUniquePerConfigType) {
  std::set<std::string> names, types;
  int count = 0;
  for (int bits : {3, 4, 8})
    for (int64_t group : {int64_t(128), int64_t(4096)})
      for (bool zp : {false, true})
        for (int epilogue = 0; epilogue < 4; ++epilogue) {
          LinearShape s = layer(4096, 4096, bits, group);
          s.zeroPoint = zp;
          s.actScale = epilogue == 1;
          s.bias = epilogue == 2;
          s.siluMul = epilogue == 3;
          s.residual = epilogue >= 2;
          for (const KernelInstance &instance :
               {KernelInstance::makeGemv(s, GemvParams{128, 8, 2, 4}),
                KernelInstance::makeGemv(s, GemvParams{128, 4, 2, 8}),
                KernelInstance::makeGemm(s,
                                         GemmParams{64, 128, 64, 2, 2, 4, 4}),
                KernelInstance::makeGemm(
                    s, GemmParams{64, 128, 64, 2, 2, 3, 4})}) {
            ASSERT_EQ(instance.check(), "");
            const std::string name = instance.suggestedName();
            EXPECT_TRUE(isKernelName(name)) << name;
            EXPECT_EQ(name.rfind(familyName(instance.family), 0), 0u) << name;
            names.insert(name);
            types.insert(instance.configType());
            ++count;
          }
        }
  EXPECT_EQ(names.size(), static_cast<size_t>(count));
  EXPECT_EQ(types.size(), static_cast<size_t>(count));
  EXPECT_EQ(KernelInstance::makeGemv(layer(4096, 4096, 4, 128),
                                     GemvParams{128, 8, 2, 4})
                .suggestedName(),
            "gemv_k4096_n4096_b4_g128_zp_t128c8s2r4");
}

TEST(KernelInstance, PlannedInstancesAreValidAndDescribed) {
  const ArchInfo &h100 = *findArch(90);
  LinearShape s = layer(4096, 22016, 4, 128);
  s.siluMul = true;
  const KernelInstance gemv = KernelInstance::makeGemv(s, *planGemv(s, h100));
  const KernelInstance gemm = KernelInstance::makeGemm(s, *planGemm(s, h100));
  EXPECT_EQ(gemv.check(), "");
  EXPECT_EQ(gemm.check(), "");
  EXPECT_EQ(gemv.weightBytes(), gemvGeometry(s, gemv.gemv).weightBytes);
  EXPECT_EQ(gemm.weightBytes(), gemmGeometry(s, gemm.gemm).weightBytes);
  EXPECT_NE(gemv.describeLaunch().find("block 128"), std::string::npos)
      << gemv.describeLaunch();
  EXPECT_NE(gemm.source("mlp").find("SiLU(gate) * up"), std::string::npos);
  EXPECT_NE(gemm.source("mlp").find("output columns 11008"), std::string::npos);
}

// The formula the manifest and the source comment show reproduces launch(m)
// for every M: the row axis is ceil(M / rows per block), the others fixed.
TEST(KernelInstance, LaunchFormulaMatchesLaunch) {
  const ArchInfo &h100 = *findArch(90);
  const LinearShape s = layer(11008, 4096, 4, 128);
  for (const KernelInstance &instance :
       {KernelInstance::makeGemv(s, *planGemv(s, h100)),
        KernelInstance::makeGemm(s, *planGemm(s, h100))}) {
    const KernelInstance::LaunchFormula f = instance.launchFormula();
    EXPECT_EQ(f.rowAxis, instance.family == KernelFamily::Gemv ? 2 : 1);
    EXPECT_GT(instance.launchFormula().splitK, 1) << "split-K untested";
    for (int64_t m : {1, 3, 4, 5, 63, 64, 65, 129, 200, 1000}) {
      const KernelLaunch launch = instance.launch(m);
      const int64_t grid[3] = {launch.gridX, launch.gridY, launch.gridZ};
      const int64_t rowBlocks = (m + f.rowsPerBlock - 1) / f.rowsPerBlock;
      // The GEMM's splits shrink as M tiles grow, written out plainly.
      const int64_t splits = instance.family == KernelFamily::Gemv
                                 ? f.splitK
                                 : std::max<int64_t>(1, f.splitK / rowBlocks);
      EXPECT_EQ(f.splits(m), splits);
      for (int axis = 0; axis < 3; ++axis)
        EXPECT_EQ(grid[axis], axis == f.rowAxis ? rowBlocks
                              : axis == 2       ? splits
                                                : f.grid[axis])
            << familyName(instance.family) << " M = " << m << " axis " << axis;
      EXPECT_EQ(launch.threads, f.threads);
      EXPECT_EQ(launch.sharedBytes, f.sharedBytes);
      EXPECT_EQ(launch.workspaceFloats, splits > 1 ? m * s.n : 0);
      EXPECT_EQ(launch.counters, splits > 1 ? f.grid[0] * grid[f.rowAxis] : 0);
    }
  }
}

} // namespace
} // namespace awq
