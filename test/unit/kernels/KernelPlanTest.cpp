//===- KernelPlanTest.cpp - Targets, kernel checks and the planner --------===//
//
// runtime/kernels/KernelPlan.h: parseTarget over the architecture table of
// awq/contract.h, the group-size rule, checkGemv / checkGemm naming the rule
// a configuration breaks (with its values), and planGemv / planGemm: every
// plan is valid for its layer and architecture, fits the architecture's
// shared memory and fills the GPU the way the planner promises.
//
//===----------------------------------------------------------------------===//

#include "runtime/kernels/KernelPlan.h"
#include "runtime/kernels/KernelInstance.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

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

/// Every architecture of the table the kernels run on (all of them).
std::vector<const ArchInfo *> kernelArchs() {
  std::vector<const ArchInfo *> archs;
  for (const ArchInfo &arch : kArchTable)
    if (!archViolation(arch))
      archs.push_back(&arch);
  return archs;
}

::testing::AssertionResult mentions(const std::string &text,
                                    const std::string &needle) {
  if (text.find(needle) != std::string::npos)
    return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "'" << text << "' does not mention '" << needle << "'";
}

//===----------------------------------------------------------------------===//
// Targets and the architecture table
//===----------------------------------------------------------------------===//

TEST(ArchTable, ParseTargetAcceptsEveryTableEntry) {
  for (const ArchInfo &arch : kArchTable) {
    const std::string name = "sm_" + std::to_string(arch.smVersion);
    const std::optional<Target> target = parseTarget(name);
    ASSERT_TRUE(target.has_value()) << name;
    EXPECT_EQ(target->arch->smVersion, arch.smVersion) << name;
    EXPECT_EQ(target->arch->maxSharedBytes, arch.maxSharedBytes) << name;
    EXPECT_FALSE(target->archSpecific) << name;
    EXPECT_EQ(target->name(), name);
    EXPECT_TRUE(mentions(knownTargets(), name));
    // The `a` targets exist exactly where the table says so.
    const std::optional<Target> specific = parseTarget(name + "a");
    EXPECT_EQ(specific.has_value(), arch.archSpecificFeatures) << name << "a";
    if (specific) {
      EXPECT_EQ(specific->arch->smVersion, arch.smVersion);
      EXPECT_TRUE(specific->archSpecific);
      EXPECT_EQ(specific->name(), name + "a");
    }
  }
  EXPECT_EQ(parseTarget("sm_75")->arch->smVersion, 75);
  EXPECT_EQ(parseTarget("sm_121")->arch->smVersion, 121);
  for (const char *name : {"sm_90a", "sm_100a", "sm_120a"}) {
    const std::optional<Target> target = parseTarget(name);
    ASSERT_TRUE(target.has_value()) << name;
    EXPECT_TRUE(target->archSpecific) << name;
    EXPECT_EQ(target->name(), name);
  }
  EXPECT_EQ(Target{}.name(), "(none)");
}

TEST(ArchTable, ParseTargetRejectsUnknownNames) {
  for (const char *name :
       {"sm_80a", "sm_86a",     "sm_75a", "sm_70",   "sm_9",   "sm_",
        "90",     "",           "sm",     "sm_88",   "sm_122", "sm_090",
        "SM_90",  "sm90",       "sm_90b", "sm_90aa", "sm_a",   "sm_-90",
        "sm_9O",  "compute_90", "sm_1000"})
    EXPECT_FALSE(parseTarget(name).has_value()) << "'" << name << "'";
}

TEST(ArchTable, KernelsNeedSm75) {
  // Every entry runs the kernels; sm_75 without cp.async and m16n8k16.
  for (const ArchInfo &arch : kArchTable) {
    EXPECT_EQ(archViolation(arch), nullptr) << arch.smVersion;
    EXPECT_EQ(arch.asyncCopy, arch.smVersion >= 80) << arch.smVersion;
    EXPECT_EQ(arch.mmaM16N8K16, arch.smVersion >= 80) << arch.smVersion;
  }
  EXPECT_EQ(kernelArchs().size(), std::size(kArchTable));
  ArchInfo volta = *findArch(75);
  volta.smVersion = 70;
  ASSERT_NE(archViolation(volta), nullptr);
  EXPECT_TRUE(mentions(archViolation(volta), "sm_75"));
  EXPECT_TRUE(mentions(archViolation(volta), "m16n8k8"));
  const LinearShape shape = layer(4096, 4096, 4, 128);
  EXPECT_FALSE(planGemv(shape, volta).has_value());
  EXPECT_FALSE(planGemm(shape, volta).has_value());
  const ArchInfo &turing = *findArch(75);
  EXPECT_TRUE(planGemv(shape, turing).has_value());
  EXPECT_TRUE(planGemm(shape, turing).has_value());
  EXPECT_EQ(findArch(70), nullptr);
  EXPECT_EQ(findArch(88), nullptr);
}

