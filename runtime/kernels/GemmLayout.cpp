//===- GemmLayout.cpp - Quantized weights in tensor-core fragment order ---===//
//
// Implements the GEMM weight layout documented in GemmLayout.h.
//
//===----------------------------------------------------------------------===//
#include "runtime/kernels/GemmLayout.h"
#include "runtime/kernels/WordFormat.h"

#include "runtime/support/Error.h"

#include "runtime/support/Half.h"
#include "runtime/support/ParallelFor.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>

namespace awq {
namespace {

/// Packs one lane's 64 values (value v as in GemmLayout.h) into its words:
/// two runs of 32 in the word format (8, 16 or 6 words).
void packLaneWords(const uint8_t (&values)[64], int bits, uint32_t *words) {
  packWords(values, bits, words);
  packWords(values + kWordFormatValues, bits, words + bits);
}

/// Stores the packed words of lane `lane` into its packet, vector-major and
/// lane-minor (GemmLayout.h); 3 bits: words 0-3 then words 4-5.
void storeLaneWords(const uint32_t *words, int bits, int lane,
                    uint8_t *packet) {
  if (bits == 3) {
    std::memcpy(packet + 16 * lane, words, 16);
    std::memcpy(packet + 512 + 8 * lane, words + 4, 8);
    return;
  }
  const int vectors = bits == 4 ? 2 : 4;
  for (int x = 0; x < vectors; ++x)
    std::memcpy(packet + 512 * x + 16 * lane, words + 4 * x, 16);
}

/// Index of column `col` inside a scale row of the GEMM format.
int64_t scaleIndex(int64_t row, int64_t col, int64_t nPadded) {
  const int64_t block = col / kGemmPacketN, inBlock = col % kGemmPacketN;
  return row * nPadded + block * kGemmPacketN + (inBlock % 8) * 8 + inBlock / 8;
}

} // namespace

std::vector<uint16_t> foldZeroPoints(const QuantizedLinear &layer,
                                     const std::string &what) {
  validate(layer, what);
  const QuantParams &p = layer.params;
  if (!p.zeroPoint)
    return {};
  const uint32_t limit = 1u << p.bits;
  std::vector<uint16_t> zeroScales(layer.scales.size());
  for (size_t i = 0; i < zeroScales.size(); ++i) {
    const uint32_t z = layer.zeros[i];
    if (z >= limit)
      throw Error(what + ": zeros[" + std::to_string(i / layer.n) + ", " +
                  std::to_string(i % layer.n) + "] = " + std::to_string(z) +
                  " does not fit in " + std::to_string(p.bits) + " bits");
    zeroScales[i] =
        floatToHalf(static_cast<float>(z) * halfToFloat(layer.scales[i]));
  }
  return zeroScales;
}

GemmWeights repackGemm(const QuantizedLinear &layer, const std::string &what) {
  return repackGemm(layer, foldZeroPoints(layer, what), what);
}

GemmWeights repackGemm(const QuantizedLinear &layer,
                       const std::vector<uint16_t> &zeroScales,
                       const std::string &what) {
  validate(layer, what);
  const QuantParams &p = layer.params;
  const int64_t k = layer.k, n = layer.n, g = p.groupSize;
  if (k % kGemmKMultiple != 0)
    throw Error(what +
                ": the GEMM kernel needs K to be a multiple of 8 "
                "(16-byte activation rows), got K = " +
                std::to_string(k));
  if (!isSupportedGroupSize(k, g))
    throw Error(what +
                ": the group size must be K (one group per column) or a "
                "multiple of 32 that divides K = " +
                std::to_string(k) + ", got " + std::to_string(g));
  const int bits = p.bits;
  const uint32_t limit = 1u << bits;

  GemmWeights out;
  out.k = k;
  out.n = n;
  out.params = p;
  out.kPadded = roundUp(k, kGemmKAlign);
  out.nPadded = roundUp(n, kGemmPacketN);
  out.scaleRows = gemmScaleRows(k, g);

  // Scales first: they are checked before the (larger) weight pass.
  const int64_t groups = layer.numGroups();
  if (zeroScales.size() != (p.zeroPoint ? layer.scales.size() : 0))
    throw Error(what + ": expected " +
                std::to_string(p.zeroPoint ? layer.scales.size() : 0) +
                " zero terms z * s, got " + std::to_string(zeroScales.size()));
  out.scales.assign(static_cast<size_t>(out.scaleRows * out.nPadded), 0);
  if (p.zeroPoint)
    out.zeroScales.assign(out.scales.size(), 0);
  for (int64_t row = 0; row < groups; ++row) {
    for (int64_t col = 0; col < n; ++col) {
      const uint16_t scale = layer.scales[row * n + col];
      const float s = halfToFloat(scale);
      if (!std::isfinite(s))
        throw Error(what + ": scales[" + std::to_string(row) + ", " +
                    std::to_string(col) + "] is not finite");
      const int64_t at = scaleIndex(row, col, out.nPadded);
      out.scales[at] = scale;
      if (p.zeroPoint)
        out.zeroScales[at] = zeroScales[row * n + col];
    }
  }

  for (int64_t i = 0; i < k * n; ++i)
    if (layer.q[i] >= limit)
      throw Error(what + ": q[" + std::to_string(i / n) + ", " +
                  std::to_string(i % n) + "] = " + std::to_string(layer.q[i]) +
                  " does not fit in " + std::to_string(bits) + " bits");

  const int64_t packetBytes = gemmPacketBytes(bits);
  const int64_t kPackets = out.kPadded / kGemmPacketK;
  const int64_t nBlocks = out.nPadded / kGemmPacketN;
  out.qweight.assign(static_cast<size_t>(kPackets * nBlocks * packetBytes), 0);
  // Where lane 0's value v sits in a row-major 32 x 64 block; lane (g, t)
  // is 2t rows and g columns further.
  int valueOffset[64];
  for (int v = 0; v < 64; ++v) {
    const int h = v / 32, j = v / 4 % 8, r = v / 2 % 2, e = v % 2;
    valueOffset[v] = (16 * h + 8 * r + e) * kGemmPacketN + 8 * j;
  }
  // Packet columns are independent: split them over a few threads (the
  // largest layers hold hundreds of millions of weights).
  auto packColumns = [&](int64_t nbBegin, int64_t nbEnd) {
    uint8_t block[kGemmPacketK * kGemmPacketN];
    uint8_t values[64];
    uint32_t words[16];
    for (int64_t nb = nbBegin; nb < nbEnd; ++nb) {
      const int64_t col0 = nb * kGemmPacketN;
      const int64_t cols = std::min<int64_t>(kGemmPacketN, n - col0);
      for (int64_t kp = 0; kp < kPackets; ++kp) {
        for (int64_t r = 0; r < kGemmPacketK; ++r) {
          const int64_t row = kp * kGemmPacketK + r;
          uint8_t *dst = block + r * kGemmPacketN;
          const int64_t valid = row < k ? cols : 0;
          if (valid > 0)
            std::memcpy(dst, layer.q.data() + row * n + col0,
                        static_cast<size_t>(valid));
          std::memset(dst + valid, 0,
                      static_cast<size_t>(kGemmPacketN - valid));
        }
        uint8_t *packet =
            out.qweight.data() + (nb * kPackets + kp) * packetBytes;
        for (int lane = 0; lane < 32; ++lane) {
          const uint8_t *base =
              block + 2 * (lane % 4) * kGemmPacketN + lane / 4;
          for (int v = 0; v < 64; ++v)
            values[v] = base[valueOffset[v]];
          packLaneWords(values, bits, words);
          storeLaneWords(words, bits, lane, packet);
        }
      }
    }
  };
  const int64_t work = nBlocks * kPackets;
  parallelChunks(nBlocks,
                 std::min<int64_t>(8, std::max<int64_t>(1, work / 4096)),
                 packColumns);
  return out;
}

} // namespace awq
