//===- GemmPrimitivesTest.cpp - awq/mma.cuh wrappers on host and NVRTC ----===//
//
// One small kernel drives every wrapper of awq/mma.cuh: cp.async with and
// without zero fill (plain and with a cache policy), commit/wait,
// ldmatrix x1/x2/x4 with and without .trans, and mma.sync m16n8k16
// accumulating into existing values. On the host its outputs are checked
// against the PTX fragment formulas written out plainly here; NVRTC must
// compile it for every target architecture. A second kernel drives what the
// sm_75 path uses instead (plain 16-byte loads, mma.sync m16n8k8 and mmaK16
// as two of them), built on the host as sm_75, where the first kernel's
// cp.async must be refused. The shared-memory swizzle the GEMM's ldmatrix
// reads through (SwizzledRows) is checked on the host.
//
// The bf16 path: mma.sync m16n8k16 with bf16 fragments (host emulation
// against the fragment formulas, NVRTC for sm_80..sm_120, refused in an sm_75
// build) and the bf16 weight decoders of awq/dequant.cuh, every value of
// every field, against the word formats written out plainly here.
//
//===----------------------------------------------------------------------===//
#include "runtime/host/HostModule.h"
#include "runtime/nvrtc/NvrtcCompiler.h"
#include "runtime/support/Half.h"

#include "awq/dequant.cuh"
#include "awq/mma.cuh"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace awq {
namespace {

/// The kernel's by-value parameter (same layout on both sides).
struct PrimitiveArgs {
  const uint16_t *in; ///< 512 fp16 values: 64 rows of 8.
  const float *accIn; ///< 32 lanes x 4 accumulators.
  uint32_t *out;      ///< 32 lanes x 32 words.
  float *accOut;      ///< 32 lanes x 4 accumulators after the mma.
};

const char *kSource = R"(
#include "awq/mma.cuh"
#include "awq/primitives.cuh"

struct PrimitiveArgs {
  const unsigned short *in;
  const float *accIn;
  uint32_t *out;
  float *accOut;
};

extern "C" __global__ void mmaPrimitives(PrimitiveArgs args) {
  AWQ_DYNAMIC_SHARED(unsigned short, tile);
  const int lane = threadIdx.x;
  // 1 KB of input in 16-byte chunks (two per lane), then 512 bytes that
  // must come back as zeros (src-size 0).
  awq::cpAsync16(tile + lane * 8, args.in + lane * 8, true);
  awq::cpAsync16Policy(tile + 256 + lane * 8, args.in + 256 + lane * 8, true,
                       awq::makeEvictFirstPolicy());
  awq::cpAsyncCommit();
  awq::cpAsync16(tile + 512 + lane * 8, args.in, false);
  awq::cpAsyncCommit();
  awq::cpAsyncWait<1>();
  awq::cpAsyncWait<0>();
  __syncthreads();

  uint32_t *out = args.out + lane * 32;
  // Lane l names row l of the first 32 x 8 block (matrix l / 8, row l % 8).
  const unsigned short *row = tile + lane * 8;
  uint32_t x1[1], x2[2], x4[4], t1[1], t2[2], t4[4];
  awq::ldmatrix<1>(x1, row);
  awq::ldmatrix<2>(x2, row);
  awq::ldmatrix<4>(x4, row);
  awq::ldmatrix<1, true>(t1, row);
  awq::ldmatrix<2, true>(t2, row);
  awq::ldmatrix<4, true>(t4, row);
  out[0] = x1[0];
  out[1] = x2[0];
  out[2] = x2[1];
  for (int j = 0; j < 4; ++j)
    out[3 + j] = x4[j];
  out[7] = t1[0];
  out[8] = t2[0];
  out[9] = t2[1];
  for (int j = 0; j < 4; ++j)
    out[10 + j] = t4[j];

  // mma: A = x4 (a 16 x 16 tile), B = the fragment of the second block.
  const uint32_t a[4] = {x4[0], x4[1], x4[2], x4[3]};
  const unsigned short *bRow = tile + 256 + (lane % 16) * 8;
  uint32_t b[2];
  awq::ldmatrix<2, true>(b, bRow);
  float acc[4];
  for (int i = 0; i < 4; ++i)
    acc[i] = args.accIn[lane * 4 + i];
  awq::mmaM16N8K16(acc, a, b);
  for (int i = 0; i < 4; ++i)
    args.accOut[lane * 4 + i] = acc[i];
  out[18] = b[0];
  out[19] = b[1];

  // The zero-filled chunk.
  const uint32_t *zeros = reinterpret_cast<const uint32_t *>(tile + 512);
  for (int i = 0; i < 4; ++i)
    out[20 + i] = zeros[lane * 4 + i];
}
AWQ_HOST_ENTRY(mmaPrimitives, PrimitiveArgs)
)";