TEST(ArchTable, FeaturesOfACompiledArchitecture) {
  // The kernels' compile-time features (awq::target) come from the newest
  // entry at or below the architecture compiled for.
  for (const ArchInfo &arch : kArchTable)
    EXPECT_EQ(featuresOf(arch.smVersion), &arch) << arch.smVersion;
  EXPECT_EQ(featuresOf(88), findArch(87));
  EXPECT_EQ(featuresOf(130), findArch(121));
  EXPECT_EQ(featuresOf(74), nullptr);
  static_assert(!featuresOf(75)->asyncCopy && featuresOf(80)->asyncCopy,
                "usable in constant expressions");
}

TEST(ArchTable, EntriesAreConsistent) {
  int previous = 0;
  for (const ArchInfo &arch : kArchTable) {
    SCOPED_TRACE(arch.part);
    EXPECT_GT(arch.smVersion, previous); // Sorted, no duplicates.
    previous = arch.smVersion;
    EXPECT_GT(arch.smCount, 0);
    EXPECT_LE(arch.maxSharedBytes, arch.sharedBytesPerSm);
    EXPECT_LE(arch.maxSharedBytes, kGemmMaxSharedBytes);
    EXPECT_GE(arch.maxSharedBytes, kGemvMaxSharedBytes);
    EXPECT_GT(arch.maxThreadsPerSm, 0);
    EXPECT_GT(arch.maxBlocksPerSm, 0);
  }
}

//===----------------------------------------------------------------------===//
// The group-size rule
//===----------------------------------------------------------------------===//

static_assert(isSupportedGroupSize(4096, 128), "contract is constexpr");
static_assert(!isSupportedGroupSize(4096, 48), "contract is constexpr");

TEST(GroupSizeRule, KOrAMultipleOf32DividingK) {
  struct Case {
    int64_t k, group;
    bool accepted;
  };
  const Case cases[] = {
      {4096, 32, true},    {4096, 64, true},    {4096, 128, true},
      {4096, 256, true},   {4096, 1024, true},  {4096, 4096, true},
      {4096, 16, false},   {4096, 48, false},   {4096, 100, false},
      {4096, 8192, false}, {4096, 0, false},    {4096, -1, false},
      {4096, 96, false},   {4096, 4095, false}, {4096, -128, false},
      {11008, 128, true},  {11008, 64, true},   {11008, 11008, true},
      {11008, 256, true},  // 11008 = 43 x 256 ...
      {11008, 512, false}, // ... so 512 does not divide it.
      {104, 104, true},    // One group per column: K need not be aligned.
      {104, 32, false},    {96, 32, true},      {96, 96, true},
      {96, 64, false},
  };
  for (const Case &c : cases) {
    SCOPED_TRACE("K = " + std::to_string(c.k) + ", group " +
                 std::to_string(c.group));
    EXPECT_EQ(isSupportedGroupSize(c.k, c.group), c.accepted);
    LinearShape shape = layer(c.k, 128, 4, c.group);
    const std::string gemv = checkGemv(shape, GemvParams{128, 8, 1, 4});
    const std::string gemm =
        checkGemm(shape, GemmParams{64, 128, 32, 2, 2, 3, 1});
    if (c.accepted) {
      EXPECT_EQ(gemv, "");
      EXPECT_EQ(gemm, "");
      EXPECT_EQ(linearViolation(shape), nullptr);
    } else {
      EXPECT_TRUE(mentions(gemv, "the group size must be K (one group per "
                                 "column) or a multiple of 32 that divides K"));
      EXPECT_TRUE(mentions(gemm, "the group size must be K"));
      // The message names the layer's values.
      EXPECT_TRUE(mentions(gemv, "group " + std::to_string(c.group)));
      EXPECT_TRUE(mentions(gemm, "K = " + std::to_string(c.k)));
      // No kernel of either family is planned for the layer.
      for (const ArchInfo *arch : kernelArchs()) {
        EXPECT_FALSE(planGemv(shape, *arch).has_value());
        EXPECT_FALSE(planGemm(shape, *arch).has_value());
      }
    }
  }
}

//===----------------------------------------------------------------------===//
// checkGemv / checkGemm
//===----------------------------------------------------------------------===//

