//===- GemvKernelConfigTest.cpp - GEMV planning, checks and emitted source ===//

#include "compiler/repack/GemvKernelConfig.h"

#include "awq/gemv.cuh"

#include "runtime/support/Error.h"

#include <gtest/gtest.h>

namespace {

using awq::GemvKernelConfig;

GemvKernelConfig layer(int64_t k, int64_t n, int bits, int64_t group) {
  GemvKernelConfig c;
  c.k = k;
  c.n = n;
  c.bits = bits;
  c.groupSize = group;
  return c;
}

/// The host mirror must agree with the device template's constants.
template <class Cfg> void expectSameGeometry(const GemvKernelConfig &c) {
  EXPECT_EQ(c.units(), Cfg::kUnits);
  EXPECT_EQ(c.tiles(), Cfg::kTiles);
  EXPECT_EQ(c.tilesPerSplit(), Cfg::kTilesPerSplit);
  EXPECT_EQ(c.colsPerBlock(), Cfg::kColsPerBlock);
  EXPECT_EQ(c.gridX(), Cfg::kGridX);
  EXPECT_EQ(c.gridY(), Cfg::kGridY);
  EXPECT_EQ(c.nOut(), Cfg::kNout);
  EXPECT_EQ(c.sharedBytes(), static_cast<int64_t>(Cfg::kSharedBytes));
  EXPECT_EQ(c.weightBytes(), Cfg::kWeightBytes);
  for (int m : {1, 3, 8, 17}) {
    EXPECT_EQ(c.gridZ(m), Cfg::gridZ(m));
    EXPECT_EQ(c.workspaceFloats(m),
              static_cast<int64_t>(Cfg::workspaceFloats(m)));
    EXPECT_EQ(c.counterCount(m), static_cast<int64_t>(Cfg::counterCount(m)));
  }
}

TEST(GemvKernelConfig, GeometryMatchesDeviceTemplate) {
  GemvKernelConfig a = layer(11008, 4096, 4, 128);
  a.kSplit = 4;
  a.residual = true;
  expectSameGeometry<awq::GemvConfig<11008, 4096, 4, 128, true, 256, 4, 4, 1,
                                     false, false, true, false>>(a);
  GemvKernelConfig b = layer(100, 38, 3, 100);
  b.zeroPoint = false;
  b.threadsPerBlock = 64;
  b.colsPerWarp = 2;
  b.maxRows = 8;
  b.siluMul = true;
  expectSameGeometry<awq::GemvConfig<100, 38, 3, 100, false, 64, 2, 1, 8, false,
                                     false, false, true>>(b);
}

TEST(GemvKernelConfig, PlansLlamaShapes) {
  struct Shape {
    int64_t k, n;
  };
  for (Shape s : {Shape{4096, 4096}, Shape{4096, 22016}, Shape{11008, 4096},
                  Shape{4096, 12288}, Shape{8192, 28672}, Shape{128, 64}})
    for (int rows : {1, 2, 3, 8}) {
      const GemvKernelConfig c = awq::planGemvTiling(
          layer(s.k, s.n, 4, 128 <= s.k ? 128 : s.k), rows, 132);
      EXPECT_GE(c.maxRows, rows);
      EXPECT_LE(c.colsPerWarp * c.maxRows, 32);
      // Enough blocks for the GPU unless K is too short to split further.
      if (c.kSplit < c.tiles()) {
        EXPECT_GE(c.gridX() * c.gridY(), 132) << s.k << "x" << s.n;
      }
      EXPECT_NO_THROW(c.validate("plan"));
    }
  // 4096 x 4096 at batch 1: 128 column blocks, split in 4 one-tile slices.
  const GemvKernelConfig c =
      awq::planGemvTiling(layer(4096, 4096, 4, 128), 1, 132);
  EXPECT_EQ(c.gridX(), 128);
  EXPECT_EQ(c.kSplit, 4);
  EXPECT_EQ(c.tilesPerSplit(), 1);
}

TEST(GemvKernelConfig, ValidateNamesTheField) {
  auto expectField = [](GemvKernelConfig c, const std::string &field) {
    try {
      c.validate("layers.7.down_proj");
      FAIL() << "accepted a bad " << field;
    } catch (const awq::Error &e) {
      const std::string text = e.what();
      EXPECT_NE(text.find("layers.7.down_proj"), std::string::npos) << text;
      EXPECT_NE(text.find("'" + field + "'"), std::string::npos) << text;
    }
  };
  GemvKernelConfig c = layer(4096, 4096, 4, 128);
  GemvKernelConfig bad = c;
  bad.bits = 5;
  expectField(bad, "bits");
  bad = c;
  bad.groupSize = 48;
  expectField(bad, "groupSize");
  bad = c;
  bad.threadsPerBlock = 100;
  expectField(bad, "threadsPerBlock");
  bad = c;
  bad.colsPerWarp = 3;
  expectField(bad, "colsPerWarp");
  bad = c;
  bad.maxRows = 8;
  bad.colsPerWarp = 8;
  expectField(bad, "colsPerWarp");
  bad = c;
  bad.maxRows = 3;
  expectField(bad, "maxRows");
  bad = c;
  bad.kSplit = 5; // Only 4 tiles.
  expectField(bad, "kSplit");
  bad = layer(3072, 64, 4, 128);
  bad.kSplit = 2 + 0; // 3 tiles: splits of 2 and 1 are fine ...
  EXPECT_NO_THROW(bad.validate("ok"));
  bad = layer(4096, 64, 4, 128);
  bad.kSplit = 3; // ... 4 tiles in splits of 2 leave the third empty.
  expectField(bad, "kSplit");
  bad = c;
  bad.siluMul = true;
  bad.colsPerWarp = 1;
  expectField(bad, "siluMul");
  bad = c;
  bad.k = 0;
  expectField(bad, "k");
}

TEST(GemvKernelConfig, EmitsSource) {
  GemvKernelConfig c = layer(4096, 4096, 4, 128);
  c.bias = true;
  EXPECT_EQ(c.typeName(), "awq::GemvConfig<4096, 4096, 4, 128, true, 256, 4, "
                          "1, 1, false, true, false, false>");
  const std::string source = c.kernelSource("layer0_o_proj");
  EXPECT_NE(source.find("#include \"awq/gemv.cuh\""), std::string::npos);
  EXPECT_NE(source.find("AWQ_GEMV_KERNEL(layer0_o_proj, " + c.typeName() + ")"),
            std::string::npos);
  EXPECT_THROW(c.kernelSource("0bad"), awq::Error);
  EXPECT_THROW(c.kernelSource("has space"), awq::Error);
}

TEST(GemvKernelConfig, PlanRejectsBadArguments) {
  EXPECT_THROW(awq::planGemvTiling(layer(4096, 4096, 4, 128), 0, 132),
               awq::Error);
  EXPECT_THROW(awq::planGemvTiling(layer(4096, 4096, 4, 128), 9, 132),
               awq::Error);
  EXPECT_THROW(awq::planGemvTiling(layer(4096, 4096, 4, 128), 1, 0),
               awq::Error);
  EXPECT_THROW(awq::planGemvTiling(layer(4096, 4096, 4, 96), 1, 132),
               awq::Error);
}

} // namespace
