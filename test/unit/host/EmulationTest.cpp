//===- EmulationTest.cpp - Emulated CUDA primitives vs their PTX semantics ===//
//
// Each test runs a kernel of kernels/HostTestKernels.cu through the host
// executor on fresh random inputs, with outputs poisoned first, and checks
// the results against a plain reference written from the PTX ISA / CUDA
// documentation (shared/notes/ptx-semantics.md).
//
//===----------------------------------------------------------------------===//
#include "HostTestSupport.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>

namespace awq {
namespace host {
namespace test {
namespace {

// Mirrors of the argument structs in HostTestKernels.cu.
struct MmaArgs {
  const uint16_t *a, *b;
  const float *c;
  float *d;
};
struct LdmatrixArgs {
  const uint16_t *rows;
  const int *slot;
  uint32_t *out;
};
struct CpAsyncArgs {
  const unsigned char *src;
  unsigned char *out;
};
struct BitArgs {
  const uint32_t *a, *b, *c;
  uint32_t *out;
  int n;
};
struct ShuffleArgs {
  int *out;
  double *outDouble;
  unsigned *outHalf2;
};
struct VoteArgs {
  const int *predicate;
  unsigned *ballot;
  int *any;
  int *all;
};
struct ReduceArgs {
  const float *in;
  float *out;
};
struct PoisonArgs {
  unsigned char *out;
  int bytes;
};
struct AtomicArgs {
  const float *values;
  const int *ints;
  float *sum;
  int *count;
  int *maxValue;
  unsigned *ticket;
  float *partials;
  float *total;
};
struct IndexArgs {
  unsigned *out;
};
struct HalfArgs {
  const uint32_t *a, *b, *c;
  uint32_t *out;
  int n;
};

TEST(HostEmulation, MmaMatchesFp64MatrixProduct) {
  Random random;
  AWQ_TRACE_SEED(random);
  const int tiles = 8; // 2 blocks of 4 warps
  std::vector<uint16_t> a(tiles * 256), b(tiles * 128);
  std::vector<float> c(tiles * 128), d(tiles * 128, nanFloat());
  for (uint16_t &v : a)
    v = randomModerateHalf(random);
  for (uint16_t &v : b)
    v = randomModerateHalf(random);
  for (float &v : c)
    v = random.uniform(-4.0f, 4.0f);
  MmaArgs args{a.data(), b.data(), c.data(), d.data()};
  primitivesModule().launch("mmaKernel", {2}, {128}, 0, &args);
  for (int tile = 0; tile < tiles; ++tile)
    for (int i = 0; i < 16; ++i)
      for (int j = 0; j < 8; ++j) {
        double exact = c[tile * 128 + i * 8 + j];
        double magnitude = std::fabs(exact);
        for (int k = 0; k < 16; ++k) {
          const double p = halfToDouble(a[tile * 256 + i * 16 + k]) *
                           halfToDouble(b[tile * 128 + k * 8 + j]);
          exact += p;
          magnitude += std::fabs(p);
        }
        const float got = d[tile * 128 + i * 8 + j];
        // fp32 accumulation in any order stays within a few fp32 ulps of
        // the magnitude; the emulation itself rounds once.
        EXPECT_NEAR(got, exact, magnitude * 1e-6 + 1e-30)
            << "tile " << tile << " D[" << i << "][" << j << "]";
      }
}

TEST(HostEmulation, LdmatrixAllCountsWithAndWithoutTranspose) {
  Random random;
  AWQ_TRACE_SEED(random);
  std::vector<uint16_t> rows(32 * 8);
  for (uint16_t &v : rows)
    v = static_cast<uint16_t>(random.bits());
  std::vector<int> slot(32);
  std::iota(slot.begin(), slot.end(), 0);
  std::shuffle(slot.begin(), slot.end(), random.raw());
  std::vector<uint32_t> out(6 * 32 * 4, 0x5a5a5a5au);
  LdmatrixArgs args{rows.data(), slot.data(), out.data()};
  primitivesModule().launch("ldmatrixKernel", {1}, {32}, 32 * 16, &args);
  const int counts[6] = {1, 1, 2, 2, 4, 4};
  for (int variant = 0; variant < 6; ++variant) {
    const int count = counts[variant];
    const bool trans = variant % 2 == 1;
    for (int lane = 0; lane < 32; ++lane)
      for (int j = 0; j < 4; ++j) {
        const uint32_t got = out[(variant * 32 + lane) * 4 + j];
        if (j >= count) {
          EXPECT_EQ(got, 0xdeadbeefu) << "register " << j << " must stay";
          continue;
        }
        // Matrix j, element (r, c) is rows[8j + r][c].
        auto element = [&](int r, int c) { return rows[(8 * j + r) * 8 + c]; };
        const int row = lane / 4, col = 2 * (lane % 4);
        const uint32_t low = trans ? element(col, row) : element(row, col);
        const uint32_t high =
            trans ? element(col + 1, row) : element(row, col + 1);
        EXPECT_EQ(got, low | high << 16)
            << "x" << count << (trans ? ".trans" : "") << " lane " << lane
            << " register " << j;
      }
  }
}

TEST(HostEmulation, CpAsyncLandsOnlyAtTheCoveringWait) {
  Random random;
  AWQ_TRACE_SEED(random);
  const int threads = 2 * 64;
  std::vector<unsigned char> src(threads * 64);
  for (unsigned char &v : src)
    v = static_cast<unsigned char>(random.bits());
  std::vector<unsigned char> out(threads * 8 * 16, 0x5a);
  CpAsyncArgs args{src.data(), out.data()};
  primitivesModule().launch("cpAsyncKernel", {2}, {64}, 64 * 64, &args);
  const std::vector<unsigned char> poison(16, 0xff);
  for (int t = 0; t < threads; ++t) {
    SCOPED_TRACE("thread " + std::to_string(t));
    auto snap = [&](int i) {
      return std::vector<unsigned char>(out.begin() + (t * 8 + i) * 16,
                                        out.begin() + (t * 8 + i + 1) * 16);
    };
    auto source = [&](int offset, int bytes) {
      std::vector<unsigned char> v(16, 0);
      std::copy_n(src.begin() + t * 64 + offset, bytes, v.begin());
      return v;
    };
    EXPECT_EQ(snap(0), poison) << "group A landed before any wait";
    EXPECT_EQ(snap(1), poison) << "group B landed before any wait";
    EXPECT_EQ(snap(2), source(0, 16)) << "wait_group 1 must complete group A";
    EXPECT_EQ(snap(3), poison) << "wait_group 1 must leave group B pending";
    EXPECT_EQ(snap(4), source(16, 5)) << "src-size 5 zero-fills the rest";
    std::vector<unsigned char> mixed = source(32, 6); // 4 + 2 source bytes
    EXPECT_EQ(snap(5), mixed) << "4-byte, 8-byte zero-fill and 2-of-4 copies";
    EXPECT_EQ(snap(6), poison)
        << "wait_group 0 must not land uncommitted copies";
    EXPECT_EQ(snap(7), source(48, 16));
  }
}

TEST(HostEmulation, Lop3EveryLutMatchesTheTruthTable) {
  Random random;
  AWQ_TRACE_SEED(random);
  const int n = 48;
  std::vector<uint32_t> a(n), b(n), c(n), out(n * 256, 0x5a5a5a5au);
  for (int i = 0; i < n; ++i) {
    a[i] = random.bits();
    b[i] = random.bits();
    c[i] = random.bits();
  }
  // All eight input combinations in one word, and the notes' examples.
  a[0] = 0xf0f0f0f0u, b[0] = 0xccccccccu, c[0] = 0xaaaaaaaau;
  BitArgs args{a.data(), b.data(), c.data(), out.data(), n};
  primitivesModule().launch("lop3Kernel", {2}, {32}, 0, &args);
  for (int i = 0; i < n; ++i)
    for (uint32_t lut = 0; lut < 256; ++lut) {
      uint32_t expected = 0;
      for (int k = 0; k < 32; ++k) {
        const unsigned index =
            4 * (a[i] >> k & 1) + 2 * (b[i] >> k & 1) + (c[i] >> k & 1);
        expected |= ((lut >> index) & 1u) << k;
      }
      ASSERT_EQ(out[i * 256 + lut], expected)
          << "input " << i << " lut " << lut;
    }
  // immLut = F(0xF0, 0xCC, 0xAA): the LUT of a function is the function of
  // the three constants.
  EXPECT_EQ(out[0 * 256 + 0x80], a[0] & b[0] & c[0]);
  EXPECT_EQ(out[0 * 256 + 0xfe], a[0] | b[0] | c[0]);
  EXPECT_EQ(out[0 * 256 + 0xea], (a[0] & b[0]) | c[0]);
  for (uint32_t lut = 0; lut < 256; ++lut)
    EXPECT_EQ(out[0 * 256 + lut] & 0xffu, lut);
}

TEST(HostEmulation, PrmtBytePermuteWithSignReplication) {
  Random random;
  AWQ_TRACE_SEED(random);
  const int n = 512;
  std::vector<uint32_t> a(n), b(n), s(n), out(n, 0x5a5a5a5au);
  for (int i = 0; i < n; ++i) {
    a[i] = random.bits();
    b[i] = random.bits();
    s[i] = random.bits(); // upper 16 bits must be ignored
  }
  a[0] = 0x80017f02u, b[0] = 0x03ff8004u, s[0] = 0x00008a9bu; // sign mode
  BitArgs args{a.data(), b.data(), s.data(), out.data(), n};
  primitivesModule().launch("prmtKernel", {4}, {128}, 0, &args);
  for (int i = 0; i < n; ++i) {
    uint8_t bytes[8];
    for (int k = 0; k < 4; ++k) {
      bytes[k] = static_cast<uint8_t>(a[i] >> (8 * k));
      bytes[4 + k] = static_cast<uint8_t>(b[i] >> (8 * k));
    }
    uint32_t expected = 0;
    for (int k = 0; k < 4; ++k) {
      const unsigned nibble = (s[i] >> (4 * k)) & 0xf;
      uint8_t byte = bytes[nibble & 7];
      if (nibble & 8)
        byte = (byte & 0x80) ? 0xff : 0x00;
      expected |= static_cast<uint32_t>(byte) << (8 * k);
    }
    ASSERT_EQ(out[i], expected) << "input " << i;
  }
}

TEST(HostEmulation, ShufflesFollowTheCudaSegmentRules) {
  const int blocks = 2;
  std::vector<int> out(blocks * 6 * 32 * 5 * 64, 0x5a5a5a5a);
  std::vector<double> outDouble(blocks * 64, nanFloat());
  std::vector<unsigned> outHalf2(blocks * 64, 0x5a5a5a5au);
  ShuffleArgs args{out.data(), outDouble.data(), outHalf2.data()};
  primitivesModule().launch("shuffleKernel", {blocks}, {16, 4}, 0, &args);
  for (int block = 0; block < blocks; ++block)
    for (int linear = 0; linear < 64; ++linear) {
      const int lane = linear % 32, warpBase = linear - lane;
      auto value = [&](int thread) { return thread * 7 + 3 + block * 1000; };
      for (int wi = 0; wi < 6; ++wi) {
        const int width = 1 << wi;
        const int segment = warpBase + lane / width * width;
        for (int d = 0; d < 32; ++d) {
          const int *got = &out[(((block * 6 + wi) * 32 + d) * 5) * 64];
          auto mod = [&](int x) { return ((x % width) + width) % width; };
          const int idx = value(segment + mod(d - 1));
          const int up = lane % width >= d ? value(linear - d) : value(linear);
          const int down =
              lane % width + d < width ? value(linear + d) : value(linear);
          const int target = lane ^ d; // later segments give the own value
          const int xorValue = warpBase + target < segment + width
                                   ? value(warpBase + target)
                                   : value(linear);
          const int idxWrapped = value(segment + mod(d + 32));
          const std::string where = "block " + std::to_string(block) +
                                    " thread " + std::to_string(linear) +
                                    " width " + std::to_string(width) +
                                    " delta " + std::to_string(d);
          ASSERT_EQ(got[0 * 64 + linear], idx) << "__shfl_sync " << where;
          ASSERT_EQ(got[1 * 64 + linear], up) << "__shfl_up_sync " << where;
          ASSERT_EQ(got[2 * 64 + linear], down) << "__shfl_down_sync " << where;
          ASSERT_EQ(got[3 * 64 + linear], xorValue)
              << "__shfl_xor_sync " << where;
          ASSERT_EQ(got[4 * 64 + linear], idxWrapped)
              << "__shfl_sync (srcLane + 32) " << where;
        }
      }
      EXPECT_EQ(outDouble[block * 64 + linear],
                value(warpBase + (lane ^ 5)) + 0.25);
      const int source = lane + 3 < 32 ? linear + 3 : linear;
      const unsigned bits = outHalf2[block * 64 + linear];
      EXPECT_EQ(halfToDouble(static_cast<uint16_t>(bits)), source);
      EXPECT_EQ(halfToDouble(static_cast<uint16_t>(bits >> 16)), -source);
    }
}

TEST(HostEmulation, VotesSeeEveryLane) {
  Random random;
  AWQ_TRACE_SEED(random);
  const int warps = 6;
  std::vector<int> predicate(warps * 32);
  for (int lane = 0; lane < 32; ++lane) {
    predicate[0 * 32 + lane] =
        random.uniformInt(0, 1) * random.uniformInt(-3, 3);
    predicate[1 * 32 + lane] = 0;
    predicate[2 * 32 + lane] = random.uniformInt(1, 1 << 30);
    predicate[3 * 32 + lane] = lane == 17 ? -1 : 0;
    predicate[4 * 32 + lane] = lane == 31 ? 0 : 5;
    predicate[5 * 32 + lane] = static_cast<int>(random.bits() & 1u);
  }
  std::vector<unsigned> ballot(warps * 32, 0x5a5a5a5au);
  std::vector<int> any(warps * 32, 0x5a5a5a5a), all(warps * 32, 0x5a5a5a5a);
  VoteArgs args{predicate.data(), ballot.data(), any.data(), all.data()};
  primitivesModule().launch("voteKernel", {3}, {64}, 0, &args);
  for (int w = 0; w < warps; ++w) {
    unsigned expected = 0;
    for (int lane = 0; lane < 32; ++lane)
      if (predicate[w * 32 + lane] != 0)
        expected |= 1u << lane;
    for (int lane = 0; lane < 32; ++lane) {
      EXPECT_EQ(ballot[w * 32 + lane], expected) << "warp " << w;
      EXPECT_EQ(any[w * 32 + lane], expected != 0 ? 1 : 0) << "warp " << w;
      EXPECT_EQ(all[w * 32 + lane], expected == 0xffffffffu ? 1 : 0)
          << "warp " << w;
    }
  }
}

std::vector<double> blockSums(const std::vector<float> &in, int blocks) {
  std::vector<double> sums(blocks, 0.0);
  for (int b = 0; b < blocks; ++b)
    for (int t = 0; t < 256; ++t)
      sums[b] += in[b * 256 + t];
  return sums;
}

TEST(HostEmulation, BarrierReductionThroughSharedMemory) {
  Random random;
  AWQ_TRACE_SEED(random);
  const int blocks = 12;
  std::vector<float> in(blocks * 256);
  for (float &v : in)
    v = random.uniform(-1.0f, 1.0f);
  const std::vector<double> expected = blockSums(in, blocks);
  for (const char *kernel : {"reduceKernel", "staticSharedReduceKernel"}) {
    std::vector<float> out(blocks, nanFloat());
    ReduceArgs args{in.data(), out.data()};
    primitivesModule().launch(kernel, {blocks}, {256},
                              std::string(kernel) == "reduceKernel" ? 1024 : 0,
                              &args);
    for (int b = 0; b < blocks; ++b)
      EXPECT_NEAR(out[b], expected[b], 1e-4) << kernel << " block " << b;
  }
}

TEST(HostEmulation, MissingBarrierIsCaughtAsWrongOutput) {
  Random random;
  AWQ_TRACE_SEED(random);
  const int blocks = 4;
  std::vector<float> in(blocks * 256);
  for (float &v : in)
    v = random.uniform(0.5f, 1.0f);
  const std::vector<double> expected = blockSums(in, blocks);
  std::vector<float> out(blocks, 0.0f);
  ReduceArgs args{in.data(), out.data()};
  primitivesModule().launch("reduceMissingBarrierKernel", {blocks}, {256}, 1024,
                            &args);
  // Thread 0 runs ahead and reads slots nobody has written: poison (NaN).
  for (int b = 0; b < blocks; ++b)
    EXPECT_FALSE(std::fabs(out[b] - expected[b]) <= 1e-3)
        << "block " << b << " got " << out[b] << ", the bug went unnoticed";
}

TEST(HostEmulation, DynamicSharedMemoryIsPoisonedForEveryBlock) {
  const int blocks = 6, bytes = 1000;
  for (unsigned maxThreads : {1u, 0u}) {
    std::vector<unsigned char> out(blocks * bytes, 0x5a);
    PoisonArgs args{out.data(), bytes};
    HostLaunchOptions options;
    options.maxThreads = maxThreads; // 1: every block reuses one buffer
    primitivesModule().launch("poisonKernel", {blocks}, {128}, bytes, &args,
                              options);
    for (int i = 0; i < blocks * bytes; ++i)
      ASSERT_EQ(out[i], 0xff)
          << "byte " << i % bytes << " of block " << i / bytes
          << " (maxThreads " << maxThreads << ")";
  }
}

TEST(HostEmulation, AtomicsAcrossBlocksAndTheLastBlockPattern) {
  Random random;
  AWQ_TRACE_SEED(random);
  const int blocks = 24, threads = 128, n = blocks * threads;
  std::vector<float> values(n);
  std::vector<int> ints(n);
  for (int i = 0; i < n; ++i) {
    values[i] = static_cast<float>(random.uniformInt(-8, 8)); // exact sums
    ints[i] = random.uniformInt(-1000000, 1000000);
  }
  const double exactSum = std::accumulate(values.begin(), values.end(), 0.0);
  const int exactMax = *std::max_element(ints.begin(), ints.end());
  unsigned ticket = 0;
  for (int run = 0; run < 2; ++run) {
    SCOPED_TRACE("launch " + std::to_string(run));
    float sum = 0.0f, total = nanFloat();
    int count = 0, maxValue = std::numeric_limits<int>::min();
    std::vector<float> partials(blocks, nanFloat());
    AtomicArgs args{values.data(), ints.data(),     &sum,  &count, &maxValue,
                    &ticket,       partials.data(), &total};
    HostLaunchOptions options;
    options.shuffleBlocks = run == 1;
    options.shuffleSeed = random.bits();
    primitivesModule().launch("atomicKernel", {blocks}, {threads}, 0, &args,
                              options);
    EXPECT_EQ(count, n);
    EXPECT_EQ(sum, exactSum);
    EXPECT_EQ(maxValue, exactMax);
    EXPECT_EQ(total, exactSum);
    EXPECT_EQ(ticket, 0u) << "the last block must re-arm the counter";
  }
}

TEST(HostEmulation, BuiltinVariablesFor3dGridsAndBlocks) {
  const Dim3 grid(3, 2, 2), block(8, 4, 2);
  const int threads = static_cast<int>(grid.count() * block.count());
  std::vector<unsigned> out(threads * 12, 0xffffffffu);
  IndexArgs args{out.data()};
  HostLaunchOptions options;
  options.shuffleBlocks = true;
  options.shuffleSeed = 7;
  primitivesModule().launch("indexKernel", grid, block, 0, &args, options);
  int i = 0;
  for (unsigned bz = 0; bz < grid.z; ++bz)
    for (unsigned by = 0; by < grid.y; ++by)
      for (unsigned bx = 0; bx < grid.x; ++bx)
        for (unsigned tz = 0; tz < block.z; ++tz)
          for (unsigned ty = 0; ty < block.y; ++ty)
            for (unsigned tx = 0; tx < block.x; ++tx, ++i) {
              const std::vector<unsigned> expected = {
                  tx,      ty,      tz,      bx,     by,     bz,
                  block.x, block.y, block.z, grid.x, grid.y, grid.z};
              const std::vector<unsigned> got(out.begin() + i * 12,
                                              out.begin() + i * 12 + 12);
              ASSERT_EQ(got, expected) << "global thread " << i;
            }
}

// ---- fp16: exact references with integer arithmetic ----------------------

/// An fp16 value as an integer count of 2^-24.
int64_t halfUnits(uint16_t bits) {
  const int exponent = (bits >> 10) & 0x1f;
  const int64_t mantissa = bits & 0x3ff;
  const int64_t magnitude =
      exponent == 0 ? mantissa : (1024 + mantissa) << (exponent - 1);
  return (bits & 0x8000) ? -magnitude : magnitude;
}

/// Rounds value * 2^scale (exact, integer `value`) to fp16, nearest even;
/// `zeroSign` is the sign an exact zero takes.
uint16_t roundToHalf(__int128 value, int scale, bool zeroNegative) {
  if (value == 0)
    return zeroNegative ? 0x8000 : 0;
  const bool negative = value < 0;
  unsigned __int128 magnitude = negative ? -value : value;
  int topBit = 0;
  while ((magnitude >> (topBit + 1)) != 0)
    ++topBit;
  const int exponent = topBit + scale; // value in [2^e, 2^(e+1))
  const int step = std::max(exponent - 10, -24);
  unsigned __int128 units; // multiples of 2^step
  if (step <= scale) {
    units = magnitude << (scale - step);
  } else {
    const int shift = step - scale;
    units = magnitude >> shift;
    const unsigned __int128 rest = magnitude - (units << shift);
    const unsigned __int128 half = static_cast<unsigned __int128>(1)
                                   << (shift - 1);
    if (rest > half || (rest == half && (units & 1)))
      ++units;
  }
  int e = step;
  if (units >= 2048) { // carried into the next binade
    units >>= 1;
    ++e;
  }
  uint16_t bits;
  if (units < 1024) { // subnormal (e == -24)
    bits = static_cast<uint16_t>(units);
  } else if (e + 10 > 15) {
    bits = 0x7c00; // overflow
  } else {
    bits = static_cast<uint16_t>((e + 10 + 15) << 10 | (units - 1024));
  }
  return static_cast<uint16_t>(bits | (negative ? 0x8000 : 0));
}

uint16_t exactAdd(uint16_t a, uint16_t b, bool subtract) {
  if (subtract)
    b ^= 0x8000;
  const bool zeroNegative =
      (a & 0x8000) && (b & 0x8000) && halfUnits(a) == 0 && halfUnits(b) == 0;
  return roundToHalf(static_cast<__int128>(halfUnits(a)) + halfUnits(b), -24,
                     zeroNegative);
}

uint16_t exactMul(uint16_t a, uint16_t b) {
  return roundToHalf(static_cast<__int128>(halfUnits(a)) * halfUnits(b), -48,
                     ((a ^ b) & 0x8000) != 0);
}

uint16_t exactFma(uint16_t a, uint16_t b, uint16_t c) {
  const __int128 product = static_cast<__int128>(halfUnits(a)) * halfUnits(b);
  // c in units of 2^-48 (a multiply: shifting a negative value is undefined
  // before C++20).
  const __int128 addend =
      static_cast<__int128>(halfUnits(c)) * (static_cast<__int128>(1) << 24);
  const bool productNegative = ((a ^ b) & 0x8000) != 0;
  const bool zeroNegative =
      product == 0 && addend == 0 && productNegative && (c & 0x8000);
  return roundToHalf(product + addend, -48, zeroNegative);
}

TEST(HostEmulation, HalfArithmeticRoundsLikeTheGpu) {
  Random random;
  AWQ_TRACE_SEED(random);
  const int n = 8192;
  std::vector<uint32_t> a(n), b(n), c(n), out(n * 7, 0x7e007e00u);
  for (int i = 0; i < n; ++i) {
    // Wide exponent ranges: subnormals, cancellation, overflow.
    a[i] = randomHalf(random) | static_cast<uint32_t>(randomHalf(random)) << 16;
    b[i] = randomHalf(random) | static_cast<uint32_t>(randomHalf(random)) << 16;
    c[i] = randomHalf(random) | static_cast<uint32_t>(randomHalf(random)) << 16;
    // Near-cancelling a*b + c, where the single rounding of fma matters.
    const uint16_t product = exactMul(a[i] & 0xffff, b[i] & 0xffff);
    if (i % 8 == 0 && isFiniteHalf(product))
      c[i] = (c[i] & 0xffff0000u) | (product ^ 0x8000u);
    if (i % 8 == 1) {
      // a*b = u/2 * (1 - 2^-20) with u = ulp(c) and c's mantissa odd: the
      // exact sum lies just below the midpoint above c and rounds to c, but
      // a sum rounded to fp32 first lands on the midpoint and rounds to
      // even, away from c. Only a single rounding gets this right.
      const uint32_t cExponent =
          static_cast<uint32_t>(random.uniformInt(10, 30));
      const uint32_t cBits = cExponent << 10 | ((random.bits() & 0x3feu) | 1u);
      const uint32_t aBits = 12u << 10 | 1u; // 2^-3 (1 + 2^-10)
      const uint32_t bBits =
          (cExponent - 9) << 10 | 1022u;             // 2^(e_c-8) (1 - 2^-10)
      const uint32_t sign = random.bits() & 0x8000u; // negate a and c together
      a[i] = (a[i] & 0xffff0000u) | aBits | sign;
      b[i] = (b[i] & 0xffff0000u) | bBits;
      c[i] = (c[i] & 0xffff0000u) | cBits | sign;
    }
  }
  HalfArgs args{a.data(), b.data(), c.data(), out.data(), n};
  primitivesModule().launch("halfKernel", {n / 256}, {256}, 0, &args);
  auto lo = [](uint32_t v) { return static_cast<uint16_t>(v); };
  auto hi = [](uint32_t v) { return static_cast<uint16_t>(v >> 16); };
  for (int i = 0; i < n; ++i) {
    const uint32_t *o = &out[i * 7];
    SCOPED_TRACE("element " + std::to_string(i));
    ASSERT_EQ(lo(o[0]), exactAdd(lo(a[i]), lo(b[i]), false)) << "__hadd2.x";
    ASSERT_EQ(hi(o[0]), exactAdd(hi(a[i]), hi(b[i]), false)) << "__hadd2.y";
    ASSERT_EQ(lo(o[1]), exactAdd(lo(a[i]), lo(b[i]), true)) << "__hsub2.x";
    ASSERT_EQ(hi(o[1]), exactAdd(hi(a[i]), hi(b[i]), true)) << "__hsub2.y";
    ASSERT_EQ(lo(o[2]), exactMul(lo(a[i]), lo(b[i]))) << "__hmul2.x";
    ASSERT_EQ(hi(o[2]), exactMul(hi(a[i]), hi(b[i]))) << "__hmul2.y";
    ASSERT_EQ(lo(o[3]), exactFma(lo(a[i]), lo(b[i]), lo(c[i]))) << "__hfma2.x";
    ASSERT_EQ(hi(o[3]), exactFma(hi(a[i]), hi(b[i]), hi(c[i]))) << "__hfma2.y";
    ASSERT_EQ(lo(o[4]), exactAdd(lo(a[i]), lo(b[i]), false)) << "__hadd";
    ASSERT_EQ(hi(o[4]), exactMul(hi(a[i]), hi(b[i]))) << "__hmul";
    ASSERT_EQ(lo(o[5]), exactFma(lo(a[i]), hi(b[i]), lo(c[i]))) << "__hfma";
    ASSERT_EQ(hi(o[5]), lo(b[i])) << "__float2half_rn(__low2float(b))";
    ASSERT_EQ(o[6], a[i]) << "__float22half2_rn(__half22float2(a))";
  }
}

} // namespace
} // namespace test
} // namespace host
} // namespace awq