TEST(CheckGemv, NamesTheRuleAndTheValues) {
  const LinearShape base = layer(4096, 4096, 4, 128);
  const GemvParams good{128, 8, 2, 4};
  EXPECT_EQ(checkGemv(base, good), "");
  struct Broken {
    LinearShape shape;
    GemvParams params;
    const char *rule, *values;
  };
  auto shape = [&](auto change) {
    LinearShape s = base;
    change(s);
    return s;
  };
  auto params = [&](auto change) {
    GemvParams p = good;
    change(p);
    return p;
  };
  const Broken cases[] = {
      {shape([](LinearShape &s) { s.bits = 5; }), good,
       "bits must be 3, 4 or 8", "5-bit"},
      {shape([](LinearShape &s) { s.group = 48; }), good,
       "the group size must be K", "group 48"},
      {shape([](LinearShape &s) { s.k = 0; }), good, "K and N must be positive",
       "K = 0"},
      {shape([](LinearShape &s) { s.n = int64_t(1) << 31; }), good,
       "K and N must be at most 2^30", "N = 2147483648"},
      {base, params([](GemvParams &p) { p.threads = 100; }),
       "threads must be a multiple of 32 up to 1024", "threads 100"},
      {base, params([](GemvParams &p) { p.threads = 2048; }),
       "threads must be a multiple of 32 up to 1024", "threads 2048"},
      {base, params([](GemvParams &p) { p.colsPerWarp = 3; }),
       "cols_per_warp must be a power of two up to 32", "cols_per_warp 3"},
      {base, params([](GemvParams &p) { p.maxRows = 3; }),
       "max_rows must be 1, 2, 4 or 8", "max_rows 3"},
      {base, params([](GemvParams &p) {
         p.maxRows = 8;
         p.colsPerWarp = 8;
       }),
       "cols_per_warp x max_rows must be at most 32", "max_rows 8"},
      // 4096 = 4 tiles of 1024: five splits leave one empty ...
      {base, params([](GemvParams &p) { p.kSplit = 5; }),
       "k_split must leave every split at least one 1024-value K tile",
       "k_split 5"},
      // ... and so do three (2 + 2 tiles, the third split gets none).
      {base, params([](GemvParams &p) { p.kSplit = 3; }),
       "k_split must leave every split", "k_split 3"},
      {base, params([](GemvParams &p) { p.kSplit = 0; }),
       "k_split must be at least 1", "k_split 0"},
      {shape([](LinearShape &s) { s.siluMul = true; }),
       params([](GemvParams &p) { p.colsPerWarp = 1; }),
       "silu_mul needs an even cols_per_warp", "silu_mul"},
      {shape([](LinearShape &s) {
         s.siluMul = true;
         s.n = 4095;
       }),
       good, "silu_mul needs an even N", "N = 4095"},
  };
  for (const Broken &c : cases) {
    const std::string why = checkGemv(c.shape, c.params);
    EXPECT_TRUE(mentions(why, c.rule));
    EXPECT_TRUE(mentions(why, c.values));
    EXPECT_EQ(KernelInstance::makeGemv(c.shape, c.params).check(), why);
    EXPECT_NE(gemvViolation(c.shape, c.params), nullptr) << why;
  }
  // 3 tiles in splits of 2 and 1 are fine.
  EXPECT_EQ(checkGemv(layer(3072, 64, 4, 128), GemvParams{128, 8, 2, 4}), "");
  // The staged activations of 8 rows fit 48 KB; the rule is still checked.
  EXPECT_EQ(checkGemv(base, GemvParams{256, 4, 1, 8}), "");
  EXPECT_LE(gemvGeometry(base, GemvParams{256, 4, 1, 8}).sharedBytes,
            kGemvMaxSharedBytes);
}

/// A GEMM configuration that satisfies every rule, to be broken one field
/// at a time.
struct GemmCase {
  LinearShape shape = layer(4096, 4096, 4, 128);
  GemmParams params{64, 256, 64, 1, 4, 4, 2};
};

TEST(CheckGemm, NamesTheRuleAndTheValues) {
  EXPECT_EQ(checkGemm(GemmCase().shape, GemmCase().params), "");
  EXPECT_EQ(checkGemmOnArch(GemmCase().shape, GemmCase().params, *findArch(86)),
            "");
  struct Broken {
    void (*breakIt)(GemmCase &);
    const char *rule, *values;
  };
  const Broken cases[] = {
      {[](GemmCase &c) { c.shape.k = c.shape.group = 4100; },
       "the GEMM kernel needs K to be a multiple of 8", "K = 4100"},
      {[](GemmCase &c) { c.shape.n = 0; }, "K and N must be positive", "N = 0"},
      {[](GemmCase &c) { c.shape.bits = 5; }, "bits must be 3, 4 or 8",
       "5-bit"},
      {[](GemmCase &c) { c.shape.group = 96; },
       "the group size must be K (one group per column) or a multiple of 32 "
       "that divides K",
       "group 96"},
      {[](GemmCase &c) { c.params.tileK = 48; }, "tile_k must be 32, 64 or 128",
       "x 48,"},
      {[](GemmCase &c) {
         c.shape.k = 4032;
         c.shape.group = 96;
         c.params.tileK = 64;
       },
       "tile_k and the group size must divide one another", "group 96"},
      {[](GemmCase &c) { c.params.warpsN = 0; },
       "warps_m x warps_n must be 1 to 16 warps", "warps 1 x 0"},
      {[](GemmCase &c) {
         c.params.warpsM = 4;
         c.params.warpsN = 8;
       },
       "warps_m x warps_n must be 1 to 16 warps", "warps 4 x 8"},
      {[](GemmCase &c) { c.params.tileM = 40; },
       "tile_m must be a multiple of 16 x warps_m", "tiles 40 x"},
      {[](GemmCase &c) { c.params.tileN = 192; },
       "tile_n must be a multiple of 64 x warps_n", "x 192 x"},
      {[](GemmCase &c) { c.params.stages = 5; }, "stages must be 2, 3 or 4",
       "5 stages"},
      {[](GemmCase &c) { c.params.stages = 1; }, "stages must be 2, 3 or 4",
       "1 stages"},
      {[](GemmCase &c) { c.params.splitK = 65; },
       "split_k must be at most the number of K tiles", "split_k 65"},
      {[](GemmCase &c) { c.params.splitK = 0; }, "split_k must be at least 1",
       "split_k 0"},
      {[](GemmCase &c) {
         c.shape.n = 4095;
         c.shape.siluMul = true;
       },
       "silu_mul needs an even N", "silu_mul"},
      {[](GemmCase &c) {
         c.params.tileM = 256;
         c.params.warpsM = 4;
         c.params.tileN = 512;
         c.params.tileK = 128;
       },
       "more shared memory than any supported GPU has", "tiles 256 x 512"},
  };
  for (const Broken &c : cases) {
    GemmCase broken;
    c.breakIt(broken);
    const std::string why = checkGemm(broken.shape, broken.params);
    EXPECT_TRUE(mentions(why, c.rule));
    EXPECT_TRUE(mentions(why, c.values));
    EXPECT_EQ(KernelInstance::makeGemm(broken.shape, broken.params).check(),
              why);
    EXPECT_NE(gemmViolation(broken.shape, broken.params), nullptr) << why;
  }
}

