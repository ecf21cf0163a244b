//===- RepackGemm.cpp - Quantized weights in tensor-core fragment order ---===//
//
// Implements the GEMM weight format documented in RepackGemm.h.
//
//===----------------------------------------------------------------------===//
#include "compiler/repack/RepackGemm.h"

#include "runtime/support/Half.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <thread>

namespace awq {
namespace {

/// AutoAWQ's nibble interleave (kept local: the repacker must not depend on
/// the checkpoint formats library).
constexpr int kInterleave[8] = {0, 2, 4, 6, 1, 3, 5, 7};

int64_t roundUp(int64_t value, int64_t multiple) {
  return (value + multiple - 1) / multiple * multiple;
}

/// Packs one lane's 64 values (value v as in RepackGemm.h) into its words.
/// Returns the number of words written (8, 16 or 6).
int packLaneWords(const uint8_t (&values)[64], int bits, uint32_t *words) {
  switch (bits) {
  case 4:
    for (int w = 0; w < 8; ++w) {
      uint32_t word = 0;
      for (int i = 0; i < 8; ++i)
        word |= static_cast<uint32_t>(values[8 * w + kInterleave[i]])
                << (4 * i);
      words[w] = word;
    }
    return 8;
  case 8:
    for (int w = 0; w < 16; ++w) {
      uint32_t word = 0;
      for (int i = 0; i < 4; ++i)
        word |= static_cast<uint32_t>(values[4 * w + i]) << (8 * i);
      words[w] = word;
    }
    return 16;
  default: // 3 bits: three words per 32 consecutive values (awq/dequant.cuh).
    for (int w = 0; w < 6; ++w)
      words[w] = 0;
    for (int v = 0; v < 64; ++v) {
      const uint32_t value = values[v];
      uint32_t *three = words + 3 * (v / 32);
      const int u = v % 32;
      if (u >= 30) {
        // Values 30 and 31 spread one bit over bit 15 / bit 31 of each word.
        for (int j = 0; j < 3; ++j)
          three[j] |= ((value >> j) & 1u) << (u == 30 ? 15 : 31);
      } else {
        const int j = u / 10, i = u % 10 / 2;
        three[j] |= value << (3 * i + (u % 2 ? 16 : 0));
      }
    }
    return 6;
  }
}

/// Stores the packed words of lane `lane` into its packet, vector-major and
/// lane-minor (RepackGemm.h); 3 bits: words 0-3 then words 4-5.
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

int64_t gemmScaleRows(int64_t k, int64_t groupSize) {
  if (groupSize == k)
    return 1;
  return (roundUp(k, kGemmKAlign) + groupSize - 1) / groupSize;
}

GemmWeights repackGemm(const QuantizedLinear &layer, const std::string &what) {
  validate(layer, what);
  const QuantParams &p = layer.params;
  const int64_t k = layer.k, n = layer.n, g = p.groupSize;
  if (k % 8 != 0)
    throw Error(what +
                ": the GEMM kernel needs K to be a multiple of 8 "
                "(16-byte activation rows), got K = " +
                std::to_string(k));
  if (g != k && g % kGemmPacketK != 0)
    throw Error(what +
                ": the GEMM kernel needs a group size that is a "
                "multiple of 32 or equal to K = " +
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
      if (p.zeroPoint) {
        const uint32_t z = layer.zeros[row * n + col];
        if (z >= limit)
          throw Error(what + ": zeros[" + std::to_string(row) + ", " +
                      std::to_string(col) + "] = " + std::to_string(z) +
                      " does not fit in " + std::to_string(bits) + " bits");
        // z * s is exact in fp32 (8-bit z, 11-bit s); one rounding to fp16.
        out.zeroScales[at] = floatToHalf(static_cast<float>(z) * s);
      }
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
  const unsigned threads = static_cast<unsigned>(
      std::min<int64_t>({std::max(1u, std::thread::hardware_concurrency()), 8,
                         nBlocks, std::max<int64_t>(1, work / 4096)}));
  if (threads <= 1) {
    packColumns(0, nBlocks);
  } else {
    std::vector<std::thread> pool;
    for (unsigned i = 0; i < threads; ++i)
      pool.emplace_back(packColumns, nBlocks * i / threads,
                        nBlocks * (i + 1) / threads);
    for (std::thread &thread : pool)
      thread.join();
  }
  return out;
}

namespace {

bool isPowerOfTwoTileK(int tileK) {
  return tileK == 32 || tileK == 64 || tileK == 128;
}

bool groupFitsTileK(int64_t k, int64_t group, int tileK) {
  return group == k || group % tileK == 0 || tileK % group == 0;
}

std::string str(int64_t value) { return std::to_string(value); }

} // namespace

int64_t gemmSharedBytes(const GemmKernelSpec &spec) {
  const int64_t kPadded = roundUp(spec.k, spec.tileK);
  const int64_t group =
      spec.params.groupSize == spec.k ? kPadded : spec.params.groupSize;
  const int64_t chunkRows = group >= spec.tileK ? 1 : spec.tileK / group;
  const int64_t aBytes = int64_t(spec.tileM) * spec.tileK * 2;
  const int64_t bBytes = int64_t(spec.tileN / kGemmPacketN) *
                         (spec.tileK / kGemmPacketK) *
                         gemmPacketBytes(spec.params.bits);
  const int64_t actBytes = spec.actScale ? int64_t(spec.tileK) * 2 : 0;
  const int64_t slotBytes =
      chunkRows * spec.tileN * 2 * (spec.params.zeroPoint ? 2 : 1);
  return spec.stages * (aBytes + bBytes + actBytes + slotBytes) + 16;
}

int64_t gemmMaxSharedBytes(int smArch) {
  switch (smArch) {
  case 80:
  case 87:
    return 163 * 1024;
  case 86:
  case 89:
    return 99 * 1024;
  case 90:
    return 227 * 1024;
  default:
    throw Error("GEMM kernel: unsupported architecture sm_" + str(smArch) +
                " (expected 80, 86, 87, 89 or 90)");
  }
}

void validateGemmKernelSpec(const GemmKernelSpec &spec, int smArch,
                            const std::string &what) {
  const int64_t k = spec.k, n = spec.n, group = spec.params.groupSize;
  const std::string prefix = what + ": GEMM kernel ";
  if (k <= 0 || n <= 0)
    throw Error(prefix + "shape must be positive, got K = " + str(k) +
                ", N = " + str(n));
  if (k % 8 != 0)
    throw Error(prefix + "K must be a multiple of 8, got " + str(k));
  const int bits = spec.params.bits;
  if (bits != 3 && bits != 4 && bits != 8)
    throw Error(prefix + "bits must be 3, 4 or 8, got " + str(bits));
  if (!(group == k ||
        (group > 0 && group % kGemmPacketK == 0 && k % group == 0)))
    throw Error(prefix +
                "group size must be K or a multiple of 32 that "
                "divides K = " +
                str(k) + ", got " + str(group));
  if (!isPowerOfTwoTileK(spec.tileK))
    throw Error(prefix + "tileK must be 32, 64 or 128, got " + str(spec.tileK));
  if (!groupFitsTileK(k, group, spec.tileK))
    throw Error(prefix + "tileK " + str(spec.tileK) + " and group size " +
                str(group) + " must divide one another");
  if (spec.warpsM < 1 || spec.warpsN < 1 || spec.warpsM * spec.warpsN > 16)
    throw Error(prefix + "warpsM * warpsN must be 1 to 16 warps, got " +
                str(spec.warpsM) + " x " + str(spec.warpsN));
  if (spec.tileM <= 0 || spec.tileM % (16 * spec.warpsM) != 0)
    throw Error(prefix + "tileM must be a positive multiple of 16 * warpsM = " +
                str(16 * spec.warpsM) + ", got " + str(spec.tileM));
  if (spec.tileN <= 0 || spec.tileN % (64 * spec.warpsN) != 0)
    throw Error(prefix + "tileN must be a positive multiple of 64 * warpsN = " +
                str(64 * spec.warpsN) + ", got " + str(spec.tileN));
  if (spec.stages < 2 || spec.stages > 4)
    throw Error(prefix + "stages must be 2, 3 or 4, got " + str(spec.stages));
  const int64_t kTiles = roundUp(k, spec.tileK) / spec.tileK;
  if (spec.splitK < 1 || spec.splitK > kTiles)
    throw Error(prefix + "splitK must be between 1 and the " + str(kTiles) +
                " K tiles, got " + str(spec.splitK));
  if (spec.siluMul && n % 2 != 0)
    throw Error(prefix +
                "siluMul needs an even N (interleaved gate/up "
                "columns), got " +
                str(n));
  if (spec.minBlocksPerSm < 1)
    throw Error(prefix + "minBlocksPerSm must be >= 1, got " +
                str(spec.minBlocksPerSm));
  const int64_t shared = gemmSharedBytes(spec);
  const int64_t limit = smArch ? gemmMaxSharedBytes(smArch) : 227 * 1024;
  if (shared > limit)
    throw Error(
        prefix + "needs " + str(shared) +
        " bytes of shared memory, more than the " + str(limit) +
        (smArch ? " of sm_" + str(smArch) : std::string(" of any GPU")));
}

GemmKernelSpec chooseGemmKernelSpec(int64_t k, int64_t n,
                                    const QuantParams &params,
                                    const GemmEpilogue &epilogue,
                                    int64_t expectedM, int smArch,
                                    int smCount) {
  if (expectedM < 1)
    throw Error("GEMM tiling: expected M must be >= 1, got " + str(expectedM));
  if (smCount < 1)
    throw Error("GEMM tiling: SM count must be >= 1, got " + str(smCount));
  const int64_t sharedLimit = gemmMaxSharedBytes(smArch);

  GemmKernelSpec spec;
  spec.k = k;
  spec.n = n;
  spec.params = params;
  spec.actScale = epilogue.actScale;
  spec.bias = epilogue.bias;
  spec.residual = epilogue.residual;
  spec.siluMul = epilogue.siluMul;

  // M: one warp row up to 64 rows; beyond, 2 x 2 warps of 64 x 64.
  if (expectedM <= 16)
    spec.tileM = 16;
  else if (expectedM <= 32)
    spec.tileM = 32;
  else if (expectedM <= 64)
    spec.tileM = 64;
  else
    spec.tileM = 128;
  spec.warpsM = spec.tileM == 128 ? 2 : 1;
  const int warpRows = spec.tileM / spec.warpsM;

  // N: 64 columns per warp, no wider than the (padded) layer.
  const int maxWarpsN = spec.tileM == 128 ? 2 : 4;
  spec.warpsN = static_cast<int>(
      std::min<int64_t>(maxWarpsN, roundUp(n, kGemmPacketN) / kGemmPacketN));
  spec.tileN = 64 * spec.warpsN;

  // K: deep tiles where the accumulators leave registers for them.
  int tileK = warpRows == 16 || (warpRows == 32 && params.bits <= 4) ? 128 : 64;
  const int64_t group = params.groupSize;
  while (tileK > 32 && !groupFitsTileK(k, group, tileK))
    tileK /= 2;
  // A layer shorter than the tile only pads.
  while (tileK > 32 && roundUp(k, 32) <= tileK / 2)
    tileK /= 2;

  // The deepest pipeline that fits, then smaller K tiles, then 2 stages.
  bool placed = false;
  for (int tk = tileK; tk >= 32 && !placed; tk /= 2) {
    if (!groupFitsTileK(k, group, tk))
      continue;
    for (int stages = 4; stages >= 3 && !placed; --stages) {
      spec.tileK = tk;
      spec.stages = stages;
      placed = gemmSharedBytes(spec) <= sharedLimit;
    }
  }
  if (!placed) {
    spec.tileK = 32;
    spec.stages = 2;
  }

  // Split K when the output tiles leave SMs idle.
  const int64_t kTiles = roundUp(k, spec.tileK) / spec.tileK;
  const int64_t tiles = ((n + spec.tileN - 1) / spec.tileN) *
                        ((expectedM + spec.tileM - 1) / spec.tileM);
  spec.splitK = 1;
  if (tiles < smCount) {
    // Rounded down: one wave, never a straggling partial second one.
    const int64_t wanted = smCount / tiles;
    spec.splitK = static_cast<int>(
        std::max<int64_t>(1, std::min<int64_t>({wanted, 16, kTiles / 2})));
  }
  validateGemmKernelSpec(spec, smArch, "GEMM tiling");
  return spec;
}

std::string gemmConfigType(const GemmKernelSpec &spec) {
  auto flag = [](bool value) { return value ? "true" : "false"; };
  return "awq::GemmConfig<" + str(spec.k) + ", " + str(spec.n) + ", " +
         str(spec.params.bits) + ", " + str(spec.params.groupSize) + ", " +
         flag(spec.params.zeroPoint) + ", " + str(spec.tileM) + ", " +
         str(spec.tileN) + ", " + str(spec.tileK) + ", " + str(spec.warpsM) +
         ", " + str(spec.warpsN) + ", " + str(spec.stages) + ", " +
         str(spec.splitK) + ", " + flag(spec.actScale) + ", " +
         flag(spec.bias) + ", " + flag(spec.residual) + ", " +
         flag(spec.siluMul) + ", " + str(spec.minBlocksPerSm) + ">";
}

std::string gemmKernelSource(const GemmKernelSpec &spec,
                             const std::string &kernelName) {
  validateGemmKernelSpec(spec, 0, "kernel '" + kernelName + "'");
  const bool identifier =
      !kernelName.empty() &&
      !std::isdigit(static_cast<unsigned char>(kernelName[0])) &&
      std::all_of(kernelName.begin(), kernelName.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
      });
  if (!identifier)
    throw Error("GEMM kernel name '" + kernelName + "' is not a C identifier");
  return "// GEMM kernel " + kernelName +
         " (awq/gemm.cuh)\n"
         "#include \"awq/gemm.cuh\"\n"
         "using " +
         kernelName + "_config = " + gemmConfigType(spec) +
         ";\n"
         "AWQ_GEMM_KERNEL(" +
         kernelName + ", " + kernelName + "_config)\n";
}

GemmLaunch gemmLaunch(const GemmKernelSpec &spec, int64_t m) {
  if (m < 1)
    throw Error("GEMM launch: M must be >= 1, got " + str(m));
  GemmLaunch launch;
  const int64_t gridY = (m + spec.tileM - 1) / spec.tileM;
  if (gridY > 65535)
    throw Error("GEMM launch: M = " + str(m) + " needs " + str(gridY) +
                " row tiles of " + str(spec.tileM) +
                ", more than CUDA's 65535 grid rows");
  launch.gridX = static_cast<unsigned>((spec.n + spec.tileN - 1) / spec.tileN);
  launch.gridY = static_cast<unsigned>(gridY);
  launch.gridZ = static_cast<unsigned>(spec.splitK);
  launch.threads = static_cast<unsigned>(32 * spec.warpsM * spec.warpsN);
  launch.sharedBytes = gemmSharedBytes(spec);
  if (spec.splitK > 1) {
    launch.workspaceFloats = m * spec.n;
    launch.counters = int64_t(launch.gridX) * launch.gridY;
  }
  return launch;
}

} // namespace awq
