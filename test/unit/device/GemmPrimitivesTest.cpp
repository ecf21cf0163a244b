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
//===----------------------------------------------------------------------===//
#include "runtime/host/HostModule.h"
#include "runtime/nvrtc/NvrtcCompiler.h"
#include "runtime/support/Half.h"

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

} // namespace
} // namespace awq
