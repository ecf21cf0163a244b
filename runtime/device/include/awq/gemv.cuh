//===- gemv.cuh - CUDA-core quantized GEMV for small batches (M = 1..~8) --===//
//
// y[m, :] = epilogue(x[m, :] * a . W + bias) for a 3/4/8-bit grouped weight
// in the GEMV layout of runtime/kernels/GemvLayout.h. At small M the layer
// is memory-bound: the kernel's job is to stream the packed weights once at
// close to DRAM bandwidth and keep the arithmetic per weight below the issue
// budget. See docs/kernels.md ("GEMV") for the full design discussion.
//
// Work decomposition
//   K is cut into units of 32 values; 32 units (1024 values) form a tile:
//   32 consecutive units, or in the paired tiles of a layout the even or the
//   odd units of 64 (awq::gemvPairedUnits: every whole pair of tiles where
//   groups allow; one or two tail tiles stay unpaired). A block has kWarps
//   warps; warp w owns kColsPerWarp consecutive columns, and in each tile
//   lane L reads slot L (one unit) of each of its columns:
//   16-byte loads (4 bits: one, 8 bits: two; 3 bits: three 4-byte loads), all
//   lanes of a warp together reading 512 contiguous bytes per load. A block
//   covers kColsPerBlock columns and a range of tiles; blockIdx.y splits the
//   tiles (split-K) and blockIdx.z takes rows in chunks of MaxRows.
//
// Per tile
//   1. The block stages x[m, tile] * a into dynamic shared memory as fp32,
//      each value pre-multiplied by 2^(85 - p) for its field offset p (see
//      awq/dequant.cuh), plus the per-unit sums of x * a. Each unit's 32
//      values are padded to 36 (kGemvStagedUnitFloats), so the 32 lanes (32
//      different units) read shared memory without bank conflicts and
//      without per-access address arithmetic.
//   2. Each lane decodes its unit with about one integer op per weight
//      (ANDs on the integer pipe, shifts as multiply highs on the FMA pipe)
//      into fp32 subnormals q * 2^(p-149) and accumulates sum x a q (scaled
//      by 2^-64) with one FMA per weight and row; the zero point and the
//      group scale come once per unit: out += (acc - z * sum(x a)) * s, out
//      keeping the 2^-64 scale of acc until the block's sums are reduced.
//      Where the layout pairs units (tile 2p + j holds units 64p + 2l + j:
//      awq::gemvPairedUnits) a one-row body stages both tiles of an
//      iteration at once, sums each slot's two units together and pays z
//      and s once per pair (kPairRuns; bf16 normalises the pair as one); the
//      last block computes the unpaired tail tiles after its loop
//      (computeTail).
//   bf16 (Activation = BF16): bf16's range (2^-133 .. 2^128) does not fit the
//   fixed 2^(85 - p) prescale, so step 1 also normalises each (row, unit) by
//   a power of two 2^U (from its sum of |x|, largest |a| and |x a|), stages
//   t = x a 2^-U times 2^(119 - p) and keeps 2^U next to the unit sum; step
//   2 adds ((acc - z * sum) * 2^U) * s 2^30, the layout storing s 2^30.
//   docs/numerics.md ("bf16 GEMV") has the bound and the limits.
//   The next tile's weights are loaded into registers before the current
//   tile is computed (two register buffers that trade roles, so the K loop
//   covers two tiles per iteration and copies nothing), and the loads carry
//   an L2 evict-first hint: weights are read exactly once. Loads take no
//   branch: lanes and columns past the layer's end read valid weights that
//   add nothing or are never stored (GemvWarpColumns).
//
// Finish
//   A warp reduce-scatter (31 shuffles for 32 sums) leaves each (row, column)
//   total in one lane. Without split-K that lane applies bias, SiLU-and-
//   multiply (gate/up columns are interleaved 2j, 2j+1) and the residual and
//   writes fp16 or bf16 (round to nearest even). With split-K lanes atomically
//   add into the fp32 workspace; the block that arrives last at the tile's
//   counter (threadfence reduction) runs the epilogue, and clears the workspace
//   and the counter so the next launch starts from zero.
//
// Expected bandwidth fraction
//   About 2.7 instructions per 4-bit weight at M = 1 (one AND or multiply
//   high per field and one more per word, one FMA, one 16-byte x load per 4
//   weights shared by the warp's columns, per-unit scale work, x staging),
//   +1.1 per extra row (awq-kernel-stats counts 2.41-2.47 today).
//   At H100 peak bandwidth that is ~59% of the issue budget at M = 1, ~83%
//   at M = 2, so the kernel is memory-bound there and should reach the
//   achievable streaming bandwidth (~90% of peak) on large layers, less on
//   small ones where launch latency and wave tails dominate (4096 x 4096 is
//   2.6 us of transfer). From M = 4 it is issue-bound (~75-80% of the
//   bandwidth limit). Estimates, not yet measured on a GPU.
//
// Launch: grid (kGridX, kGridY, gridZ(M)), block kThreads, dynamic shared
// memory kSharedBytes (< 48 KB, no attribute needed). x and actScale must be
// 16-byte aligned when K % 8 == 0 (vector loads of activations).
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_DEVICE_GEMV_CUH
#define AWQ_DEVICE_GEMV_CUH

#include "awq/contract.h"
#include "awq/dequant.cuh"
#include "awq/linear_args.cuh"
#include "awq/platform.cuh"
#include "awq/primitives.cuh"

#if !defined(__CUDACC_RTC__)
#include <cmath>
#include <cstddef>
#endif

namespace awq {

/// bf16 staging (detail::stageTileWide): each (row, unit)'s x a, normalised
/// by a power of two 2^U into t with |t| < 2^8, is staged as t 2^(119 - p),
/// so its product with a decoded field q 2^(p - 149) is t q 2^-30: normal
/// for t q >= 2^-96, and the staged value stays below 2^127.
constexpr int kGemvWidePrescaleExponent = 119;
static_assert(149 - kGemvWidePrescaleExponent == kGemvWideAccumulatorExponent,
              "the staged t 2^(119 - p) times q 2^(p - 149) is t q 2^-30, the "
              "accumulators' scale (awq/contract.h) that the bf16 layout's "
              "scales undo");

/// Compile-time description of one GEMV kernel. Every shape, group and tile
/// parameter is a template constant so the compiler can fold all indexing.
///   K, N            input features and (merged) weight columns
///   Bits            3, 4 or 8
///   GroupSize       a multiple of 32, or K for one group per column
///   HasZeroPoint    false: symmetric, z = 2^(Bits-1) and args.zeros unused
///   ThreadsPerBlock a multiple of 32, at most 1024
///   ColsPerWarp     columns per warp (power of two; even with SiluMul)
///   KSplit          blocks along K per column tile (1: no workspace)
///   MaxRows         rows per block (1, 2, 4 or 8); ColsPerWarp * MaxRows <= 32
///   HasActScale     multiply x by args.actScale[k]
///   HasBias         add args.bias[n]
///   HasResidual     add args.residual[m, j] after the activation
///   SiluMul         y[m, j] = silu(v[m, 2j]) * v[m, 2j+1], Nout = N / 2
///   Activation      the element type of x, y and the 16-bit parameters
template <int K, int N, int Bits, int GroupSize, bool HasZeroPoint,
          int ThreadsPerBlock, int ColsPerWarp, int KSplit, int MaxRows,
          bool HasActScale, bool HasBias, bool HasResidual, bool SiluMul,
          ActivationType Activation = ActivationType::F16>
struct GemvConfig {
  /// The layer and launch shape as the kernel contract (awq/contract.h)
  /// states them; every rule and derived constant below comes from there.
  static constexpr LinearShape kShape{
      K,           N,       Bits,        GroupSize, HasZeroPoint,
      HasActScale, HasBias, HasResidual, SiluMul,   Activation};
  static constexpr GemvParams kParams{ThreadsPerBlock, ColsPerWarp, KSplit,
                                      MaxRows};
  static_assert(gemvViolation(kShape, kParams) == nullptr,
                "GemvConfig breaks the kernel contract: awq::gemvViolation "
                "(awq/contract.h) names the rule");
  static constexpr GemvGeometry kGeometry = gemvGeometry(kShape, kParams);

  static constexpr int kK = K;
  static constexpr int kN = N;
  static constexpr int kBits = Bits;
  static constexpr int kGroupSize = GroupSize;
  static constexpr bool kHasZeroPoint = HasZeroPoint;
  static constexpr int kThreads = ThreadsPerBlock;
  static constexpr int kColsPerWarp = ColsPerWarp;
  static constexpr int kKSplit = KSplit;
  static constexpr int kMaxRows = MaxRows;
  static constexpr bool kHasActScale = HasActScale;
  static constexpr bool kHasBias = HasBias;
  static constexpr bool kHasResidual = HasResidual;
  static constexpr bool kSiluMul = SiluMul;
  static constexpr ActivationType kActivation = Activation;
  /// The element type of every 16-bit buffer (half or __nv_bfloat16).
  using Element = typename ActivationTraits<Activation>::Element;

