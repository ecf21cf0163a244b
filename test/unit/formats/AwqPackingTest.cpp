//===- AwqPackingTest.cpp - Golden words and inverse checks of packing ----===//

#include "TestUtil.h"

#include "compiler/formats/AwqPacking.h"

#include <gtest/gtest.h>

namespace awq::test {
namespace {

uint32_t word(const std::vector<int32_t> &words, size_t i) {
  return static_cast<uint32_t>(words.at(i));
}

TEST(AwqPacking, FourBitGoldenWord) {
  // Columns 0..7 hold 1..8. Nibbles (low to high) hold columns
  // 0,2,4,6,1,3,5,7, i.e. values 1,3,5,7,2,4,6,8.
  const uint8_t row[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  std::vector<int32_t> words = packAwqRows(row, 1, 8, 4, "golden");
  ASSERT_EQ(words.size(), 1u);
  EXPECT_EQ(word(words, 0), 0x86427531u);

  // A lone 0xF in column 1 lands in nibble 4; in column 6, nibble 3.
  uint8_t sparse[16] = {};
  sparse[1] = 0xF;
  sparse[8 + 6] = 0xA;
  words = packAwqRows(sparse, 1, 16, 4, "golden");
  EXPECT_EQ(word(words, 0), 0x000F0000u);
  EXPECT_EQ(word(words, 1), 0x0000A000u);

  uint8_t back[16];
  unpackAwqRows(words.data(), 1, 16, 4, back);
  EXPECT_EQ(std::vector<uint8_t>(back, back + 16),
            std::vector<uint8_t>(sparse, sparse + 16));
}

TEST(AwqPacking, EightBitGoldenWord) {
  const uint8_t row[8] = {0x11, 0x22, 0x33, 0x44, 0xFF, 0x00, 0x80, 0x01};
  std::vector<int32_t> words = packAwqRows(row, 1, 8, 8, "golden");
  ASSERT_EQ(words.size(), 2u);
  EXPECT_EQ(word(words, 0), 0x44332211u);
  EXPECT_EQ(word(words, 1), 0x018000FFu);
}

TEST(AwqPacking, ThreeBitGoldenWords) {
  // 32 columns in 3 words; column i occupies bits 3i..3i+2 of the 96 bits.
  uint8_t row[32] = {};
  row[0] = 0b011;  // bits 0-1
  row[10] = 0b101; // bits 30-32: bit 30 of word 0, bit 0 of word 1
  row[21] = 0b110; // bits 63-65: bit 31 of word 1 stays 0, bits 0-1 of word 2
  row[31] = 0b111; // bits 93-95: bits 29-31 of word 2
  std::vector<int32_t> words = packAwqRows(row, 1, 32, 3, "golden");
  ASSERT_EQ(words.size(), 3u);
  EXPECT_EQ(word(words, 0), 0x40000003u);
  EXPECT_EQ(word(words, 1), 0x00000001u);
  EXPECT_EQ(word(words, 2), 0xE0000003u);

  uint8_t all[32];
  std::fill(all, all + 32, 7);
  words = packAwqRows(all, 1, 32, 3, "golden");
  EXPECT_EQ(words, (std::vector<int32_t>{-1, -1, -1}));
}

TEST(AwqPacking, GptqGoldenWords) {
  // qweight: K = 8 rows of one column packed along K, row i in bits 4i.
  const int32_t qweight[1] = {static_cast<int32_t>(0x87654321u)};
  uint8_t values[8];
  unpackGptqQweight(qweight, 8, 1, 4, values);
  EXPECT_EQ(std::vector<uint8_t>(values, values + 8),
            (std::vector<uint8_t>{1, 2, 3, 4, 5, 6, 7, 8}));
  // 8-bit: 4 rows per word.
  const int32_t qweight8[2] = {0x04030201, static_cast<int32_t>(0xF0E0D0C0u)};
  uint8_t values8[8];
  unpackGptqQweight(qweight8, 4, 2, 8, values8);
  // Word [0, c] holds rows 0..3 of column c.
  EXPECT_EQ(
      std::vector<uint8_t>(values8, values8 + 8),
      (std::vector<uint8_t>{0x01, 0xC0, 0x02, 0xD0, 0x03, 0xE0, 0x04, 0xF0}));
  // qzeros: sequential along N (no interleave).
  const int32_t qzeros[1] = {0x76543210};
  uint8_t zeros[8];
  unpackGptqRows(qzeros, 1, 8, 4, zeros);
  EXPECT_EQ(std::vector<uint8_t>(zeros, zeros + 8),
            (std::vector<uint8_t>{0, 1, 2, 3, 4, 5, 6, 7}));
}

/// Plain re-implementation of the layouts, written from the definitions in
/// docs/formats.md: one bit at a time.
std::vector<int32_t> referencePack(const std::vector<uint8_t> &values,
                                   int64_t rows, int64_t cols, int bits) {
  static const int awqOrder[8] = {0, 2, 4, 6, 1, 3, 5, 7};
  const int64_t wordsPerRow = cols * bits / 32;
  std::vector<uint32_t> words(static_cast<size_t>(rows * wordsPerRow), 0);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      int64_t bitPosition; // Within the row's bit string.
      if (bits == 4) {
        int slot = 0;
        while (awqOrder[slot] != c % 8)
          ++slot;
        bitPosition = (c / 8) * 32 + 4 * slot;
      } else {
        bitPosition = c * bits; // 8-bit and 3-bit are sequential.
      }
      for (int b = 0; b < bits; ++b)
        if ((values[r * cols + c] >> b) & 1) {
          const int64_t bit = bitPosition + b;
          words[r * wordsPerRow + bit / 32] |= 1u << (bit % 32);
        }
    }
  return std::vector<int32_t>(words.begin(), words.end());
}

TEST(AwqPacking, MatchesBitwiseReferenceOnRandomData) {
  for (int bits : {3, 4, 8}) {
    for (int64_t cols : {32, 64, 96, 256}) {
      const int64_t rows = 5;
      std::vector<uint8_t> values(static_cast<size_t>(rows * cols));
      std::uniform_int_distribution<int> value(0, (1 << bits) - 1);
      for (uint8_t &v : values)
        v = static_cast<uint8_t>(value(rng()));
      SCOPED_TRACE("bits " + std::to_string(bits) + " cols " +
                   std::to_string(cols));
      std::vector<int32_t> words =
          packAwqRows(values.data(), rows, cols, bits, "random");
      EXPECT_EQ(words, referencePack(values, rows, cols, bits));
      std::vector<uint8_t> back(values.size(), 0xEE); // Poisoned.
      unpackAwqRows(words.data(), rows, cols, bits, back.data());
      EXPECT_EQ(back, values);
    }
  }
}

TEST(AwqPacking, RejectsBadInput) {
  const uint8_t wide[8] = {0, 0, 0, 16, 0, 0, 0, 0};
  expectError([&] { packAwqRows(wide, 1, 8, 4, "layer x"); },
              {"layer x", "value 16 at [0, 3]", "does not fit in 4 bits"});
  const uint8_t row[12] = {};
  expectError([&] { packAwqRows(row, 1, 12, 4, "layer x"); },
              {"layer x", "N = 12", "multiple of 8"});
  expectError([&] { awqPackedWords(48, 3, "layer y"); },
              {"layer y", "N = 48", "multiple of 32"});
  expectError([&] { awqPackedWords(6, 8, "layer z"); },
              {"layer z", "multiple of 4"});
  expectError([&] { awqPackGeometry(5, "layer w"); },
              {"layer w", "bits must be 3, 4 or 8, got 5"});
}

} // namespace
} // namespace awq::test
