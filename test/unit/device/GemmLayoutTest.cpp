//===- GemmLayoutTest.cpp - Host mirror of GemmConfig's constants ---------===//
//
// The compiler plans launches and shared memory with RepackGemm.h's helpers
// while the kernel uses GemmConfig's constants; this compiles awq/gemm.cuh on
// the host (emulation) and checks that both sides agree, for every shape of
// tile, group and epilogue the helpers distinguish.
//
//===----------------------------------------------------------------------===//
#include "awq/gemm.cuh"

#include "runtime/kernels/GemmLayout.h"

#include <gtest/gtest.h>

#include <vector>

namespace awq {
namespace {

template <class Cfg> GemmKernelSpec specOf() {
  GemmKernelSpec spec;
  spec.k = Cfg::kK;
  spec.n = Cfg::kN;
  spec.params.bits = Cfg::kBits;
  spec.params.groupSize = Cfg::kGroupSize;
  spec.params.zeroPoint = Cfg::kHasZeroPoint;
  spec.tileM = Cfg::kTileM;
  spec.tileN = Cfg::kTileN;
  spec.tileK = Cfg::kTileK;
  spec.warpsM = Cfg::kWarpsM;
  spec.warpsN = Cfg::kWarpsN;
  spec.stages = Cfg::kStages;
  spec.splitK = Cfg::kSplitK;
  spec.actScale = Cfg::kHasActScale;
  spec.bias = Cfg::kHasBias;
  spec.residual = Cfg::kHasResidual;
  spec.siluMul = Cfg::kSiluMul;
  spec.minBlocksPerSm = Cfg::kMinBlocksPerSm;
  return spec;
}

template <class Cfg> void expectAgreement() {
  const GemmKernelSpec spec = specOf<Cfg>();
  SCOPED_TRACE(gemmConfigType(spec));
  EXPECT_EQ(gemmSharedBytes(spec), Cfg::kSharedBytes);
  for (int m : {1, 17, 64, 1000}) {
    const GemmLaunch launch = gemmLaunch(spec, m);
    EXPECT_EQ(launch.gridX, static_cast<unsigned>(Cfg::kGridX));
    EXPECT_EQ(launch.gridY, static_cast<unsigned>(Cfg::gridY(m)));
    EXPECT_EQ(launch.gridZ, static_cast<unsigned>(Cfg::kGridZ));
    EXPECT_EQ(launch.threads, static_cast<unsigned>(Cfg::kThreads));
    EXPECT_EQ(launch.workspaceFloats, Cfg::workspaceFloats(m));
    EXPECT_EQ(launch.counters, Cfg::counterCount(m));
  }
  // The weight format the kernel indexes is the one the repacker writes.
  QuantizedLinear layer;
  layer.k = Cfg::kK;
  layer.n = Cfg::kN;
  layer.params = spec.params;
  layer.q.assign(static_cast<size_t>(layer.k * layer.n), 1);
  layer.scales.assign(static_cast<size_t>(layer.numGroups() * layer.n), 0x3C00);
  if (spec.params.zeroPoint)
    layer.zeros.assign(layer.scales.size(), 1);
  const GemmWeights w = repackGemm(layer, "layer");
  EXPECT_EQ(w.kPadded, Cfg::kPackedK);
  EXPECT_EQ(w.nPadded, Cfg::kPackedN);
  EXPECT_EQ(w.scaleRows, Cfg::kScaleRows);
  EXPECT_EQ(w.qweight.size(), static_cast<size_t>(Cfg::kPackedKPackets) *
                                  Cfg::kPackedNBlocks * Cfg::kPacketBytes);
  EXPECT_EQ(gemmPacketBytes(Cfg::kBits), Cfg::kPacketBytes);
}

TEST(GemmLayout, HostHelpersMatchGemmConfig) {
  expectAgreement<GemmConfig<4096, 4096, 4, 128, true, 64, 256, 64, 1, 4, 4, 2,
                             true, true, true, false>>();
  expectAgreement<GemmConfig<384, 200, 3, 32, false, 32, 192, 128, 1, 3, 3, 1,
                             false, false, false, true>>();
  expectAgreement<GemmConfig<200, 72, 8, 200, true, 128, 128, 64, 2, 2, 2, 1,
                             true, false, true, false>>();
  expectAgreement<GemmConfig<768, 64, 4, 128, false, 16, 64, 32, 1, 1, 2, 5,
                             false, true, false, false, 2>>();
}

/// Every row's chunks are a permutation, and the eight rows one ldmatrix
/// matrix reads (same logical chunk, rows 8i..8i+7) hit eight different
/// 16-byte bank groups: one shared-memory wavefront, no conflicts.
template <int RowBytes> void expectConflictFreeSwizzle() {
  using Swizzle = SwizzledRows<RowBytes>;
  constexpr int kChunks = RowBytes / 16;
  for (int row = 0; row < 64; ++row) {
    std::vector<bool> used(kChunks, false);
    for (int chunk = 0; chunk < kChunks; ++chunk) {
      const int physical = Swizzle::physicalChunk(row, chunk);
      ASSERT_GE(physical, 0);
      ASSERT_LT(physical, kChunks);
      EXPECT_FALSE(used[physical]) << "row " << row << " chunk " << chunk;
      used[physical] = true;
      EXPECT_EQ(Swizzle::elementOffset(row, chunk),
                row * RowBytes / 2 + physical * 8);
    }
  }
  for (int first = 0; first < 64; first += 8)
    for (int chunk = 0; chunk < kChunks; ++chunk) {
      std::vector<bool> bank(8, false);
      for (int row = first; row < first + 8; ++row) {
        const int byte = Swizzle::elementOffset(row, chunk) * 2;
        const int group = byte / 16 % 8; // 4 banks of 4 bytes each
        EXPECT_FALSE(bank[group]) << RowBytes << "-byte rows " << first << ".."
                                  << first + 7 << ", chunk " << chunk;
        bank[group] = true;
      }
    }
}

TEST(GemmLayout, SwizzledRowsAreConflictFreeForLdmatrix) {
  expectConflictFreeSwizzle<32>();
  expectConflictFreeSwizzle<64>();
  expectConflictFreeSwizzle<128>();
  expectConflictFreeSwizzle<256>();
}

} // namespace
} // namespace awq