  /// Output columns.
  static constexpr int kNout = SiluMul ? N / 2 : N;
  /// 32-value units per column (K padded up to a multiple of 32), tiles of
  /// 32 units, tiles per split, groups per column and units per group.
  static constexpr int kUnits = static_cast<int>(kGeometry.units);
  static constexpr int kTiles = static_cast<int>(kGeometry.tiles);
  static constexpr int kTilesPerSplit =
      static_cast<int>(kGeometry.tilesPerSplit);
  /// K fills whole tiles: every value of a tile below kTiles is inside K.
  static constexpr bool kWholeTilesOfK = K % kGemvValuesPerTile == 0;
  /// The splits divide the tiles: no block's tile range is short.
  static constexpr bool kEvenSplits = kGeometry.evenSplits();
  /// Every block holds whole pairs of tiles (GemvGeometry::pairedTiles).
  static constexpr bool kPairedTiles = kGeometry.pairedTiles();
  /// Units the layout pairs (awq::gemvPairedUnits): below them slot l of
  /// tiles 2p and 2p + 1 holds units 64p + 2l and 64p + 2l + 1, of one
  /// group. They fill tiles [0, kPairedTileEnd), whole and inside K.
  static constexpr int kPairedUnits = static_cast<int>(kGeometry.pairedUnits);
  static constexpr int kPairedTileEnd =
      static_cast<int>(kGeometry.pairedTileEnd());
  static constexpr bool kPairedInsideK =
      static_cast<long long>(kPairedUnits) * kGemvValuesPerUnit <= K;
  /// Unpaired tiles after the paired ones, which a one-row body with runs
  /// computes after its loop (GemvGeometry::tailTiles): 0, 1 or 2.
  static constexpr int kTailTiles = static_cast<int>(kGeometry.tailTiles());
  /// The one-row body pays the zero point and the scale once per pair of
  /// units, staging both tiles of an iteration at once
  /// (GemvGeometry::pairRuns).
  static constexpr bool kPairRuns = kGeometry.pairRuns();
  /// Rows of staged x (and unit slots) shared memory holds: one per row,
  /// and two for a one-row body that stages two tiles at once.
  static constexpr int kStagedRows = static_cast<int>(kGeometry.stagedRows());
  /// Tiles per iteration of the K loop (awq::gemvTilesPerIteration).
  static constexpr int kTilesPerIteration =
      static_cast<int>(gemvTilesPerIteration(kGeometry));
  static constexpr int kGroups = static_cast<int>(kGeometry.groups);
  static constexpr int kUnitsPerGroup =
      static_cast<int>(kGeometry.unitsPerGroup);
  /// Columns of a row of scales and zero points (N padded).
  static constexpr int kScaleColumns =
      static_cast<int>(gemvScaleColumns(kShape.n));
  /// 32-bit words per unit and per column of the packed weights.
  static constexpr int kUnitWords = Bits;
  static constexpr long long kColumnWords =
      static_cast<long long>(kUnits) * kUnitWords;
  /// Columns interleaved word by word (3 bits: 4) and a column's words per
  /// 16-byte load (contract: gemvInterleavedColumns, gemvChunkWords).
  static constexpr int kInterleave =
      static_cast<int>(gemvInterleavedColumns(Bits));
  static constexpr int kChunkWords = gemvChunkWords(Bits);
  static constexpr int kChunksPerUnit = kUnitWords / kChunkWords;

  /// Second __launch_bounds__ argument: as many blocks per SM as the
  /// register estimate allows (awq::gemvRegisterBudget). Without it ptxas
  /// guesses a target from the block size alone and spills some configs at
  /// 56-64 registers; with it ptxas may use registers up to kRegistersPerSm
  /// / (threads * blocks).
  static constexpr int kMinBlocksPerSM =
      static_cast<int>(gemvBlocksForBudget(kShape, kParams));
  static constexpr int kWarps = static_cast<int>(kGeometry.warps);
  static constexpr int kColsPerBlock = static_cast<int>(kGeometry.colsPerBlock);
  static constexpr int kGridX = static_cast<int>(kGeometry.gridX);
  static constexpr int kGridY = static_cast<int>(kGeometry.gridY);

  /// fp32 values staged per row and tile (with the units' padding), plus
  /// per unit its sum (fp16) or its sum and power-of-two factor (bf16).
  static constexpr int kStagedRowFloats =
      static_cast<int>(kGemvStagedRowFloats);
  static constexpr int kUnitSlotFloats =
      static_cast<int>(gemvUnitSlotFloats(kShape));
  /// Dynamic shared memory: staged x and unit sums for MaxRows rows, and the
  /// split-K "last block" flag.
  static constexpr size_t kSharedBytes =
      static_cast<size_t>(kGeometry.sharedBytes);