TEST(CheckGemm, SharedMemoryPerArchitecture) {
  GemmCase big;
  big.params.tileM = 128;
  big.params.warpsM = 2;
  big.params.tileK = 128;
  // Valid for the family (sm_90 holds it) but not for sm_86's 99 KB.
  EXPECT_EQ(checkGemm(big.shape, big.params), "");
  EXPECT_EQ(checkGemmOnArch(big.shape, big.params, *findArch(90)), "");
  EXPECT_EQ(checkGemmOnArch(big.shape, big.params, *findArch(86)),
            "the tiles need 200720 bytes of shared memory, more than the "
            "101376 a block may use on sm_86");
  EXPECT_TRUE(mentions(checkGemmOnArch(big.shape, big.params, *findArch(120)),
                       "sm_120"));
}

TEST(CheckGemm, SharedBytesFollowTheStageLayout) {
  GemmCase c;
  c.shape.actScale = true;
  // Per stage: A 64x64 fp16, B 4 blocks x 2 packets x 1024 B, a 64 fp16;
  // per slot: one group row of s and zs for 256 columns; plus the flag.
  const int64_t stage = 64 * 64 * 2 + 4 * 2 * 1024 + 64 * 2;
  const int64_t slot = 256 * 2 * 2;
  KernelInstance instance = KernelInstance::makeGemm(c.shape, c.params);
  EXPECT_EQ(instance.sharedBytes(), 4 * (stage + slot) + 16);
  EXPECT_EQ(instance.launch(1).sharedBytes, 4 * (stage + slot) + 16);
  c.shape.group = 32; // two group rows per 64-row tile
  c.shape.zeroPoint = false;
  instance = KernelInstance::makeGemm(c.shape, c.params);
  EXPECT_EQ(instance.sharedBytes(), 4 * (stage + 2 * 256 * 2) + 16);
  // 3 bits: a packet is 768 bytes.
  c.shape.bits = 3;
  c.shape.actScale = false;
  instance = KernelInstance::makeGemm(c.shape, c.params);
  EXPECT_EQ(instance.sharedBytes(),
            4 * (64 * 64 * 2 + 4 * 2 * 768 + 2 * 256 * 2) + 16);
}

//===----------------------------------------------------------------------===//
// planGemv / planGemm
//===----------------------------------------------------------------------===//

struct PlanLayer {
  int64_t k, n;
};
const PlanLayer kLlamaShapes[] = {{4096, 4096},  {4096, 12288}, {4096, 22016},
                                  {11008, 4096}, {4096, 11008}, {8192, 28672},
                                  {384, 200},    {640, 72},     {200, 40},
                                  {128, 64},     {64, 8},       {1056, 72}};

