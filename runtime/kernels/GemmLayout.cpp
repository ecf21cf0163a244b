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
#include <sstream>

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
    // fp16: z * s is exact in fp32 (8-bit z, 11-bit s), rounded once.
    // bf16: z itself (exact; the kernel computes (q - z) * s, since bf16(z
    // s) would be off by up to z 2^-8 s, a whole step for 8-bit z).
    zeroScales[i] =
        layer.activation == ActivationType::BF16
            ? floatToBfloat16(static_cast<float>(z))
            : floatToHalf(static_cast<float>(z) * halfToFloat(layer.scales[i]));
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
      const float s = elementToFloat(scale, layer.activation);
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

QuantizedLinear unpackGemm(int64_t k, int64_t n, const QuantParams &params,
                           const uint8_t *qweight, const uint16_t *scales,
                           const uint16_t *zeroScales, const std::string &what,
                           ActivationType activation) {
  LinearShape shape;
  shape.k = k;
  shape.n = n;
  shape.bits = params.bits;
  shape.group = params.groupSize;
  shape.zeroPoint = params.zeroPoint;
  if (const char *violation = linearViolation(shape))
    throw Error(what + ": cannot unpack a GEMM layer of K = " +
                std::to_string(k) + ", N = " + std::to_string(n) + ", " +
                std::to_string(params.bits) + " bits, group size " +
                std::to_string(params.groupSize) + ": " + violation);
  if (!qweight || !scales || (params.zeroPoint && !zeroScales))
    throw Error(what + ": cannot unpack a GEMM layer without its qweight, "
                       "scales and (with a zero point) zero-term buffers");

  QuantizedLinear layer;
  layer.k = k;
  layer.n = n;
  layer.params = params;
  layer.activation = activation;
  const int bits = params.bits;
  const int64_t kPadded = roundUp(k, kGemmKAlign);
  const int64_t nPadded = roundUp(n, kGemmPacketN);
  const int64_t kPackets = kPadded / kGemmPacketK;
  const int64_t nBlocks = nPadded / kGemmPacketN;
  const int64_t packetBytes = gemmPacketBytes(bits);

  // Weights: packet (kp, nb) at (nb * kPackets + kp) * packetBytes; lane L's
  // words are 16-byte vectors at 512 x + 16 L (3 bits: words 0..3 there,
  // words 4..5 at 512 + 8 L); words 0..bits-1 hold its values 0..31 and
  // words bits..2 bits-1 its values 32..63 in the word format.
  layer.q.resize(static_cast<size_t>(k * n));
  uint32_t words[16];
  uint8_t values[2 * kWordFormatValues];
  for (int64_t nb = 0; nb < nBlocks; ++nb)
    for (int64_t kp = 0; kp < kPackets; ++kp) {
      const uint8_t *packet = qweight + (nb * kPackets + kp) * packetBytes;
      for (int lane = 0; lane < 32; ++lane) {
        if (bits == 3) {
          std::memcpy(words, packet + 16 * lane, 16);
          std::memcpy(words + 4, packet + 512 + 8 * lane, 8);
        } else {
          for (int x = 0; x < bits / 2; ++x)
            std::memcpy(words + 4 * x, packet + 512 * x + 16 * lane, 16);
        }
        unpackWords(words, bits, values);
        unpackWords(words + bits, bits, values + kWordFormatValues);
        const int g = lane / 4, t = lane % 4;
        for (int v = 0; v < 64; ++v) {
          const int h = v / 32, j = v / 4 % 8, r = v / 2 % 2, e = v % 2;
          const int64_t row = kGemmPacketK * kp + 16 * h + 8 * r + 2 * t + e;
          const int64_t col = kGemmPacketN * nb + 8 * j + g;
          if (row < k && col < n)
            layer.q[static_cast<size_t>(row * n + col)] = values[v];
        }
      }
    }

  // Scales and zero terms: row r of the stored matrix is group r; a 64-column
  // block keeps its scales in [g][j] order (scaleIndex).
  const int64_t groups = layer.numGroups();
  const int64_t limit = int64_t(1) << bits;
  layer.scales.resize(static_cast<size_t>(groups * n));
  if (params.zeroPoint)
    layer.zeros.resize(static_cast<size_t>(groups * n));
  for (int64_t row = 0; row < groups; ++row)
    for (int64_t col = 0; col < n; ++col) {
      const int64_t at = scaleIndex(row, col, nPadded);
      const size_t to = static_cast<size_t>(row * n + col);
      auto where = [&] {
        return "group " + std::to_string(row) + ", column " +
               std::to_string(col);
      };
      const float s = elementToFloat(scales[at], activation);
      if (!std::isfinite(s))
        throw Error(what + ": the scale of " + where() + " is not finite");
      layer.scales[to] = scales[at];
      if (!params.zeroPoint)
        continue;
      // fp16: zs = fp16(z * s) with z * s exact in fp32 (8-bit z, 11-bit
      // s), as foldZeroPoints computes it; distinct z give distinct zs when
      // s != 0. bf16: the zero point z itself.
      const bool bf16 = activation == ActivationType::BF16;
      const uint16_t zs = zeroScales[at];
      const double ratio = bf16        ? double(bfloat16ToFloat(zs))
                           : s == 0.0f ? 0.0
                                       : double(halfToFloat(zs)) / s;
      const int64_t z = std::isfinite(ratio) && ratio > -1.0 &&
                                ratio < static_cast<double>(limit)
                            ? std::llround(ratio)
                            : -1;
      const uint16_t want = bf16 ? floatToBfloat16(static_cast<float>(z))
                                 : floatToHalf(static_cast<float>(z) * s);
      if (z < 0 || z >= limit || want != zs) {
        std::ostringstream message;
        message << what << ": the zero term of " << where() << " is "
                << elementToFloat(zs, activation) << " ("
                << (bf16 ? "bf16" : "fp16") << " 0x" << std::hex << zs
                << std::dec << ") with scale " << s << ": not "
                << (bf16 ? "an integer z" : "fp16(z * s) for any integer z")
                << " in [0, " << limit << ")";
        throw Error(message.str());
      }
      layer.zeros[to] = static_cast<uint8_t>(z);
    }
  return layer;
}

} // namespace awq