/// What the sm_75 path uses: the tile arrives through plain loads, then
/// mmaK16 (two m16n8k8 there) and one m16n8k8 on its own (into out[0..3]).
const char *kSm75Source = R"(
#include "awq/mma.cuh"
#include "awq/primitives.cuh"

struct PrimitiveArgs {
  const unsigned short *in;
  const float *accIn;
  uint32_t *out;
  float *accOut;
};

extern "C" __global__ void mmaSm75Primitives(PrimitiveArgs args) {
  AWQ_DYNAMIC_SHARED(unsigned short, tile);
  const int lane = threadIdx.x;
  const uint64_t policy = awq::makeEvictFirstPolicy();
  for (int i = 0; i < 2; ++i)
    reinterpret_cast<uint4 *>(tile)[2 * lane + i] =
        awq::loadStreaming16(args.in + (2 * lane + i) * 8, policy);
  __syncthreads();
  uint32_t a[4], b[2];
  awq::ldmatrix<4>(a, tile + lane * 8);
  awq::ldmatrix<2, true>(b, tile + 256 + (lane % 16) * 8);
  float acc[4], low[4];
  for (int i = 0; i < 4; ++i)
    acc[i] = low[i] = args.accIn[lane * 4 + i];
  awq::mmaK16(acc, a, b);
  awq::mmaM16N8K8(low, a[0], a[1], b[0]);
  for (int i = 0; i < 4; ++i) {
    args.accOut[lane * 4 + i] = acc[i];
    args.out[lane * 32 + i] = awq::floatAsBits(low[i]);
  }
}
AWQ_HOST_ENTRY(mmaSm75Primitives, PrimitiveArgs)
)";

uint32_t pack(uint16_t low, uint16_t high) {
  return static_cast<uint32_t>(low) | static_cast<uint32_t>(high) << 16;
}

