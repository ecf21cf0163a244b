//===- GemmRepackTest.cpp - GEMM weight format, tiling and kernel source --===//
//
// The repacked buffers are decoded here by a plain reader written from the
// format description in RepackGemm.h (not from the repacker's code) and must
// give back every logical q, s and z * s, with zeros in the padding. The
// tiling and source helpers are checked against the constraints they mirror.
//
//===----------------------------------------------------------------------===//
#include "runtime/kernels/GemmLayout.h"

#include "runtime/support/Error.h"
#include "runtime/support/Half.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <ostream>
#include <random>
#include <string>
#include <vector>

namespace awq {
namespace {

/// A random layer with fresh values; the seed is printed on failure.
QuantizedLinear randomLayer(std::mt19937 &rng, int64_t k, int64_t n, int bits,
                            int64_t group, bool zeroPoint) {
  QuantizedLinear layer;
  layer.k = k;
  layer.n = n;
  layer.params.bits = bits;
  layer.params.groupSize = group;
  layer.params.zeroPoint = zeroPoint;
  std::uniform_int_distribution<int> value(0, (1 << bits) - 1);
  std::uniform_real_distribution<float> scale(0.001f, 0.05f);
  layer.q.resize(static_cast<size_t>(k * n));
  for (uint8_t &q : layer.q)
    q = static_cast<uint8_t>(value(rng));
  const size_t groups = static_cast<size_t>(layer.numGroups() * n);
  layer.scales.resize(groups);
  for (uint16_t &s : layer.scales)
    s = floatToHalf(scale(rng));
  if (zeroPoint) {
    layer.zeros.resize(groups);
    for (uint8_t &z : layer.zeros)
      z = static_cast<uint8_t>(value(rng));
  }
  return layer;
}

uint32_t readWord(const std::vector<uint8_t> &bytes, size_t offset) {
  uint32_t word;
  std::memcpy(&word, bytes.data() + offset, 4);
  return word;
}

/// The q value at (row, col) of a repacked weight, read as RepackGemm.h
/// describes the format.
int decodeQ(const GemmWeights &w, int64_t row, int64_t col) {
  const int bits = w.params.bits;
  const int64_t kp = row / 32, nb = col / 64;
  const int64_t packet = (nb * (w.kPadded / 32) + kp) * 256 * bits;
  const int kr = static_cast<int>(row % 32), nc = static_cast<int>(col % 64);
  const int h = kr / 16, r = kr % 16 / 8, t = kr % 8 / 2, e = kr % 2;
  const int j = nc / 8, g = nc % 8;
  const int lane = 4 * g + t;
  const int v = 32 * h + 4 * j + 2 * r + e;
  if (bits == 4) {
    const int word = v / 8, inWord = v % 8;
    // Nibble i holds value {0,2,4,6,1,3,5,7}[i]; find the nibble of inWord.
    const int nibble = inWord % 2 == 0 ? inWord / 2 : 4 + inWord / 2;
    const uint32_t bitsWord = readWord(
        w.qweight, packet + 512 * (word / 4) + 16 * lane + 4 * (word % 4));
    return (bitsWord >> (4 * nibble)) & 0xF;
  }
  if (bits == 8) {
    const int word = v / 4;
    return w.qweight[packet + 512 * (word / 4) + 16 * lane + 4 * (word % 4) +
                     v % 4];
  }
  // 3 bits: words 3h..3h+2 hold the half's 32 values.
  auto word = [&](int index) {
    return index < 4
               ? readWord(w.qweight, packet + 16 * lane + 4 * index)
               : readWord(w.qweight, packet + 512 + 8 * lane + 4 * (index - 4));
  };
  const int u = v % 32;
  if (u >= 30) {
    int value = 0;
    for (int bit = 0; bit < 3; ++bit)
      value |= ((word(3 * h + bit) >> (u == 30 ? 15 : 31)) & 1) << bit;
    return value;
  }
  const int wordIndex = u / 10, slot = u % 10 / 2;
  return (word(3 * h + wordIndex) >> (3 * slot + (u % 2) * 16)) & 7;
}

/// Index of (group row, column) in the repacked scale layout.
size_t scaleAt(const GemmWeights &w, int64_t row, int64_t col) {
  const int64_t nb = col / 64, j = col % 64 / 8, g = col % 8;
  return static_cast<size_t>(row * w.nPadded + nb * 64 + g * 8 + j);
}

struct RepackCase {
  int64_t k, n;
  int bits;
  int64_t group; // 0 = per column (group = K)
  bool zeroPoint;
};

void PrintTo(const RepackCase &c, std::ostream *os) {
  *os << c.k << "x" << c.n << " " << c.bits << "-bit group "
      << (c.group ? std::to_string(c.group) : std::string("K"))
      << (c.zeroPoint ? " zero point" : " symmetric");
}

class GemmRepackRoundTrip : public ::testing::TestWithParam<RepackCase> {};

TEST_P(GemmRepackRoundTrip, DecodesEveryValueAndZeroPadding) {
  const RepackCase c = GetParam();
  const uint32_t seed = std::random_device{}();
  SCOPED_TRACE("random seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  const int64_t group = c.group ? c.group : c.k;
  const QuantizedLinear layer =
      randomLayer(rng, c.k, c.n, c.bits, group, c.zeroPoint);
  const GemmWeights w = repackGemm(layer, "layer");

  ASSERT_EQ(w.kPadded, (c.k + 127) / 128 * 128);
  ASSERT_EQ(w.nPadded, (c.n + 63) / 64 * 64);
  ASSERT_EQ(w.qweight.size(),
            static_cast<size_t>(w.kPadded * w.nPadded * c.bits / 8));
  const int64_t rows = c.group ? (w.kPadded + group - 1) / group : 1;
  ASSERT_EQ(w.scaleRows, rows);
  ASSERT_EQ(w.scales.size(), static_cast<size_t>(rows * w.nPadded));
  ASSERT_EQ(w.zeroScales.size(), c.zeroPoint ? w.scales.size() : 0u);

  int64_t mismatches = 0;
  for (int64_t row = 0; row < w.kPadded; ++row) {
    for (int64_t col = 0; col < w.nPadded; ++col) {
      const int want = row < c.k && col < c.n ? layer.q[row * c.n + col] : 0;
      const int got = decodeQ(w, row, col);
      if (got != want && ++mismatches <= 5)
        ADD_FAILURE() << "q[" << row << ", " << col << "]: got " << got
                      << ", want " << want;
    }
  }
  EXPECT_EQ(mismatches, 0);

  for (int64_t row = 0; row < rows; ++row) {
    for (int64_t col = 0; col < w.nPadded; ++col) {
      const size_t at = scaleAt(w, row, col);
      const bool real = row < layer.numGroups() && col < c.n;
      const uint16_t s = real ? layer.scales[row * c.n + col] : 0;
      ASSERT_EQ(w.scales[at], s) << "scale (" << row << ", " << col << ")";
      if (!c.zeroPoint)
        continue;
      if (!real) {
        ASSERT_EQ(w.zeroScales[at], 0)
            << "zs padding (" << row << ", " << col << ")";
        continue;
      }
      // z * s rounded once to fp16: within half an ulp of the exact product.
      const double exact =
          double(layer.zeros[row * c.n + col]) * halfToFloat(s);
      const double got = halfToFloat(w.zeroScales[at]);
      const double ulp =
          exact == 0 ? 0 : std::ldexp(1.0, std::ilogb(exact) - 10);
      ASSERT_LE(std::fabs(got - exact), ulp / 2)
          << "zs (" << row << ", " << col << ") = " << got
          << " for z * s = " << exact;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Layouts, GemmRepackRoundTrip,
    ::testing::Values(
        RepackCase{256, 128, 4, 128, true}, RepackCase{384, 200, 4, 64, false},
        RepackCase{160, 72, 4, 32, true}, RepackCase{256, 192, 3, 64, true},
        RepackCase{640, 100, 3, 128, false}, RepackCase{96, 40, 3, 32, true},
        RepackCase{256, 128, 8, 128, false}, RepackCase{384, 136, 8, 32, true},
        RepackCase{200, 66, 4, 0, true}, RepackCase{104, 24, 3, 0, false},
        RepackCase{8, 8, 8, 0, true},
        // Large enough to be packed by several threads.
        RepackCase{4096, 4160, 4, 128, true}),
    [](const ::testing::TestParamInfo<RepackCase> &info) {
      const RepackCase &c = info.param;
      return "k" + std::to_string(c.k) + "n" + std::to_string(c.n) + "b" +
             std::to_string(c.bits) + "g" +
             (c.group ? std::to_string(c.group) : std::string("col")) +
             (c.zeroPoint ? "zp" : "sym");
    });

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

TEST(GemmRepackErrors, RejectsLayersTheKernelCannotRun) {
  std::mt19937 rng(std::random_device{}());
  QuantizedLinear odd = randomLayer(rng, 100, 64, 4, 100, true);
  expectError([&] { repackGemm(odd, "blk.0.q"); },
              "blk.0.q: the GEMM kernel needs K to be a multiple of 8");

  QuantizedLinear group48 = randomLayer(rng, 96, 64, 4, 48, true);
  expectError([&] { repackGemm(group48, "blk.1.up"); },
              "blk.1.up: the GEMM kernel needs a group size that is a "
              "multiple of 32");

  QuantizedLinear bigQ = randomLayer(rng, 64, 64, 3, 32, true);
  bigQ.q[5 * 64 + 7] = 8;
  expectError([&] { repackGemm(bigQ, "w"); },
              "w: q[5, 7] = 8 does not fit in 3 bits");

  QuantizedLinear bigZ = randomLayer(rng, 64, 64, 4, 32, true);
  bigZ.zeros[64 + 3] = 16;
  expectError([&] { repackGemm(bigZ, "w"); },
              "w: zeros[1, 3] = 16 does not fit in 4 bits");

  QuantizedLinear nanScale = randomLayer(rng, 64, 64, 8, 64, false);
  nanScale.scales[9] = 0x7E00; // fp16 NaN
  expectError([&] { repackGemm(nanScale, "w"); },
              "w: scales[0, 9] is not finite");

  QuantizedLinear shortScales = randomLayer(rng, 64, 64, 4, 32, true);
  shortScales.scales.pop_back();
  expectError([&] { repackGemm(shortScales, "w"); }, "w: expected 128 scales");
}

/// A spec that satisfies every constraint, to be broken one field at a time.
GemmKernelSpec validSpec() {
  GemmKernelSpec spec;
  spec.k = 4096;
  spec.n = 4096;
  spec.params.bits = 4;
  spec.params.groupSize = 128;
  spec.params.zeroPoint = true;
  spec.tileM = 64;
  spec.tileN = 256;
  spec.tileK = 64;
  spec.warpsM = 1;
  spec.warpsN = 4;
  spec.stages = 4;
  spec.splitK = 2;
  return spec;
}

TEST(GemmKernelSpec, ValidatesEveryField) {
  EXPECT_NO_THROW(validateGemmKernelSpec(validSpec(), 86, "l"));
  struct Broken {
    void (*breakIt)(GemmKernelSpec &);
    const char *message;
  };
  const Broken cases[] = {
      {[](GemmKernelSpec &s) { s.k = 4100; }, "K must be a multiple of 8"},
      {[](GemmKernelSpec &s) { s.n = 0; }, "shape must be positive"},
      {[](GemmKernelSpec &s) { s.params.bits = 5; }, "bits must be 3, 4 or 8"},
      {[](GemmKernelSpec &s) { s.params.groupSize = 96; },
       "group size must be K or a multiple of 32 that divides K"},
      {[](GemmKernelSpec &s) { s.tileK = 48; }, "tileK must be 32, 64 or 128"},
      {[](GemmKernelSpec &s) {
         s.k = 4032;
         s.params.groupSize = 96;
         s.tileK = 64;
       },
       "tileK 64 and group size 96 must divide one another"},
      {[](GemmKernelSpec &s) { s.warpsN = 0; }, "warpsM * warpsN must be"},
      {[](GemmKernelSpec &s) { s.tileM = 40; },
       "tileM must be a positive multiple of 16 * warpsM"},
      {[](GemmKernelSpec &s) { s.tileN = 192; },
       "tileN must be a positive multiple of 64 * warpsN"},
      {[](GemmKernelSpec &s) { s.stages = 5; }, "stages must be 2, 3 or 4"},
      {[](GemmKernelSpec &s) { s.splitK = 65; },
       "splitK must be between 1 and the 64 K tiles"},
      {[](GemmKernelSpec &s) {
         s.n = 4095;
         s.siluMul = true;
       },
       "siluMul needs an even N"},
      {[](GemmKernelSpec &s) { s.minBlocksPerSm = 0; },
       "minBlocksPerSm must be >= 1"},
      {[](GemmKernelSpec &s) {
         s.tileM = 128;
         s.warpsM = 2;
         s.tileK = 128;
       },
       "needs 200720 bytes of shared memory, more than the 101376 of sm_86"},
  };
  for (const Broken &c : cases) {
    GemmKernelSpec spec = validSpec();
    c.breakIt(spec);
    expectError([&] { validateGemmKernelSpec(spec, 86, "blk.3.down"); },
                std::string("blk.3.down: GEMM kernel ") + c.message);
  }
  expectError([] { gemmMaxSharedBytes(75); }, "unsupported architecture sm_75");
}

TEST(GemmKernelSpec, SharedBytesFollowTheStageLayout) {
  GemmKernelSpec spec = validSpec();
  spec.actScale = true;
  // Per stage: A 64x64 fp16, B 4 blocks x 2 packets x 1024 B, a 64 fp16;
  // per slot: one group row of s and zs for 256 columns; plus the flag.
  const int64_t stage = 64 * 64 * 2 + 4 * 2 * 1024 + 64 * 2;
  const int64_t slot = 256 * 2 * 2;
  EXPECT_EQ(gemmSharedBytes(spec), 4 * (stage + slot) + 16);
  spec.params.groupSize = 32; // two group rows per 64-row tile
  spec.params.zeroPoint = false;
  EXPECT_EQ(gemmSharedBytes(spec), 4 * (stage + 2 * 256 * 2) + 16);
}

TEST(GemmKernelSpec, ChosenTilingsAreValidForManyLayers) {
  const int64_t shapes[][2] = {{4096, 4096},  {4096, 11008}, {11008, 4096},
                               {8192, 28672}, {384, 200},    {640, 72},
                               {200, 40},     {64, 8}};
  const struct {
    int arch, sms;
  } gpus[] = {{80, 108}, {86, 84}, {89, 128}, {90, 132}};
  for (const auto &shape : shapes)
    for (int bits : {3, 4, 8})
      for (int64_t group : {int64_t(32), int64_t(64), int64_t(128), int64_t(0)})
        for (bool zp : {false, true})
          for (int64_t m : {1, 16, 33, 64, 100, 4096})
            for (const auto &gpu : gpus) {
              const int64_t k = shape[0], n = shape[1];
              const int64_t g = group ? group : k;
              if (k % g != 0)
                continue;
              QuantParams params;
              params.bits = bits;
              params.groupSize = g;
              params.zeroPoint = zp;
              GemmEpilogue epilogue;
              epilogue.actScale = zp;
              epilogue.siluMul = bits == 4;
              const GemmKernelSpec spec = chooseGemmKernelSpec(
                  k, n, params, epilogue, m, gpu.arch, gpu.sms);
              SCOPED_TRACE(gemmConfigType(spec) + " sm_" +
                           std::to_string(gpu.arch));
              EXPECT_NO_THROW(validateGemmKernelSpec(spec, gpu.arch, "chosen"));
              EXPECT_LE(spec.tileN, (n + 63) / 64 * 64);
              const GemmLaunch launch = gemmLaunch(spec, m);
              // Split-K only while the output tiles leave SMs idle.
              if (spec.splitK > 1) {
                EXPECT_LT(int64_t(launch.gridX) * launch.gridY, gpu.sms);
              }
            }
}

TEST(GemmKernelSpec, LaunchGeometryAndSource) {
  GemmKernelSpec spec = validSpec();
  spec.n = 4000;
  const GemmLaunch launch = gemmLaunch(spec, 130);
  EXPECT_EQ(launch.gridX, 16u);
  EXPECT_EQ(launch.gridY, 3u);
  EXPECT_EQ(launch.gridZ, 2u);
  EXPECT_EQ(launch.threads, 128u);
  EXPECT_EQ(launch.sharedBytes, gemmSharedBytes(spec));
  EXPECT_EQ(launch.workspaceFloats, 130 * 4000);
  EXPECT_EQ(launch.counters, 48);
  expectError([&] { gemmLaunch(spec, 0); }, "M must be >= 1");

  const std::string source = gemmKernelSource(spec, "blk0_qkv");
  EXPECT_NE(source.find("#include \"awq/gemm.cuh\""), std::string::npos);
  EXPECT_NE(source.find("using blk0_qkv_config = awq::GemmConfig<4096, 4000, "
                        "4, 128, true, 64, 256, 64, 1, 4, 4, 2, false, false, "
                        "false, false, 1>;"),
            std::string::npos)
      << source;
  EXPECT_NE(source.find("AWQ_GEMM_KERNEL(blk0_qkv, blk0_qkv_config)"),
            std::string::npos);
  expectError([&] { gemmKernelSource(spec, "9lives"); },
              "is not a C identifier");
  spec.stages = 1;
  expectError([&] { gemmKernelSource(spec, "k"); }, "stages must be 2, 3 or 4");
}

} // namespace
} // namespace awq