TEST(PlanGemv, PlansEveryLayerOnEveryArchitecture) {
  for (const ArchInfo *arch : kernelArchs())
    for (const PlanLayer &l : kLlamaShapes)
      for (int bits : {3, 4, 8})
        for (int64_t group : {int64_t(32), int64_t(128), int64_t(0)})
          for (bool silu : {false, true}) {
            LinearShape s = layer(l.k, l.n, bits, group ? group : l.k);
            if (!isSupportedGroupSize(s.k, s.group))
              continue;
            s.siluMul = silu;
            s.zeroPoint = !silu;
            s.actScale = s.residual = bits == 3;
            s.bias = bits == 8;
            SCOPED_TRACE("sm_" + std::to_string(arch->smVersion) + " " +
                         std::to_string(s.k) + "x" + std::to_string(s.n) + " " +
                         std::to_string(bits) + "-bit group " +
                         std::to_string(s.group) + (silu ? " silu" : ""));
            const std::optional<GemvParams> p = planGemv(s, *arch);
            ASSERT_TRUE(p.has_value());
            EXPECT_EQ(checkGemv(s, *p), "");
            const GemvGeometry g = gemvGeometry(s, *p);
            // 8 warps where two such blocks fit an SM's registers, else 4.
            GemvParams wide = *p;
            wide.threads = 256;
            wide.kSplit = 1;
            EXPECT_EQ(p->threads,
                      gemvBlocksForBudget(s, wide) >= 2 ? 256 : 128);
            EXPECT_EQ(p->colsPerWarp, bits == 8 ? 4 : 8);
            EXPECT_EQ(p->maxRows, 4);
            EXPECT_LE(g.sharedBytes, arch->maxSharedBytes);
            EXPECT_LE(g.sharedBytes, kGemvMaxSharedBytes);
            // Split K until 8 warps per SM, as far as K's tiles allow.
            const int64_t wantedWarps = kGemvPlannedWarpsPerSm * arch->smCount;
            if (p->kSplit > 1) {
              EXPECT_LT(g.gridX * g.warps, wantedWarps);
              EXPECT_LE(g.gridX * (p->kSplit - 1) * g.warps, wantedWarps);
            }
            const bool splitLimited =
                checkGemv(s, GemvParams{p->threads, p->colsPerWarp,
                                        p->kSplit + 1, p->maxRows}) != "";
            if (!splitLimited) {
              EXPECT_GE(g.gridX * g.gridY * g.warps, wantedWarps);
            }
            const KernelInstance instance = KernelInstance::makeGemv(s, *p);
            for (int64_t m : {1, 4, 5, 64}) {
              const KernelLaunch launch = instance.launch(m);
              EXPECT_EQ(launch.gridZ, (m + 3) / 4);
              EXPECT_EQ(launch.gridX,
                        ceilDiv(s.n, p->threads / 32 * p->colsPerWarp));
            }
          }
}

TEST(PlanGemv, LlamaShapesOnH100) {
  const ArchInfo &h100 = *findArch(90);
  // 4096 x 4096 at batch 1: 128 column blocks of 32, K in 2 splits of 2
  // tiles (3 splits would leave the last one empty).
  LinearShape s = layer(4096, 4096, 4, 128);
  std::optional<GemvParams> p = planGemv(s, h100);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->kSplit, 2);
  const GemvGeometry g = gemvGeometry(s, *p);
  EXPECT_EQ(g.gridX, 128);
  EXPECT_EQ(g.tilesPerSplit, 2);
  // down_proj: 11 tiles in 3 splits of 4, 4 and 3.
  p = planGemv(layer(11008, 4096, 4, 128), h100);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->kSplit, 3);
  // gate/up merged: 688 column blocks already fill the GPU.
  s = layer(4096, 22016, 4, 128);
  s.siluMul = true;
  p = planGemv(s, h100);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->kSplit, 1);
  EXPECT_EQ(gemvGeometry(s, *p).gridX, 688);
  // 8-bit: 8 columns per warp in a one-row body, 4 in bodies of several
  // rows (registers).
  PlanOptions oneRow;
  oneRow.gemvRows = 1;
  p = planGemv(layer(4096, 4096, 8, 128), h100, oneRow);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->maxRows, 1);
  EXPECT_EQ(p->colsPerWarp, 8);
  p = planGemv(layer(4096, 4096, 8, 128), h100);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->maxRows, 4);
  EXPECT_EQ(p->colsPerWarp, 4);
}

TEST(PlanGemv, OneRowBodiesOfNarrowWeightsTakeEightWarps) {
  // A one-row 3- or 4-bit body fits 128 registers: two blocks of 8 warps
  // per SM share each x staging among 64 columns. 8-bit units (twice the
  // registers) and 4-row bodies keep blocks of 4 warps, two per SM.
  const ArchInfo &h100 = *findArch(90);
  PlanOptions oneRow;
  oneRow.gemvRows = 1;
  for (int bits : {3, 4}) {
    // q/k/v: 192 column blocks of 64, K in one split of 4 tiles (8 warps
    // per SM are 1056 warps, 132 blocks).
    std::optional<GemvParams> p =
        planGemv(layer(4096, 12288, bits, 128), h100, oneRow);
    ASSERT_TRUE(p.has_value());
    EXPECT_EQ(p->threads, 256) << bits << "-bit";
    EXPECT_EQ(gemvGeometry(layer(4096, 12288, bits, 128), *p).gridX, 192);
    EXPECT_EQ(p->kSplit, 1);
    // 4096 x 4096: 64 column blocks, K in 2 splits of 2 tiles.
    p = planGemv(layer(4096, 4096, bits, 128), h100, oneRow);
    ASSERT_TRUE(p.has_value());
    EXPECT_EQ(p->threads, 256);
    EXPECT_EQ(p->kSplit, 2);
  }
  std::optional<GemvParams> p =
      planGemv(layer(4096, 4096, 8, 128), h100, oneRow);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->threads, 128);
  p = planGemv(layer(4096, 4096, 4, 128), h100);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->threads, 128);
}

