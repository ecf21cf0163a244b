//===- AwqPacking.cpp - Bit packing of quantized weights into int32 words -===//

#include "compiler/formats/AwqPacking.h"

#include "runtime/support/Error.h"

namespace awq {

namespace {

using Uint128 = unsigned __int128;

[[noreturn]] void valueTooWide(const std::string &what, int64_t row,
                               int64_t col, int value, int bits) {
  throw Error(what + ": value " + std::to_string(value) + " at [" +
              std::to_string(row) + ", " + std::to_string(col) +
              "] does not fit in " + std::to_string(bits) + " bits");
}

} // namespace

PackGeometry awqPackGeometry(int bits, const std::string &what) {
  switch (bits) {
  case 3:
    return {32, 3};
  case 4:
    return {8, 1};
  case 8:
    return {4, 1};
  default:
    throw Error(what + ": bits must be 3, 4 or 8, got " + std::to_string(bits));
  }
}

int64_t awqPackedWords(int64_t cols, int bits, const std::string &what) {
  PackGeometry geometry = awqPackGeometry(bits, what);
  if (cols <= 0 || cols % geometry.valuesPerGroup != 0)
    throw Error(what + ": N = " + std::to_string(cols) +
                " must be a positive multiple of " +
                std::to_string(geometry.valuesPerGroup) + " to pack " +
                std::to_string(bits) + "-bit values into int32 words");
  return cols / geometry.valuesPerGroup * geometry.wordsPerGroup;
}

std::vector<int32_t> packAwqRows(const uint8_t *values, int64_t rows,
                                 int64_t cols, int bits,
                                 const std::string &what) {
  const int64_t wordsPerRow = awqPackedWords(cols, bits, what);
  std::vector<int32_t> words(static_cast<size_t>(rows * wordsPerRow));
  const unsigned limit = 1u << bits;
  for (int64_t r = 0; r < rows; ++r) {
    const uint8_t *row = values + r * cols;
    int32_t *out = words.data() + r * wordsPerRow;
    for (int64_t c = 0; c < cols; ++c)
      if (row[c] >= limit)
        valueTooWide(what, r, c, row[c], bits);
    if (bits == 4) {
      for (int64_t j = 0; j < wordsPerRow; ++j) {
        uint32_t word = 0;
        for (int i = 0; i < 8; ++i)
          word |= uint32_t(row[8 * j + kAwqNibbleOrder[i]]) << (4 * i);
        out[j] = static_cast<int32_t>(word);
      }
    } else if (bits == 8) {
      for (int64_t j = 0; j < wordsPerRow; ++j) {
        uint32_t word = 0;
        for (int i = 0; i < 4; ++i)
          word |= uint32_t(row[4 * j + i]) << (8 * i);
        out[j] = static_cast<int32_t>(word);
      }
    } else {
      for (int64_t g = 0; g < cols / 32; ++g) {
        Uint128 block = 0;
        for (int i = 0; i < 32; ++i)
          block |= Uint128(row[32 * g + i]) << (3 * i);
        for (int w = 0; w < 3; ++w)
          out[3 * g + w] = static_cast<int32_t>(uint32_t(block >> (32 * w)));
      }
    }
  }
  return words;
}

void unpackAwqRows(const int32_t *words, int64_t rows, int64_t cols, int bits,
                   uint8_t *values) {
  const int64_t wordsPerRow = awqPackedWords(cols, bits, "unpackAwqRows");
  for (int64_t r = 0; r < rows; ++r) {
    const int32_t *in = words + r * wordsPerRow;
    uint8_t *row = values + r * cols;
    if (bits == 4) {
      for (int64_t j = 0; j < wordsPerRow; ++j) {
        const uint32_t word = static_cast<uint32_t>(in[j]);
        for (int i = 0; i < 8; ++i)
          row[8 * j + kAwqNibbleOrder[i]] = (word >> (4 * i)) & 0xF;
      }
    } else if (bits == 8) {
      for (int64_t j = 0; j < wordsPerRow; ++j) {
        const uint32_t word = static_cast<uint32_t>(in[j]);
        for (int i = 0; i < 4; ++i)
          row[4 * j + i] = (word >> (8 * i)) & 0xFF;
      }
    } else {
      for (int64_t g = 0; g < cols / 32; ++g) {
        Uint128 block = 0;
        for (int w = 0; w < 3; ++w)
          block |= Uint128(static_cast<uint32_t>(in[3 * g + w])) << (32 * w);
        for (int i = 0; i < 32; ++i)
          row[32 * g + i] = static_cast<uint8_t>((block >> (3 * i)) & 0x7);
      }
    }
  }
}

void unpackGptqQweight(const int32_t *words, int64_t k, int64_t n, int bits,
                       uint8_t *values) {
  if (bits != 4 && bits != 8)
    throw Error("GPTQ qweight: only 4- and 8-bit packing is supported, got " +
                std::to_string(bits));
  const int perWord = 32 / bits;
  const uint32_t mask = (1u << bits) - 1;
  for (int64_t r = 0; r < k / perWord; ++r)
    for (int i = 0; i < perWord; ++i) {
      uint8_t *row = values + (r * perWord + i) * n;
      const int32_t *in = words + r * n;
      for (int64_t c = 0; c < n; ++c)
        row[c] = (static_cast<uint32_t>(in[c]) >> (bits * i)) & mask;
    }
}

void unpackGptqRows(const int32_t *words, int64_t rows, int64_t cols, int bits,
                    uint8_t *values) {
  if (bits != 4 && bits != 8)
    throw Error("GPTQ qzeros: only 4- and 8-bit packing is supported, got " +
                std::to_string(bits));
  const int perWord = 32 / bits;
  const uint32_t mask = (1u << bits) - 1;
  const int64_t wordsPerRow = cols / perWord;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      values[r * cols + c] =
          (static_cast<uint32_t>(words[r * wordsPerRow + c / perWord]) >>
           (bits * (c % perWord))) &
          mask;
}

} // namespace awq
