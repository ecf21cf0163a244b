//===- GemmLayoutTest.cpp - GEMM fragment weight layout round trips -------===//
//
// The repacked buffers are decoded here by a plain reader written from the
// format description in runtime/kernels/GemmLayout.h (not from the
// repacker's code) and must give back every logical q, s and z * s, with
// zeros in the padding; layers the GEMM kernel cannot run are rejected with
// the layer's name and the offending value.
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
                            int64_t group, bool zeroPoint,
                            ActivationType activation = ActivationType::F16) {
  QuantizedLinear layer;
  layer.activation = activation;
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
    s = floatToElement(scale(rng), activation);
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

/// The q value at (row, col) of a repacked weight, read as GemmLayout.h
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
  ActivationType activation = ActivationType::F16;
};

void PrintTo(const RepackCase &c, std::ostream *os) {
  *os << c.k << "x" << c.n << " " << c.bits << "-bit group "
      << (c.group ? std::to_string(c.group) : std::string("K"))
      << (c.zeroPoint ? " zero point" : " symmetric") << " "
      << activationTypeName(c.activation);
}

class GemmLayoutRoundTrip : public ::testing::TestWithParam<RepackCase> {};

TEST_P(GemmLayoutRoundTrip, DecodesEveryValueAndZeroPadding) {
  const RepackCase c = GetParam();
  const uint32_t seed = std::random_device{}();
  SCOPED_TRACE("random seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  const int64_t group = c.group ? c.group : c.k;
  const QuantizedLinear layer =
      randomLayer(rng, c.k, c.n, c.bits, group, c.zeroPoint, c.activation);
  const GemmWeights w = repackGemm(layer, "layer");
  const ActivationType type = c.activation;

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
      if (type == ActivationType::BF16) {
        // bf16 layers keep z itself, exactly.
        ASSERT_EQ(elementToFloat(w.zeroScales[at], type),
                  double(layer.zeros[row * c.n + col]))
            << "z (" << row << ", " << col << ")";
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

  // unpackGemm reads the same layer back, zero points included.
  const QuantizedLinear back =
      unpackGemm(c.k, c.n, layer.params, w.qweight.data(), w.scales.data(),
                 c.zeroPoint ? w.zeroScales.data() : nullptr, "layer", type);
  EXPECT_EQ(back.activation, type);
  EXPECT_EQ(back.q, layer.q);
  EXPECT_EQ(back.scales, layer.scales);
  EXPECT_EQ(back.zeros, layer.zeros);
}

INSTANTIATE_TEST_SUITE_P(
    Layouts, GemmLayoutRoundTrip,
    ::testing::Values(
        RepackCase{256, 128, 4, 128, true}, RepackCase{384, 200, 4, 64, false},
        RepackCase{160, 72, 4, 32, true}, RepackCase{256, 192, 3, 64, true},
        RepackCase{640, 100, 3, 128, false}, RepackCase{96, 40, 3, 32, true},
        RepackCase{256, 128, 8, 128, false}, RepackCase{384, 136, 8, 32, true},
        RepackCase{200, 66, 4, 0, true}, RepackCase{104, 24, 3, 0, false},
        RepackCase{8, 8, 8, 0, true},
        // bf16 scales and zero terms (the word formats are fp16's).
        RepackCase{256, 128, 4, 128, true, ActivationType::BF16},
        RepackCase{256, 192, 3, 64, true, ActivationType::BF16},
        RepackCase{384, 136, 8, 32, true, ActivationType::BF16},
        RepackCase{200, 66, 4, 0, false, ActivationType::BF16},
        // Large enough to be packed by several threads.
        RepackCase{4096, 4160, 4, 128, true}),
    [](const ::testing::TestParamInfo<RepackCase> &info) {
      const RepackCase &c = info.param;
      return "k" + std::to_string(c.k) + "n" + std::to_string(c.n) + "b" +
             std::to_string(c.bits) + "g" +
             (c.group ? std::to_string(c.group) : std::string("col")) +
             (c.zeroPoint ? "zp" : "sym") +
             (c.activation == ActivationType::BF16 ? "bf16" : "");
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

TEST(GemmLayoutErrors, RejectsLayersTheKernelCannotRun) {
  std::mt19937 rng(std::random_device{}());
  QuantizedLinear odd = randomLayer(rng, 100, 64, 4, 100, true);
  expectError([&] { repackGemm(odd, "blk.0.q"); },
              "blk.0.q: the GEMM kernel needs K to be a multiple of 8");

  QuantizedLinear group48 = randomLayer(rng, 96, 64, 4, 48, true);
  expectError([&] { repackGemm(group48, "blk.1.up"); },
              "blk.1.up: the group size must be K (one group per column) or a "
              "multiple of 32 that divides K = 96, got 48");

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

} // namespace
} // namespace awq
