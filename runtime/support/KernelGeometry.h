//===- KernelGeometry.h - Launch geometry of the device library kernels ---===//
//
// The compile-time constants of awq::GemvConfig (awq/gemv.cuh) and
// awq::GemmConfig (awq/gemm.cuh), computed on the host: the compiler records
// them in the IR and the bundle manifest, and the runtime launches with them.
// test/unit/device checks every formula here against the device templates
// themselves, so the two cannot drift apart.
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_RUNTIME_SUPPORT_KERNELGEOMETRY_H
#define AWQ_RUNTIME_SUPPORT_KERNELGEOMETRY_H

#include <cstdint>
#include <string>

namespace awq {

inline int64_t ceilDiv(int64_t value, int64_t divisor) {
  return (value + divisor - 1) / divisor;
}
inline int64_t roundUp(int64_t value, int64_t multiple) {
  return ceilDiv(value, multiple) * multiple;
}

/// The problem a kernel instance solves (shared by both families).
struct LinearShape {
  int64_t k = 0, n = 0;
  int bits = 4;
  int64_t group = 128; ///< == k for one group per column.
  bool zeroPoint = true;
  bool actScale = false, bias = false, residual = false, siluMul = false;
  int64_t nOut() const { return siluMul ? n / 2 : n; }
};

struct GemvParams {
  int64_t threads = 128, colsPerWarp = 8, kSplit = 1, maxRows = 4;
};

struct GemmParams {
  int64_t tileM = 64, tileN = 128, tileK = 64, warpsM = 2, warpsN = 2;
  int64_t stages = 3, splitK = 1;
};

/// Values per GEMV unit and units per GEMV tile (awq/dequant.cuh, gemv.cuh).
constexpr int64_t kGemvValuesPerUnit = 32;
constexpr int64_t kGemvValuesPerTile = 32 * kGemvValuesPerUnit;

struct GemvGeometry {
  int64_t units, tiles, tilesPerSplit, groups, unitsPerGroup;
  int64_t warps, colsPerBlock, gridX, gridY, sharedBytes;
  int64_t gridZ(int64_t m) const { return ceilDiv(m, maxRows); }
  int64_t workspaceFloats(int64_t m) const { return kSplit > 1 ? m * n : 0; }
  int64_t counterCount(int64_t m) const {
    return kSplit > 1 ? gridX * gridZ(m) : 0;
  }
  int64_t maxRows, kSplit, n;
};

/// Why `shape` with `params` is not a valid GemvConfig (the static_assert it
/// would trip, worded for users), or an empty string.
inline std::string checkGemv(const LinearShape &shape, const GemvParams &p) {
  if (shape.k <= 0 || shape.n <= 0)
    return "K and N must be positive";
  if (shape.bits != 3 && shape.bits != 4 && shape.bits != 8)
    return "bits must be 3, 4 or 8";
  if (!(shape.group == shape.k || (shape.group > 0 && shape.group % 32 == 0 &&
                                   shape.k % shape.group == 0)))
    return "the GEMV kernel needs a group size that is K (one per column) or "
           "a multiple of 32 dividing K, got " +
           std::to_string(shape.group);
  if (p.threads < 32 || p.threads > 1024 || p.threads % 32 != 0)
    return "threads must be a multiple of 32 up to 1024";
  if (p.colsPerWarp < 1 || (p.colsPerWarp & (p.colsPerWarp - 1)) != 0)
    return "cols_per_warp must be a power of two";
  if (p.maxRows != 1 && p.maxRows != 2 && p.maxRows != 4 && p.maxRows != 8)
    return "max_rows must be 1, 2, 4 or 8";
  if (p.colsPerWarp * p.maxRows > 32)
    return "cols_per_warp x max_rows must be at most 32";
  if (shape.siluMul && (shape.n % 2 != 0 || p.colsPerWarp % 2 != 0))
    return "silu_mul needs an even N and an even cols_per_warp";
  if (p.kSplit < 1)
    return "k_split must be at least 1";
  int64_t tiles = ceilDiv(ceilDiv(shape.k, kGemvValuesPerUnit), 32);
  int64_t perSplit = ceilDiv(tiles, p.kSplit);
  if (p.kSplit > tiles || (p.kSplit - 1) * perSplit >= tiles)
    return "k_split " + std::to_string(p.kSplit) +
           " leaves a split without a 1024-value K tile (K = " +
           std::to_string(shape.k) + " has " + std::to_string(tiles) + ")";
  return {};
}

inline GemvGeometry gemvGeometry(const LinearShape &shape,
                                 const GemvParams &p) {
  GemvGeometry g{};
  g.units = ceilDiv(shape.k, kGemvValuesPerUnit);
  g.tiles = ceilDiv(g.units, 32);
  g.tilesPerSplit = ceilDiv(g.tiles, p.kSplit);
  g.groups = shape.group == shape.k ? 1 : shape.k / shape.group;
  g.unitsPerGroup =
      shape.group == shape.k ? g.units : shape.group / kGemvValuesPerUnit;
  g.warps = p.threads / 32;
  g.colsPerBlock = g.warps * p.colsPerWarp;
  g.gridX = ceilDiv(shape.n, g.colsPerBlock);
  g.gridY = p.kSplit;
  g.sharedBytes = (p.maxRows * (kGemvValuesPerTile + 32) + 4) * 4;
  g.maxRows = p.maxRows;
  g.kSplit = p.kSplit;
  g.n = shape.n;
  return g;
}

/// The GEMM weight format pads K to 128 rows and N to 64 columns
/// (compiler/repack/RepackGemm.h).
constexpr int64_t kGemmPackedKAlign = 128;
constexpr int64_t kGemmPackedNAlign = 64;

struct GemmGeometry {
  int64_t kPadded, kTiles, groupEff, tilesPerChunk, chunkRows;
  int64_t threads, gridX, gridZ, sharedBytes;
  int64_t tileM, splitK, n;
  int64_t gridY(int64_t m) const { return ceilDiv(m, tileM); }
  int64_t workspaceFloats(int64_t m) const { return splitK > 1 ? m * n : 0; }
  int64_t counterCount(int64_t m) const {
    return splitK > 1 ? gridY(m) * gridX : 0;
  }
};

inline GemmGeometry gemmGeometry(const LinearShape &shape,
                                 const GemmParams &p) {
  GemmGeometry g{};
  g.kPadded = roundUp(shape.k, p.tileK);
  g.kTiles = g.kPadded / p.tileK;
  g.groupEff = shape.group == shape.k ? g.kPadded : shape.group;
  g.tilesPerChunk = g.groupEff >= p.tileK ? g.groupEff / p.tileK : 1;
  g.chunkRows = g.groupEff >= p.tileK ? 1 : p.tileK / g.groupEff;
  g.threads = 32 * p.warpsM * p.warpsN;
  int64_t packetBytes = 256 * shape.bits;
  int64_t aBytes = p.tileM * p.tileK * 2;
  int64_t bBytes = (p.tileN / 64) * (p.tileK / 32) * packetBytes;
  int64_t actBytes = shape.actScale ? p.tileK * 2 : 0;
  int64_t stageBytes = aBytes + bBytes + actBytes;
  int64_t scaleSlotBytes =
      g.chunkRows * p.tileN * 2 * (shape.zeroPoint ? 2 : 1);
  g.sharedBytes = p.stages * (stageBytes + scaleSlotBytes) + 16;
  g.gridX = ceilDiv(shape.n, p.tileN);
  g.gridZ = p.splitK;
  g.tileM = p.tileM;
  g.splitK = p.splitK;
  g.n = shape.n;
  return g;
}

/// Why `shape` with `params` is not a valid GemmConfig, or an empty string.
inline std::string checkGemm(const LinearShape &shape, const GemmParams &p) {
  if (shape.k <= 0 || shape.n <= 0)
    return "K and N must be positive";
  if (shape.k % 8 != 0)
    return "the GEMM kernel needs K to be a multiple of 8 (activation rows "
           "are copied in 16-byte chunks), got K = " +
           std::to_string(shape.k);
  if (shape.bits != 3 && shape.bits != 4 && shape.bits != 8)
    return "bits must be 3, 4 or 8";
  if (!(shape.group == shape.k || (shape.group > 0 && shape.group % 32 == 0 &&
                                   shape.k % shape.group == 0)))
    return "the GEMM kernel needs a group size that is K (one per column) or "
           "a multiple of 32 dividing K, got " +
           std::to_string(shape.group);
  if (p.tileK != 32 && p.tileK != 64 && p.tileK != 128)
    return "tile_k must be 32, 64 or 128";
  if (!(shape.group == shape.k || shape.group % p.tileK == 0 ||
        p.tileK % shape.group == 0))
    return "tile_k " + std::to_string(p.tileK) + " and group size " +
           std::to_string(shape.group) + " must divide one another";
  if (p.warpsM < 1 || p.warpsN < 1 || p.warpsM * p.warpsN > 16)
    return "warps_m x warps_n must be 1 to 16 warps";
  if (p.tileM <= 0 || p.tileM % (16 * p.warpsM) != 0)
    return "tile_m must be a multiple of 16 x warps_m";
  if (p.tileN <= 0 || p.tileN % (64 * p.warpsN) != 0)
    return "tile_n must be a multiple of 64 x warps_n";
  if (p.stages < 2 || p.stages > 4)
    return "stages must be 2, 3 or 4";
  if (shape.siluMul && shape.n % 2 != 0)
    return "silu_mul needs an even N";
  GemmGeometry g = gemmGeometry(shape, p);
  if (p.splitK < 1 || p.splitK > g.kTiles)
    return "split_k " + std::to_string(p.splitK) +
           " must be between 1 and the " + std::to_string(g.kTiles) +
           " K tiles";
  if (g.sharedBytes > 227 * 1024)
    return "the tiles need " + std::to_string(g.sharedBytes) +
           " bytes of shared memory, more than any supported GPU has";
  return {};
}

/// What the compiler knows of a GPU architecture.
struct ArchInfo {
  int smVersion;          ///< 80, 86, 89, 90.
  int64_t smCount;        ///< SMs of the representative part.
  int64_t maxSharedBytes; ///< Dynamic shared memory one block may opt in to.
  const char *part;       ///< The part the numbers come from.
};

/// Known targets; nullptr for an unknown name. Names are "sm_80" etc.
inline const ArchInfo *findArch(const std::string &name) {
  static const ArchInfo archs[] = {
      {80, 108, 163 * 1024, "A100"},
      {86, 84, 99 * 1024, "A10 / RTX 30 series"},
      {89, 128, 99 * 1024, "L40S / RTX 4090"},
      {90, 132, 227 * 1024, "H100 SXM"},
  };
  for (const ArchInfo &arch : archs)
    if (name == "sm_" + std::to_string(arch.smVersion))
      return &arch;
  return nullptr;
}

} // namespace awq

#endif // AWQ_RUNTIME_SUPPORT_KERNELGEOMETRY_H