TEST(PlanGemv, SplitsKeepPairedRunsWhereTheLayoutPairs) {
  // The down projection's 11 tiles (5 pairs and a tail tile): 200 SMs want
  // 4 splits of 3 tiles, whose blocks would start at odd tiles; 6 splits of
  // 2 keep the runs (5 would not). 40 SMs (a T4) want one block of all 11:
  // runs too. 1000 SMs want 11 splits of one tile: no larger count pairs.
  const LinearShape down = layer(11008, 4096, 4, 128);
  ASSERT_EQ(gemvGeometry(down, GemvParams{256, 8, 1, 1}).pairedUnits, 320);
  ASSERT_FALSE(gemvPairsRuns(down, GemvParams{256, 8, 4, 1}));
  PlanOptions options;
  options.smCount = 200;
  std::optional<GemvParams> p = planGemv(down, *findArch(90), options);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->kSplit, 6);
  EXPECT_TRUE(gemvPairsRuns(down, *p));
  p = planGemv(down, *findArch(75));
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->kSplit, 1);
  EXPECT_TRUE(gemvPairsRuns(down, *p));
  options.smCount = 1000;
  p = planGemv(down, *findArch(90), options);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->kSplit, 11);
  options.smCount = 200;
  // Groups of 32 pair nothing: the split count stays the warps' choice.
  p = planGemv(layer(11008, 4096, 4, 32), *findArch(90), options);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->kSplit, 4);
}

TEST(PlanGemv, RowBodiesCoverTheRowsItServes) {
  const ArchInfo &h100 = *findArch(90);
  const LinearShape s = layer(4096, 4096, 4, 128);
  // The power of two covering the rows, at most 4 (more rows take several
  // chunks of 4).
  for (const auto &[rows, maxRows] : std::vector<std::pair<int64_t, int64_t>>{
           {1, 1}, {2, 2}, {3, 4}, {4, 4}, {5, 4}, {4096, 4}}) {
    PlanOptions options;
    options.gemvRows = rows;
    const std::optional<GemvParams> p = planGemv(s, h100, options);
    ASSERT_TRUE(p.has_value());
    EXPECT_EQ(p->maxRows, maxRows) << "rows " << rows;
  }
  // Without the option the GEMV serves any M.
  EXPECT_EQ(planGemv(s, h100)->maxRows, 4);
}

TEST(PlanGemv, SmCountOptionAndRejectedLayers) {
  const ArchInfo &a100 = *findArch(80);
  const LinearShape s = layer(11008, 4096, 4, 128);
  PlanOptions few;
  few.smCount = 16;
  EXPECT_EQ(planGemv(s, a100, few)->kSplit, 1);
  PlanOptions many;
  many.smCount = 1000;
  EXPECT_EQ(planGemv(s, a100, many)->kSplit, 11); // One tile per split.
  PlanOptions representative;
  representative.smCount = 0;
  EXPECT_EQ(planGemv(s, a100, representative)->kSplit,
            planGemv(s, a100)->kSplit);
  // Layers no GEMV serves.
  EXPECT_FALSE(planGemv(layer(4096, 4096, 4, 96), a100).has_value());
  EXPECT_FALSE(planGemv(layer(4096, 4096, 5, 128), a100).has_value());
  EXPECT_FALSE(planGemv(layer(0, 4096, 4, 0), a100).has_value());
  LinearShape odd = layer(4096, 4095, 4, 128);
  odd.siluMul = true;
  EXPECT_FALSE(planGemv(odd, a100).has_value());
}

TEST(PlanGemm, PlansEveryLayerWithinEachArchitecture) {
  for (const ArchInfo *arch : kernelArchs())
    for (const PlanLayer &l : kLlamaShapes)
      for (int bits : {3, 4, 8})
        for (int64_t group :
             {int64_t(32), int64_t(64), int64_t(128), int64_t(0)})
          for (bool zp : {false, true}) {
            LinearShape s = layer(l.k, l.n, bits, group ? group : l.k);
            if (!isSupportedGroupSize(s.k, s.group))
              continue;
            s.zeroPoint = zp;
            s.actScale = zp;
            s.siluMul = bits == 4;
            s.bias = s.residual = bits == 8;
            SCOPED_TRACE("sm_" + std::to_string(arch->smVersion) + " " +
                         std::to_string(s.k) + "x" + std::to_string(s.n) + " " +
                         std::to_string(bits) + "-bit group " +
                         std::to_string(s.group) + (zp ? " zp" : " sym"));
            const std::optional<GemmParams> p = planGemm(s, *arch);
            ASSERT_TRUE(p.has_value());
            const KernelInstance instance = KernelInstance::makeGemm(s, *p);
            EXPECT_EQ(instance.check(), "");
            EXPECT_EQ(checkGemmOnArch(s, *p, *arch), "");
            EXPECT_LE(instance.sharedBytes(), arch->maxSharedBytes);
            EXPECT_LE(p->tileN, roundUp(s.n, kGemmPacketN));
            const GemmGeometry g = gemmGeometry(s, *p);
            // Split-K fills the blocks the SMs hold at once and no more: at
            // most 8 ways, a launch of one M tile in one wave, and one more
            // split (where 8 and the K tiles allow it) would spill into a
            // second.
            const int64_t slots =
                arch->smCount *
                blocksPerSmBeforeRegisters(*arch, g.threads, g.sharedBytes);
            EXPECT_LE(p->splitK, 8);
            if (p->splitK > 1)
              EXPECT_LE(g.gridX * p->splitK, slots);
            if (p->splitK < std::min<int64_t>(8, g.kTiles))
              EXPECT_GT(g.gridX * (p->splitK + 1), slots);
            for (int64_t m : {1, 16, 33, 64, 100, 4096}) {
              const KernelLaunch launch = instance.launch(m);
              EXPECT_EQ(launch.gridY, ceilDiv(m, p->tileM));
              // The planned splits while one M tile runs, fewer as M tiles
              // add blocks.
              EXPECT_EQ(launch.gridZ,
                        std::max<int64_t>(1, p->splitK / ceilDiv(m, p->tileM)));
            }
          }
}