TEST(GemmPrimitives, HostWrappersFollowThePtxLayouts) {
  const uint32_t seed = std::random_device{}();
  SCOPED_TRACE("random seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> unit(-2.0f, 2.0f);
  // 64 rows of 8 fp16 (= 1 KB): rows 0-31 feed ldmatrix, rows 32-47 hold
  // the K x N = 16 x 8 B operand, row-major.
  std::vector<uint16_t> in(512);
  for (uint16_t &v : in)
    v = floatToHalf(unit(rng));
  std::vector<float> accIn(128);
  for (float &v : accIn)
    v = unit(rng);
  std::vector<uint32_t> out(32 * 32, 0xDEADBEEFu);
  std::vector<float> accOut(128, std::nanf(""));

  host::HostCompileOptions options;
  options.cacheDir = AWQ_GEMM_TEST_CACHE_DIR;
  options.sourceName = "gemm_primitives.cu";
  const auto module =
      host::HostModule::load(kSource, {"mmaPrimitives"}, options);
  PrimitiveArgs args{in.data(), accIn.data(), out.data(), accOut.data()};
  module->launch("mmaPrimitives", {1}, {32}, 3 * 512, &args);

  // M_j[r][c] = fp16 at row 8 j + r, column c of the first 32 rows.
  auto m = [&](int j, int r, int c) { return in[(8 * j + r) * 8 + c]; };
  for (int lane = 0; lane < 32; ++lane) {
    SCOPED_TRACE("lane " + std::to_string(lane));
    const uint32_t *o = out.data() + lane * 32;
    const int r = lane / 4, c = 2 * (lane % 4);
    auto plain = [&](int j) { return pack(m(j, r, c), m(j, r, c + 1)); };
    auto trans = [&](int j) { return pack(m(j, c, r), m(j, c + 1, r)); };
    EXPECT_EQ(o[0], plain(0));
    EXPECT_EQ(o[1], plain(0));
    EXPECT_EQ(o[2], plain(1));
    for (int j = 0; j < 4; ++j)
      EXPECT_EQ(o[3 + j], plain(j)) << "x4 register " << j;
    EXPECT_EQ(o[7], trans(0));
    EXPECT_EQ(o[8], trans(0));
    EXPECT_EQ(o[9], trans(1));
    for (int j = 0; j < 4; ++j)
      EXPECT_EQ(o[10 + j], trans(j)) << "x4.trans register " << j;

    // The B fragment: b0 = {B[2t][g], B[2t+1][g]}, b1 = rows + 8.
    const int g = lane / 4, t = lane % 4;
    auto bAt = [&](int k, int n) { return in[256 + k * 8 + n]; };
    EXPECT_EQ(o[18], pack(bAt(2 * t, g), bAt(2 * t + 1, g)));
    EXPECT_EQ(o[19], pack(bAt(2 * t + 8, g), bAt(2 * t + 9, g)));

    // D = A * B + C with A rows 0-15 of the first block (matrix 0/1 for
    // rows, 2/3 for k 8-15 as the x4 load arranged them).
    auto aAt = [&](int row, int k) {
      const int matrix = (row / 8) + 2 * (k / 8);
      return halfToFloat(m(matrix, row % 8, k % 8));
    };
    const int rows[4] = {g, g, g + 8, g + 8};
    const int cols[4] = {2 * t, 2 * t + 1, 2 * t, 2 * t + 1};
    for (int i = 0; i < 4; ++i) {
      double want = accIn[lane * 4 + i];
      for (int k = 0; k < 16; ++k)
        want += double(aAt(rows[i], k)) * halfToFloat(bAt(k, cols[i]));
      EXPECT_NEAR(accOut[lane * 4 + i], want, 1e-5 * (1 + std::fabs(want)))
          << "d" << i;
    }
    for (int i = 0; i < 4; ++i)
      EXPECT_EQ(o[20 + i], 0u) << "zero-filled word " << i;
  }
}

TEST(GemmPrimitives, Sm75BuildUsesM16N8K8AndRefusesCpAsync) {
  const uint32_t seed = std::random_device{}();
  SCOPED_TRACE("random seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> unit(-2.0f, 2.0f);
  std::vector<uint16_t> in(512);
  for (uint16_t &v : in)
    v = floatToHalf(unit(rng));
  std::vector<float> accIn(128);
  for (float &v : accIn)
    v = unit(rng);
  std::vector<uint32_t> out(32 * 32, 0xDEADBEEFu);
  std::vector<float> accOut(128, std::nanf(""));

  host::HostCompileOptions options;
  options.cacheDir = AWQ_GEMM_TEST_CACHE_DIR;
  options.sourceName = "gemm_primitives_sm75.cu";
  options.smVersion = 75;
  const auto module =
      host::HostModule::load(kSm75Source, {"mmaSm75Primitives"}, options);
  PrimitiveArgs args{in.data(), accIn.data(), out.data(), accOut.data()};
  module->launch("mmaSm75Primitives", {1}, {32}, 512 * 2, &args);

  auto m = [&](int j, int r, int c) { return in[(8 * j + r) * 8 + c]; };
  auto aAt = [&](int row, int k) {
    return halfToFloat(m((row / 8) + 2 * (k / 8), row % 8, k % 8));
  };
  auto bAt = [&](int k, int n) { return halfToFloat(in[256 + k * 8 + n]); };
  for (int lane = 0; lane < 32; ++lane) {
    SCOPED_TRACE("lane " + std::to_string(lane));
    const int g = lane / 4, t = lane % 4;
    const int rows[4] = {g, g, g + 8, g + 8};
    const int cols[4] = {2 * t, 2 * t + 1, 2 * t, 2 * t + 1};
    for (int i = 0; i < 4; ++i) {
      double low = accIn[lane * 4 + i], high = 0;
      for (int k = 0; k < 16; ++k)
        (k < 8 ? low : high) +=
            double(aAt(rows[i], k)) * double(bAt(k, cols[i]));
      const double full = low + high;
      EXPECT_NEAR(accOut[lane * 4 + i], full, 1e-5 * (1 + std::fabs(full)))
          << "mmaK16 d" << i;
      float got;
      std::memcpy(&got, &out[lane * 32 + i], sizeof(got));
      EXPECT_NEAR(got, low, 1e-5 * (1 + std::fabs(low))) << "m16n8k8 d" << i;
    }
  }

  // The sm_80 primitives' kernel, built as sm_75: its cp.async is refused.
  options.sourceName = "gemm_primitives_as_sm75.cu";
  const auto refusing =
      host::HostModule::load(kSource, {"mmaPrimitives"}, options);
  try {
    refusing->launch("mmaPrimitives", {1}, {32}, 3 * 512, &args);
    ADD_FAILURE() << "cp.async ran in an sm_75 build";
  } catch (const std::exception &error) {
    EXPECT_NE(std::string(error.what()).find("cp.async is not available"),
              std::string::npos)
        << error.what();
  }
}

TEST(GemmPrimitives, Sm75PrimitivesCompileWithoutSpills) {
  for (const char *arch : {"sm_75", "sm_80", "sm_120"}) {
    NvrtcOptions options;
    options.arch = arch;
    const CompileResult result =
        compileToCubin(kSm75Source, "gemm_primitives_sm75.cu", options);
    const KernelResources *r = result.find("mmaSm75Primitives");
    ASSERT_NE(r, nullptr) << arch;
    EXPECT_EQ(r->spillStoreBytes, 0) << arch;
  }
}

TEST(GemmPrimitives, CompileForEveryArchitecture) {
  for (const char *arch : {"sm_80", "sm_86", "sm_89", "sm_90"}) {
    NvrtcOptions options;
    options.arch = arch;
    const CompileResult result =
        compileToCubin(kSource, "gemm_primitives.cu", options);
    const KernelResources *r = result.find("mmaPrimitives");
    ASSERT_NE(r, nullptr) << arch;
    EXPECT_EQ(r->spillStoreBytes, 0) << arch;
    EXPECT_EQ(r->stackBytes, 0) << arch;
  }
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

TEST(GemmPrimitives, SwizzledRowsAreConflictFreeForLdmatrix) {
  expectConflictFreeSwizzle<32>();
  expectConflictFreeSwizzle<64>();
  expectConflictFreeSwizzle<128>();
  expectConflictFreeSwizzle<256>();
}

//===----------------------------------------------------------------------===//
// bf16
//===----------------------------------------------------------------------===//

/// Every lane brings its A (4 words) and B (2 words) fragments and 4
/// accumulators; the bf16 mma adds A * B.
const char *kBf16MmaSource = R"(
#include "awq/mma.cuh"

struct Bf16MmaArgs {
  const uint32_t *fragments;
  const float *accIn;
  float *accOut;
};

extern "C" __global__ void mmaBf16(Bf16MmaArgs args) {
  const int lane = threadIdx.x;
  const uint32_t *in = args.fragments + lane * 6;
  const uint32_t a[4] = {in[0], in[1], in[2], in[3]};
  const uint32_t b[2] = {in[4], in[5]};
  float acc[4];
  for (int i = 0; i < 4; ++i)
    acc[i] = args.accIn[lane * 4 + i];
  awq::mmaM16N8K16Bf16(acc, a, b);
  for (int i = 0; i < 4; ++i)
    args.accOut[lane * 4 + i] = acc[i];
}
AWQ_HOST_ENTRY(mmaBf16, Bf16MmaArgs)
)";

struct Bf16MmaArgs {
  const uint32_t *fragments;
  const float *accIn;
  float *accOut;
};

TEST(GemmPrimitives, Bf16MmaFollowsThePtxLayouts) {
  const uint32_t seed = std::random_device{}();
  SCOPED_TRACE("random seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> unit(-2.0f, 2.0f);
  // A 16 x 16 and B 16 x 8 as bf16, with values fp16 cannot hold (range).
  uint16_t aM[16][16], bM[16][8];
  for (auto &row : aM)
    for (uint16_t &v : row)
      v = floatToBfloat16(unit(rng) * std::exp2(float(int(rng() % 40) - 20)));
  for (auto &row : bM)
    for (uint16_t &v : row)
      v = floatToBfloat16(unit(rng));
  std::vector<uint32_t> fragments(32 * 6);
  std::vector<float> accIn(128), accOut(128, std::nanf(""));
  for (float &v : accIn)
    v = unit(rng);
  for (int lane = 0; lane < 32; ++lane) {
    const int g = lane / 4, t = lane % 4;
    uint32_t *f = fragments.data() + lane * 6;
    f[0] = pack(aM[g][2 * t], aM[g][2 * t + 1]);
    f[1] = pack(aM[g + 8][2 * t], aM[g + 8][2 * t + 1]);
    f[2] = pack(aM[g][2 * t + 8], aM[g][2 * t + 9]);
    f[3] = pack(aM[g + 8][2 * t + 8], aM[g + 8][2 * t + 9]);
    f[4] = pack(bM[2 * t][g], bM[2 * t + 1][g]);
    f[5] = pack(bM[2 * t + 8][g], bM[2 * t + 9][g]);
  }
  host::HostCompileOptions options;
  options.cacheDir = AWQ_GEMM_TEST_CACHE_DIR;
  options.sourceName = "gemm_mma_bf16.cu";
  const auto module =
      host::HostModule::load(kBf16MmaSource, {"mmaBf16"}, options);
  Bf16MmaArgs args{fragments.data(), accIn.data(), accOut.data()};
  module->launch("mmaBf16", {1}, {32}, 0, &args);
  for (int lane = 0; lane < 32; ++lane) {
    const int g = lane / 4, t = lane % 4;
    const int rows[4] = {g, g, g + 8, g + 8};
    const int cols[4] = {2 * t, 2 * t + 1, 2 * t, 2 * t + 1};
    for (int i = 0; i < 4; ++i) {
      double want = accIn[lane * 4 + i], magnitude = std::fabs(want);
      for (int k = 0; k < 16; ++k) {
        const double product = double(bfloat16ToFloat(aM[rows[i]][k])) *
                               bfloat16ToFloat(bM[k][cols[i]]);
        want += product;
        magnitude += std::fabs(product);
      }
      // fp32 accumulation of exact products: a few fp32 roundings.
      EXPECT_NEAR(accOut[lane * 4 + i], want, 1e-6 * magnitude + 1e-30)
          << "lane " << lane << " d" << i;
    }
  }

  // An sm_75 build refuses the bf16 mma (there is none there).
  options.sourceName = "gemm_mma_bf16_sm75.cu";
  options.smVersion = 75;
  const auto sm75 =
      host::HostModule::load(kBf16MmaSource, {"mmaBf16"}, options);
  try {
    sm75->launch("mmaBf16", {1}, {32}, 0, &args);
    ADD_FAILURE() << "the bf16 mma ran in an sm_75 build";
  } catch (const std::exception &error) {
    EXPECT_NE(std::string(error.what()).find("is not available"),
              std::string::npos)
        << error.what();
  }
}

TEST(GemmPrimitives, Bf16MmaCompilesForEveryBf16Architecture) {
  for (const char *arch : {"sm_80", "sm_86", "sm_89", "sm_90", "sm_120"}) {
    NvrtcOptions options;
    options.arch = arch;
    const CompileResult result =
        compileToCubin(kBf16MmaSource, "gemm_mma_bf16.cu", options);
    const KernelResources *r = result.find("mmaBf16");
    ASSERT_NE(r, nullptr) << arch;
    EXPECT_EQ(r->spillStoreBytes, 0) << arch;
  }
}

/// The bf16 value of decoder output pair `pair`, element `e` (0 = low).
float bf16Element(__nv_bfloat162 pair, int e) {
  uint32_t bits;
  std::memcpy(&bits, &pair, sizeof(bits));
  return bfloat16ToFloat(static_cast<uint16_t>(e ? bits >> 16 : bits));
}

/// Value v (0..7) of a 4-bit word as the format states it: nibble i holds
/// value {0, 2, 4, 6, 1, 3, 5, 7}[i].
int plainNibbleValue(uint32_t word, int v) {
  static const int kNibbleOfValue[8] = {0, 4, 1, 5, 2, 6, 3, 7};
  return static_cast<int>(word >> (4 * kNibbleOfValue[v]) & 0xFu);
}

/// Value u (0..31) of a 3-bit unit as the format states it: word u / 10,
/// slot (u % 10) / 2 at bit 3 slot (+16 for odd u); values 30 / 31 take bit
/// j from bit 15 / 31 of word j.
int plainThreeBitValue(const uint32_t (&words)[3], int u) {
  if (u >= 30) {
    int value = 0;
    for (int j = 0; j < 3; ++j)
      value |= static_cast<int>(words[j] >> (u == 30 ? 15 : 31) & 1u) << j;
    return value;
  }
  const int r = u % 10;
  return static_cast<int>(words[u / 10] >> (3 * (r / 2) + 16 * (r % 2)) & 7u);
}

TEST(GemmDequantBf16, Bits4EveryValueEveryNibble) {
  std::mt19937 rng(std::random_device{}());
  for (int position = 0; position < 8; ++position)
    for (uint32_t value = 0; value < 16; ++value)
      for (int trial = 0; trial < 4; ++trial) {
        const uint32_t word =
            (static_cast<uint32_t>(rng()) & ~(0xFu << (4 * position))) |
            value << (4 * position);
        __nv_bfloat162 q[4];
        decode4ToBfloat162(word, q);
        for (int v = 0; v < 8; ++v)
          ASSERT_EQ(bf16Element(q[v / 2], v % 2), plainNibbleValue(word, v))
              << "word 0x" << std::hex << word << std::dec << " value " << v;
      }
}

TEST(GemmDequantBf16, Bits8EveryValueEveryByte) {
  std::mt19937 rng(std::random_device{}());
  for (int position = 0; position < 4; ++position)
    for (uint32_t value = 0; value < 256; ++value) {
      const uint32_t word =
          (static_cast<uint32_t>(rng()) & ~(0xFFu << (8 * position))) |
          value << (8 * position);
      __nv_bfloat162 q[2];
      decode8ToBfloat162(word, q);
      for (int v = 0; v < 4; ++v)
        ASSERT_EQ(bf16Element(q[v / 2], v % 2),
                  static_cast<float>(word >> (8 * v) & 0xFFu))
            << "word 0x" << std::hex << word << std::dec << " value " << v;
    }
}

TEST(GemmDequantBf16, Bits3EveryValueEveryField) {
  std::mt19937 rng(std::random_device{}());
  for (int u = 0; u < 32; ++u)
    for (int value = 0; value < 8; ++value)
      for (int trial = 0; trial < 4; ++trial) {
        uint32_t words[3] = {static_cast<uint32_t>(rng()),
                             static_cast<uint32_t>(rng()),
                             static_cast<uint32_t>(rng())};
        // Plant `value` in field u, written from the format description.
        if (u >= 30) {
          const int bit = u == 30 ? 15 : 31;
          for (int j = 0; j < 3; ++j)
            words[j] = (words[j] & ~(1u << bit)) |
                       static_cast<uint32_t>(value >> j & 1) << bit;
        } else {
          const int r = u % 10, shift = 3 * (r / 2) + 16 * (r % 2);
          words[u / 10] = (words[u / 10] & ~(7u << shift)) |
                          static_cast<uint32_t>(value) << shift;
        }
        ASSERT_EQ(plainThreeBitValue(words, u), value);
        __nv_bfloat162 q[16];
        decode3ToBfloat162(words, q);
        for (int v = 0; v < 32; ++v)
          ASSERT_EQ(bf16Element(q[v / 2], v % 2), plainThreeBitValue(words, v))
              << "field " << u << " = " << value << ", value " << v;
      }
}

} // namespace
} // namespace awq
