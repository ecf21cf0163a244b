//===- WordFormat.h - Packed 32-bit words as the device decoders read them
//-===//
//
// Both kernel layouts store weights in the word format awq/dequant.cuh
// decodes: 32 consecutive values of one column in `bits` 32-bit words.
//   4 bits: word j holds values 8j..8j+7, value 8j + kAwqNibbleOrder[i] in
//           nibble i (AutoAWQ's interleave);
//   8 bits: word j holds values 4j..4j+3, value 4j + i in byte i;
//   3 bits: word j (0..2) holds values 10j + 2i at bits 3i and 10j + 2i + 1
//           at bits 16 + 3i (i < 5); bit 15 / bit 31 of word j are bit j of
//           values 30 / 31.
// The layouts (GemvLayout.h, GemmLayout.h) only decide where the words go.
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_RUNTIME_KERNELS_WORDFORMAT_H
#define AWQ_RUNTIME_KERNELS_WORDFORMAT_H

#include <cstdint>

namespace awq {

/// Values per group of words: one GEMV unit, half a GEMM lane's values.
constexpr int kWordFormatValues = 32;

/// AutoAWQ's nibble interleave: nibble i of a 4-bit word holds value
/// kAwqNibbleOrder[i] of its 8 (awqNibbleValue in awq/dequant.cuh).
constexpr int kAwqNibbleOrder[8] = {0, 2, 4, 6, 1, 3, 5, 7};

/// Packs 32 consecutive values (each below 2^bits) into `bits` words.
/// `bits` must be 3, 4 or 8 (the caller has checked).
inline void packWords(const uint8_t *values, int bits, uint32_t *words) {
  for (int j = 0; j < bits; ++j)
    words[j] = 0;
  switch (bits) {
  case 4:
    for (int j = 0; j < 4; ++j)
      for (int i = 0; i < 8; ++i)
        words[j] |= static_cast<uint32_t>(values[8 * j + kAwqNibbleOrder[i]])
                    << (4 * i);
    return;
  case 8:
    for (int j = 0; j < 8; ++j)
      for (int i = 0; i < 4; ++i)
        words[j] |= static_cast<uint32_t>(values[4 * j + i]) << (8 * i);
    return;
  default: // 3 bits
    for (int j = 0; j < 3; ++j) {
      for (int i = 0; i < 5; ++i) {
        words[j] |= static_cast<uint32_t>(values[10 * j + 2 * i]) << (3 * i);
        words[j] |= static_cast<uint32_t>(values[10 * j + 2 * i + 1])
                    << (16 + 3 * i);
      }
      words[j] |= static_cast<uint32_t>((values[30] >> j) & 1u) << 15;
      words[j] |= static_cast<uint32_t>((values[31] >> j) & 1u) << 31;
    }
    return;
  }
}

/// Reads back the 32 values that `bits` words hold in the word format above
/// (the inverse of packWords). `bits` must be 3, 4 or 8.
inline void unpackWords(const uint32_t *words, int bits, uint8_t *values) {
  switch (bits) {
  case 4:
    for (int j = 0; j < 4; ++j)
      for (int i = 0; i < 8; ++i)
        values[8 * j + kAwqNibbleOrder[i]] =
            static_cast<uint8_t>((words[j] >> (4 * i)) & 0xFu);
    return;
  case 8:
    for (int j = 0; j < 8; ++j)
      for (int i = 0; i < 4; ++i)
        values[4 * j + i] = static_cast<uint8_t>((words[j] >> (8 * i)) & 0xFFu);
    return;
  default: // 3 bits
    values[30] = values[31] = 0;
    for (int j = 0; j < 3; ++j) {
      for (int i = 0; i < 5; ++i) {
        values[10 * j + 2 * i] =
            static_cast<uint8_t>((words[j] >> (3 * i)) & 7u);
        values[10 * j + 2 * i + 1] =
            static_cast<uint8_t>((words[j] >> (16 + 3 * i)) & 7u);
      }
      values[30] |= static_cast<uint8_t>(((words[j] >> 15) & 1u) << j);
      values[31] |= static_cast<uint8_t>(((words[j] >> 31) & 1u) << j);
    }
    return;
  }
}

} // namespace awq

#endif // AWQ_RUNTIME_KERNELS_WORDFORMAT_H