TEST(CheckGemm, RegisterStagingWithoutCpAsync) {
  // sm_75 stages a thread's share of each K tile in registers.
  const LinearShape s = layer(4096, 4096, 4, 128);
  const GemmParams planned{64, 128, 64, 2, 2, 2, 1};
  EXPECT_EQ(gemmStagedChunks(s, planned), 4 + 2 + 1); // x, weights, s + zs
  EXPECT_EQ(checkGemmOnArch(s, planned, *findArch(75)), "");
  const GemmParams tall{128, 128, 64, 2, 2, 2, 1};
  EXPECT_EQ(gemmStagedChunks(s, tall), 8 + 2 + 1);
  EXPECT_EQ(checkGemmOnArch(s, tall, *findArch(75)),
            std::string(gemmArchViolation(s, tall, *findArch(75))) +
                " (sm_75: 11 chunks)");
  EXPECT_TRUE(mentions(checkGemmOnArch(s, tall, *findArch(75)), "cp.async"));
  // With cp.async nothing is staged in registers.
  EXPECT_EQ(checkGemmOnArch(s, tall, *findArch(80)), "");
}

TEST(PlanGemm, LeavesRoomForTwoBlocksPerSm) {
  // The 7B shapes with group 128 on every architecture: the tiling keeps
  // at least two blocks per SM in shared memory; 128-deep K tiles where
  // they fit (sm_80, sm_90 and the other 228 KB parts), 64-deep ones with
  // 3 stages on the 100 KB parts, and 2 stages without cp.async (sm_75).
  for (const ArchInfo *arch : kernelArchs())
    for (size_t i = 0; i < 6; ++i) { // The 7B and 70B shapes.
      const PlanLayer &l = kLlamaShapes[i];
      SCOPED_TRACE("sm_" + std::to_string(arch->smVersion) + " " +
                   std::to_string(l.k) + "x" + std::to_string(l.n));
      const LinearShape s = layer(l.k, l.n, 4, 128);
      const std::optional<GemmParams> p = planGemm(s, *arch);
      ASSERT_TRUE(p.has_value());
      const int64_t shared = gemmGeometry(s, *p).sharedBytes;
      EXPECT_GE(blocksPerSmByShared(*arch, shared), kGemmMinBlocksPerSm);
      EXPECT_EQ(gemmArchViolation(s, *p, *arch), nullptr);
      const bool bigShared = arch->sharedBytesPerSm > 128 * 1024;
      EXPECT_EQ(p->tileK, bigShared ? 128 : 64);
      EXPECT_EQ(p->stages, arch->asyncCopy ? 3 : 2);
      // The small-M body stays (two packets per K tile of 64).
      EXPECT_EQ(gemmSmallBodyRows(s, *p), 16);
      // Without cp.async one tile is in flight, with it Stages - 1.
      EXPECT_EQ(gemmTilesInFlight(*p, *arch), arch->asyncCopy ? 2 : 1);
    }
  // sm_80 keeps its tiling with two blocks, sm_90 with three.
  const LinearShape s = layer(4096, 4096, 4, 128);
  EXPECT_EQ(blocksPerSmByShared(
                *findArch(80),
                gemmGeometry(s, *planGemm(s, *findArch(80))).sharedBytes),
            2);
  EXPECT_EQ(blocksPerSmByShared(
                *findArch(90),
                gemmGeometry(s, *planGemm(s, *findArch(90))).sharedBytes),
            3);
  // A part whose shared memory holds one block of every tiling still gets
  // a plan.
  ArchInfo tiny = *findArch(86);
  tiny.sharedBytesPerSm = 16 * 1024;
  tiny.maxSharedBytes = 15 * 1024;
  const std::optional<GemmParams> p = planGemm(s, tiny);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(blocksPerSmByShared(tiny, gemmGeometry(s, *p).sharedBytes), 1);
}

