//===- GemvLayout.cpp - Quantized weights in the CUDA-core GEMV layout ----===//

#include "runtime/kernels/GemvLayout.h"
#include "runtime/kernels/WordFormat.h"

#include "runtime/support/Error.h"
#include "runtime/support/Half.h"
#include "runtime/support/ParallelFor.h"

#include <algorithm>
#include <cmath>
#include <sstream>

namespace awq {

namespace {

/// Columns gathered per pass: keeps the strided reads of the row-major q
/// within a few cache lines per row.
constexpr int64_t kColumnBlock = 64;

/// Whether the 16-bit element `bits` of `type` is finite.
bool isFiniteElement(uint16_t bits, ActivationType type) {
  return type == ActivationType::BF16 ? (bits & 0x7f80u) != 0x7f80u
                                      : (bits & 0x7c00u) != 0x7c00u;
}

/// A bf16 layer's layout stores each scale times 2^30
/// (kGemvWideAccumulatorExponent, awq/contract.h): scales must stay below
/// 2^96 so that the stored value is finite (docs/numerics.md, "bf16 GEMV").
bool isRepresentableScale(uint16_t bits, ActivationType type) {
  if (!isFiniteElement(bits, type))
    return false;
  return type != ActivationType::BF16 ||
         std::fabs(bfloat16ToFloat(bits)) < std::ldexp(1.0f, 96);
}

/// The stored bits of scale `bits` (bf16: times 2^30, exact, as any power of
/// two of a finite bf16 below 2^96 is; fp16: as is) and back.
uint16_t storedScale(uint16_t bits, ActivationType type) {
  if (type != ActivationType::BF16)
    return bits;
  return floatToElement(
      std::ldexp(bfloat16ToFloat(bits), kGemvWideAccumulatorExponent), type);
}
uint16_t logicalScale(uint16_t stored, ActivationType type) {
  if (type != ActivationType::BF16)
    return stored;
  return floatToElement(
      std::ldexp(bfloat16ToFloat(stored), -kGemvWideAccumulatorExponent), type);
}

} // namespace

GemvWeights repackGemv(const QuantizedLinear &layer, const std::string &what) {
  validate(layer, what);
  const QuantParams &p = layer.params;
  const int64_t k = layer.k;
  const int64_t n = layer.n;
  if (!isSupportedGroupSize(k, p.groupSize))
    throw Error(what +
                ": the group size must be K (one group per column) or a "
                "multiple of 32 that divides K = " +
                std::to_string(k) + ", got " + std::to_string(p.groupSize));
  const int maxValue = (1 << p.bits) - 1;
  for (size_t i = 0; i < layer.q.size(); ++i)
    if (layer.q[i] > maxValue)
      throw Error(what + ": q[" + std::to_string(static_cast<int64_t>(i) / n) +
                  ", " + std::to_string(static_cast<int64_t>(i) % n) +
                  "] = " + std::to_string(layer.q[i]) + " does not fit in " +
                  std::to_string(p.bits) + " bits");
  for (size_t i = 0; i < layer.zeros.size(); ++i)
    if (layer.zeros[i] > maxValue)
      throw Error(what + ": zero point [" +
                  std::to_string(static_cast<int64_t>(i) / n) + ", " +
                  std::to_string(static_cast<int64_t>(i) % n) +
                  "] = " + std::to_string(layer.zeros[i]) +
                  " does not fit in " + std::to_string(p.bits) + " bits");
  const ActivationType activation = layer.activation;
  for (size_t i = 0; i < layer.scales.size(); ++i)
    if (!isRepresentableScale(layer.scales[i], activation))
      throw Error(what + ": scale [" +
                  std::to_string(static_cast<int64_t>(i) / n) + ", " +
                  std::to_string(static_cast<int64_t>(i) % n) + "] is " +
                  (isFiniteElement(layer.scales[i], activation)
                       ? "2^96 or more in magnitude (the bf16 GEMV's limit)"
                       : "not finite"));

  GemvWeights out;
  out.k = k;
  out.n = n;
  out.params = p;
  out.activation = activation;
  out.units = (k + kGemvValuesPerUnit - 1) / kGemvValuesPerUnit;
  out.numGroups = layer.numGroups();
  const int bits = p.bits;
  const int64_t kPadded = out.units * kGemvValuesPerUnit;
  const int64_t units = out.units;
  const int64_t paired = gemvPairedUnits(k, p.groupSize);
  // Padding columns (3 bits: up to a multiple of 4) hold q = 0.
  out.qweight.assign(
      static_cast<size_t>(roundUp(n, gemvInterleavedColumns(bits)) * units *
                          bits),
      0u);
  // Gathers a block of columns contiguous along K (padded with zeros), then
  // packs each column unit by unit. Blocks are independent.
  auto packBlocks = [&](int64_t firstBlock, int64_t lastBlock) {
    std::vector<uint8_t> columns(static_cast<size_t>(kColumnBlock * kPadded));
    uint32_t unitWords[8];
    for (int64_t n0 = firstBlock * kColumnBlock;
         n0 < std::min(n, lastBlock * kColumnBlock); n0 += kColumnBlock) {
      const int64_t width = std::min(kColumnBlock, n - n0);
      std::fill(columns.begin(), columns.end(), 0);
      for (int64_t kk = 0; kk < k; ++kk) {
        const uint8_t *row = layer.q.data() + kk * n + n0;
        for (int64_t c = 0; c < width; ++c)
          columns[static_cast<size_t>(c * kPadded + kk)] = row[c];
      }
      for (int64_t c = 0; c < width; ++c) {
        const uint8_t *values = columns.data() + c * kPadded;
        for (int64_t unit = 0; unit < units; ++unit) {
          packWords(values + unit * kGemvValuesPerUnit, bits, unitWords);
          for (int word = 0; word < bits; ++word)
            out.qweight[static_cast<size_t>(gemvWordIndex(
                n0 + c, unit, word, units, bits, paired))] = unitWords[word];
        }
      }
    }
  };
  // Large layers (a model load repacks billions of weights) use every core;
  // small ones are not worth a thread start.
  const int64_t blocks = (n + kColumnBlock - 1) / kColumnBlock;
  parallelChunks(blocks, std::max<int64_t>(1, k * n / (1 << 22)), packBlocks);

  // Scales and zeros: [K/G, N] -> [K/G, N_s], the padding columns zero.
  const int64_t groups = out.numGroups;
  out.scaleColumns = gemvScaleColumns(n);
  out.scales.assign(static_cast<size_t>(groups * out.scaleColumns), 0);
  if (p.zeroPoint)
    out.zeros.assign(static_cast<size_t>(groups * out.scaleColumns), 0);
  for (int64_t g = 0; g < groups; ++g)
    for (int64_t c = 0; c < n; ++c) {
      const size_t from = static_cast<size_t>(g * n + c);
      const size_t to = static_cast<size_t>(g * out.scaleColumns + c);
      out.scales[to] = storedScale(layer.scales[from], activation);
      if (p.zeroPoint) // z < 256 is exact in fp16 and bf16.
        out.zeros[to] =
            floatToElement(static_cast<float>(layer.zeros[from]), activation);
    }
  out.bias = layer.bias;
  return out;
}

QuantizedLinear unpackGemv(int64_t k, int64_t n, const QuantParams &params,
                           const uint32_t *qweight, const uint16_t *scales,
                           const uint16_t *zeros, const std::string &what,
                           ActivationType activation) {
  LinearShape shape;
  shape.k = k;
  shape.n = n;
  shape.bits = params.bits;
  shape.group = params.groupSize;
  shape.zeroPoint = params.zeroPoint;
  shape.activation = activation;
  if (const char *violation = linearViolation(shape))
    throw Error(what + ": cannot unpack a GEMV layer of K = " +
                std::to_string(k) + ", N = " + std::to_string(n) + ", " +
                std::to_string(params.bits) + " bits, group size " +
                std::to_string(params.groupSize) + ": " + violation);
  if (!qweight || !scales || (params.zeroPoint && !zeros))
    throw Error(what + ": cannot unpack a GEMV layer without its qweight, "
                       "scales and (with a zero point) zeros buffers");

  QuantizedLinear layer;
  layer.k = k;
  layer.n = n;
  layer.params = params;
  layer.activation = activation;
  const int bits = params.bits;
  const int64_t units = ceilDiv(k, kGemvValuesPerUnit);
  const int64_t paired = gemvPairedUnits(k, params.groupSize);

  // Weights: gather each unit's words (gemvWordIndex), decode its 32
  // values, keep those below K.
  layer.q.resize(static_cast<size_t>(k * n));
  uint32_t unitWords[8];
  uint8_t values[kWordFormatValues];
  for (int64_t c = 0; c < n; ++c) {
    for (int64_t unit = 0; unit < units; ++unit) {
      for (int word = 0; word < bits; ++word)
        unitWords[word] =
            qweight[gemvWordIndex(c, unit, word, units, bits, paired)];
      unpackWords(unitWords, bits, values);
      for (int64_t v = 0; v < kGemvValuesPerUnit; ++v) {
        const int64_t kk = unit * kGemvValuesPerUnit + v;
        if (kk < k)
          layer.q[static_cast<size_t>(kk * n + c)] = values[v];
      }
    }
  }

  // Scales and zeros: [groups, N_s] -> [groups, N]; the zeros hold z itself.
  const int64_t groups = layer.numGroups();
  const int64_t scaleColumns = gemvScaleColumns(n);
  const float limit = static_cast<float>(1 << bits);
  layer.scales.resize(static_cast<size_t>(groups * n));
  if (params.zeroPoint)
    layer.zeros.resize(static_cast<size_t>(groups * n));
  for (int64_t c = 0; c < n; ++c)
    for (int64_t g = 0; g < groups; ++g) {
      const size_t from = static_cast<size_t>(g * scaleColumns + c);
      const size_t to = static_cast<size_t>(g * n + c);
      auto where = [&] {
        return "group " + std::to_string(g) + ", column " + std::to_string(c);
      };
      if (!isFiniteElement(scales[from], activation))
        throw Error(what + ": the scale of " + where() + " is not finite");
      layer.scales[to] = logicalScale(scales[from], activation);
      if (!params.zeroPoint)
        continue;
      const float z = elementToFloat(zeros[from], activation);
      if (!(z >= 0.0f && z < limit && z == std::floor(z))) {
        std::ostringstream message;
        message << what << ": the zero point of " << where() << " is " << z
                << ", not an integer in [0, " << (1 << bits) << ")";
        throw Error(message.str());
      }
      layer.zeros[to] = static_cast<uint8_t>(z);
    }
  return layer;
}

std::string describeGemvLayout(int bits) {
  if (bits != 3 && bits != 4 && bits != 8)
    throw Error("describeGemvLayout: bits must be 3, 4 or 8, got " +
                std::to_string(bits));
  std::ostringstream s;
  const int chunkWords = gemvChunkWords(bits);
  const int64_t interleave = gemvInterleavedColumns(bits);
  s << "GEMV layout, " << bits << "-bit weights\n"
    << "  unit  = 32 consecutive k of one column = " << bits
    << " words (K padded with q = 0 to a multiple of 32)\n"
    << "  tile  = 32 units (lane l of a warp reads unit l)\n"
    << "  chunk = 16 bytes, one load: " << chunkWords << " word(s) of each of "
    << interleave << " column(s); " << bits / chunkWords
    << " chunk(s) per unit\n";
  if (interleave == 1)
    s << "  word 4h + i of (column n, unit 32t+l) at\n"
      << "    n*Ku*" << bits << " + 32t*" << bits
      << " + (h*Ut + l)*4 + i   (Ku = ceil(K/32), Ut = min(32, Ku - 32t))\n";
  else
    s << "  word h of (column n = 4g + j, unit 32t+l) at\n"
      << "    4g*Ku*" << bits << " + 32t*" << bits
      << "*4 + (h*Ut + l)*4 + j   (Ku = ceil(K/32), Ut = min(32, Ku - 32t);\n"
      << "    N padded with q = 0 to a multiple of 4)\n";
  switch (bits) {
  case 4:
    s << "  word j of a unit: nibble i holds k = 8j + {0,2,4,6,1,3,5,7}[i]\n";
    break;
  case 8:
    s << "  word j of a unit: byte i holds k = 4j + i\n";
    break;
  default:
    s << "  word j of a unit (j = 0..2): bits 3i..3i+2 hold k = 10j+2i,\n"
      << "    bits 16+3i..18+3i hold k = 10j+2i+1 (i = 0..4); bit 15 is bit "
         "j of k = 30,\n"
      << "    bit 31 is bit j of k = 31\n";
    break;
  }
  s << "  scales, zeros: fp16 or bf16 (the layer's activation type) [groups, "
       "Ns], index g*Ns + n\n"
    << "    (Ns = N rounded up to 32, the padding 0); bf16 scales are stored "
       "times 2^"
    << kGemvWideAccumulatorExponent << "; zeros hold z (absent if symmetric)\n"
    << "  bias: the activation type [N]\n";
  return s.str();
}

} // namespace awq
