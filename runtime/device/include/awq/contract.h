//===- contract.h - The kernel contract: rules, geometry, architectures ---===//
//
// The one owner of every fact about the device library's kernels that host
// code also needs: which layers a kernel can serve (the group-size rule, the
// bit widths, the limits on K and N), which template parameters are valid,
// the launch geometry and shared memory a configuration implies, the weight
// layout constants, and what each GPU architecture offers.
//
// Everything is a constexpr function over plain structs, so the same code is
// compiled by NVRTC and nvcc (the templates in gemv.cuh and gemm.cuh derive
// their constants from it and static_assert its rules) and by the host
// compiler (the planner, the attribute verifiers, the model description
// reader, the manifest writer and the runtime call it). It includes nothing
// NVRTC lacks.
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_DEVICE_CONTRACT_H
#define AWQ_DEVICE_CONTRACT_H

#if defined(__CUDACC_RTC__)
typedef long int64_t; // As in awq/platform.cuh (glibc's LP64 choice).
#else
#include <cstdint>
#endif

// Every function is usable in constant expressions on both sides.
#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
#define AWQ_CONTRACT __host__ __device__ constexpr
#else
#define AWQ_CONTRACT constexpr
#endif

namespace awq {

AWQ_CONTRACT int64_t ceilDiv(int64_t value, int64_t divisor) {
  return (value + divisor - 1) / divisor;
}
AWQ_CONTRACT int64_t roundUp(int64_t value, int64_t multiple) {
  return ceilDiv(value, multiple) * multiple;
}

//===----------------------------------------------------------------------===//
// Layers the kernels serve
//===----------------------------------------------------------------------===//

/// The largest K or N: the kernels index with 32-bit ints, and every padded
/// size (K to 128, N to 64, M x N workspaces per row) must stay below 2^31.
constexpr int64_t kMaxFeatures = int64_t(1) << 30;

AWQ_CONTRACT bool isSupportedBits(int64_t bits) {
  return bits == 3 || bits == 4 || bits == 8;
}

/// Groups are whole 32-value units of the weight layouts.
constexpr int64_t kGroupQuantum = 32;

/// The one group-size rule, the same in the model description, the IR type,
/// the quantizer and both kernel families: K itself (one group per column),
/// or a multiple of 32 that divides K.
AWQ_CONTRACT bool isSupportedGroupSize(int64_t k, int64_t group) {
  return group == k ||
         (group > 0 && group % kGroupQuantum == 0 && k % group == 0);
}

/// The element type of a layer's activations (x, y, residual) and of its
/// 16-bit parameters (weight scales, zero terms, bias, activation scale):
/// one type per layer, as the checkpoint's dtype gives it.
enum class ActivationType : int { F16 = 0, BF16 = 1 };

/// "f16" or "bf16", the spelling of manifests, model descriptions and names.
AWQ_CONTRACT const char *activationTypeName(ActivationType type) {
  return type == ActivationType::BF16 ? "bf16" : "f16";
}

/// The problem a kernel instance solves (shared by both families).
struct LinearShape {
  int64_t k = 0, n = 0;
  int bits = 4;
  int64_t group = 128; ///< == k for one group per column.
  bool zeroPoint = true;
  bool actScale = false, bias = false, residual = false, siluMul = false;
  ActivationType activation = ActivationType::F16;
  AWQ_CONTRACT int64_t nOut() const { return siluMul ? n / 2 : n; }
  AWQ_CONTRACT int64_t groups() const { return group == k ? 1 : k / group; }
  /// The same layer and epilogue: one kernel instance serves both.
  AWQ_CONTRACT bool operator==(const LinearShape &o) const {
    return k == o.k && n == o.n && activation == o.activation &&
           bits == o.bits && group == o.group && zeroPoint == o.zeroPoint &&
           actScale == o.actScale && bias == o.bias && residual == o.residual &&
           siluMul == o.siluMul;
  }
  AWQ_CONTRACT bool operator!=(const LinearShape &o) const {
    return !(*this == o);
  }
};

/// Why no kernel can serve `s` whatever its tiling, or nullptr.
AWQ_CONTRACT const char *linearViolation(const LinearShape &s) {
  if (s.k <= 0 || s.n <= 0)
    return "K and N must be positive";
  if (s.k > kMaxFeatures || s.n > kMaxFeatures)
    return "K and N must be at most 2^30";
  if (!isSupportedBits(s.bits))
    return "bits must be 3, 4 or 8";
  if (!isSupportedGroupSize(s.k, s.group))
    return "the group size must be K (one group per column) or a multiple of "
           "32 that divides K";
  if (s.siluMul && s.n % 2 != 0)
    return "silu_mul needs an even N (gate and up columns interleaved)";
  return nullptr;
}

/// The buffers a kernel family's weight layout stores for one layer: the
/// packed weights (bytes), and the fp16 scales (and zero terms, with the same
/// shape, when the layer has a zero point) as a [scaleRows, scaleCols]
/// matrix. Bundles declare their tensors from it before repacking.
struct WeightBuffers {
  int64_t qweightBytes = 0;
  int64_t scaleRows = 0, scaleCols = 0;
  bool zeros = false;
  AWQ_CONTRACT int64_t scaleBytes() const { return scaleRows * scaleCols * 2; }
  /// Every byte a launch streams: weights, scales and zero terms.
  AWQ_CONTRACT int64_t totalBytes() const {
    return qweightBytes + scaleBytes() * (zeros ? 2 : 1);
  }
};

//===----------------------------------------------------------------------===//
// GEMV (awq/gemv.cuh)
//===----------------------------------------------------------------------===//

/// Values per GEMV unit and per GEMV tile (one warp-wide step along K).
constexpr int64_t kGemvValuesPerUnit = 32;
constexpr int64_t kGemvUnitsPerTile = 32;
constexpr int64_t kGemvValuesPerTile = kGemvUnitsPerTile * kGemvValuesPerUnit;
/// fp32 values of one row of a tile's staged x in shared memory: each unit's
/// 32 values and 4 of padding. The 8 lanes of one 16-byte shared access
/// phase read the same quad of 8 consecutive units, 9 quads apart, so they
/// hit 8 different bank groups and every address is the lane's unit base
/// plus a constant.
constexpr int64_t kGemvStagedUnitFloats = kGemvValuesPerUnit + 4;
constexpr int64_t kGemvStagedRowFloats =
    kGemvUnitsPerTile * kGemvStagedUnitFloats;

/// Columns whose words the GEMV layout interleaves. A lane loads 16 bytes at
/// a time: 4 and 8-bit units (4 and 8 words) are whole 16-byte chunks of one
/// column, while a 3-bit unit's 3 words fill none, so 4 columns' word h of a
/// unit form chunk h.
AWQ_CONTRACT int64_t gemvInterleavedColumns(int64_t bits) {
  return bits == 3 ? 4 : 1;
}
/// Words of one column in a 16-byte chunk (4; 1 for 3 bits).
AWQ_CONTRACT int gemvChunkWords(int64_t bits) {
  return static_cast<int>(4 / gemvInterleavedColumns(bits));
}

/// Units of a column that the GEMV layout pairs: in each pair of tiles (64
/// units) the first tile holds the even units and the second the odd ones,
/// so that a lane reads two consecutive units of one group in consecutive
/// tiles and pays the zero point and the scale once for the two
/// (awq/gemv.cuh). Where every pair of units lies in one group (groups of a
/// multiple of 64 values, or one group per column), the column's whole
/// pairs of tiles are paired: the first 64 floor(ceil(K / 32) / 64) units.
/// The rest (fewer than 64: one or two tiles, the last maybe short), and
/// every unit of other layers, keep unit u in slot u % 32 of tile u / 32.
AWQ_CONTRACT int64_t gemvPairedUnits(int64_t k, int64_t group) {
  const int64_t unitsPerPair = 2 * kGemvUnitsPerTile;
  if (group != k && group % (2 * kGemvValuesPerUnit) != 0)
    return 0;
  return ceilDiv(k, kGemvValuesPerUnit) / unitsPerPair * unitsPerPair;
}

/// The unit that slot (lane) `slot` of tile `tile` holds, `paired` the
/// layout's paired units (gemvPairedUnits): 64 p + 2 slot + j for tile
/// 2 p + j below them (gemvPairedSlotUnit), else 32 tile + slot. Templates
/// so that the kernel computes them in 32 bits, choosing the rule at compile
/// time where it knows which applies.
template <class Int> AWQ_CONTRACT Int gemvPairedSlotUnit(Int tile, Int slot) {
  return tile / 2 * (2 * kGemvUnitsPerTile) + 2 * slot + tile % 2;
}
template <class Int> AWQ_CONTRACT Int gemvUnpairedSlotUnit(Int tile, Int slot) {
  return tile * kGemvUnitsPerTile + slot;
}
template <class Int>
AWQ_CONTRACT Int gemvSlotUnit(Int tile, Int slot, Int paired) {
  return tile * kGemvUnitsPerTile < paired ? gemvPairedSlotUnit(tile, slot)
                                           : gemvUnpairedSlotUnit(tile, slot);
}

/// The tile and slot of unit `unit` (the inverse of gemvSlotUnit).
struct GemvUnitPlace {
  int64_t tile, slot;
};
AWQ_CONTRACT GemvUnitPlace gemvUnitPlace(int64_t unit, int64_t paired) {
  const int64_t unitsPerPair = 2 * kGemvUnitsPerTile;
  if (unit < paired)
    return {unit / unitsPerPair * 2 + unit % 2, unit % unitsPerPair / 2};
  return {unit / kGemvUnitsPerTile, unit % kGemvUnitsPerTile};
}

/// Units in tile `tile` of a column of `units` units: 32, or fewer in the
/// last tile. A template so that the kernel computes it in 32 bits.
template <class Int> AWQ_CONTRACT Int gemvTileUnits(Int units, Int tile) {
  const Int rest = units - tile * static_cast<Int>(kGemvUnitsPerTile);
  return rest < static_cast<Int>(kGemvUnitsPerTile)
             ? rest
             : static_cast<Int>(kGemvUnitsPerTile);
}

/// Where word `word` (0..bits-1) of unit `unit` of column `column` sits in
/// the GEMV layout's qweight (`units` units per column; runtime/kernels/
/// GemvLayout.h): columns in groups of gemvInterleavedColumns, each group's
/// units in tiles of 32 (the first `paired` paired: gemvPairedUnits,
/// gemvUnitPlace), a tile's 16-byte chunks chunk-major and slot-minor, so
/// that lane l of a warp reads slot l with one load per chunk.
AWQ_CONTRACT int64_t gemvWordIndex(int64_t column, int64_t unit, int64_t word,
                                   int64_t units, int64_t bits,
                                   int64_t paired) {
  const int64_t interleave = gemvInterleavedColumns(bits);
  const int64_t columnWords = gemvChunkWords(bits);
  const GemvUnitPlace place = gemvUnitPlace(unit, paired);
  const int64_t tileUnits = gemvTileUnits(units, place.tile);
  const int64_t chunk = word / columnWords;
  return column / interleave * interleave * units * bits +
         place.tile * kGemvUnitsPerTile * bits * interleave +
         (chunk * tileUnits + place.slot) * 4 +
         column % interleave * columnWords + word % columnWords;
}

/// Columns of a row (one group) of the GEMV layout's scales and zero points:
/// N padded with zeros to a multiple of 32, so that a warp reads its
/// cols_per_warp consecutive columns (a power of two up to 32) of a group
/// with aligned vector loads.
constexpr int64_t kGemvScaleColumnAlign = 32;
AWQ_CONTRACT int64_t gemvScaleColumns(int64_t n) {
  return roundUp(n, kGemvScaleColumnAlign);
}

/// The GEMV layout's buffers (awq/gemv.cuh; runtime/kernels/GemvLayout.h):
/// each column's K padded to 32-value units of `bits` words, N to a multiple
/// of gemvInterleavedColumns; scales [G, gemvScaleColumns(N)].
AWQ_CONTRACT WeightBuffers gemvBuffers(const LinearShape &s) {
  WeightBuffers b{};
  b.qweightBytes = roundUp(s.n, gemvInterleavedColumns(s.bits)) *
                   ceilDiv(s.k, kGemvValuesPerUnit) * s.bits * 4;
  b.scaleRows = s.groups();
  b.scaleCols = gemvScaleColumns(s.n);
  b.zeros = s.zeroPoint;
  return b;
}

/// The bf16 GEMV's accumulators hold unit sums scaled by 2^-30 2^-U
/// (awq/gemv.cuh, docs/numerics.md "bf16 GEMV"), so a bf16 layer's GEMV
/// layout stores each scale times 2^30 (exact: a power of two; scales of
/// 2^96 or more are refused so that it stays finite) and the kernel needs no
/// multiply per column and tile to undo it.
constexpr int kGemvWideAccumulatorExponent = 30;

/// fp32 slots per row in a GEMV block's shared memory for its 32 units: a
/// unit's sum of x a (fp16), or its sum and power-of-two factor (bf16, whose
/// range needs each unit normalised: awq/gemv.cuh, docs/numerics.md).
AWQ_CONTRACT int64_t gemvUnitSlotFloats(const LinearShape &s) {
  return s.activation == ActivationType::BF16 ? 2 * kGemvUnitsPerTile
                                              : kGemvUnitsPerTile;
}

/// Rows of an m-row launch that block z of the GEMV's row axis computes:
/// chunks of maxRows (GemvGeometry::gridZ of them), the last one shorter.
template <class Int> AWQ_CONTRACT Int gemvChunkRows(Int m, Int z, Int maxRows) {
  return m - z * maxRows < maxRows ? m - z * maxRows : maxRows;
}

/// The row body a GEMV block runs for its chunk's `rows` (at most maxRows,
/// a power of two): the smallest power of two at least `rows`, so one row
/// pays for one.
template <class Int> AWQ_CONTRACT Int gemvBodyRows(Int rows) {
  Int body = 1;
  while (body < rows)
    body *= 2;
  return body;
}

struct GemvParams {
  int64_t threads = 128, colsPerWarp = 8, kSplit = 1, maxRows = 4;
};

struct GemvGeometry {
  int64_t units = 0, tiles = 0, tilesPerSplit = 0, groups = 0,
          unitsPerGroup = 0;
  int64_t warps = 0, colsPerBlock = 0, gridX = 0, gridY = 0, sharedBytes = 0;
  int64_t maxRows = 0, kSplit = 0, n = 0, threads = 0;
  /// Bytes of packed weights, scales and zeros one launch streams.
  int64_t weightBytes = 0;
  /// Units of a column the layout pairs (gemvPairedUnits): whole pairs of
  /// tiles from the first.
  int64_t pairedUnits = 0;
  /// The splits divide the tiles: no block's tile range is short.
  AWQ_CONTRACT bool evenSplits() const {
    return tilesPerSplit > 0 && tiles % tilesPerSplit == 0;
  }
  /// Every block holds an even number of tiles, starting at an even tile:
  /// each iteration of the K loop holds two, and the first always has a
  /// successor to load.
  AWQ_CONTRACT bool pairedTiles() const {
    return evenSplits() && tilesPerSplit % 2 == 0;
  }
  /// Tiles that hold paired units: [0, pairedTileEnd()).
  AWQ_CONTRACT int64_t pairedTileEnd() const {
    return pairedUnits / kGemvUnitsPerTile;
  }
  /// The one-row body sums each lane's two units of a tile pair before it
  /// subtracts the zero point and applies the scale, once for both, and
  /// stages both tiles of an iteration at once (awq/gemv.cuh): where the
  /// layout pairs units and blocks start at even tiles (or one block holds
  /// every tile), so that a block's paired tiles are whole pairs. The
  /// unpaired tiles after them (at most two: tailTiles) lie in the last
  /// block, which computes them one by one after its loop. (Bodies of
  /// several rows would keep twice their sums live at their register
  /// limit.)
  AWQ_CONTRACT bool pairRuns() const {
    return pairedUnits > 0 &&
           (tilesPerSplit % 2 == 0 || tilesPerSplit >= tiles);
  }
  /// Tiles after the paired ones.
  AWQ_CONTRACT int64_t tailTiles() const { return tiles - pairedTileEnd(); }
  /// Rows of staged x (and unit slots) in shared memory: one per row of a
  /// block, at least two where the one-row body stages two tiles at once.
  AWQ_CONTRACT int64_t stagedRows() const {
    return pairRuns() && maxRows < 2 ? 2 : maxRows;
  }
  AWQ_CONTRACT int64_t gridZ(int64_t m) const { return ceilDiv(m, maxRows); }
  /// fp32 split-K workspace elements for m rows (zeroed; 0 without split-K).
  AWQ_CONTRACT int64_t workspaceFloats(int64_t m) const {
    return kSplit > 1 ? m * n : 0;
  }
  /// Split-K arrival counters for m rows (zeroed; 0 without split-K).
  AWQ_CONTRACT int64_t counterCount(int64_t m) const {
    return kSplit > 1 ? gridX * gridZ(m) : 0;
  }
};

AWQ_CONTRACT GemvGeometry gemvGeometry(const LinearShape &s,
                                       const GemvParams &p) {
  GemvGeometry g{};
  g.units = ceilDiv(s.k, kGemvValuesPerUnit);
  g.tiles = ceilDiv(g.units, kGemvUnitsPerTile);
  g.tilesPerSplit = p.kSplit > 0 ? ceilDiv(g.tiles, p.kSplit) : 0;
  g.groups = s.groups();
  g.unitsPerGroup = s.group == s.k ? g.units : s.group / kGemvValuesPerUnit;
  g.warps = p.threads / 32;
  g.colsPerBlock = g.warps * p.colsPerWarp;
  g.gridX = g.colsPerBlock > 0 ? ceilDiv(s.n, g.colsPerBlock) : 0;
  g.gridY = p.kSplit;
  g.maxRows = p.maxRows;
  g.pairedUnits = gemvPairedUnits(s.k, s.group);
  // Staged x and unit slots, and the split-K "last" flag.
  g.sharedBytes =
      (g.stagedRows() * (kGemvStagedRowFloats + gemvUnitSlotFloats(s)) + 4) * 4;
  g.kSplit = p.kSplit;
  g.n = s.n;
  g.threads = p.threads;
  g.weightBytes = gemvBuffers(s).totalBytes();
  return g;
}

/// Tiles per iteration of the K loop of a block with several tiles: two
/// register buffers trade roles (one computed while the next tile loads into
/// the other), so an iteration covers two tiles and no register is copied.
/// With exactly two tiles the loop runs once; the kernel caps its bound by
/// the grid's last tile, which no compiler can fold, so that it stays a loop
/// on every target, one awq-kernel-stats can find and count.
AWQ_CONTRACT int64_t gemvTilesPerIteration(const GemvGeometry &g) {
  return g.tilesPerSplit >= 2 ? 2 : 1;
}

/// Whether the one-row body of the GEMV `p` for `s` pays the zero point
/// and the scale once per pair of units (GemvGeometry::pairRuns).
AWQ_CONTRACT bool gemvPairsRuns(const LinearShape &s, const GemvParams &p) {
  return gemvGeometry(s, p).pairRuns();
}

/// The most dynamic shared memory a GEMV block uses without opting in.
constexpr int64_t kGemvMaxSharedBytes = 48 * 1024;

/// Why `p` is not a valid GEMV launch shape for any layer, or nullptr.
AWQ_CONTRACT const char *gemvParamsViolation(const GemvParams &p) {
  if (p.threads < 32 || p.threads > 1024 || p.threads % 32 != 0)
    return "threads must be a multiple of 32 up to 1024";
  if (p.colsPerWarp < 1 || (p.colsPerWarp & (p.colsPerWarp - 1)) != 0 ||
      p.colsPerWarp > 32)
    return "cols_per_warp must be a power of two up to 32";
  if (p.maxRows != 1 && p.maxRows != 2 && p.maxRows != 4 && p.maxRows != 8)
    return "max_rows must be 1, 2, 4 or 8";
  if (p.colsPerWarp * p.maxRows > 32)
    return "cols_per_warp x max_rows must be at most 32 (one warp "
           "reduce-scatter holds every sum)";
  if (p.kSplit < 1 || p.kSplit > kMaxFeatures / kGemvValuesPerTile)
    return "k_split must be at least 1 and at most one split per K tile";
  return nullptr;
}

/// Why `p` is not a valid GemvConfig for `s`, or nullptr.
AWQ_CONTRACT const char *gemvViolation(const LinearShape &s,
                                       const GemvParams &p) {
  if (const char *why = linearViolation(s))
    return why;
  if (const char *why = gemvParamsViolation(p))
    return why;
  if (p.colsPerWarp % gemvInterleavedColumns(s.bits) != 0)
    return "3-bit weights interleave 4 columns: cols_per_warp must be a "
           "multiple of 4";
  if (s.siluMul && p.colsPerWarp % 2 != 0)
    return "silu_mul needs an even cols_per_warp (gate and up columns of a "
           "pair stay in one warp)";
  const int64_t tiles =
      ceilDiv(ceilDiv(s.k, kGemvValuesPerUnit), kGemvUnitsPerTile);
  if (p.kSplit > tiles || (p.kSplit - 1) * ceilDiv(tiles, p.kSplit) >= tiles)
    return "k_split must leave every split at least one 1024-value K tile";
  if (gemvGeometry(s, p).sharedBytes > kGemvMaxSharedBytes)
    return "the staged activations exceed 48 KB of shared memory";
  return nullptr;
}

//===----------------------------------------------------------------------===//
// GEMM (awq/gemm.cuh) and its fragment weight layout
//===----------------------------------------------------------------------===//

/// K rows and N columns of one fragment packet (two m16n8k16 K steps, eight
/// N tiles), and its bytes (32 lanes x 64 values).
constexpr int64_t kGemmPacketK = 32;
constexpr int64_t kGemmPacketN = 64;
AWQ_CONTRACT int64_t gemmPacketBytes(int64_t bits) { return 256 * bits; }
/// The layout pads K to this (the largest K tile) and N to a packet.
constexpr int64_t kGemmKAlign = 128;
/// Activation rows are copied in 16-byte chunks.
constexpr int64_t kGemmKMultiple = 8;

/// Group rows the GEMM layout stores (1 with one group per column).
AWQ_CONTRACT int64_t gemmScaleRows(int64_t k, int64_t group) {
  return group == k ? 1 : ceilDiv(roundUp(k, kGemmKAlign), group);
}

/// The GEMM layout's buffers (awq/gemm.cuh; runtime/kernels/GemmLayout.h):
/// K padded to 128 and N to a 64-column packet; scales [group rows, N padded].
AWQ_CONTRACT WeightBuffers gemmBuffers(const LinearShape &s) {
  WeightBuffers b{};
  b.scaleCols = roundUp(s.n, kGemmPacketN);
  b.qweightBytes = roundUp(s.k, kGemmKAlign) * b.scaleCols * s.bits / 8;
  b.scaleRows = gemmScaleRows(s.k, s.group);
  b.zeros = s.zeroPoint;
  return b;
}

struct GemmParams {
  int64_t tileM = 64, tileN = 128, tileK = 64, warpsM = 2, warpsN = 2;
  int64_t stages = 3, splitK = 1;
};

/// K splits of a GEMM launch of `m` rows planned for `splitK`:
/// max(1, splitK / ceil(m / tileM)) (GemmGeometry::gridZ says why).
AWQ_CONTRACT int64_t gemmSplits(int64_t splitK, int64_t tileM, int64_t m) {
  const int64_t splits = splitK / ceilDiv(m, tileM);
  return splits > 1 ? splits : 1;
}

struct GemmGeometry {
  int64_t kPadded = 0, kTiles = 0, groupEff = 0, tilesPerChunk = 0,
          chunkRows = 0;
  int64_t threads = 0, gridX = 0, sharedBytes = 0;
  int64_t tileM = 0, splitK = 0, n = 0;
  /// Bytes of packed weights, scales and zero terms one launch streams.
  int64_t weightBytes = 0;
  AWQ_CONTRACT int64_t gridY(int64_t m) const { return ceilDiv(m, tileM); }
  /// K splits of a launch of M rows (grid z): the planned split_k while
  /// one M tile leaves the GPU short of blocks, divided among the M tiles
  /// as they grow (max(1, split_k / gridY)), so the grid keeps about the
  /// planned number of blocks and a long prompt does not pay the split-K
  /// workspace traffic a single decode row needs.
  AWQ_CONTRACT int64_t gridZ(int64_t m) const {
    return gemmSplits(splitK, tileM, m);
  }
  AWQ_CONTRACT int64_t workspaceFloats(int64_t m) const {
    return gridZ(m) > 1 ? m * n : 0;
  }
  AWQ_CONTRACT int64_t counterCount(int64_t m) const {
    return gridZ(m) > 1 ? gridY(m) * gridX : 0;
  }
};

AWQ_CONTRACT GemmGeometry gemmGeometry(const LinearShape &s,
                                       const GemmParams &p) {
  GemmGeometry g{};
  g.kPadded = p.tileK > 0 ? roundUp(s.k, p.tileK) : 0;
  g.kTiles = p.tileK > 0 ? g.kPadded / p.tileK : 0;
  g.groupEff = s.group == s.k ? g.kPadded : s.group;
  g.tilesPerChunk =
      g.groupEff >= p.tileK && p.tileK > 0 ? g.groupEff / p.tileK : 1;
  g.chunkRows =
      g.groupEff >= p.tileK || g.groupEff <= 0 ? 1 : p.tileK / g.groupEff;
  g.threads = 32 * p.warpsM * p.warpsN;
  const int64_t aBytes = p.tileM * p.tileK * 2;
  const int64_t bBytes = (p.tileN / kGemmPacketN) * (p.tileK / kGemmPacketK) *
                         gemmPacketBytes(s.bits);
  const int64_t actBytes = s.actScale ? p.tileK * 2 : 0;
  const int64_t scaleSlotBytes =
      g.chunkRows * p.tileN * 2 * (s.zeroPoint ? 2 : 1);
  // The last 16 bytes hold the split-K "last block" flag.
  g.sharedBytes = p.stages * (aBytes + bBytes + actBytes + scaleSlotBytes) + 16;
  g.gridX = p.tileN > 0 ? ceilDiv(s.n, p.tileN) : 0;
  g.tileM = p.tileM;
  g.splitK = p.splitK;
  g.n = s.n;
  g.weightBytes = gemmBuffers(s).totalBytes();
  return g;
}

/// Rows of the GEMM's small-M body, or 0 when the tiling has none.
///
/// A launch of at most 16 rows fills one m16 MMA tile. Run by the row
/// split, the WarpsM warps that share a column range would each dequantize
/// the same weights and feed them to TileM / WarpsM / 16 MMA tiles of
/// padding. The small body instead gives each of them a contiguous share of
/// every K tile's 32-row packets (the tile's packets must divide evenly),
/// so a weight is dequantized once per block and meets one m16 tile; the
/// warps' partial sums are added through shared memory after the K loop,
/// in the pipeline's space ((WarpsM - 1) x TileN x 64 bytes, which must
/// fit).
AWQ_CONTRACT int64_t gemmSmallBodyRows(const LinearShape &s,
                                       const GemmParams &p) {
  if (p.warpsM < 2 || (p.tileK / kGemmPacketK) % p.warpsM != 0)
    return 0;
  const int64_t reductionBytes = (p.warpsM - 1) * p.tileN * 64;
  return reductionBytes <= gemmGeometry(s, p).sharedBytes - 16 ? 16 : 0;
}

/// Whether a launch of m rows runs the small-M body (gemmSmallBodyRows:
/// `smallRows`, 0 without one) rather than the row split.
AWQ_CONTRACT bool gemmRunsSmallBody(int64_t m, int64_t smallRows) {
  return smallRows > 0 && m <= smallRows;
}

/// How each family turns packed integers into arithmetic values (the names
/// of the IR's DequantKind): the GEMV decodes through fp32 subnormals, the
/// GEMM through fp16 magic numbers with lop3 (4 bits), prmt (8 bits) or bit
/// planes (3 bits).
AWQ_CONTRACT const char *gemvDequantName(int /*bits*/) {
  return "fp32_subnormal";
}
AWQ_CONTRACT const char *gemmDequantName(int bits) {
  return bits == 3 ? "fp16_magic_planes"
                   : (bits == 8 ? "fp16_magic_prmt" : "fp16_magic_lop3");
}

/// The most shared memory any supported GPU gives one block (sm_90).
constexpr int64_t kGemmMaxSharedBytes = 227 * 1024;

/// Why `p` is not a valid GEMM tiling for any layer, or nullptr.
AWQ_CONTRACT const char *gemmParamsViolation(const GemmParams &p) {
  if (p.tileK != 32 && p.tileK != 64 && p.tileK != 128)
    return "tile_k must be 32, 64 or 128 (the weight layout pads K to 128)";
  if (p.warpsM < 1 || p.warpsN < 1 || p.warpsM > 16 || p.warpsN > 16 ||
      p.warpsM * p.warpsN > 16)
    return "warps_m x warps_n must be 1 to 16 warps";
  if (p.tileM <= 0 || p.tileM > 256 || p.tileM % (16 * p.warpsM) != 0)
    return "tile_m must be a multiple of 16 x warps_m (whole m16 mma tiles "
           "per warp), at most 256";
  if (p.tileN <= 0 || p.tileN > 512 || p.tileN % (64 * p.warpsN) != 0)
    return "tile_n must be a multiple of 64 x warps_n (whole 64-column weight "
           "packets per warp), at most 512";
  if (p.stages < 2 || p.stages > 4)
    return "stages must be 2, 3 or 4";
  if (p.splitK < 1 || p.splitK > kMaxFeatures / 32)
    return "split_k must be at least 1 and at most one split per K tile";
  return nullptr;
}

/// Why `p` is not a valid GemmConfig for `s`, or nullptr. (Whether the
/// shared memory fits a given architecture is the ArchInfo's question.)
AWQ_CONTRACT const char *gemmViolation(const LinearShape &s,
                                       const GemmParams &p) {
  if (const char *why = linearViolation(s))
    return why;
  if (s.k % kGemmKMultiple != 0)
    return "the GEMM kernel needs K to be a multiple of 8 (activation rows "
           "are copied in 16-byte chunks)";
  if (const char *why = gemmParamsViolation(p))
    return why;
  if (!(s.group == s.k || s.group % p.tileK == 0 || p.tileK % s.group == 0))
    return "tile_k and the group size must divide one another";
  const GemmGeometry g = gemmGeometry(s, p);
  if (p.splitK > g.kTiles)
    return "split_k must be at most the number of K tiles";
  if (g.sharedBytes > kGemmMaxSharedBytes)
    return "the tiles need more shared memory than any supported GPU has "
           "(227 KB)";
  return nullptr;
}

//===----------------------------------------------------------------------===//
// GPU architectures
//===----------------------------------------------------------------------===//

/// What awqc knows of one GPU architecture: its limits, the features the
/// kernels depend on, and the representative part whose SM count the
/// compiler plans for when the GPU is not known (the runtime re-plans with
/// the SM count of the device it finds).
struct ArchInfo {
  int smVersion;            ///< 75, 80, 86, ... (compute capability x 10).
  int64_t smCount;          ///< SMs of the representative part.
  int64_t maxSharedBytes;   ///< Dynamic shared memory a block may opt in to.
  int64_t sharedBytesPerSm; ///< Shared memory of one SM.
  int64_t maxThreadsPerSm;  ///< Resident threads per SM.
  int64_t maxBlocksPerSm;   ///< Resident blocks per SM.
  /// FP32 FFMA lanes per SM per clock: 64 on sm_80 (GA100), 128 from sm_86
  /// on (the second FP32 datapath); the report's FMA pipe bound.
  int64_t fp32LanesPerSm;
  /// cp.async and the L2 cache-policy loads (createpolicy, .L2::cache_hint),
  /// both sm_80+. Without them the GEMM stages its tiles through registers
  /// with plain 16-byte loads and the loads carry no L2 hint.
  bool asyncCopy;
  /// mma.sync m16n8k16 f16 (sm_80+). Without it the GEMM issues each as two
  /// m16n8k8 (sm_75+, like ldmatrix).
  bool mmaM16N8K16;
  /// bf16 mma.sync and bf16x2 arithmetic (sm_80+): bf16 activations.
  bool bf16Arithmetic;
  bool archSpecificFeatures; ///< Has an `a` target (sm_90a, ...).
  const char *part;          ///< The representative part.
};

/// The targets NVRTC 13 knows from sm_75 to sm_121 that have a public part
/// (figures from the CUDA programming guide's compute-capability tables and
/// the parts' data sheets; sm_88 has no public part and is left out).
inline constexpr ArchInfo kArchTable[] = {
    {75, 40, 64 * 1024, 64 * 1024, 1024, 16, 64, false, false, false, false,
     "Tesla T4"},
    {80, 108, 163 * 1024, 164 * 1024, 2048, 32, 64, true, true, true, false,
     "A100 SXM"},
    {86, 84, 99 * 1024, 100 * 1024, 1536, 16, 128, true, true, true, false,
     "RTX 3090 Ti"},
    {87, 16, 163 * 1024, 164 * 1024, 1536, 16, 128, true, true, true, false,
     "Jetson AGX Orin"},
    {89, 128, 99 * 1024, 100 * 1024, 1536, 24, 128, true, true, true, false,
     "RTX 4090"},
    {90, 132, 227 * 1024, 228 * 1024, 2048, 32, 128, true, true, true, true,
     "H100 SXM"},
    {100, 148, 227 * 1024, 228 * 1024, 2048, 32, 128, true, true, true, true,
     "B200"},
    {103, 148, 227 * 1024, 228 * 1024, 2048, 32, 128, true, true, true, true,
     "B300"},
    {110, 20, 227 * 1024, 228 * 1024, 2048, 32, 128, true, true, true, true,
     "Jetson Thor"},
    {120, 170, 99 * 1024, 100 * 1024, 1536, 24, 128, true, true, true, true,
     "RTX 5090"},
    {121, 48, 99 * 1024, 100 * 1024, 1536, 24, 128, true, true, true, true,
     "DGX Spark"},
};

/// Per-SM facts shared by every architecture of the table (sm_75 to sm_121,
/// CUDA programming guide, "Technical Specifications per Compute
/// Capability"): 64K 32-bit registers, allocated per warp in units of 256;
/// 1 KB of shared memory reserved per resident block.
constexpr int64_t kRegistersPerSm = 65536;
constexpr int64_t kRegisterAllocationUnit = 256;
constexpr int64_t kReservedSharedBytesPerBlock = 1024;
/// Shared memory is allocated to a block in units of this many bytes.
constexpr int64_t kSharedAllocationUnit = 128;

/// Registers one GEMV thread needs (awq/gemv.cuh), estimated from what stays
/// live: the weight words (twice with the register prefetch of multi-tile
/// blocks), the per-unit and running sums, a staged x quad per row, and for
/// addresses, indices and constants ~32 (~24 in a one-row body). Per column,
/// a quad of decoded fields is shared by the rows, so several rows keep it
/// live (4); one row consumes it as it is made, and scales and zero points
/// are packed two per word (2). It bounds what ptxas used without spills on
/// sm_75..sm_120 for the configs in test/unit/device/GemvCompileTest.cpp;
/// the 4-bit one-row GEMV fits 128 registers (16 warps per SM).
AWQ_CONTRACT int64_t gemvRegisterBudget(const LinearShape &s,
                                        const GemvParams &p) {
  const bool prefetch = gemvGeometry(s, p).tilesPerSplit > 1;
  return (p.maxRows == 1 ? 24 : 32) +
         p.colsPerWarp * (s.bits * (prefetch ? 2 : 1) + 2 * p.maxRows +
                          (p.maxRows == 1 ? 2 : 4)) +
         4 * p.maxRows;
}

/// GEMV blocks of `p` one SM's registers hold by gemvRegisterBudget (the
/// allocation rounded up to 8 registers per thread), at least 1 and at most
/// 16 (sm_86/89's block limit).
AWQ_CONTRACT int64_t gemvBlocksForBudget(const LinearShape &s,
                                         const GemvParams &p) {
  const int64_t perThread = roundUp(gemvRegisterBudget(s, p), 8);
  const int64_t blocks = kRegistersPerSm / (p.threads * perThread);
  return blocks < 1 ? 1 : (blocks > 16 ? 16 : blocks);
}

/// The architecture with compute capability `smVersion` x 10, or nullptr.
AWQ_CONTRACT const ArchInfo *findArch(int smVersion) {
  for (const ArchInfo &arch : kArchTable)
    if (arch.smVersion == smVersion)
      return &arch;
  return nullptr;
}

/// The oldest architecture the kernels serve: ldmatrix and mma.sync m16n8k8
/// (both sm_75+) are the least the GEMM needs.
constexpr int kMinSmVersion = 75;

/// Why the kernels cannot run on `arch` at all, or nullptr.
AWQ_CONTRACT const char *archViolation(const ArchInfo &arch) {
  if (arch.smVersion < kMinSmVersion)
    return "the kernels need sm_75 or newer (ldmatrix and mma.sync m16n8k8)";
  return nullptr;
}

/// Why no kernel for `shape` can run on `arch` (which archViolation
/// accepts), or nullptr: bf16 needs the bf16 mma.sync and bf16x2 arithmetic.
AWQ_CONTRACT const char *activationViolation(const LinearShape &shape,
                                             const ArchInfo &arch) {
  if (shape.activation == ActivationType::BF16 && !arch.bf16Arithmetic)
    return "bf16 activations need sm_80 or newer (bf16 mma.sync and bf16x2 "
           "arithmetic); this layer's checkpoint is bf16";
  return nullptr;
}

/// The index in kArchTable of the entry whose features code compiled for
/// compute capability `smVersion` x 10 may use: the newest entry at or below
/// it (an architecture the table lacks, such as sm_88, has its
/// predecessor's features), or -1 below the table. An index, not a pointer:
/// GCC's sanitizers make address comparisons non-constant, and the kernels
/// evaluate this in constant expressions.
AWQ_CONTRACT int featureIndexOf(int smVersion) {
  int best = -1, index = 0;
  for (const ArchInfo &arch : kArchTable) {
    if (arch.smVersion <= smVersion &&
        (best < 0 || arch.smVersion > kArchTable[best].smVersion))
      best = index;
    ++index;
  }
  return best;
}

/// The entry featureIndexOf names, or nullptr below the table.
AWQ_CONTRACT const ArchInfo *featuresOf(int smVersion) {
  const int index = featureIndexOf(smVersion);
  return index < 0 ? nullptr : &kArchTable[index];
}

/// Resident blocks one SM of `arch` holds by shared memory alone, for
/// blocks of `sharedBytes` (static and dynamic). Registers are known only
/// after compilation (compiler/kernelstats counts them too).
AWQ_CONTRACT int64_t blocksPerSmByShared(const ArchInfo &arch,
                                         int64_t sharedBytes) {
  return arch.sharedBytesPerSm /
         roundUp(sharedBytes + kReservedSharedBytesPerBlock,
                 kSharedAllocationUnit);
}

/// Resident blocks one SM of `arch` holds by every limit known before
/// compilation: shared memory, threads and the block limit (registers
/// may allow fewer; compiler/kernelstats counts them).
AWQ_CONTRACT int64_t blocksPerSmBeforeRegisters(const ArchInfo &arch,
                                                int64_t threads,
                                                int64_t sharedBytes) {
  const int64_t byShared = blocksPerSmByShared(arch, sharedBytes);
  const int64_t byThreads = arch.maxThreadsPerSm / roundUp(threads, 32);
  const int64_t fewer = byShared < byThreads ? byShared : byThreads;
  return fewer < arch.maxBlocksPerSm ? fewer : arch.maxBlocksPerSm;
}

/// 16-byte chunks one GEMM thread moves per K tile: its share of the
/// activation, weight, activation-scale and scale/zero copies (awq/gemm.cuh's
/// GemmBlock). Without cp.async it holds them all in registers at once.
AWQ_CONTRACT int64_t gemmStagedChunks(const LinearShape &s,
                                      const GemmParams &p) {
  const int64_t threads = 32 * p.warpsM * p.warpsN;
  const GemmGeometry g = gemmGeometry(s, p);
  const int64_t scaleChunks =
      (s.zeroPoint ? 2 : 1) * g.chunkRows * (p.tileN / 8);
  return ceilDiv(p.tileM * p.tileK / 8, threads) +
         ceilDiv((p.tileN / kGemmPacketN) * (p.tileK / kGemmPacketK) *
                     gemmPacketBytes(s.bits) / 16,
                 threads) +
         (s.actScale ? 1 : 0) + ceilDiv(scaleChunks, threads);
}

/// The most 16-byte chunks a GEMM thread stages in registers without
/// cp.async: the planned sm_75 tilings need 7 or 8; more, next to the
/// accumulators of 64-row warp tiles, spill.
constexpr int64_t kGemmMaxStagedChunks = 8;

/// Why the GEMM tiling `p` for `s` cannot run on `arch` (its shared memory,
/// or without cp.async its register staging), or nullptr.
AWQ_CONTRACT const char *gemmArchViolation(const LinearShape &s,
                                           const GemmParams &p,
                                           const ArchInfo &arch) {
  if (gemmGeometry(s, p).sharedBytes > arch.maxSharedBytes)
    return "the tiles need more shared memory than a block may use on this "
           "architecture";
  if (!arch.asyncCopy && gemmStagedChunks(s, p) > kGemmMaxStagedChunks)
    return "without cp.async each thread stages its share of a K tile in "
           "registers, at most 8 16-byte chunks: use fewer rows or K values "
           "per tile, or more warps";
  return nullptr;
}

/// K tiles of weights a GEMM block has requested ahead of use: the Stages - 1
/// tiles of the cp.async ring, or, without cp.async, the one tile staged in
/// registers (a deeper ring would hold no more in flight).
AWQ_CONTRACT int64_t gemmTilesInFlight(const GemmParams &p,
                                       const ArchInfo &arch) {
  return arch.asyncCopy ? p.stages - 1 : 1;
}

} // namespace awq

#endif // AWQ_DEVICE_CONTRACT_H
