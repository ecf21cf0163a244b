//===- KernelGeometryTest.cpp - Host geometry equals the device templates -===//
//
// runtime/support/KernelGeometry.h restates the compile-time constants of
// awq::GemvConfig and awq::GemmConfig for the compiler and the runtime. This
// instantiates the device templates themselves (through the host emulation
// headers) for a spread of shapes and tilings and requires every value to
// agree, so the two cannot drift apart.
//
//===----------------------------------------------------------------------===//
#include "runtime/support/KernelGeometry.h"
#include "awq/gemm.cuh"
#include "awq/gemv.cuh"

#include <gtest/gtest.h>

namespace {

template <int K, int N, int Bits, int Group, bool Zp, int Threads, int Cols,
          int KSplit, int Rows, bool Act, bool Bias, bool Res, bool Silu>
void checkGemv() {
  using Cfg = awq::GemvConfig<K, N, Bits, Group, Zp, Threads, Cols, KSplit,
                              Rows, Act, Bias, Res, Silu>;
  awq::LinearShape shape{K, N, Bits, Group, Zp, Act, Bias, Res, Silu};
  awq::GemvParams params{Threads, Cols, KSplit, Rows};
  SCOPED_TRACE(::testing::Message() << "gemv K=" << K << " N=" << N
                                    << " bits=" << Bits << " group=" << Group);
  EXPECT_EQ(awq::checkGemv(shape, params), "");
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
          bool Silu>
void checkGemm() {
  using Cfg = awq::GemmConfig<K, N, Bits, Group, Zp, TM, TN, TK, WM, WN, Stages,
                              SplitK, Act, Bias, Res, Silu>;
  awq::LinearShape shape{K, N, Bits, Group, Zp, Act, Bias, Res, Silu};
  awq::GemmParams params{TM, TN, TK, WM, WN, Stages, SplitK};
  SCOPED_TRACE(::testing::Message() << "gemm K=" << K << " N=" << N
                                    << " bits=" << Bits << " group=" << Group);
  EXPECT_EQ(awq::checkGemm(shape, params), "");
  awq::GemmGeometry g = awq::gemmGeometry(shape, params);
  EXPECT_EQ(g.kPadded, Cfg::kKPadded);
  EXPECT_EQ(g.kTiles, Cfg::kKTiles);
  EXPECT_EQ(g.groupEff, Cfg::kGroupEff);
  EXPECT_EQ(g.tilesPerChunk, Cfg::kTilesPerChunk);
  EXPECT_EQ(g.chunkRows, Cfg::kChunkRows);
  EXPECT_EQ(g.threads, Cfg::kThreads);
  EXPECT_EQ(g.gridX, Cfg::kGridX);
  EXPECT_EQ(g.gridZ, Cfg::kGridZ);
  EXPECT_EQ(g.sharedBytes, static_cast<int64_t>(Cfg::kSharedBytes));
  for (int m : {1, 7, 64, 65, 300}) {
    EXPECT_EQ(g.gridY(m), Cfg::gridY(m)) << "M = " << m;
    EXPECT_EQ(g.workspaceFloats(m),
              static_cast<int64_t>(Cfg::workspaceFloats(m)));
    EXPECT_EQ(g.counterCount(m), static_cast<int64_t>(Cfg::counterCount(m)));
  }
}

TEST(KernelGeometry, GemvMatchesTheDeviceTemplate) {
  checkGemv<4096, 4096, 4, 128, true, 128, 8, 2, 4, false, false, false,
            false>();
  checkGemv<11008, 4096, 3, 64, false, 128, 8, 3, 4, true, false, true,
            false>();
  checkGemv<4096, 22016, 4, 128, true, 128, 8, 1, 4, false, true, false,
            true>();
  checkGemv<200, 72, 8, 200, true, 128, 4, 1, 4, true, true, true, false>();
  checkGemv<3072, 40, 4, 32, false, 256, 4, 3, 8, false, false, false, false>();
  checkGemv<160, 96, 3, 32, true, 64, 2, 1, 1, false, true, false, true>();
}

TEST(KernelGeometry, GemmMatchesTheDeviceTemplate) {
  checkGemm<4096, 4096, 4, 128, true, 64, 128, 64, 2, 2, 4, 3, false, false,
            false, false>();
  checkGemm<11008, 4096, 3, 64, false, 64, 128, 64, 2, 2, 4, 4, true, false,
            true, false>();
  checkGemm<4096, 22016, 4, 128, true, 64, 128, 64, 2, 2, 3, 1, false, true,
            false, true>();
  checkGemm<200, 72, 8, 200, true, 64, 64, 64, 2, 1, 4, 4, true, true, true,
            false>();
  checkGemm<160, 96, 3, 32, true, 64, 128, 64, 2, 2, 2, 1, false, false, false,
            true>();
  checkGemm<384, 136, 4, 32, false, 32, 128, 32, 2, 2, 3, 2, true, false, false,
            false>();
  checkGemm<8192, 28672, 8, 128, false, 128, 256, 128, 4, 4, 2, 1, false, false,
            false, false>();
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
  EXPECT_NE(awq::checkGemv(small, split).find("leaves a split"),
            std::string::npos);
  awq::GemmParams tooDeep{64, 128, 64, 2, 2, 4, 9};
  awq::LinearShape k256{256, 128, 4, 128, true, false, false, false, false};
  EXPECT_NE(awq::checkGemm(k256, tooDeep).find("split_k 9"), std::string::npos);
}

} // namespace
