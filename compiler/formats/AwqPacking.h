//===- AwqPacking.h - Bit packing of quantized weights into int32 words ---===//
//
// The integer layouts of AutoAWQ "gemm" checkpoints (4 bits), awqc's own
// 3- and 8-bit layouts in the same tensor naming, and GPTQ's layouts (read
// only). All words are little-endian int32 as stored in safetensors.
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_COMPILER_FORMATS_AWQPACKING_H
#define AWQ_COMPILER_FORMATS_AWQPACKING_H

#include "runtime/kernels/WordFormat.h"

#include <cstdint>
#include <string>
#include <vector>

namespace awq {

/// Columns packed per group of words along N, and the words in that group:
/// 4 bits: 8 per 1 word; 8 bits: 4 per 1 word; 3 bits: 32 per 3 words.
struct PackGeometry {
  int valuesPerGroup;
  int wordsPerGroup;
};

/// Throws awq::Error naming `what` when `bits` is not 3, 4 or 8.
PackGeometry awqPackGeometry(int bits, const std::string &what);

/// Words per packed row of `cols` values. Throws awq::Error naming `what`
/// when `cols` is not a multiple of the pack group (8, 4 or 32 columns).
int64_t awqPackedWords(int64_t cols, int bits, const std::string &what);

/// Packs a row-major [rows, cols] matrix of `bits`-bit values along the
/// columns into [rows, awqPackedWords(cols)] words:
///  - 4 bits: bits 4i..4i+3 of word j hold column 8j + kAwqNibbleOrder[i]
///    (AutoAWQ's interleave, runtime/kernels/WordFormat.h);
///  - 8 bits: bits 8i..8i+7 of word j hold column 4j + i;
///  - 3 bits: words 3j, 3j+1, 3j+2 form a 96-bit little-endian integer whose
///    bits 3i..3i+2 hold column 32j + i (values straddle word boundaries).
/// Throws awq::Error naming `what` and the position of a value that does not
/// fit in `bits` bits.
std::vector<int32_t> packAwqRows(const uint8_t *values, int64_t rows,
                                 int64_t cols, int bits,
                                 const std::string &what);

/// Inverse of packAwqRows: `words` holds [rows, awqPackedWords(cols)] words.
void unpackAwqRows(const int32_t *words, int64_t rows, int64_t cols, int bits,
                   uint8_t *values);

/// Unpacks GPTQ's `qweight` [k * bits / 32, n] (4 or 8 bits), packed along K
/// in sequential order: bits b*i..b*i+b-1 of word [r, c] hold row
/// (32 / b) * r + i of column c. `values` receives [k, n] row-major.
void unpackGptqQweight(const int32_t *words, int64_t k, int64_t n, int bits,
                       uint8_t *values);

/// Unpacks GPTQ's `qzeros` [rows, cols * bits / 32] (4 or 8 bits), packed
/// along N in sequential order: bits b*i.. of word j hold column
/// (32 / b) * j + i. The raw stored values are returned (no +1).
void unpackGptqRows(const int32_t *words, int64_t rows, int64_t cols, int bits,
                    uint8_t *values);

} // namespace awq

#endif // AWQ_COMPILER_FORMATS_AWQPACKING_H
