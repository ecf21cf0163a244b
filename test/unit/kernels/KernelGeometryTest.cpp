//===- KernelGeometryTest.cpp - Kernel instances equal the device templates //
//
// The compiler, the host runner and the runtime launch a kernel with
// KernelInstance::launch (runtime/kernels/KernelInstance.h), while the
// kernel itself uses the constants of awq::GemvConfig / awq::GemmConfig.
// This instantiates the device templates (through the host emulation
// headers) for the instances the planner picks on the table's GPUs and for
// deliberately extreme tilings, and requires every launch value, the shared
// memory and the weight bytes to agree, and the GEMM weight layout the
// kernel indexes to be the one repackGemm writes.
//
//===----------------------------------------------------------------------===//
#include "runtime/kernels/GemmLayout.h"
#include "runtime/kernels/KernelInstance.h"
#include "runtime/kernels/KernelPlan.h"

#include "awq/gemm.cuh"
#include "awq/gemv.cuh"

#include <gtest/gtest.h>

#include <initializer_list>

namespace {

/// The architectures (sm versions) whose planned instance `p` is.
void expectPlannedGemv(const awq::LinearShape &shape, const awq::GemvParams &p,
                       std::initializer_list<int> plannedOn) {
  for (int sm : plannedOn) {
    const std::optional<awq::GemvParams> planned =
        awq::planGemv(shape, *awq::findArch(sm));
    ASSERT_TRUE(planned.has_value()) << "sm_" << sm;
    EXPECT_EQ(awq::KernelInstance::makeGemv(shape, *planned).configType(),
              awq::KernelInstance::makeGemv(shape, p).configType())
        << "planned on sm_" << sm;
  }
}

void expectPlannedGemm(const awq::LinearShape &shape, const awq::GemmParams &p,
                       std::initializer_list<int> plannedOn) {
  for (int sm : plannedOn) {
    const std::optional<awq::GemmParams> planned =
        awq::planGemm(shape, *awq::findArch(sm));
    ASSERT_TRUE(planned.has_value()) << "sm_" << sm;
    EXPECT_EQ(awq::KernelInstance::makeGemm(shape, *planned).configType(),
              awq::KernelInstance::makeGemm(shape, p).configType())
        << "planned on sm_" << sm;
  }
}

template <int K, int N, int Bits, int Group, bool Zp, int Threads, int Cols,
          int KSplit, int Rows, bool Act, bool Bias, bool Res, bool Silu>
void checkGemv(std::initializer_list<int> plannedOn = {}) {
  using Cfg = awq::GemvConfig<K, N, Bits, Group, Zp, Threads, Cols, KSplit,
                              Rows, Act, Bias, Res, Silu>;
  awq::LinearShape shape{K, N, Bits, Group, Zp, Act, Bias, Res, Silu};
  awq::GemvParams params{Threads, Cols, KSplit, Rows};
  SCOPED_TRACE(::testing::Message() << "gemv K=" << K << " N=" << N
                                    << " bits=" << Bits << " group=" << Group);
  EXPECT_EQ(awq::checkGemv(shape, params), "");
  expectPlannedGemv(shape, params, plannedOn);
  const awq::KernelInstance instance =
      awq::KernelInstance::makeGemv(shape, params);
  EXPECT_EQ(instance.check(), "");
  EXPECT_EQ(instance.threads(), Cfg::kThreads);
  EXPECT_EQ(instance.sharedBytes(), static_cast<int64_t>(Cfg::kSharedBytes));
  EXPECT_EQ(instance.weightBytes(), Cfg::kWeightBytes);
  EXPECT_EQ(shape.nOut(), Cfg::kNout);
  for (int m : {1, 3, 4, 5, 8, 17, 33, 64}) {
    const awq::KernelLaunch launch = instance.launch(m);
    EXPECT_EQ(launch.gridX, Cfg::kGridX) << "M = " << m;
    EXPECT_EQ(launch.gridY, Cfg::kGridY) << "M = " << m;
    EXPECT_EQ(launch.gridZ, Cfg::gridZ(m)) << "M = " << m;
    EXPECT_EQ(launch.threads, Cfg::kThreads);
    EXPECT_EQ(launch.sharedBytes, static_cast<int64_t>(Cfg::kSharedBytes));
    EXPECT_EQ(launch.workspaceFloats,
              static_cast<int64_t>(Cfg::workspaceFloats(m)))
        << "M = " << m;
    EXPECT_EQ(launch.counters, static_cast<int64_t>(Cfg::counterCount(m)))
        << "M = " << m;
  }
  // The contract's geometry, value by value.
  awq::GemvGeometry g = awq::gemvGeometry(shape, params);
  EXPECT_EQ(g.units, Cfg::kUnits);
  EXPECT_EQ(g.tiles, Cfg::kTiles);
  EXPECT_EQ(g.tilesPerSplit, Cfg::kTilesPerSplit);
  EXPECT_EQ(g.groups, Cfg::kGroups);
  EXPECT_EQ(g.unitsPerGroup, Cfg::kUnitsPerGroup);
  EXPECT_EQ(g.colsPerBlock, Cfg::kColsPerBlock);
  EXPECT_EQ(g.gridX, Cfg::kGridX);
  EXPECT_EQ(g.gridY, Cfg::kGridY);
  EXPECT_EQ(g.sharedBytes, static_cast<int64_t>(Cfg::kSharedBytes));
  for (int m : {1, 3, 4, 5, 33})
    EXPECT_EQ(g.gridZ(m), Cfg::gridZ(m)) << "M = " << m;
  for (int m : {1, 7, 64}) {
    EXPECT_EQ(g.workspaceFloats(m),
              static_cast<int64_t>(Cfg::workspaceFloats(m)));
    EXPECT_EQ(g.counterCount(m), static_cast<int64_t>(Cfg::counterCount(m)));
  }
}

template <int K, int N, int Bits, int Group, bool Zp, int TM, int TN, int TK,
          int WM, int WN, int Stages, int SplitK, bool Act, bool Bias, bool Res,
          bool Silu, int MinBlocks = 1>
void checkGemm(std::initializer_list<int> plannedOn = {}) {
  using Cfg = awq::GemmConfig<K, N, Bits, Group, Zp, TM, TN, TK, WM, WN, Stages,
                              SplitK, Act, Bias, Res, Silu,
                              awq::ActivationType::F16, MinBlocks>;
  awq::LinearShape shape{K, N, Bits, Group, Zp, Act, Bias, Res, Silu};
  awq::GemmParams params{TM, TN, TK, WM, WN, Stages, SplitK};
  SCOPED_TRACE(::testing::Message() << "gemm K=" << K << " N=" << N
                                    << " bits=" << Bits << " group=" << Group);
  EXPECT_EQ(awq::checkGemm(shape, params), "");
  expectPlannedGemm(shape, params, plannedOn);
  const awq::KernelInstance instance =
      awq::KernelInstance::makeGemm(shape, params);
  EXPECT_EQ(instance.check(), "");
  EXPECT_EQ(instance.threads(), Cfg::kThreads);
  EXPECT_EQ(instance.sharedBytes(), static_cast<int64_t>(Cfg::kSharedBytes));
  EXPECT_EQ(shape.nOut(), Cfg::kNOut);
  for (int m : {1, 7, 17, 64, 65, 300, 1000}) {
    const awq::KernelLaunch launch = instance.launch(m);
    EXPECT_EQ(launch.gridX, Cfg::kGridX) << "M = " << m;
    EXPECT_EQ(launch.gridY, Cfg::gridY(m)) << "M = " << m;
    EXPECT_EQ(launch.gridZ, Cfg::gridZ(m)) << "M = " << m;
    EXPECT_EQ(launch.threads, Cfg::kThreads);
    EXPECT_EQ(launch.sharedBytes, static_cast<int64_t>(Cfg::kSharedBytes));
    EXPECT_EQ(launch.workspaceFloats,
              static_cast<int64_t>(Cfg::workspaceFloats(m)))
        << "M = " << m;
    EXPECT_EQ(launch.counters, static_cast<int64_t>(Cfg::counterCount(m)))
        << "M = " << m;
  }
  // The weight layout the kernel indexes is the one the repacker writes.
  awq::QuantizedLinear layer;
  layer.k = K;
  layer.n = N;
  layer.params.bits = Bits;
  layer.params.groupSize = Group;
  layer.params.zeroPoint = Zp;
  layer.q.assign(static_cast<size_t>(layer.k * layer.n), 1);
  layer.scales.assign(static_cast<size_t>(layer.numGroups() * layer.n), 0x3C00);
  if (Zp)
    layer.zeros.assign(layer.scales.size(), 1);
  const awq::GemmWeights w = awq::repackGemm(layer, "layer");
  EXPECT_EQ(w.kPadded, Cfg::kPackedK);
  EXPECT_EQ(w.nPadded, Cfg::kPackedN);
  EXPECT_EQ(w.scaleRows, Cfg::kScaleRows);
  EXPECT_EQ(w.qweight.size(), static_cast<size_t>(Cfg::kPackedKPackets) *
                                  Cfg::kPackedNBlocks * Cfg::kPacketBytes);
  EXPECT_EQ(w.scales.size(),
            static_cast<size_t>(Cfg::kScaleRows) * Cfg::kPackedN);
  EXPECT_EQ(w.zeroScales.size(), Zp ? w.scales.size() : 0u);
  EXPECT_EQ(awq::gemmPacketBytes(Bits), Cfg::kPacketBytes);
  EXPECT_EQ(instance.weightBytes(),
            static_cast<int64_t>(w.qweight.size() + 2 * w.scales.size() +
                                 2 * w.zeroScales.size()));
  // The contract's geometry, value by value.
  awq::GemmGeometry g = awq::gemmGeometry(shape, params);
  EXPECT_EQ(g.kPadded, Cfg::kKPadded);
  EXPECT_EQ(g.kTiles, Cfg::kKTiles);
  EXPECT_EQ(g.groupEff, Cfg::kGroupEff);
  EXPECT_EQ(g.tilesPerChunk, Cfg::kTilesPerChunk);
  EXPECT_EQ(g.chunkRows, Cfg::kChunkRows);
  EXPECT_EQ(g.threads, Cfg::kThreads);
  EXPECT_EQ(g.gridX, Cfg::kGridX);
  EXPECT_EQ(g.sharedBytes, static_cast<int64_t>(Cfg::kSharedBytes));
  for (int m : {1, 7, 64, 65, 300}) {
    EXPECT_EQ(g.gridY(m), Cfg::gridY(m)) << "M = " << m;
    EXPECT_EQ(g.gridZ(m), Cfg::gridZ(m)) << "M = " << m;
    EXPECT_EQ(g.workspaceFloats(m),
              static_cast<int64_t>(Cfg::workspaceFloats(m)));
    EXPECT_EQ(g.counterCount(m), static_cast<int64_t>(Cfg::counterCount(m)));
  }
}

TEST(KernelGeometry, PlannedGemvInstancesMatchTheDeviceTemplate) {
  checkGemv<4096, 4096, 4, 128, true, 128, 8, 2, 4, false, false, false, false>(
      {80, 86, 89, 90});
  checkGemv<11008, 4096, 4, 128, true, 128, 8, 3, 4, false, false, true, false>(
      {90});
  checkGemv<11008, 4096, 3, 64, false, 128, 8, 3, 4, true, false, true, false>(
      {90});
  checkGemv<4096, 22016, 4, 128, true, 128, 8, 1, 4, false, true, false, true>(
      {80, 86, 89, 90});
  checkGemv<8192, 28672, 4, 128, true, 128, 8, 1, 4, false, false, false,
            false>({80, 86, 89, 90});
  checkGemv<11008, 4096, 8, 32, true, 128, 4, 2, 4, false, true, false, false>(
      {90});
  // One K tile: no register prefetch, so 4-row blocks of 8 warps fit twice.
  checkGemv<200, 72, 8, 200, true, 256, 4, 1, 4, true, true, true, false>(
      {80, 86, 89, 90});
}

TEST(KernelGeometry, ChosenGemvTilingsMatchTheDeviceTemplate) {
  checkGemv<3072, 40, 4, 32, false, 256, 4, 3, 8, false, false, false, false>();
  checkGemv<160, 96, 3, 32, true, 64, 4, 1, 1, false, true, false, true>();
  checkGemv<11008, 4096, 4, 128, true, 256, 4, 4, 1, false, false, true,
            false>();
  checkGemv<100, 38, 3, 100, false, 64, 4, 1, 8, false, false, false, true>();
}

/// The paired units, paired tiles and unpaired tail the kernel reads, with
/// values worked out by hand from the layout (runtime/kernels/GemvLayout.h).
TEST(KernelGeometry, GemvPairsWholeTilePairsAndComputesTheTailAfterThem) {
  // The 7B down projection: 344 units, 5 pairs of tiles, a tail tile of 24
  // units in the last of three 4-tile splits.
  using Down = awq::GemvConfig<11008, 4096, 4, 128, true, 256, 8, 3, 1, false,
                               false, false, false>;
  EXPECT_EQ(Down::kPairedUnits, 320);
  EXPECT_EQ(Down::kPairedTileEnd, 10);
  EXPECT_EQ(Down::kTailTiles, 1);
  EXPECT_TRUE(Down::kPairRuns);
  EXPECT_TRUE(Down::kPairedInsideK);
  // 3-tile splits start at odd tiles: no runs, though the layout pairs.
  // One block of all 11 tiles (sm_75's plan) has runs again.
  using OddSplits = awq::GemvConfig<11008, 4096, 4, 128, true, 256, 8, 4, 1,
                                    false, false, false, false>;
  EXPECT_EQ(OddSplits::kPairedUnits, 320);
  EXPECT_FALSE(OddSplits::kPairRuns);
  using OneSplit = awq::GemvConfig<11008, 4096, 4, 128, true, 256, 8, 1, 1,
                                   false, false, false, false>;
  EXPECT_TRUE(OneSplit::kPairRuns);
  EXPECT_EQ(OneSplit::kTailTiles, 1);
  // 120 units: one pair, then a whole and a short tail tile.
  using TwoTail = awq::GemvConfig<3840, 40, 8, 128, false, 128, 8, 2, 1, false,
                                  false, true, false>;
  EXPECT_EQ(TwoTail::kPairedTileEnd, 2);
  EXPECT_EQ(TwoTail::kTailTiles, 2);
  EXPECT_TRUE(TwoTail::kPairRuns);
  // Groups of one unit pair nothing.
  using Unpaired = awq::GemvConfig<4096, 64, 4, 32, true, 128, 8, 1, 1, false,
                                   false, false, false>;
  EXPECT_EQ(Unpaired::kPairedUnits, 0);
  EXPECT_FALSE(Unpaired::kPairRuns);
  // 128 units, per-column group, K = 4090: the last paired unit is padded.
  using Padded = awq::GemvConfig<4090, 64, 4, 4090, true, 128, 8, 1, 1, false,
                                 false, false, false>;
  EXPECT_EQ(Padded::kPairedUnits, 128);
  EXPECT_EQ(Padded::kTailTiles, 0);
  EXPECT_FALSE(Padded::kPairedInsideK);
}

TEST(KernelGeometry, PlannedGemmInstancesMatchTheDeviceTemplate) {
  checkGemm<4096, 4096, 4, 128, true, 64, 128, 128, 2, 2, 3, 6, false, false,
            false, false>({80});
  checkGemm<4096, 4096, 4, 128, true, 64, 128, 128, 2, 2, 3, 8, true, true,
            true, false>({90});
  // The 100 KB parts: 64-deep K tiles leave room for two blocks per SM.
  checkGemm<4096, 4096, 4, 128, true, 64, 128, 64, 2, 2, 3, 8, true, true, true,
            false>({89, 120});
  // sm_75: two stages (one tile in flight through registers).
  checkGemm<4096, 4096, 4, 128, true, 64, 128, 64, 2, 2, 2, 2, true, true, true,
            false>({75});
  // 3-bit packets are smaller: 128-deep tiles fit twice in 2 stages.
  checkGemm<11008, 4096, 3, 64, false, 64, 128, 128, 2, 2, 2, 5, true, false,
            true, false>({86});
  checkGemm<11008, 4096, 3, 64, false, 64, 128, 128, 2, 2, 2, 8, true, false,
            true, false>({89, 120});
  checkGemm<11008, 4096, 3, 64, false, 64, 128, 128, 2, 2, 3, 8, true, false,
            true, false>({90});
  checkGemm<11008, 4096, 3, 64, false, 64, 128, 64, 2, 2, 2, 2, true, false,
            true, false>({75});
  // Splits fill one wave (planGemm): 172 column tiles fit sm_80's 216
  // places once, sm_90's 396 twice.
  checkGemm<4096, 22016, 4, 128, true, 64, 128, 128, 2, 2, 3, 1, false, true,
            false, true>({80});
  checkGemm<4096, 22016, 4, 128, true, 64, 128, 128, 2, 2, 3, 2, false, true,
            false, true>({90});
  checkGemm<4096, 22016, 4, 128, true, 64, 128, 64, 2, 2, 3, 1, false, true,
            false, true>({89, 120});
  checkGemm<4096, 22016, 4, 128, true, 64, 128, 64, 2, 2, 2, 1, false, true,
            false, true>({75});
  checkGemm<8192, 28672, 4, 128, true, 64, 128, 128, 2, 2, 3, 1, false, false,
            false, false>({80});
  checkGemm<8192, 28672, 4, 128, true, 64, 128, 64, 2, 2, 3, 1, false, false,
            false, false>({86});
  checkGemm<96, 10, 8, 32, true, 64, 64, 128, 2, 1, 3, 1, false, false, false,
            true>({80, 90});
  checkGemm<96, 10, 8, 32, true, 64, 64, 64, 2, 1, 3, 2, false, false, false,
            true>({86, 89, 120});
  checkGemm<96, 10, 8, 32, true, 64, 64, 32, 2, 1, 2, 3, false, false, false,
            true>({75});
}

TEST(KernelGeometry, ChosenGemmTilingsMatchTheDeviceTemplate) {
  checkGemm<4096, 22016, 4, 128, true, 64, 128, 64, 2, 2, 3, 1, false, true,
            false, true>({86});
  checkGemm<200, 72, 8, 200, true, 64, 64, 64, 2, 1, 4, 4, true, true, true,
            false>();
  checkGemm<160, 96, 3, 32, true, 64, 128, 64, 2, 2, 2, 1, false, false, false,
            true>();
  checkGemm<384, 136, 4, 32, false, 32, 128, 32, 2, 2, 3, 2, true, false, false,
            false>();
  checkGemm<8192, 28672, 8, 128, false, 128, 256, 128, 4, 4, 2, 1, false, false,
            false, false>();
  checkGemm<4096, 4096, 4, 128, true, 64, 256, 64, 1, 4, 4, 2, true, true, true,
            false>();
  checkGemm<384, 200, 3, 32, false, 32, 192, 128, 1, 3, 3, 1, false, false,
            false, true>();
  checkGemm<200, 72, 8, 200, true, 128, 128, 64, 2, 2, 2, 1, true, false, true,
            false>();
  // MinBlocksPerSm only bounds registers: the geometry is the same.
  checkGemm<768, 64, 4, 128, false, 16, 64, 32, 1, 1, 2, 5, false, true, false,
            false, 2>();
}

TEST(KernelGeometry, ChecksRejectWhatTheTemplatesReject) {
  awq::LinearShape shape{100, 64, 4, 100, true, false, false, false, false};
  EXPECT_NE(awq::checkGemm(shape, awq::GemmParams{}).find("multiple of 8"),
            std::string::npos);
  awq::LinearShape silu{256, 64, 4, 128, true, false, false, false, true};
  awq::GemvParams odd{128, 1, 1, 4};
  EXPECT_NE(awq::checkGemv(silu, odd).find("even cols_per_warp"),
            std::string::npos);
  awq::LinearShape small{1024, 64, 4, 128, true, false, false, false, false};
  awq::GemvParams split{128, 8, 2, 4};
  EXPECT_NE(awq::checkGemv(small, split).find("leave every split"),
            std::string::npos);
  awq::GemmParams tooDeep{64, 128, 64, 2, 2, 4, 9};
  awq::LinearShape k256{256, 128, 4, 128, true, false, false, false, false};
  EXPECT_NE(awq::checkGemm(k256, tooDeep).find("split_k 9"), std::string::npos);
}

} // namespace