TEST(PlanGemm, NeverExceedsAnArchitecturesSharedMemory) {
  // The deepest pipelines the planner tries, on the biggest tiles it uses.
  for (const ArchInfo *arch : kernelArchs())
    for (int bits : {3, 4, 8})
      for (int64_t group : {int64_t(32), int64_t(128), int64_t(4096)}) {
        LinearShape s = layer(4096, 11008, bits, group);
        s.actScale = true;
        const std::optional<GemmParams> p = planGemm(s, *arch);
        ASSERT_TRUE(p.has_value()) << arch->smVersion;
        EXPECT_LE(gemmGeometry(s, *p).sharedBytes, arch->maxSharedBytes)
            << arch->smVersion;
      }
  // Less shared memory than any table entry: shallower pipelines, smaller K
  // tiles, and no plan once even 2 stages of 32 do not fit.
  LinearShape s = layer(4096, 4096, 8, 128);
  s.actScale = true;
  for (int64_t limit : {int64_t(64 * 1024), int64_t(40 * 1024),
                        int64_t(24 * 1024), int64_t(8 * 1024)}) {
    ArchInfo small = *findArch(80);
    small.maxSharedBytes = limit;
    const std::optional<GemmParams> p = planGemm(s, small);
    if (limit == 8 * 1024) {
      EXPECT_FALSE(p.has_value());
      continue;
    }
    ASSERT_TRUE(p.has_value()) << limit;
    EXPECT_LE(gemmGeometry(s, *p).sharedBytes, limit);
    EXPECT_LT(p->stages * p->tileK, 4 * 64) << limit;
    EXPECT_EQ(checkGemm(s, *p), "");
  }
}

TEST(GemmSmallBody, ExistsWhenWarpRowsCanSharePacketsAndTheSumsFit) {
  const LinearShape s = layer(4096, 4096, 4, 128);
  // Two warp rows, two packets of 32 per K tile of 64: one each.
  EXPECT_EQ(gemmSmallBodyRows(s, GemmParams{64, 128, 64, 2, 2, 3, 1}), 16);
  // One warp row: the row split already gives one m16 tile per warp.
  EXPECT_EQ(gemmSmallBodyRows(s, GemmParams{16, 128, 64, 1, 2, 3, 1}), 0);
  // One packet per K tile of 32 cannot be shared by two warp rows.
  EXPECT_EQ(gemmSmallBodyRows(s, GemmParams{64, 128, 32, 2, 2, 3, 1}), 0);
  // Four packets for three warp rows do not divide.
  EXPECT_EQ(gemmSmallBodyRows(s, GemmParams{96, 64, 128, 3, 1, 3, 1}), 0);
  // The partial sums of 3 warp rows x 512 columns (96 KB) do not fit the
  // 2-stage pipeline of 3-bit packets (about 82 KB).
  const LinearShape threeBit = layer(4096, 4096, 3, 128);
  const GemmParams wide{64, 512, 128, 4, 4, 2, 1};
  ASSERT_LT(gemmGeometry(threeBit, wide).sharedBytes - 16, 3 * 512 * 64);
  EXPECT_EQ(gemmSmallBodyRows(threeBit, wide), 0);
}

TEST(PlanGemm, TilingsForLlamaShapes) {
  const ArchInfo &h100 = *findArch(90);
  // 32 column tiles of 128 on 132 SMs, each holding three blocks of 75 KB
  // in its 228 KB: 396 blocks at once would take 12 splits; the planner
  // stops at 8.
  std::optional<GemmParams> p = planGemm(layer(4096, 4096, 4, 128), h100);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->tileM, 64);
  EXPECT_EQ(p->tileN, 128);
  EXPECT_EQ(p->tileK, 128);
  EXPECT_EQ(p->warpsM * p->warpsN, 4);
  EXPECT_EQ(p->stages, 3);
  // Two warp rows with two packets each: the small-M body exists.
  EXPECT_EQ(gemmSmallBodyRows(layer(4096, 4096, 4, 128), *p), 16);
  EXPECT_EQ(p->splitK, 8);
  EXPECT_EQ(
      blocksPerSmBeforeRegisters(
          h100, 128, gemmGeometry(layer(4096, 4096, 4, 128), *p).sharedBytes),
      3);
  // 224 column tiles: two splits would give 448 blocks, more than the 396
  // the SMs hold at once.
  EXPECT_EQ(planGemm(layer(8192, 28672, 4, 128), h100)->splitK, 1);
  // A100 (108 SMs, two blocks of 75 KB each in 164 KB): 216 at once, 6
  // splits of 32 column tiles.
  EXPECT_EQ(planGemm(layer(4096, 4096, 4, 128), *findArch(80))->splitK, 6);
  // N <= 64: one warp column of 64.
  p = planGemm(layer(640, 64, 4, 128), h100);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->tileN, 64);
  EXPECT_EQ(p->warpsN, 1);
  // A 100-column layer cannot run the GEMM (K = 100 is not a multiple of 8).
  EXPECT_FALSE(planGemm(layer(100, 64, 4, 100), h100).has_value());
  EXPECT_FALSE(planGemm(layer(4096, 4096, 4, 48), h100).has_value());
  PlanOptions few;
  few.smCount = 21; // 63 blocks at once: 32 column tiles, no split.
  EXPECT_EQ(planGemm(layer(4096, 4096, 4, 128), h100, few)->splitK, 1);
  few.smCount = 22; // 66 blocks at once: two splits.
  EXPECT_EQ(planGemm(layer(4096, 4096, 4, 128), h100, few)->splitK, 2);
}

} // namespace
} // namespace awq