  /// Blocks along z for M rows.
  __host__ __device__ static constexpr int gridZ(int m) {
    return static_cast<int>(kGeometry.gridZ(m));
  }
  /// fp32 workspace elements a launch with M rows needs (zero-initialised).
  __host__ __device__ static constexpr size_t workspaceFloats(int m) {
    return static_cast<size_t>(kGeometry.workspaceFloats(m));
  }
  /// Arrival counters a launch with M rows needs (zero-initialised).
  __host__ __device__ static constexpr size_t counterCount(int m) {
    return static_cast<size_t>(kGeometry.counterCount(m));
  }
  /// Bytes of packed weights, scales and zeros one launch streams.
  static constexpr long long kWeightBytes = kGeometry.weightBytes;
};

namespace detail {

/// Words holding C consecutive 16-bit elements, two per word.
template <int C> constexpr int kElementWords = (C + 1) / 2;

/// Loads C consecutive 16-bit elements from `p` (C a power of two, `p`
/// aligned to C elements) with the widest loads: element 2i + j in half j
/// (low first) of word i.
template <int C>
__device__ __forceinline__ void
loadElements(const void *p, uint32_t (&out)[kElementWords<C>]) {
  if constexpr (C == 1) {
    out[0] = __ldg(static_cast<const unsigned short *>(p));
  } else if constexpr (C == 2) {
    out[0] = __ldg(static_cast<const unsigned int *>(p));
  } else if constexpr (C == 4) {
    const uint2 v = __ldg(static_cast<const uint2 *>(p));
    out[0] = v.x;
    out[1] = v.y;
  } else {
#pragma unroll
    for (int i = 0; i < C / 8; ++i) {
      const uint4 v = __ldg(static_cast<const uint4 *>(p) + i);
      out[4 * i + 0] = v.x;
      out[4 * i + 1] = v.y;
      out[4 * i + 2] = v.z;
      out[4 * i + 3] = v.w;
    }
  }
}

/// One lane's weights, scales and zero points for its columns in one tile
/// (registers; double-buffered across tiles). Scales and zero points stay
/// packed two per word as loaded.
template <class Cfg> struct GemvLaneTile {
  static constexpr int kElementWords = detail::kElementWords<Cfg::kColsPerWarp>;
  uint32_t words[Cfg::kColsPerWarp][Cfg::kUnitWords];
  uint32_t scales[kElementWords];
  uint32_t zeros[kElementWords];
};

__device__ __forceinline__ int minInt(int a, int b) { return a < b ? a : b; }

/// The conversions of an element type the kernel needs.
template <ActivationType A> struct GemvElement;
template <> struct GemvElement<ActivationType::F16> {
  __device__ __forceinline__ static float toFloat(half value) {
    return __half2float(value);
  }
  /// The two elements of a 32-bit word (low half first) as floats.
  __device__ __forceinline__ static float2 pairToFloat2(uint32_t bits) {
    return __half22float2(bitsAsHalf2(bits));
  }
  /// The same for a word of two finite values (scales, zero points).
  __device__ __forceinline__ static float2 finitePairToFloat2(uint32_t bits) {
    return pairToFloat2(bits);
  }
  __device__ __forceinline__ static half fromFloat(float value) {
    return __float2half_rn(value);
  }
  /// An element's bits in the low half of a word, as a float.
  __device__ __forceinline__ static float bitsToFloat(uint32_t bits) {
    return __half2float(__ushort_as_half(static_cast<unsigned short>(bits)));
  }
};
template <> struct GemvElement<ActivationType::BF16> {
  /// bf16 is the top half of an fp32: widening is a shift, written as a
  /// multiply by 2^16 so that ptxas may issue it as an IMAD (FMA pipe)
  /// rather than a shift (ALU pipe, which the decode already loads).
  __device__ __forceinline__ static float toFloat(__nv_bfloat16 value) {
    return bitsAsFloat(static_cast<uint32_t>(__bfloat16_as_ushort(value)) *
                       65536u);
  }
  __device__ __forceinline__ static float2 pairToFloat2(uint32_t bits) {
    float2 f;
    f.x = bitsAsFloat(bits * 65536u);
    f.y = bitsAsFloat(bits & 0xffff0000u);
    return f;
  }
  /// The same for a word of two finite values (scales, zero points: the
  /// repacker refuses others), the high one without the integer pipe: one
  /// bf16x2 FMA {lo, hi} * {0, 1} + {0, 0} is {+0, hi}, the bits of hi as
  /// an fp32. (Not for x: an infinite or NaN lo would leave a NaN's bits in
  /// the low half.)
  __device__ __forceinline__ static float2 finitePairToFloat2(uint32_t bits) {
#if AWQ_HAS_BF16_ARITHMETIC
    constexpr uint32_t kZeroOne = 0x3f800000u; // bf16 {0, 1}
    float2 f;
    f.x = bitsAsFloat(bits * 65536u);
    f.y = bitsAsFloat(detail::bfloat162AsBits(__hfma2(
        detail::bitsAsBfloat162(bits), detail::bitsAsBfloat162(kZeroOne),
        detail::bitsAsBfloat162(0u))));
    return f;
#else
    return pairToFloat2(bits);
#endif
  }
  __device__ __forceinline__ static __nv_bfloat16 fromFloat(float value) {
    return __float2bfloat16_rn(value);
  }
  __device__ __forceinline__ static float bitsToFloat(uint32_t bits) {
    return bitsAsFloat(bits * 65536u);
  }
};

/// A lane's scales and zero points of one tile widened to fp32: widened when
/// the tile moves from the prefetch buffer into the computing one, so the
/// conversion is that move (a register copy either way).
template <class Cfg> struct GemvLaneGroups {
  float scale[Cfg::kColsPerWarp];
  float zero[Cfg::kColsPerWarp];

  __device__
      __forceinline__ explicit GemvLaneGroups(const GemvLaneTile<Cfg> &tile) {
    widen(tile.scales, scale);
    if constexpr (Cfg::kHasZeroPoint) {
      widen(tile.zeros, zero);
    } else {
#pragma unroll
      for (int c = 0; c < Cfg::kColsPerWarp; ++c)
        zero[c] = static_cast<float>(1 << (Cfg::kBits - 1));
    }
  }

private:
  __device__ __forceinline__ static void
  widen(const uint32_t (&packed)[GemvLaneTile<Cfg>::kElementWords],
        float (&out)[Cfg::kColsPerWarp]) {
    using Ops = GemvElement<Cfg::kActivation>;
    if constexpr (Cfg::kColsPerWarp == 1) {
      out[0] = Ops::bitsToFloat(packed[0]);
    } else {
#pragma unroll
      for (int i = 0; i < Cfg::kColsPerWarp / 2; ++i) {
        const float2 pair = Ops::finitePairToFloat2(packed[i]);
        out[2 * i] = pair.x;
        out[2 * i + 1] = pair.y;
      }
    }
  }
};

/// What the code that handles a tile knows about it at compile time: that
/// it holds paired units (so it is whole and inside K), that it does not,
/// that it follows a span of two paired tiles (so it is paired or the first
/// unpaired tile), or only what the layer tells (every tile is paired, or
/// none is, or either at run time).
enum class TileKind { Any, Paired, Unpaired, AfterPairedSpan };

/// Whether tiles of `Kind` hold paired units, or -1 where only the tile
/// index tells.
template <class Cfg, TileKind Kind>
constexpr int kTilePairing =
    Kind == TileKind::Paired                               ? 1
    : Kind == TileKind::Unpaired || Cfg::kPairedUnits == 0 ? 0
    : Cfg::kPairedTileEnd == Cfg::kTiles                   ? 1
                                                           : -1;

/// The unit of a column that slot `slot` of tile `tile` holds (the layout's
/// pairing: awq::gemvSlotUnit), in unsigned 32-bit arithmetic.
template <class Cfg, TileKind Kind>
__device__ __forceinline__ unsigned slotUnit(unsigned tile, unsigned slot) {
  constexpr int kPairing = kTilePairing<Cfg, Kind>;
  if constexpr (kPairing == 1)
    return gemvPairedSlotUnit<unsigned>(tile, slot);
  else if constexpr (kPairing == 0)
    return gemvUnpairedSlotUnit<unsigned>(tile, slot);
  else
    return gemvSlotUnit<unsigned>(tile, slot, Cfg::kPairedUnits);
}

/// Units of tile `tile` (the last tile of a column may be short).
template <class Cfg> __device__ __forceinline__ int tileUnits(int tile) {
  return gemvTileUnits<int>(Cfg::kUnits, tile);
}

/// Where one warp's columns start in the weight, scale and zero streams.
/// Lanes past the column's last unit read that last unit again, and columns
/// past N read earlier columns: the staged x of units past K is zero, so such
/// a lane adds exactly nothing, and sums of columns past N are never stored.
/// So no lane needs a branch or a zero fill. The warp's columns are a fixed
/// stride apart, so the per-column addresses are immediate offsets from one
/// base (computed once per block, not per tile).
template <class Cfg> struct GemvWarpColumns {
  /// With N a multiple of the warp's columns, a warp's columns are all valid
  /// or all past N; the latter warp reads the last warp's columns instead.
  static constexpr bool kWholeWarps = Cfg::kN % Cfg::kColsPerWarp == 0;
  const uint32_t *words; ///< the first column's stream
  /// The warp's columns in the first group's row of scales and zero points
  /// (a warp past N reads padding or other warps' values, never stored).
  const typename Cfg::Element *scales, *zeros;
  int firstColumn; ///< the column `words` holds

  __device__ __forceinline__ GemvWarpColumns(const ArgsOf<Cfg> &args,
                                             int warpColumn) {
    firstColumn = warpColumn;
    if constexpr (kWholeWarps)
      firstColumn = minInt(warpColumn, Cfg::kN - Cfg::kColsPerWarp);
    words = args.qweight + static_cast<long long>(firstColumn) *
                               static_cast<long long>(Cfg::kColumnWords);
    const int scaleColumn =
        minInt(firstColumn, Cfg::kScaleColumns - Cfg::kColsPerWarp);
    scales = args.scales + scaleColumn;
    zeros = args.zeros + scaleColumn;
  }
  /// Column offset of the warp's g-th group of interleaved columns (3 bits),
  /// clamped to the layout's last group where N is not a multiple of the
  /// warp's columns (the padding columns of that group are never stored).
  __device__ __forceinline__ int groupOffset(int g) const {
    constexpr int kLastGroup =
        (Cfg::kN + Cfg::kInterleave - 1) / Cfg::kInterleave * Cfg::kInterleave -
        Cfg::kInterleave;
    if constexpr (kWholeWarps)
      return Cfg::kInterleave * g;
    else
      return minInt(firstColumn + Cfg::kInterleave * g, kLastGroup) -
             firstColumn;
  }
  /// Column offset c of the warp, clamped to N - 1 where N is not a multiple
  /// of the warp's columns.
  __device__ __forceinline__ int offset(int c) const {
    if constexpr (kWholeWarps)
      return c;
    else
      return minInt(firstColumn + c, Cfg::kN - 1) - firstColumn;
  }
};

/// Where a lane reads in tile `tile`: the tile's units, the lane's slot (a
/// lane past the tile's units reads the last one again: GemvWarpColumns)
/// and the unit of the column that slot holds.
struct LaneSlot {
  int units, slot;
  unsigned unit;
};
template <class Cfg, TileKind Kind>
__device__ __forceinline__ LaneSlot laneSlot(int tile, int lane) {
  constexpr bool kWholeTiles =
      Cfg::kUnits % 32 == 0 || kTilePairing<Cfg, Kind> == 1;
  LaneSlot out;
  if constexpr (Kind == TileKind::AfterPairedSpan && !kWholeTiles) {
    // Paired, or the first unpaired tile: only the tile index tells, but
    // that tile's units and this lane's slot in it are constants.
    static_assert(Cfg::kTailTiles > 0, "paired tiles are whole");
    constexpr int kTailUnits =
        gemvTileUnits<int>(Cfg::kUnits, Cfg::kPairedTileEnd);
    const int tailSlot = minInt(lane, kTailUnits - 1);
    const bool paired = tile < Cfg::kPairedTileEnd;
    out.units = paired ? 32 : kTailUnits;
    out.slot = paired ? lane : tailSlot;
    out.unit =
        paired
            ? gemvPairedSlotUnit<unsigned>(static_cast<unsigned>(tile),
                                           static_cast<unsigned>(lane))
            : gemvUnpairedSlotUnit<unsigned>(static_cast<unsigned>(tile),
                                             static_cast<unsigned>(tailSlot));
  } else {
    out.units = kWholeTiles ? 32 : tileUnits<Cfg>(tile);
    out.slot = kWholeTiles ? lane : minInt(lane, out.units - 1);
    // Offsets are unsigned (every index here is >= 0): signed division and
    // sign extension would cost instructions per tile.
    out.unit = slotUnit<Cfg, Kind>(static_cast<unsigned>(tile),
                                   static_cast<unsigned>(out.slot));
  }
  return out;
}

/// Loads the scales and zero points of unit `unit`'s group for each of the
/// warp's columns.
template <class Cfg>
__device__ __forceinline__ void
loadLaneGroups(const GemvWarpColumns<Cfg> &columns, GemvLaneTile<Cfg> &out,
               unsigned unit) {
  const unsigned group =
      Cfg::kGroupSize == Cfg::kK ? 0u : unit / Cfg::kUnitsPerGroup;
  const unsigned long long row =
      static_cast<unsigned long long>(group) * Cfg::kScaleColumns;
  loadElements<Cfg::kColsPerWarp>(columns.scales + row, out.scales);
  if constexpr (Cfg::kHasZeroPoint)
    loadElements<Cfg::kColsPerWarp>(columns.zeros + row, out.zeros);
}

/// Loads this lane's unit of tile `tile` for each of the warp's columns
/// (see GemvWarpColumns for lanes and columns past the layer's end), and
/// their scales and zero points except after a paired span: the next
/// iteration's first tile needs none (its run flushes with the second's),
/// and an unpaired tile there loads them itself (computeTail). Where K
/// fills whole tiles the unit clamp folds away at compile time.
template <class Cfg, TileKind Kind = TileKind::Any>
__device__ __forceinline__ void
loadLaneTile(const GemvWarpColumns<Cfg> &columns, GemvLaneTile<Cfg> &out,
             int tile, int lane, uint64_t policy) {
  const LaneSlot place = laneSlot<Cfg, Kind>(tile, lane);
  const int units = place.units, unitInTile = place.slot;
  // Column stream (or group of interleaved columns), then the tile, then
  // 16-byte chunks chunk-major / lane-minor (contract: gemvWordIndex).
  const uint32_t *tileWords =
      columns.words +
      static_cast<unsigned long long>(static_cast<unsigned>(tile)) * 32 *
          Cfg::kUnitWords * Cfg::kInterleave +
      static_cast<unsigned>(unitInTile) * 4u;
  if constexpr (Cfg::kInterleave > 1) {
    // Chunk h holds word h of this unit for kInterleave columns.
#pragma unroll
    for (int g = 0; g < Cfg::kColsPerWarp / Cfg::kInterleave; ++g) {
      const long long column = columns.groupOffset(g);
#pragma unroll
      for (int chunk = 0; chunk < Cfg::kChunksPerUnit; ++chunk) {
        const uint4 v = loadStreaming16(
            tileWords + column * Cfg::kColumnWords + chunk * units * 4, policy);
        const uint32_t parts[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
        for (int j = 0; j < 4; ++j)
          out.words[Cfg::kInterleave * g + j][chunk] = parts[j];
      }
    }
  } else {
    // Chunk h holds words 4h..4h+3 of this unit of one column.
#pragma unroll
    for (int c = 0; c < Cfg::kColsPerWarp; ++c) {
      const long long column = columns.offset(c);
#pragma unroll
      for (int chunk = 0; chunk < Cfg::kChunksPerUnit; ++chunk) {
        const uint4 v = loadStreaming16(
            tileWords + column * Cfg::kColumnWords + chunk * units * 4, policy);
        out.words[c][4 * chunk + 0] = v.x;
        out.words[c][4 * chunk + 1] = v.y;
        out.words[c][4 * chunk + 2] = v.z;
        out.words[c][4 * chunk + 3] = v.w;
      }
    }
  }
  if constexpr (Kind != TileKind::AfterPairedSpan)
    loadLaneGroups<Cfg>(columns, out, place.unit);
}

/// Index of quad `quad` (4 floats) of unit `unit` in a staged row (padded
/// units, kGemvStagedUnitFloats: conflict-free without address arithmetic).
__device__ __forceinline__ int stagedQuad(int unit, int quad) {
  return unit * static_cast<int>(kGemvStagedUnitFloats / 4) + quad;
}

/// The staging covers a span of Span tiles at once: one, or in a one-row
/// body that sums pairs of units (GemvConfig::kPairRuns) the pair of tiles
/// whose slot l holds units 64p + 2l and 64p + 2l + 1, 64 consecutive values
/// of x per slot, summed (and for bf16 normalised) together.
///
/// Threads that stage one unit's 32 values: 4 (8 values each), or 8 (4
/// values each) where a block has more threads than 4 per unit and row of
/// the span, so that every thread of it takes part and the staging's cost
/// per weight falls with the block's columns.
template <class Cfg, int Rows, int Span>
constexpr int kStagingTasksPerUnit = Cfg::kThreads > (Span * Rows) * 32 * 4 ? 8
                                                                            : 4;
/// Consecutive values of a unit one staging task covers.
template <class Cfg, int Rows, int Span>
constexpr int kStagingValues =
    kGemvUnitValues / kStagingTasksPerUnit<Cfg, Rows, Span>;
/// Consecutive threads whose values share one sum: a unit's, or a slot's
/// pair of units.
template <class Cfg, int Rows, int Span>
constexpr int kStagingSumLanes = (Span * kStagingTasksPerUnit<Cfg, Rows, Span>);

/// A thread's staging task: kStagingValues consecutive values (part `part`)
/// of the unit in slot `unit` of tile j of the span (the lane that reads
/// it; the layout's pairing says which unit of the column that is), row m
/// of the chunk, the first at k0. A span has Rows x Span x 32 x
/// kStagingTasksPerUnit tasks; consecutive threads cover a unit, and a
/// slot's units are consecutive in x.
struct StagingTask {
  int m, unit, j, part, k0;
};

/// Rounds of staging tasks per span: a fixed count, because a loop bounded
/// by threadIdx.x alone stays a loop (the compiler cannot know threadIdx.x <
/// kThreads). One round (a one-row body) is then straight-line code; the
/// callers keep several rounds a loop (#pragma unroll 1), since unrolled
/// copies cost the multi-row bodies registers.
template <class Cfg, int Rows, int Span>
constexpr int kStagingRounds = (Rows * Span * 32 *
                                    kStagingTasksPerUnit<Cfg, Rows, Span> +
                                Cfg::kThreads - 1) /
                               Cfg::kThreads;

/// This thread's task of round `round` in the span starting at tile `tile`,
/// or false past the last task. A warp's 32 tasks are all valid or all not,
/// so the shuffles of the staging stay warp-uniform.
template <class Cfg, int Rows, int Span, TileKind Kind>
__device__ __forceinline__ bool stagingTask(int round, int tile,
                                            StagingTask &out) {
  constexpr int kPerUnit = kStagingTasksPerUnit<Cfg, Rows, Span>;
  constexpr int kTasks = Rows * Span * 32 * kPerUnit;
  const int task = static_cast<int>(threadIdx.x) + round * Cfg::kThreads;
  if (kTasks % Cfg::kThreads != 0 && task >= kTasks)
    return false;
  out.m = Rows == 1 ? 0 : task / (Span * 32 * kPerUnit);
  out.unit = (task / (Span * kPerUnit)) & 31;
  out.j = Span == 1 ? 0 : (task / kPerUnit) % Span;
  out.part = task % kPerUnit;
  out.k0 =
      static_cast<int>(slotUnit<Cfg, Kind>(static_cast<unsigned>(tile + out.j),
                                           static_cast<unsigned>(out.unit))) *
          kGemvUnitValues +
      kStagingValues<Cfg, Rows, Span> * out.part;
  return true;
}

/// Whether the staging task of row m and first value k0 reads x (else it
/// stages zeros). A one-row body's tasks are all of row 0 (rows >= 1), and
/// where K is whole tiles (or the tile is paired and the paired units lie
/// inside K) every k0 of a tile below kTiles is inside K: both tests then
/// fold away at compile time, and the zero fill with them.
template <class Cfg, int Rows, TileKind Kind>
__device__ __forceinline__ bool stagingTaskReads(int m, int k0, int rows) {
  constexpr bool kInsideK =
      Cfg::kWholeTilesOfK ||
      (kTilePairing<Cfg, Kind> == 1 && Cfg::kPairedInsideK);
  return (Rows == 1 || m < rows) && (kInsideK || k0 < Cfg::kK);
}

/// Stores one task's V values of unit `unit` (part `part`) of staged row
/// `row`, each times its field's prescale, and returns their plain sum.
template <int V>
__device__ __forceinline__ float stageValues(float *row, int unit, int part,
                                             const float (&v)[V],
                                             const float (&prescale)[V]) {
  float sum = v[0];
#pragma unroll
  for (int i = 1; i < V; ++i)
    sum += v[i];
  float4 *quads = reinterpret_cast<float4 *>(row);
#pragma unroll
  for (int j = 0; j < V / 4; ++j) {
    float4 quad;
    quad.x = v[4 * j + 0] * prescale[4 * j + 0];
    quad.y = v[4 * j + 1] * prescale[4 * j + 1];
    quad.z = v[4 * j + 2] * prescale[4 * j + 2];
    quad.w = v[4 * j + 3] * prescale[4 * j + 3];
    quads[stagedQuad(unit, V / 4 * part + j)] = quad;
  }
  return sum;
}

/// Loads V (4 or 8) consecutive 16-bit elements from `p` (aligned to V
/// elements), two per word, low half first.
template <int V>
__device__ __forceinline__ void loadStagingWords(const void *p,
                                                 uint32_t (&out)[V / 2]) {
  static_assert(V == 4 || V == 8, "a staging task covers 4 or 8 values");
  if constexpr (V == 8) {
    const uint4 raw = __ldg(static_cast<const uint4 *>(p));
    out[0] = raw.x;
    out[1] = raw.y;
    out[2] = raw.z;
    out[3] = raw.w;
  } else {
    const uint2 raw = __ldg(static_cast<const uint2 *>(p));
    out[0] = raw.x;
    out[1] = raw.y;
  }
}

/// Stages x[m0 + m, tile] * a for Rows rows into shared memory (see the
/// file comment), fp16. Each thread handles kStagingValues consecutive k of
/// one unit; consecutive lanes cover a unit and sum it with shuffles.
template <class Cfg, int Rows, int Span, TileKind Kind>
__device__ __forceinline__ void
stageTileHalf(const ArgsOf<Cfg> &args, float *staged, float *unitSums, int tile,
              int m0, int rows,
              const float (&prescale)[kStagingValues<Cfg, Rows, Span>]) {
  constexpr int kK = Cfg::kK;
  constexpr int V = kStagingValues<Cfg, Rows, Span>;
  const float sumScale = exp2Int(-kGemvAccumulatorExponent);
#pragma unroll 1
  for (int round = 0; round < kStagingRounds<Cfg, Rows, Span>; ++round) {
    StagingTask task;
    if (!stagingTask<Cfg, Rows, Span, Kind>(round, tile, task))
      break;
    const int m = task.m, unit = task.unit, part = task.part, k0 = task.k0;
    float v[V];
    if (stagingTaskReads<Cfg, Rows, Kind>(m, k0, rows)) {
      const half *xRow = args.x + static_cast<long long>(m0 + m) * kK;
      if constexpr (kK % 8 == 0) {
        uint32_t parts[V / 2];
        loadStagingWords<V>(xRow + k0, parts);
#pragma unroll
        for (int i = 0; i < V / 2; ++i) {
          const float2 f = __half22float2(bitsAsHalf2(parts[i]));
          v[2 * i] = f.x;
          v[2 * i + 1] = f.y;
        }
        if constexpr (Cfg::kHasActScale) {
          uint32_t partsA[V / 2];
          loadStagingWords<V>(args.actScale + k0, partsA);
#pragma unroll
          for (int i = 0; i < V / 2; ++i) {
            const float2 f = __half22float2(bitsAsHalf2(partsA[i]));
            v[2 * i] *= f.x;
            v[2 * i + 1] *= f.y;
          }
        }
      } else {
#pragma unroll
        for (int i = 0; i < V; ++i) {
          const int k = k0 + i;
          float value = 0.0f;
          if (k < kK) {
            value = __half2float(xRow[k]);
            if constexpr (Cfg::kHasActScale)
              value *= __half2float(args.actScale[k]);
          }
          v[i] = value;
        }
      }
    } else {
#pragma unroll
      for (int i = 0; i < V; ++i)
        v[i] = 0.0f;
    }
    // x * a is exact in fp32 (11 x 11 significant bits); so is the scaling.
    float sum =
        stageValues<V>(staged + (m * Span + task.j) * Cfg::kStagedRowFloats,
                       unit, part, v, prescale);
    // A warp's 32 tasks are whole units (pairs), so the shuffles are
    // warp-uniform.
    sum = warpReduceSum<kStagingSumLanes<Cfg, Rows, Span>>(sum);
    if (part == 0 && task.j == 0)
      unitSums[m * 32 + unit] = sum * sumScale;
  }
}

/// The biased fp32 exponent of the largest |v| over a unit's 32 values or a
/// pair's 64 (this thread's V and the Lanes - 1 other lanes that share its
/// sum: kStagingSumLanes), clamped to [1, 253] so
/// that 2^(127 - e) is a normal fp32: v 2^(127 - e) then lies in (-4, 4).
/// NaN is ignored (it still reaches the output through its own product).
template <int Lanes, int V>
__device__ __forceinline__ int unitExponent(const float (&v)[V]) {
  float largest = fabsf(v[0]);
#pragma unroll
  for (int i = 1; i < V; ++i)
    largest = fmaxf(largest, fabsf(v[i]));
#pragma unroll
  for (int offset = 1; offset < Lanes; offset *= 2)
    largest = fmaxf(largest, __shfl_xor_sync(0xffffffffu, largest, offset));
  const int biased = static_cast<int>(floatAsBits(largest) >> 23);
  return biased < 1 ? 1 : (biased > 253 ? 253 : biased);
}

/// The power of two 2^u that normalises x over a unit or a pair (this
/// thread's V values and the Lanes - 1 other lanes that share its sum), from S
/// = sum |x| 2^-16 (FMA-pipe work, no overflow: sum |x| < 2^133): with e_S the
/// biased exponent of S, u = e_S - 118, so that sum |x| < 2^(u + 8) and |x|
/// 2^-u < 2^8, while the largest |x| 2^-u is at least 4 unless S is subnormal.
/// No clamp is needed: u lies in [-118, 126], so 2^u and 2^-u are normal. (NaN
/// or inf x make S non-finite and the factors meaningless; such a unit's
/// outputs are NaN or inf through the values themselves.)
struct UnitScale {
  float factor;  ///< 2^u
  float inverse; ///< 2^-u
  int exponent;  ///< u
};
template <int Lanes, int V>
__device__ __forceinline__ UnitScale unitScaleBySum(const float (&v)[V]) {
  const float kSixteenth = exp2Int(-16);
  float sum = fabsf(v[0]) * kSixteenth;
#pragma unroll
  for (int i = 1; i < V; ++i)
    sum = fmaf(fabsf(v[i]), kSixteenth, sum);
  sum = warpReduceSum<Lanes>(sum);
  const uint32_t biased = floatAsBits(sum) & 0x7f800000u; // e_S << 23
  UnitScale scale;
  scale.inverse = bitsAsFloat((245u << 23) - biased);
  scale.factor = bitsAsFloat(biased + (9u << 23));
  scale.exponent = static_cast<int>(biased >> 23) - 118;
  return scale;
}

/// 2^e as an fp32: exact for e in [-149, 127], +inf above (a unit whose
/// x a reaches 2^128 is not an fp32 product), 0 below 2^-149.
__device__ __forceinline__ float wideUnitFactor(int e) {
  if (e > 127)
    return bitsAsFloat(0x7f800000u);
  if (e >= -126)
    return exp2Int(e);
  return exp2Int((e < -190 ? -190 : e) + 64) * exp2Int(-64);
}

/// Stages x[m0 + m, tile] * a for Rows rows, bf16 (docs/numerics.md, "bf16
/// GEMV"). bf16 spans 2^-133 .. 2^128, far more than the fixed prescale
/// window of the fp16 path, so each (row, unit) is normalised by powers of
/// two: t = x a 2^-U with |t| < 2^8 (U from the unit's sum of |x|, and with
/// an activation scale its largest |a| and then largest |x' a'|), staged as
/// t 2^(kGemvWidePrescaleExponent - p). The unit's slot holds {sum t
/// 2^-kGemvWideAccumulatorExponent, 2^U}; every scaling is exact except
/// where a value falls below 2^-98 of its unit's largest.
template <class Cfg, int Rows, int Span, TileKind Kind>
__device__ __forceinline__ void
stageTileWide(const ArgsOf<Cfg> &args, float *staged, float2 *unitSlots,
              int tile, int m0, int rows,
              const float (&prescale)[kStagingValues<Cfg, Rows, Span>]) {
  using Ops = GemvElement<Cfg::kActivation>;
  constexpr int kK = Cfg::kK;
  constexpr int V = kStagingValues<Cfg, Rows, Span>;
  constexpr int kLanes = kStagingSumLanes<Cfg, Rows, Span>;
  const float sumScale = exp2Int(-kGemvWideAccumulatorExponent);
#pragma unroll 1
  for (int round = 0; round < kStagingRounds<Cfg, Rows, Span>; ++round) {
    StagingTask task;
    if (!stagingTask<Cfg, Rows, Span, Kind>(round, tile, task))
      break;
    const int m = task.m, unit = task.unit, part = task.part, k0 = task.k0;
    float v[V];
    float a[V];
    if (stagingTaskReads<Cfg, Rows, Kind>(m, k0, rows)) {
      const typename Cfg::Element *xRow =
          args.x + static_cast<long long>(m0 + m) * kK;
      if constexpr (kK % 8 == 0) {
        uint32_t parts[V / 2];
        loadStagingWords<V>(xRow + k0, parts);
#pragma unroll
        for (int i = 0; i < V / 2; ++i) {
          const float2 f = Ops::pairToFloat2(parts[i]);
          v[2 * i] = f.x;
          v[2 * i + 1] = f.y;
        }
        if constexpr (Cfg::kHasActScale) {
          uint32_t partsA[V / 2];
          loadStagingWords<V>(args.actScale + k0, partsA);
#pragma unroll
          for (int i = 0; i < V / 2; ++i) {
            const float2 f = Ops::pairToFloat2(partsA[i]);
            a[2 * i] = f.x;
            a[2 * i + 1] = f.y;
          }
        }
      } else {
#pragma unroll
        for (int i = 0; i < V; ++i) {
          const int k = k0 + i;
          v[i] = k < kK ? Ops::toFloat(xRow[k]) : 0.0f;
          if constexpr (Cfg::kHasActScale)
            a[i] = k < kK ? Ops::toFloat(args.actScale[k]) : 0.0f;
        }
      }
    } else {
#pragma unroll
      for (int i = 0; i < V; ++i) {
        v[i] = 0.0f;
        a[i] = 0.0f;
      }
    }
    // Normalise; every product below is of values with at most 8
    // significant bits each, so exact unless it falls below 2^-126.
    const UnitScale xScale = unitScaleBySum<kLanes>(v);
#pragma unroll
    for (int i = 0; i < V; ++i)
      v[i] *= xScale.inverse;
    int exponent = xScale.exponent;
    if constexpr (Cfg::kHasActScale) {
      // |x'| < 2^8, |a'| < 4: |x' a'| < 2^10, then normalised to below 4
      // by its own largest value (x' a' may be far below 1 where |x| and
      // |a| peak at different k).
      const int aExponent = unitExponent<kLanes>(a);
      const float aFactor = exp2Int(127 - aExponent);
#pragma unroll
      for (int i = 0; i < V; ++i)
        v[i] *= a[i] * aFactor;
      const int productExponent = unitExponent<kLanes>(v);
      const float productFactor = exp2Int(127 - productExponent);
#pragma unroll
      for (int i = 0; i < V; ++i)
        v[i] *= productFactor;
      exponent += aExponent + productExponent - 254;
    }
    float sum =
        stageValues<V>(staged + (m * Span + task.j) * Cfg::kStagedRowFloats,
                       unit, part, v, prescale);
    sum = warpReduceSum<kLanes>(sum);
    if (part == 0 && task.j == 0) {
      float2 slot;
      slot.x = sum * sumScale;
      if constexpr (Cfg::kHasActScale)
        slot.y = wideUnitFactor(exponent);
      else
        slot.y = xScale.factor;
      unitSlots[m * 32 + unit] = slot;
    }
  }
}

/// Stages one span of x * a for the element type of `Cfg` (a span of two
/// tiles is paired).
template <class Cfg, int Rows, int Span, TileKind Kind>
__device__ __forceinline__ void
stageTile(const ArgsOf<Cfg> &args, float *staged, float *unitSums, int tile,
          int m0, int rows,
          const float (&prescale)[kStagingValues<Cfg, Rows, Span>]) {
  if constexpr (Cfg::kActivation == ActivationType::BF16)
    stageTileWide<Cfg, Rows, Span, Kind>(args, staged,
                                         reinterpret_cast<float2 *>(unitSums),
                                         tile, m0, rows, prescale);
  else
    stageTileHalf<Cfg, Rows, Span, Kind>(args, staged, unitSums, tile, m0, rows,
                                         prescale);
}

/// Accumulates one tile into acc, the lane's unit of each column c of the
/// warp and row m < Rows: Begin starts a run of tiles, Flush ends it with
/// out[c][m] += (acc - z * sum) * s, sum the unit slot's sum of x a (a
/// run is one tile, or two whose units the staging summed together:
/// GemvConfig::kPairRuns).
/// Loop order: quads of x outermost, then rows, then columns, so one staged
/// quad serves all columns and each decoded field is live across the rows
/// only (a whole decoded unit per column would not fit in registers).
template <class Cfg, int Rows, bool Begin, bool Flush>
__device__ __forceinline__ void
computeTile(const GemvLaneTile<Cfg> &in, const float *staged,
            const float *unitSums, int lane,
            float (&acc)[Cfg::kColsPerWarp][Rows],
            float (&out)[Cfg::kColsPerWarp][Rows]) {
  constexpr int C = Cfg::kColsPerWarp;
  if constexpr (Begin) {
#pragma unroll
    for (int c = 0; c < C; ++c)
#pragma unroll
      for (int m = 0; m < Rows; ++m)
        acc[c][m] = 0.0f;
  }
#pragma unroll
  for (int q = 0; q < 8; ++q) {
    float field[C][4];
#pragma unroll
    for (int c = 0; c < C; ++c)
#pragma unroll
      for (int i = 0; i < 4; ++i)
        field[c][i] =
            bitsAsFloat(decodeFieldScaled<Cfg::kBits>(in.words[c], 4 * q + i));
#pragma unroll
    for (int m = 0; m < Rows; ++m) {
      const float4 xq = reinterpret_cast<const float4 *>(
          staged + m * Cfg::kStagedRowFloats)[stagedQuad(lane, q)];
#pragma unroll
      for (int c = 0; c < C; ++c) {
        acc[c][m] = fmaf(xq.x, field[c][0], acc[c][m]);
        acc[c][m] = fmaf(xq.y, field[c][1], acc[c][m]);
        acc[c][m] = fmaf(xq.z, field[c][2], acc[c][m]);
        acc[c][m] = fmaf(xq.w, field[c][3], acc[c][m]);
      }
    }
  }
  if constexpr (!Flush) {
    return;
  } else if constexpr (Cfg::kActivation == ActivationType::BF16) {
    // Only the run's last tile needs its scales and zero points: a run's
    // units share a group.
    const GemvLaneGroups<Cfg> groups(in);
    const float2 *unitSlots = reinterpret_cast<const float2 *>(unitSums);
    float2 slot[Rows];
#pragma unroll
    for (int m = 0; m < Rows; ++m)
      slot[m] = unitSlots[m * 32 + lane];
#pragma unroll
    for (int c = 0; c < C; ++c) {
      // The layout stores s 2^30 (kGemvWideAccumulatorExponent).
      const float scale = groups.scale[c];
      const float zero = groups.zero[c];
#pragma unroll
      for (int m = 0; m < Rows; ++m) {
        // acc and the slot's sum carry the same 2^-30 2^-U scale; the
        // factor 2^U comes first so that s 2^30 never meets 2^U alone.
        const float centered = fmaf(-zero, slot[m].x, acc[c][m]);
        out[c][m] = fmaf(centered * slot[m].y, scale, out[c][m]);
      }
    }
  } else {
    const GemvLaneGroups<Cfg> groups(in);
#pragma unroll
    for (int c = 0; c < C; ++c) {
      const float scale = groups.scale[c];
      const float zero = groups.zero[c];
#pragma unroll
      for (int m = 0; m < Rows; ++m) {
        // acc and the slot's sum carry the same 2^-64 scale, and out keeps
        // it (gemvOutputScale removes it once per block).
        const float centered = fmaf(-zero, unitSums[m * 32 + lane], acc[c][m]);
        out[c][m] = fmaf(centered, scale, out[c][m]);
      }
    }
  }
}

/// The prescales 2^(e - p) of this thread's staged values (e: fp16's
/// kGemvPrescaleExponent or bf16's kGemvWidePrescaleExponent, p the field
/// offset of the value's place in its unit). A thread's values always sit at
/// the same offsets of a unit (part = thread % tasks per unit), so a body
/// computes them once per staging shape.
template <class Cfg, int Rows, int Span>
__device__ __forceinline__ void
stagingPrescales(float (&prescale)[kStagingValues<Cfg, Rows, Span>]) {
  constexpr int V = kStagingValues<Cfg, Rows, Span>;
  constexpr int kExponent = Cfg::kActivation == ActivationType::BF16
                                ? kGemvWidePrescaleExponent
                                : kGemvPrescaleExponent;
  const int part =
      static_cast<int>(threadIdx.x) % kStagingTasksPerUnit<Cfg, Rows, Span>;
#pragma unroll
  for (int i = 0; i < V; ++i)
    prescale[i] = exp2Int(kExponent - gemvFieldShift<Cfg::kBits>(V * part + i));
}

/// What the block's sums are multiplied by after the warp reduction: fp16
/// keeps them at the decode's 2^-64 scale through the K loop (one multiply
/// per block instead of one per column and tile; docs/numerics.md: only
/// terms below 2^-62 lose bits, far under the bound's 2^-24), bf16 applies
/// its scale per unit.
template <class Cfg> __device__ __forceinline__ float gemvOutputScale() {
  return Cfg::kActivation == ActivationType::BF16
             ? 1.0f
             : exp2Int(kGemvAccumulatorExponent);
}

/// silu(g) * u in fp32.
__device__ __forceinline__ float siluMul(float gate, float up) {
  return gate / (1.0f + expf(-gate)) * up;
}

/// Applies bias, SiLU-and-multiply and residual to the fp32 sums of output
/// (row, outColumn) and stores the element type (rounded to nearest even).
/// `first`/`second` are the sums of weight columns n (and n + 1 with SiluMul).
template <class Cfg>
__device__ __forceinline__ void storeOutput(const ArgsOf<Cfg> &args, int row,
                                            int n, float first, float second) {
  using Ops = GemvElement<Cfg::kActivation>;
  if constexpr (Cfg::kHasBias) {
    first += Ops::toFloat(args.bias[n]);
    if constexpr (Cfg::kSiluMul)
      second += Ops::toFloat(args.bias[n + 1]);
  }
  float value;
  int column;
  if constexpr (Cfg::kSiluMul) {
    value = siluMul(first, second);
    column = n / 2;
  } else {
    (void)second;
    value = first;
    column = n;
  }
  const long long index = static_cast<long long>(row) * Cfg::kNout + column;
  if constexpr (Cfg::kHasResidual)
    value += Ops::toFloat(args.residual[index]);
  args.y[index] = Ops::fromFloat(value);
}

/// One iteration's span of the software pipeline (Span = 1 or 2 tiles
/// from `tile`): stage its x, then per tile start loading the next tile's
/// weights into the other buffer (where there is one: `loadLast` for the
/// span's last tile) and compute this tile. Span 1 computes `current`,
/// Span 2 `current` and then `next`, and reloads `current` with the tile
/// after the span. Flush: the span's last tile ends a run (computeTile);
/// with Span 2 the span is one run, of paired tiles. Kind: what is known of
/// a span of one tile and the next (the tile after a span of two may be
/// either).
template <class Cfg, int Rows, int Span, bool Flush,
          TileKind Kind = TileKind::Any>
__device__ __forceinline__ void
pipelineStep(const ArgsOf<Cfg> &args, const GemvWarpColumns<Cfg> &columns,
             GemvLaneTile<Cfg> &current, GemvLaneTile<Cfg> &next, float *staged,
             float *unitSums, int tile, bool loadLast, int m0, int rows,
             int lane, uint64_t policy,
             const float (&prescale)[kStagingValues<Cfg, Rows, Span>],
             float (&acc)[Cfg::kColsPerWarp][Rows],
             float (&out)[Cfg::kColsPerWarp][Rows]) {
  // Everyone is done reading the previous span's x (a needless barrier at
  // the first one costs less than testing for it every time).
  __syncthreads();
  constexpr TileKind kSpanKind = Span == 2 ? TileKind::Paired : Kind;
  stageTile<Cfg, Rows, Span, kSpanKind>(args, staged, unitSums, tile, m0, rows,
                                        prescale);
  __syncthreads();
  if constexpr (Span == 1) {
    if (loadLast)
      loadLaneTile<Cfg, Kind>(columns, next, tile + 1, lane, policy);
    computeTile<Cfg, Rows, true, Flush>(current, staged, unitSums, lane, acc,
                                        out);
  } else {
    static_assert(Rows == 1 && Flush, "a span of two tiles is one run");
    loadLaneTile<Cfg, TileKind::Paired>(columns, next, tile + 1, lane, policy);
    computeTile<Cfg, Rows, true, false>(current, staged, unitSums, lane, acc,
                                        out);
    if (loadLast)
      loadLaneTile<Cfg, TileKind::AfterPairedSpan>(columns, current, tile + 2,
                                                   lane, policy);
    computeTile<Cfg, Rows, false, true>(next, staged + Cfg::kStagedRowFloats,
                                        unitSums, lane, acc, out);
  }
}

/// The unpaired tiles after a one-row body's runs of paired tiles
/// (GemvConfig::kTailTiles, one or two, from `tile`; `current` holds the
/// first), one by one, each its own run: outside the K loop, in the last
/// block only.
template <class Cfg>
__device__ __forceinline__ void
computeTail(const ArgsOf<Cfg> &args, const GemvWarpColumns<Cfg> &columns,
            GemvLaneTile<Cfg> &current, GemvLaneTile<Cfg> &next, float *staged,
            float *unitSums, int tile, int m0, int rows, int lane,
            uint64_t policy, float (&acc)[Cfg::kColsPerWarp][1],
            float (&out)[Cfg::kColsPerWarp][1]) {
  // The staging of one tile splits its values among threads differently
  // from that of two: its own prescales.
  float prescale[kStagingValues<Cfg, 1, 1>];
  stagingPrescales<Cfg, 1, 1>(prescale);
  // The last iteration's prefetch of this tile left out its scales and
  // zero points (loadLaneTile).
  loadLaneGroups<Cfg>(columns, current,
                      laneSlot<Cfg, TileKind::Unpaired>(tile, lane).unit);
  constexpr bool kTwo = Cfg::kTailTiles == 2;
  pipelineStep<Cfg, 1, 1, true, TileKind::Unpaired>(
      args, columns, current, next, staged, unitSums, tile, kTwo, m0, rows,
      lane, policy, prescale, acc, out);
  if constexpr (kTwo)
    pipelineStep<Cfg, 1, 1, true, TileKind::Unpaired>(
        args, columns, next, current, staged, unitSums, tile + 1, false, m0,
        rows, lane, policy, prescale, acc, out);
}

/// The whole kernel for a chunk of `rows` <= Rows rows starting at m0.
template <class Cfg, int Rows>
__device__ __forceinline__ void gemvRows(const ArgsOf<Cfg> &args, float *smem,
                                         int m0, int rows) {
  constexpr int C = Cfg::kColsPerWarp;
  const int lane = threadIdx.x & 31;
  const int warp = threadIdx.x >> 5;
  const int firstColumn = blockIdx.x * Cfg::kColsPerBlock + warp * C;
  const int tileBegin = blockIdx.y * Cfg::kTilesPerSplit;
  // Where the splits divide the tiles evenly no block's range is short: the
  // bound is then a plain sum the compiler can reason with.
  const int tileEnd =
      Cfg::kEvenSplits ? tileBegin + Cfg::kTilesPerSplit
                       : minInt(tileBegin + Cfg::kTilesPerSplit, Cfg::kTiles);

  // A one-row body whose units form runs of two tiles stages both tiles
  // of an iteration at once (a span of two), in two staged rows.
  constexpr bool kRuns = Rows == 1 && Cfg::kPairRuns;
  constexpr int kSpan = kRuns ? 2 : 1;
  float *staged = smem;
  float *unitSums = smem + Rows * kSpan * Cfg::kStagedRowFloats;
  int *lastFlag = reinterpret_cast<int *>(
      smem + Cfg::kStagedRows * (Cfg::kStagedRowFloats + Cfg::kUnitSlotFloats));

  const uint64_t policy = makeEvictFirstPolicy();
  float prescale[kStagingValues<Cfg, Rows, kSpan>];
  stagingPrescales<Cfg, Rows, kSpan>(prescale);

  float out[C][Rows];
#pragma unroll
  for (int c = 0; c < C; ++c)
#pragma unroll
    for (int m = 0; m < Rows; ++m)
      out[c][m] = 0.0f;

  const GemvWarpColumns<Cfg> columns(args, firstColumn);
  float acc[C][Rows];
  GemvLaneTile<Cfg> bufferA;
  loadLaneTile<Cfg>(columns, bufferA, tileBegin, lane, policy);
  if constexpr (Cfg::kTilesPerSplit == 1) {
    // One tile per block (the common split-K shape): no prefetch needed,
    // other resident blocks keep the memory system busy.
    static_assert(!kRuns, "runs need blocks of whole tile pairs");
    stageTile<Cfg, Rows, 1, TileKind::Any>(args, staged, unitSums, tileBegin,
                                           m0, rows, prescale);
    __syncthreads();
    computeTile<Cfg, Rows, true, true>(bufferA, staged, unitSums, lane, acc,
                                       out);
  } else {
    // Software pipeline: the next tile's weights are loaded into registers
    // while the current tile is computed. Two buffers trade roles every
    // tile, so the loop body covers two tiles and no register is copied.
    // With two tiles per block the loop runs once. Its bound (used for
    // every test below) is then also capped by the grid's last tile: a cap
    // that never bites (blockIdx.y < gridDim.y) but that neither the
    // front end nor ptxas can fold, so the loop stays a loop on every
    // target and the code's shape (and what awq-kernel-stats counts) does
    // not depend on whether the compiler proves it runs once.
    static_assert(Cfg::kTilesPerIteration == 2, "one step per buffer");
    GemvLaneTile<Cfg> bufferB;
    const int loopEnd =
        Cfg::kTilesPerSplit == 2
            ? minInt(tileEnd, static_cast<int>(gridDim.y) * Cfg::kTilesPerSplit)
            : tileEnd;
    // Where every block holds whole pairs of tiles (kPairedTiles) only the
    // second tile's load is conditional; where their units form runs
    // (kRuns) an iteration is one span of both tiles, over the block's
    // paired tiles: the unpaired tail after them (the last block's) follows
    // the loop, and its first tile is the last iteration's prefetch.
    constexpr bool kPairedTiles = Cfg::kPairedTiles;
    const int pairedEnd = kRuns && Cfg::kTailTiles > 0
                              ? minInt(loopEnd, Cfg::kPairedTileEnd)
                              : loopEnd;
    int tile = tileBegin;
    for (; tile < pairedEnd; tile += 2) {
      if constexpr (kRuns) {
        pipelineStep<Cfg, Rows, 2, true>(
            args, columns, bufferA, bufferB, staged, unitSums, tile,
            tile + 2 < loopEnd, m0, rows, lane, policy, prescale, acc, out);
      } else {
        pipelineStep<Cfg, Rows, 1, true>(
            args, columns, bufferA, bufferB, staged, unitSums, tile,
            kPairedTiles || tile + 1 < loopEnd, m0, rows, lane, policy,
            prescale, acc, out);
        if (kPairedTiles || tile + 1 < loopEnd)
          pipelineStep<Cfg, Rows, 1, true>(
              args, columns, bufferB, bufferA, staged, unitSums, tile + 1,
              tile + 2 < loopEnd, m0, rows, lane, policy, prescale, acc, out);
      }
    }
    if constexpr (kRuns && Cfg::kTailTiles > 0) {
      if (tile < loopEnd)
        computeTail<Cfg>(args, columns, bufferA, bufferB, staged, unitSums,
                         tile, m0, rows, lane, policy, acc, out);
    }
  }

  // Reduce over the 32 lanes: value index m * C + c ends in lanes
  // [index * 32 / (C * Rows), ...).
  constexpr int kCount = C * Rows;
  constexpr int kLanesPerValue = 32 / kCount;
  float values[kCount];
#pragma unroll
  for (int m = 0; m < Rows; ++m)
#pragma unroll
    for (int c = 0; c < C; ++c)
      values[m * C + c] = out[c][m];
  warpReduceScatter<kCount>(values);
  const float total = values[0] * gemvOutputScale<Cfg>();
  const int index = lane / kLanesPerValue;
  const int m = index / C;
  const int c = index % C;
  const int n = firstColumn + c;
  const bool owner = lane % kLanesPerValue == 0 && m < rows && n < Cfg::kN;

  if constexpr (Cfg::kKSplit == 1) {
    if constexpr (Cfg::kSiluMul) {
      // The up column (c + 1) sits kLanesPerValue lanes above the gate.
      const float up = __shfl_xor_sync(0xffffffffu, total, kLanesPerValue);
      if (owner && (c & 1) == 0)
        storeOutput<Cfg>(args, m0 + m, n, total, up);
    } else {
      if (owner)
        storeOutput<Cfg>(args, m0 + m, n, total, 0.0f);
    }
  } else {
    if (owner)
      atomicAdd(args.workspace + static_cast<long long>(m0 + m) * Cfg::kN + n,
                total);
    // Threadfence reduction: publish the partial sums, then count arrivals.
    __threadfence();
    __syncthreads();
    unsigned int *counter = args.counters + blockIdx.z * gridDim.x + blockIdx.x;
    if (threadIdx.x == 0)
      *lastFlag = atomicAdd(counter, 1u) == Cfg::kKSplit - 1u ? 1 : 0;
    __syncthreads();
    if (*lastFlag) {
      __threadfence();
      constexpr int kPerRow =
          Cfg::kSiluMul ? Cfg::kColsPerBlock / 2 : Cfg::kColsPerBlock;
      constexpr int kStride = Cfg::kSiluMul ? 2 : 1;
      const int blockColumn = blockIdx.x * Cfg::kColsPerBlock;
      for (int e = threadIdx.x; e < Rows * kPerRow; e += Cfg::kThreads) {
        const int row = e / kPerRow;
        const int col = blockColumn + (e % kPerRow) * kStride;
        if (row >= rows || col >= Cfg::kN)
          continue;
        // Volatile: the sums were made at L2 by other blocks' atomics.
        volatile float *sums =
            args.workspace + static_cast<long long>(m0 + row) * Cfg::kN + col;
        const float first = sums[0];
        sums[0] = 0.0f;
        float second = 0.0f;
        if constexpr (Cfg::kSiluMul) {
          second = sums[1];
          sums[1] = 0.0f;
        }
        storeOutput<Cfg>(args, m0 + row, col, first, second);
      }
      if (threadIdx.x == 0)
        *counter = 0u;
    }
  }
}

} // namespace detail

/// The GEMV kernel body for config `Cfg`; launch as described in the file
/// comment. Runs the row body awq::gemvBodyRows picks for the rows of this
/// block's chunk (awq::gemvChunkRows), so M = 1 pays for one row only.
template <class Cfg>
__device__ __forceinline__ void gemv(const ArgsOf<Cfg> &args) {
  AWQ_DYNAMIC_SHARED(float, smem);
  const int z = static_cast<int>(blockIdx.z);
  const int m0 = z * Cfg::kMaxRows;
  const int rows = gemvChunkRows<int>(args.M, z, Cfg::kMaxRows);
  if (rows <= 0)
    return; // Uniform for the whole block.
  if (rows == 1) {
    detail::gemvRows<Cfg, 1>(args, smem, m0, rows);
    return;
  }
  const int body = gemvBodyRows<int>(rows);
  if (body == 2) {
    if constexpr (Cfg::kMaxRows >= 2)
      detail::gemvRows<Cfg, 2>(args, smem, m0, rows);
  } else if (body == 4) {
    if constexpr (Cfg::kMaxRows >= 4)
      detail::gemvRows<Cfg, 4>(args, smem, m0, rows);
  } else {
    if constexpr (Cfg::kMaxRows >= 8)
      detail::gemvRows<Cfg, 8>(args, smem, m0, rows);
  }
}

} // namespace awq

/// Defines the extern "C" GEMV kernel `name` for the config type given as
/// the remaining arguments (variadic, so the template's commas need no
/// parentheses) and its host entry: what the compiler emits per layer.
#define AWQ_GEMV_KERNEL(name, ...)                                             \
  extern "C" __global__ void __launch_bounds__(__VA_ARGS__::kThreads,          \
                                               __VA_ARGS__::kMinBlocksPerSM)   \
      name(awq::ArgsOf<__VA_ARGS__> args) {                                    \
    awq::gemv<__VA_ARGS__>(args);                                              \
  }                                                                            \
  AWQ_HOST_ENTRY(name, awq::ArgsOf<__VA_ARGS__>)

#endif // AWQ_DEVICE_GEMV_CUH
