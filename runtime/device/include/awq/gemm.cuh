//===- gemm.cuh - Tensor-core GEMM for AWQ-quantized linear layers --------===//
//
// y = epilogue(x * W) for M >= 2 rows, with W dequantized in registers
// right before mma.sync.m16n8k16 (f16 in, f32 accumulate).
//
// Activation type: fp16 as described below, or bf16 (GemmConfig's
// Activation = BF16, sm_80+): every 16-bit buffer (x, y, residual, bias,
// actScale, scales) holds bf16, the MMA is mma.sync.m16n8k16 .bf16, the
// weight words are decoded with the bf16 decoders of awq/dequant.cuh and
// w = (q - z) * s with the zeros buffer holding z itself (GemmLayout.h), and
// the epilogue rounds to bf16 (RNE). The word formats are fp16's.
//
// One thread block computes a TileM x TileN output tile over a range of K
// tiles (all of them, or 1/SplitK of them). Its WarpsM x WarpsN warps each own
// a (TileM / WarpsM) x (TileN / WarpsN) sub-tile. Per K tile of TileK rows:
//
//   global --cp.async--> shared (Stages-deep ring, one commit group per tile)
//     x       [TileM x TileK] fp16, XOR-swizzled rows (SwizzledRows), rows
//             >= M and columns >= K zero-filled;
//     weights TileN / 64 runs of TileK / 32 fragment packets (GemmLayout.h),
//             copied verbatim (16-byte chunks; L2 evict-first when the grid
//             has one M tile, so each weight byte is read exactly once);
//     a       [TileK] activation scale (HasActScale);
//     s, zs   the group rows of the tile, once per group, into a separate
//             ring indexed by group "chunk" (see ScaleChunk below).
//   shared --> registers
//     A fragments by ldmatrix.x4, multiplied by a[k] when HasActScale;
//     B fragments by one 16-byte ld.shared per lane per (16 K rows, 64
//     columns) for 4 bits (two for 8 bits, 16 + 8 bytes per 32 rows for 3
//     bits), decoded with lop3/prmt magic numbers and one fp16 FMA each:
//     w = q * s - zs (zero point) or w = (q - 2^(b-1)) * s (symmetric).
//
// sm_75 (no cp.async, awq::target::kAsyncCopy false): the same chunks go
// global --ld.global.v4--> registers before a tile's MMAs and registers -->
// shared after them (one tile in flight; the planner gives 2 stages), and
// each m16n8k16 runs as two m16n8k8 (mmaK16).
//
// Why the weights go through shared memory rather than straight from global
// into registers: the cp.async ring hides DRAM latency Stages-1 tiles deep
// without holding those tiles in registers (the kernel must not spill), the
// WarpsM warps of a block that share an N range read each weight byte from
// DRAM once, and the fragment-ordered packets make every warp's shared read
// 512 contiguous bytes (conflict free).
//
// Epilogue (fp32 accumulators; c0, c1 of a C fragment are adjacent columns of
// one row, so SiLU(gate) * up needs no data exchange):
//   v = acc + bias[n];  SiluMul: o[j] = silu(v[2j]) * v[2j+1];  else o = v;
//   o += residual;      y = fp16(o).
// With SplitK > 1 every block adds its partial tile into the fp32 workspace
// with atomics, then the last block to arrive at the tile's counter (the
// threadfence-reduction pattern; no block ever waits for another) reads the
// sums back, clears them and the counter, and runs the epilogue.
//
// Constraints: awq::gemmViolation in awq/contract.h (K % 8 == 0, the group
// rule, TileK in {32, 64, 128} and compatible with the group size, TileM a
// multiple of 16 * WarpsM, TileN a multiple of 64 * WarpsN, 2 <= Stages <= 4,
// 1 <= SplitK <= number of K tiles, even N for SiluMul). N and K tails need no
// constraint: the repacker pads the weights (zeros) to 64 columns and 128 rows
// and the kernel predicates the activation loads (zero fill) and output stores.
//
// Launch: grid (kGridX, gridY(M), gridZ(M)), block (kThreads), kSharedBytes of
// dynamic shared memory (opt in above 48 KB). A split-K kernel needs an fp32
// workspace of workspaceFloats(M) and counterCount(M) counters, both zero.
// ArgsOf<Cfg>: x, qweight, scales, zeros (= fp16 z * s, or bf16 z for bf16;
// nullptr when symmetric) and actScale 16-byte aligned (cp.async), y and
// residual 4-byte aligned; all buffers in the layouts of
// runtime/kernels/GemmLayout.h.
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_DEVICE_GEMM_CUH
#define AWQ_DEVICE_GEMM_CUH

#include "awq/platform.cuh"

#include "awq/contract.h"
#include "awq/dequant.cuh"
#include "awq/faults.h"
#include "awq/linear_args.cuh"
#include "awq/mma.cuh"
#include "awq/primitives.cuh"

#if !defined(__CUDACC_RTC__)
#include <cmath>
#endif

namespace awq {
namespace gemm_detail {

__host__ __device__ constexpr int roundUp(int value, int multiple) {
  return (value + multiple - 1) / multiple * multiple;
}
__host__ __device__ constexpr int ceilDiv(int value, int divisor) {
  return (value + divisor - 1) / divisor;
}

/// fp16 bit pattern of a small integer (|value| < 2048, exact in fp16).
__host__ __device__ constexpr uint32_t halfBitsOfInt(int value) {
  const uint32_t sign = value < 0 ? 0x8000u : 0u;
  const int magnitude = value < 0 ? -value : value;
  if (magnitude == 0)
    return sign;
  int exponent = 0;
  while ((2 << exponent) <= magnitude)
    ++exponent;
  const uint32_t mantissa = static_cast<uint32_t>(magnitude - (1 << exponent))
                            << (10 - exponent);
  return sign | static_cast<uint32_t>(exponent + 15) << 10 | mantissa;
}

/// The same fp16 value in both halves of a 32-bit word.
__host__ __device__ constexpr uint32_t splat(uint32_t halfBits) {
  return halfBits | halfBits << 16;
}

__device__ __forceinline__ float silu(float g) { return g / (1.0f + expf(-g)); }

/// bf16 bit pattern of -2^p (the symmetric zero point), exact.
__host__ __device__ constexpr uint32_t bfloat16BitsOfMinusPow2(int p) {
  return 0x8000u | static_cast<uint32_t>(127 + p) << 7;
}

/// What the kernel does with its element type (half or __nv_bfloat16):
/// the packed pair, bit casts, conversions (round to nearest even) and the
/// splat of one half of a pair.
template <class Element> struct ElementOps;
template <> struct ElementOps<half> {
  using Pair = half2;
  static __device__ __forceinline__ Pair fromBits(uint32_t bits) {
    return bitsAsHalf2(bits);
  }
  static __device__ __forceinline__ uint32_t toBits(Pair p) {
    return half2AsBits(p);
  }
  static __device__ __forceinline__ float toFloat(half v) {
    return __half2float(v);
  }
  static __device__ __forceinline__ half fromFloat(float v) {
    return __float2half_rn(v);
  }
  static __device__ __forceinline__ Pair fromFloats(float lo, float hi) {
    return __floats2half2_rn(lo, hi);
  }
  /// The pair {-2^(bits-1), -2^(bits-1)}.
  static __host__ __device__ constexpr uint32_t minusSymmetricZero(int bits) {
    return splat(halfBitsOfInt(-(1 << (bits - 1))));
  }
};
template <> struct ElementOps<__nv_bfloat16> {
  using Pair = __nv_bfloat162;
  static __device__ __forceinline__ Pair fromBits(uint32_t bits) {
    return detail::bitsAsBfloat162(bits);
  }
  static __device__ __forceinline__ uint32_t toBits(Pair p) {
    return detail::bfloat162AsBits(p);
  }
  static __device__ __forceinline__ float toFloat(__nv_bfloat16 v) {
    return __bfloat162float(v);
  }
  static __device__ __forceinline__ __nv_bfloat16 fromFloat(float v) {
    return __float2bfloat16_rn(v);
  }
  static __device__ __forceinline__ Pair fromFloats(float lo, float hi) {
    return __floats2bfloat162_rn(lo, hi);
  }
  static __host__ __device__ constexpr uint32_t minusSymmetricZero(int bits) {
    return splat(bfloat16BitsOfMinusPow2(bits - 1));
  }
  /// {v.lo, v.lo} and {v.hi, v.hi}.
  static __device__ __forceinline__ Pair lowPair(Pair v) {
#if defined(__CUDA_ARCH__)
    return __low2bfloat162(v);
#else
    const uint32_t b = toBits(v) & 0xffffu;
    return fromBits(b | b << 16);
#endif
  }
  static __device__ __forceinline__ Pair highPair(Pair v) {
#if defined(__CUDA_ARCH__)
    return __high2bfloat162(v);
#else
    const uint32_t b = toBits(v) >> 16;
    return fromBits(b | b << 16);
#endif
  }
};

} // namespace gemm_detail

/// Compile-time description of one GEMM kernel instance. Every shape, group
/// and tiling parameter is a template constant; the static_asserts name the
/// constraint each violates.
///
///   K, N          logical input features / weight columns (N counts gate
///                 and up columns when SiluMul)
///   Bits          3, 4 or 8
///   GroupSize     32, 64, 128, ... (a multiple of 32 dividing K) or K
///   HasZeroPoint  w = q*s - zs (zeros buffer = z*s) vs (q - 2^(Bits-1))*s
///   TileM/N/K     block tile; WarpsM x WarpsN warps split it
///   Stages        cp.async ring depth (2..4)
///   SplitK        K-tile ranges per output tile (grid z)
///   HasActScale, HasBias, HasResidual, SiluMul: the optional inputs and the
///                 SiLU-and-multiply epilogue
///   Activation    the element type of x, y, residual, scales, zs, bias and
///                 activation scale: fp16 or bf16 (sm_80+: bf16 mma.sync)
///   MinBlocksPerSm second __launch_bounds__ argument (register budget)
template <
    int K_, int N_, int Bits_, int GroupSize_, bool HasZeroPoint_, int TileM_,
    int TileN_, int TileK_, int WarpsM_, int WarpsN_, int Stages_, int SplitK_,
    bool HasActScale_, bool HasBias_, bool HasResidual_, bool SiluMul_,
    ActivationType Activation_ = ActivationType::F16, int MinBlocksPerSm_ = 1>
struct GemmConfig {
  static constexpr int kK = K_;
  static constexpr int kN = N_;
  static constexpr int kBits = Bits_;
  static constexpr int kGroupSize = GroupSize_;
  static constexpr bool kHasZeroPoint = HasZeroPoint_;
  static constexpr int kTileM = TileM_;
  static constexpr int kTileN = TileN_;
  static constexpr int kTileK = TileK_;
  static constexpr int kWarpsM = WarpsM_;
  static constexpr int kWarpsN = WarpsN_;
  static constexpr int kStages = Stages_;
  static constexpr int kSplitK = SplitK_;
  static constexpr bool kHasActScale = HasActScale_;
  static constexpr bool kHasBias = HasBias_;
  static constexpr bool kHasResidual = HasResidual_;
  static constexpr bool kSiluMul = SiluMul_;
  static constexpr int kMinBlocksPerSm = MinBlocksPerSm_;
  static constexpr ActivationType kActivation = Activation_;
  /// The 16-bit element type of every activation-typed buffer.
  using Element = typename ActivationTraits<Activation_>::Element;

  /// The layer and tiling as the kernel contract (awq/contract.h) states
  /// them; every rule and derived size below comes from there.
  static constexpr LinearShape kShape{
      K_,           N_,       Bits_,        GroupSize_, HasZeroPoint_,
      HasActScale_, HasBias_, HasResidual_, SiluMul_,   Activation_};
  static constexpr GemmParams kParams{TileM_,  TileN_,  TileK_, WarpsM_,
                                      WarpsN_, Stages_, SplitK_};
  static_assert(gemmViolation(kShape, kParams) == nullptr,
                "GemmConfig breaks the kernel contract: awq::gemmViolation "
                "(awq/contract.h) names the rule");
  static constexpr GemmGeometry kGeometry = gemmGeometry(kShape, kParams);

  /// Output columns.
  static constexpr int kNOut = SiluMul_ ? N_ / 2 : N_;
  static constexpr int kThreads = 32 * WarpsM_ * WarpsN_;
  static constexpr int kWarpTileM = TileM_ / WarpsM_;
  static constexpr int kWarpTileN = TileN_ / WarpsN_;
  /// Rows of the small-M body (awq::gemmSmallBodyRows), 0 without one.
  static constexpr int kSmallRows =
      static_cast<int>(gemmSmallBodyRows(kShape, kParams));
  /// m16 MMA tiles per warp and 64-column packets per warp.
  static constexpr int kMFrags = kWarpTileM / 16;
  static constexpr int kNBlocks = kWarpTileN / 64;

  /// K as the kernel iterates it, and its tiles.
  static constexpr int kKPadded = static_cast<int>(kGeometry.kPadded);
  static constexpr int kKTiles = static_cast<int>(kGeometry.kTiles);

  /// The weight layout (runtime/kernels/GemmLayout.h): K padded to 128, N to
  /// 64.
  static constexpr int kPackedK = static_cast<int>(roundUp(K_, kGemmKAlign));
  static constexpr int kPackedN = static_cast<int>(roundUp(N_, kGemmPacketN));
  static constexpr int kPackedKPackets = kPackedK / kGemmPacketK;
  static constexpr int kPackedNBlocks = kPackedN / kGemmPacketN;
  static constexpr int kPacketBytes = static_cast<int>(gemmPacketBytes(Bits_));
  static constexpr int kScaleRows =
      static_cast<int>(gemmScaleRows(K_, GroupSize_));

  /// Group geometry as the pipeline sees it. A "scale chunk" is what one
  /// ring slot holds: kChunkRows group rows, used by kTilesPerChunk
  /// consecutive K tiles (per column: one chunk for all of K).
  static constexpr int kGroupEff = static_cast<int>(kGeometry.groupEff);
  static constexpr int kTilesPerChunk =
      static_cast<int>(kGeometry.tilesPerChunk);
  static constexpr int kChunkRows = static_cast<int>(kGeometry.chunkRows);

  /// Shared memory per pipeline stage and in all.
  static constexpr int kABytes = TileM_ * TileK_ * 2;
  static constexpr int kBBytesPerNBlock = (TileK_ / 32) * kPacketBytes;
  static constexpr int kBBytes = (TileN_ / 64) * kBBytesPerNBlock;
  static constexpr int kActBytes = HasActScale_ ? TileK_ * 2 : 0;
  static constexpr int kStageBytes = kABytes + kBBytes + kActBytes;
  static constexpr int kScaleSlotHalves = kChunkRows * TileN_;
  static constexpr int kScaleSlotBytes =
      kScaleSlotHalves * 2 * (HasZeroPoint_ ? 2 : 1);
  static constexpr int kFlagOffset = Stages_ * (kStageBytes + kScaleSlotBytes);
  /// Dynamic shared memory per block (the last 16 bytes hold the split-K
  /// "last block" flag).
  static constexpr int kSharedBytes = static_cast<int>(kGeometry.sharedBytes);
  static_assert(kSharedBytes == kFlagOffset + 16,
                "GemmConfig: the shared memory map disagrees with the "
                "contract's size");

  /// Launch geometry.
  static constexpr int kGridX = static_cast<int>(kGeometry.gridX);
  static __host__ __device__ constexpr int gridY(int m) {
    return static_cast<int>(kGeometry.gridY(m));
  }
  /// K splits for M rows (awq::GemmGeometry::gridZ); the kernel reads its
  /// split count from gridDim.z.
  static __host__ __device__ constexpr int gridZ(int m) {
    return static_cast<int>(kGeometry.gridZ(m));
  }
  /// Split-K scratch: an [M, N] fp32 workspace and one counter per output
  /// tile, both zero before a launch and zero again after it.
  static __host__ __device__ constexpr long long workspaceFloats(int m) {
    return kGeometry.workspaceFloats(m);
  }
  static __host__ __device__ constexpr int counterCount(int m) {
    return static_cast<int>(kGeometry.counterCount(m));
  }
};

namespace gemm_detail {

/// The block-wide state of one GEMM launch: tile origin, K range, the
/// shared memory map, and this thread's share of the copies of every tile.
///
/// What a thread copies (which activation rows and weight chunks, where to)
/// is the same for every K tile but its offset along K, so it is worked out
/// once here: the per-tile cost of a copy is one add and the cp.async.
template <class Cfg> struct GemmBlock {
  using Swizzle = SwizzledRows<Cfg::kTileK * 2>;
  using Element = typename Cfg::Element;

  static constexpr int kAChunksPerRow = Cfg::kTileK / 8;
  static constexpr int kAChunks = Cfg::kTileM * kAChunksPerRow;
  static constexpr int kACopies = ceilDiv(kAChunks, Cfg::kThreads);
  static constexpr int kBChunksPerNBlock = Cfg::kBBytesPerNBlock / 16;
  static constexpr int kBChunks = (Cfg::kTileN / 64) * kBChunksPerNBlock;
  static constexpr int kBCopies = ceilDiv(kBChunks, Cfg::kThreads);
  /// Copy i of a thread reads chunk tid + i * threads. When a block's
  /// chunks are a multiple of the threads (or the threads a multiple of
  /// them), copy i sits a compile-time distance from copy 0, and when the
  /// packed columns fill every column tile no copy is ever out of range:
  /// then one base pointer and immediate offsets serve all copies.
  static constexpr bool kBOneBase = kBChunks % Cfg::kThreads == 0 &&
                                    (kBChunksPerNBlock % Cfg::kThreads == 0 ||
                                     Cfg::kThreads % kBChunksPerNBlock == 0) &&
                                    Cfg::kPackedN % Cfg::kTileN == 0;
  static __host__ __device__ constexpr long long bSourceOffset(int i) {
    return static_cast<long long>(i * Cfg::kThreads / kBChunksPerNBlock) *
               Cfg::kPackedKPackets * Cfg::kPacketBytes +
           (i * Cfg::kThreads % kBChunksPerNBlock) * 16;
  }
  static __host__ __device__ constexpr int bDestOffset(int i) {
    return (i * Cfg::kThreads / kBChunksPerNBlock) * Cfg::kBBytesPerNBlock +
           (i * Cfg::kThreads % kBChunksPerNBlock) * 16;
  }
  /// Bytes of one 64-column block's packets per K tile.
  static constexpr long long kBTileStride =
      (Cfg::kTileK / 32) * static_cast<long long>(Cfg::kPacketBytes);

  const ArgsOf<Cfg> &args;
  unsigned char *shared;
  int tid, lane, warpM, warpN;
  int m0, n0;
  int kBegin, kEnd; ///< K tiles [kBegin, kEnd) of this block.
  /// A launch of at most kSmallRows rows: the small-M body runs.
  bool small;
  /// L2 evict-first for the weights when this launch reads each of them
  /// once (a single M tile); other M tiles' blocks would re-read them.
  uint64_t weightPolicy;

  /// Activation copies: source row start (K offset 0), swizzled
  /// destination, K offset in the tile; `aRowValid` says whether the row
  /// exists (else zero fill).
  const Element *aSource[kACopies];
  int aDest[kACopies], aK[kACopies];
  bool aRowValid[kACopies];
  /// Weight copies: source at K tile 0, destination in the stage.
  const unsigned char *bSource[kBCopies];
  int bDest[kBCopies];
  bool bCopy[kBCopies], bValid[kBCopies];

  __device__ __forceinline__ GemmBlock(const ArgsOf<Cfg> &a, unsigned char *sh,
                                       int thread, int split)
      : args(a), shared(sh), tid(thread), lane(thread & 31),
        warpM((thread >> 5) / Cfg::kWarpsN),
        warpN((thread >> 5) % Cfg::kWarpsN),
        m0(static_cast<int>(blockIdx.y) * Cfg::kTileM),
        n0(static_cast<int>(blockIdx.x) * Cfg::kTileN),
        kBegin(split * Cfg::kKTiles / static_cast<int>(gridDim.z)),
        kEnd((split + 1) * Cfg::kKTiles / static_cast<int>(gridDim.z)),
        small(gemmRunsSmallBody(a.M, Cfg::kSmallRows)),
        weightPolicy(gridDim.y == 1 ? makeEvictFirstPolicy()
                                    : makeEvictNormalPolicy()) {
#pragma unroll
    for (int i = 0; i < kACopies; ++i) {
      const int c = tid + i * Cfg::kThreads;
      const int row = c / kAChunksPerRow, chunk = c % kAChunksPerRow;
      aRowValid[i] = m0 + row < args.M;
      aK[i] = chunk * 8;
      // A missing row reads nothing (zero fill) but keeps an address inside
      // x: row 0's, which every launch has.
      aSource[i] =
          args.x +
          static_cast<long long>(aRowValid[i] ? m0 + row : 0) * Cfg::kK + aK[i];
      aDest[i] = Swizzle::elementOffset(row, chunk);
    }
    const unsigned char *q =
        reinterpret_cast<const unsigned char *>(args.qweight);
#pragma unroll
    for (int i = 0; i < kBCopies; ++i) {
      const int c = tid + i * Cfg::kThreads;
      const int block = c / kBChunksPerNBlock, offset = c % kBChunksPerNBlock;
      const int gBlock = n0 / 64 + block;
      bCopy[i] = kBChunks % Cfg::kThreads == 0 || c < kBChunks;
      bValid[i] = gBlock < Cfg::kPackedNBlocks;
      // A block past the packed columns reads nothing (zero fill) at
      // block 0's address, which exists.
      bSource[i] = q +
                   static_cast<long long>(bValid[i] ? gBlock : 0) *
                       Cfg::kPackedKPackets * Cfg::kPacketBytes +
                   offset * 16;
      bDest[i] = block * Cfg::kBBytesPerNBlock + offset * 16;
    }
  }

  __device__ __forceinline__ Element *aTile(int stage) const {
    return reinterpret_cast<Element *>(shared + stage * Cfg::kStageBytes);
  }
  __device__ __forceinline__ unsigned char *bTile(int stage) const {
    return shared + stage * Cfg::kStageBytes + Cfg::kABytes;
  }
  __device__ __forceinline__ Element *actTile(int stage) const {
    return reinterpret_cast<Element *>(shared + stage * Cfg::kStageBytes +
                                       Cfg::kABytes + Cfg::kBBytes);
  }
  __device__ __forceinline__ Element *scaleSlot(int slot) const {
    return reinterpret_cast<Element *>(
        shared + Cfg::kStages * Cfg::kStageBytes + slot * Cfg::kScaleSlotBytes);
  }
  __device__ __forceinline__ Element *zeroSlot(int slot) const {
    return scaleSlot(slot) + Cfg::kScaleSlotHalves;
  }
  /// The scale ring slot of K tile `kt` (in ring stage `stage`): chunks
  /// counted from this block's first, modulo Stages. Consecutive Stages
  /// chunks, all the pipeline holds at once, get distinct slots; with one
  /// tile per chunk the slot is the stage.
  __device__ __forceinline__ int scaleSlotOf(int kt, int stage) const {
    if constexpr (Cfg::kTilesPerChunk == 1)
      return stage;
    else
      return (kt / Cfg::kTilesPerChunk - kBegin / Cfg::kTilesPerChunk) %
             Cfg::kStages;
  }
  __device__ __forceinline__ unsigned *lastBlockFlag() const {
    return reinterpret_cast<unsigned *>(shared + Cfg::kFlagOffset);
  }

  /// Register slots of one K tile's 16-byte chunks per thread when the tile
  /// is staged through registers (no cp.async): activations, weights, the
  /// activation scale, then scales and z*s.
  static constexpr int kScaleCopies = ceilDiv(
      (Cfg::kHasZeroPoint ? 2 : 1) * Cfg::kChunkRows * (Cfg::kTileN / 8),
      Cfg::kThreads);
  static constexpr int kActSlot = kACopies + kBCopies;
  static constexpr int kScaleSlot = kActSlot + (Cfg::kHasActScale ? 1 : 0);
  static constexpr int kStagedChunks = kScaleSlot + kScaleCopies;

  /// Calls copy(slot, dst, src, valid, weights) for every 16-byte chunk this
  /// thread moves for K tile `kt` into `stage` (and its scale chunk when it
  /// starts one): `slot` is a compile-time index below kStagedChunks, `valid`
  /// false asks for 16 zero bytes (`src` then still points into its buffer),
  /// `weights` marks the read-once weight chunks.
  template <bool Small, class Copy>
  __device__ __forceinline__ void forEachChunk(int kt, int stage,
                                               Copy &&copy) const {
    const int kBase = kt * Cfg::kTileK;

    // Activations: rows >= M and columns >= K become zeros. The small-M
    // body reads rows 0..15 only, and they are the first copies of every
    // thread (copy i covers chunk tid + i * threads).
    Element *a = aTile(stage);
    constexpr int kRowChunks =
        (Small ? Cfg::kSmallRows : Cfg::kTileM) * kAChunksPerRow;
#pragma unroll
    for (int i = 0; i < ceilDiv(kRowChunks, Cfg::kThreads); ++i) {
      if (kRowChunks % Cfg::kThreads == 0 ||
          tid + i * Cfg::kThreads < kRowChunks) {
        if constexpr (Cfg::kK % Cfg::kTileK == 0) {
          copy(i, a + aDest[i], aSource[i] + kBase, aRowValid[i], false);
        } else {
          // The K tail: columns >= K are zero-filled from a safe address.
          const bool valid = aRowValid[i] && kBase + aK[i] < Cfg::kK;
          copy(i, a + aDest[i], valid ? aSource[i] + kBase : args.x, valid,
               false);
        }
      }
    }

    // Weights: per 64-column block a contiguous run of TileK / 32 packets.
    unsigned char *b = bTile(stage);
    if constexpr (kBOneBase) {
      const unsigned char *source = bSource[0] + kt * kBTileStride;
#pragma unroll
      for (int i = 0; i < kBCopies; ++i)
        copy(kACopies + i, b + bDest[0] + bDestOffset(i),
             source + bSourceOffset(i), true, true);
    } else {
#pragma unroll
      for (int i = 0; i < kBCopies; ++i) {
        if (bCopy[i])
          copy(kACopies + i, b + bDest[i], bSource[i] + kt * kBTileStride,
               bValid[i], true);
      }
    }

    if constexpr (Cfg::kHasActScale) {
      constexpr int kActChunks = Cfg::kTileK / 8;
      if (tid < kActChunks) {
        const int gK = kBase + tid * 8;
        const bool valid = gK < Cfg::kK;
        copy(kActSlot, actTile(stage) + tid * 8,
             valid ? args.actScale + gK : args.actScale, valid, false);
      }
    }

    // Scales (and z*s) once per group: only the first tile of a chunk, or
    // the first tile of this block's K range, loads the chunk.
    if (kt == kBegin || kt % Cfg::kTilesPerChunk == 0) {
      const int chunk = kt / Cfg::kTilesPerChunk;
      const int slot = scaleSlotOf(kt, stage);
      constexpr int kChunksPerRowS = Cfg::kTileN / 8;
      constexpr int kSChunks = Cfg::kChunkRows * kChunksPerRowS;
      constexpr int kAll = Cfg::kHasZeroPoint ? 2 * kSChunks : kSChunks;
#pragma unroll
      for (int i = 0; i < ceilDiv(kAll, Cfg::kThreads); ++i) {
        const int c = tid + i * Cfg::kThreads;
        if (kAll % Cfg::kThreads == 0 || c < kAll) {
          const bool zeros = c >= kSChunks;
          const int cc = zeros ? c - kSChunks : c;
          const int row = cc / kChunksPerRowS, col8 = cc % kChunksPerRowS;
          const int group = chunk * Cfg::kChunkRows + row;
          const int gCol = n0 + col8 * 8;
          const bool valid = group < Cfg::kScaleRows && gCol < Cfg::kPackedN;
          const Element *base = zeros ? args.zeros : args.scales;
          const Element *src =
              valid
                  ? base + static_cast<long long>(group) * Cfg::kPackedN + gCol
                  : base;
          Element *dst = (zeros ? zeroSlot(slot) : scaleSlot(slot)) +
                         row * Cfg::kTileN + col8 * 8;
          copy(kScaleSlot + i, dst, src, valid, false);
        }
      }
    }
  }

  /// Issues the cp.async copies of K tile `kt` into `stage`. The caller
  /// commits.
  template <bool Small>
  __device__ __forceinline__ void loadTile(int kt, int stage) const {
    forEachChunk<Small>(
        kt, stage,
        [&](int, void *dst, const void *src, bool valid, bool weights) {
          if (weights)
            cpAsync16Policy(dst, src, valid, weightPolicy);
          else
            cpAsync16(dst, src, valid);
        });
  }

  /// Without cp.async: loads K tile `kt`'s chunks into `staged` (plain
  /// 16-byte loads; zeros where a chunk is invalid)...
  template <bool Small>
  __device__ __forceinline__ void
  fetchTile(int kt, int stage, uint4 (&staged)[kStagedChunks]) const {
    forEachChunk<Small>(
        kt, stage,
        [&](int slot, void *, const void *src, bool valid, bool weights) {
          uint4 v = make_uint4(0u, 0u, 0u, 0u);
          if (valid)
            v = weights ? loadStreaming16(src, weightPolicy)
                        : *reinterpret_cast<const uint4 *>(src);
          staged[slot] = v;
        });
  }
  /// ... and stores them into `stage` once they are needed there.
  template <bool Small>
  __device__ __forceinline__ void
  storeTile(int kt, int stage, const uint4 (&staged)[kStagedChunks]) const {
    forEachChunk<Small>(kt, stage,
                        [&](int slot, void *dst, const void *, bool, bool) {
                          *reinterpret_cast<uint4 *>(dst) = staged[slot];
                        });
  }
};

/// Decodes one lane's B fragments for one 16-row half of a packet
/// (GemmLayout.h) with the shared decoders of awq/dequant.cuh; `words` are
/// the half's packed words (4, 8 or 3 of them). The codes alone: q[p] = {q(k =
/// 2t (+8 r)), q(k + 1)} of N tile j for register p = 2 j + r, exact small
/// integers in fp16.
template <int Bits>
__device__ __forceinline__ void decodeHalf(const uint32_t *words,
                                           half2 (&q)[16]) {
  if constexpr (Bits == 4) {
#pragma unroll
    for (int w = 0; w < 4; ++w)
      decode4ToHalf2(words[w], *reinterpret_cast<half2(*)[4]>(q + 4 * w));
  } else if constexpr (Bits == 8) {
#pragma unroll
    for (int w = 0; w < 8; ++w)
      decode8ToHalf2(words[w], *reinterpret_cast<half2(*)[2]>(q + 2 * w));
  } else {
    const uint32_t three[3] = {words[0], words[1], words[2]};
    decode3ToHalf2(three, q);
  }
}

/// The integer part of the bf16 decode of one half: f[p] = bits of 128 + q
/// (or 128 + 8 q where bf16ThreeBitEighth(p), 3 bits); for 8 bits f[p] =
/// bits of 128 + l and x[p] = 128 or 0 (q = f - x, decode8ToBfloat162Biased).
template <int Bits>
__device__ __forceinline__ void
decodeHalfBiased(const uint32_t *words, uint32_t (&f)[16], uint32_t (&x)[16]) {
  if constexpr (Bits == 8) {
#pragma unroll
    for (int w = 0; w < 8; ++w) {
      decode8ToBfloat162Biased<0>(words[w], f[2 * w], x[2 * w]);
      decode8ToBfloat162Biased<1>(words[w], f[2 * w + 1], x[2 * w + 1]);
    }
  } else if constexpr (Bits == 4) {
#pragma unroll
    for (int w = 0; w < 4; ++w)
      decode4ToBfloat162Biased(words[w],
                               *reinterpret_cast<uint32_t(*)[4]>(f + 4 * w));
  } else {
    const uint32_t three[3] = {words[0], words[1], words[2]};
    decode3ToBfloat162Biased(three, f);
  }
}

/// Dequantizes the half: b[j] = the m16n8k16 B registers of N tile j,
/// w = q * s - zs in one rounding. `scale` and `minusZero` hold this lane's
/// eight columns' s and -zs (half j of the 16-byte vector is column 8 j + g).
///
/// bf16 (Element = __nv_bfloat16): w = (q - z) * s, one rounding of the
/// exact value. `minusZero` holds -(128 + z) per column (the decode's bias
/// and z, subtracted together: exact small integers), for 3 bits
/// `minusZero8` holds -(16 + z) for the pairs read as 128 + 8 q (one hfma2
/// by 1/8); for 8 bits `minusZero` holds -z and q - z = (lo - z) - x.
template <int Bits, class Element>
__device__ __forceinline__ void
dequantHalf(const uint32_t *words, const uint32_t (&scale)[4],
            const uint32_t (&minusZero)[4], const uint32_t (&minusZero8)[4],
            uint32_t (&b)[8][2]) {
  if constexpr (IsBfloat16<Element>::value) {
#if AWQ_HAS_BF16_ARITHMETIC
    using Ops = ElementOps<__nv_bfloat16>;
    using Pair = __nv_bfloat162;
    const Pair eighth = Ops::fromBits(0x3e003e00u); // 1/8
    uint32_t f[16], x[16];
    decodeHalfBiased<Bits>(words, f, x);
#pragma unroll
    for (int j = 0; j < 8; ++j) {
      const Pair s2 = Ops::fromBits(scale[j / 2]);
      const Pair z2 = Ops::fromBits(minusZero[j / 2]);
      const Pair s = j % 2 ? Ops::highPair(s2) : Ops::lowPair(s2);
      const Pair z = j % 2 ? Ops::highPair(z2) : Ops::lowPair(z2);
#pragma unroll
      for (int r = 0; r < 2; ++r) {
        const int p = 2 * j + r;
        Pair d;
        if constexpr (Bits == 8) {
          d = __hsub2(__hadd2(Ops::fromBits(f[p]), z), Ops::fromBits(x[p]));
        } else if (Bits == 3 && bf16ThreeBitEighth(p)) {
          const Pair z82 = Ops::fromBits(minusZero8[j / 2]);
          d = __hfma2(Ops::fromBits(f[p]), eighth,
                      j % 2 ? Ops::highPair(z82) : Ops::lowPair(z82));
        } else {
          d = __hadd2(Ops::fromBits(f[p]), z);
        }
        b[j][r] = Ops::toBits(__hmul2(d, s));
      }
    }
#endif
    return;
  }
  (void)minusZero8;
  half2 q[16];
  decodeHalf<Bits>(words, q);
#pragma unroll
  for (int j = 0; j < 8; ++j) {
    const half2 s2 = bitsAsHalf2(scale[j / 2]);
    const half2 z2 = bitsAsHalf2(minusZero[j / 2]);
    const half sj = j % 2 ? __high2half(s2) : __low2half(s2);
    const half zj = j % 2 ? __high2half(z2) : __low2half(z2);
    const half2 s = __halves2half2(sj, sj);
    const half2 z = __halves2half2(zj, zj);
#pragma unroll
    for (int r = 0; r < 2; ++r)
      b[j][r] = half2AsBits(scaleMinusZs(q[2 * j + r], s, z));
  }
}

/// One 16-byte shared-memory load as four words.
__device__ __forceinline__ void loadVector4(const void *p, uint32_t *out) {
  const uint4 v = *reinterpret_cast<const uint4 *>(p);
  out[0] = v.x;
  out[1] = v.y;
  out[2] = v.z;
  out[3] = v.w;
}

/// Writes the final values of columns (col, col + 1) of row `row`, given the
/// fp32 sums v0, v1 (bias not yet added). Handles SiLU-and-multiply,
/// residual and the N tail.
template <class Cfg>
__device__ __forceinline__ void storePair(const ArgsOf<Cfg> &args, int row,
                                          int col, float v0, float v1) {
  using Ops = ElementOps<typename Cfg::Element>;
  using Pair = typename Ops::Pair;
  if (row >= args.M || col >= Cfg::kN)
    return;
  const bool second = col + 1 < Cfg::kN;
  if constexpr (Cfg::kHasBias) {
    v0 += Ops::toFloat(args.bias[col]);
    if (second)
      v1 += Ops::toFloat(args.bias[col + 1]);
  }
  const long long rowBase = static_cast<long long>(row) * Cfg::kNOut;
  if constexpr (Cfg::kSiluMul) {
    // Column 2j is gate j, 2j + 1 is up j (N is even, so both exist).
    const int out = col / 2;
    float o = silu(v0) * v1;
    if constexpr (Cfg::kHasResidual)
      o += Ops::toFloat(args.residual[rowBase + out]);
    args.y[rowBase + out] = Ops::fromFloat(o);
  } else {
    if constexpr (Cfg::kHasResidual) {
      v0 += Ops::toFloat(args.residual[rowBase + col]);
      if (second)
        v1 += Ops::toFloat(args.residual[rowBase + col + 1]);
    }
    if (Cfg::kNOut % 2 == 0) {
      // col is even and the row stride is even: a 4-byte aligned pair.
      *reinterpret_cast<Pair *>(args.y + rowBase + col) =
          Ops::fromFloats(v0, v1);
    } else {
      args.y[rowBase + col] = Ops::fromFloat(v0);
      if (second)
        args.y[rowBase + col + 1] = Ops::fromFloat(v1);
    }
  }
}

/// The MMAs of one K tile (`kt`, in ring stage `stage`) for this warp. The
/// row split (Small = false) gives each warp MFrags m16 tiles of rows and
/// every packet of the tile; the small-M body (Small = true, MFrags = 1)
/// gives each warp rows 0..15 and its WarpsM-th share of the packets
/// (awq::gemmSmallBodyRows).
template <class Cfg, int MFrags, bool Small>
__device__ __forceinline__ void
computeTile(const GemmBlock<Cfg> &blk,
            float (&acc)[MFrags][Cfg::kNBlocks * 8][4], int kt, int stage) {
  using Swizzle = SwizzledRows<Cfg::kTileK * 2>;
  using Element = typename Cfg::Element;
  using Ops = ElementOps<Element>;
  using Pair = typename Ops::Pair;
  constexpr int kPackets = Cfg::kTileK / 32;
  constexpr int kWarpPackets = Small ? kPackets / Cfg::kWarpsM : kPackets;
  const int firstPacket = Small ? blk.warpM * kWarpPackets : 0;
  const int rowOrigin = Small ? 0 : blk.warpM * Cfg::kWarpTileM;
  const int lane = blk.lane;
  const int g = lane >> 2, t = lane & 3;

  const int slot = blk.scaleSlotOf(kt, stage);
  const Element *aS = blk.aTile(stage);
  const unsigned char *bS =
      blk.bTile(stage) + blk.warpN * Cfg::kNBlocks * Cfg::kBBytesPerNBlock;
  const Element *sS =
      blk.scaleSlot(slot) + blk.warpN * Cfg::kNBlocks * 64 + g * 8;
  const Element *zS =
      blk.zeroSlot(slot) + blk.warpN * Cfg::kNBlocks * 64 + g * 8;

  uint32_t scale[Cfg::kNBlocks][4], minusZero[Cfg::kNBlocks][4];
  // bf16 3 bits: -(16 + z) for the pairs decoded as 128 + 8 q.
  uint32_t minusZero8[Cfg::kNBlocks][4];
#pragma unroll
  for (int j = 0; j < kWarpPackets; ++j) {
    const int kp = firstPacket + j;
    // A new group starts at this packet: refresh s and -z*s (8 columns of
    // each 64-column block per lane, one 16-byte shared load each).
    if (j == 0 ||
        (Cfg::kGroupEff < Cfg::kTileK && (kp * 32) % Cfg::kGroupEff == 0)) {
      const int row =
          Cfg::kGroupEff >= Cfg::kTileK ? 0 : kp * 32 / Cfg::kGroupEff;
#pragma unroll
      for (int nb = 0; nb < Cfg::kNBlocks; ++nb) {
        loadVector4(sS + row * Cfg::kTileN + nb * 64, scale[nb]);
        if constexpr (IsBfloat16<Element>::value) {
          // bf16: the zeros buffer holds z itself (exact); the constants
          // of dequantHalf: -(128 + z) and -(16 + z), or -z for 8 bits.
          constexpr uint32_t kBias = Cfg::kBits == 8 ? 0u : 0x43004300u;
          constexpr uint32_t kBias8 = 0x41804180u; // 16
          if constexpr (Cfg::kHasZeroPoint) {
            uint32_t z[4];
            loadVector4(zS + row * Cfg::kTileN + nb * 64, z);
#pragma unroll
            for (int w = 0; w < 4; ++w) {
              const Pair zz = Ops::fromBits(z[w]);
              minusZero[nb][w] =
                  Cfg::kBits == 8
                      ? z[w] ^ 0x80008000u
                      : Ops::toBits(
                            __hsub2(Ops::fromBits(kBias | 0x80008000u), zz));
              if constexpr (Cfg::kBits == 3)
                minusZero8[nb][w] = Ops::toBits(
                    __hsub2(Ops::fromBits(kBias8 | 0x80008000u), zz));
            }
          } else {
            // z = 2^(bits-1): -(128 + z) = -132 / -136, -(16 + 4) = -20,
            // -128 for 8 bits.
            constexpr uint32_t kMinus = Cfg::kBits == 3   ? 0xc304c304u
                                        : Cfg::kBits == 4 ? 0xc308c308u
                                                          : 0xc300c300u;
#pragma unroll
            for (int w = 0; w < 4; ++w) {
              minusZero[nb][w] = kMinus;
              minusZero8[nb][w] = 0xc1a0c1a0u; // -20
            }
          }
        } else if constexpr (Cfg::kHasZeroPoint) {
          loadVector4(zS + row * Cfg::kTileN + nb * 64, minusZero[nb]);
#pragma unroll
          for (int w = 0; w < 4; ++w)
            minusZero[nb][w] ^= 0x80008000u; // -zs: flip both signs.
        } else {
          // Symmetric: -z * s with z = 2^(bits-1) is exact in fp16/bf16.
          constexpr uint32_t kMinusZero = Ops::minusSymmetricZero(Cfg::kBits);
#pragma unroll
          for (int w = 0; w < 4; ++w)
            minusZero[nb][w] = Ops::toBits(__hmul2(Ops::fromBits(scale[nb][w]),
                                                   Ops::fromBits(kMinusZero)));
        }
      }
    }

    // This lane's packed words of packet kp for each 64-column block;
    // words [kWords / 2 * h, kWords / 2 * (h + 1)) belong to half h.
    constexpr int kWords = Cfg::kBits == 3 ? 6 : 2 * Cfg::kBits;
    uint32_t words[Cfg::kNBlocks][kWords];
#pragma unroll
    for (int nb = 0; nb < Cfg::kNBlocks; ++nb) {
      const unsigned char *packet =
          bS + nb * Cfg::kBBytesPerNBlock + kp * Cfg::kPacketBytes;
      if constexpr (Cfg::kBits == 3) {
        loadVector4(packet + 16 * lane, words[nb]);
        const uint2 high =
            *reinterpret_cast<const uint2 *>(packet + 512 + 8 * lane);
        words[nb][4] = high.x;
        words[nb][5] = high.y;
      } else {
#pragma unroll
        for (int x = 0; x < kWords / 4; ++x)
          loadVector4(packet + 512 * x + 16 * lane, words[nb] + 4 * x);
      }
    }

#pragma unroll
    for (int h = 0; h < 2; ++h) {
      const int kk = kp * 32 + h * 16;
      uint32_t a[MFrags][4];
#pragma unroll
      for (int mf = 0; mf < MFrags; ++mf) {
        const int row = rowOrigin + mf * 16 + (lane & 15);
        ldmatrix<4>(a[mf],
                    aS + Swizzle::elementOffset(row, kk / 8 + (lane >> 4)));
      }
      if constexpr (Cfg::kHasActScale) {
        // a0/a1 hold k = kk + 2t, +1; a2/a3 hold k = kk + 8 + 2t, +1.
        const Element *act = blk.actTile(stage) + kk + 2 * t;
        const Pair low = *reinterpret_cast<const Pair *>(act);
        const Pair high = *reinterpret_cast<const Pair *>(act + 8);
#pragma unroll
        for (int mf = 0; mf < MFrags; ++mf) {
          a[mf][0] = Ops::toBits(__hmul2(Ops::fromBits(a[mf][0]), low));
          a[mf][1] = Ops::toBits(__hmul2(Ops::fromBits(a[mf][1]), low));
          a[mf][2] = Ops::toBits(__hmul2(Ops::fromBits(a[mf][2]), high));
          a[mf][3] = Ops::toBits(__hmul2(Ops::fromBits(a[mf][3]), high));
        }
      }
      if constexpr (faults::kWrongFragmentIndex) {
        // Fault injection: rows g + 8 and columns 2t + 8 trade places.
#pragma unroll
        for (int mf = 0; mf < MFrags; ++mf) {
          const uint32_t swap = a[mf][1];
          a[mf][1] = a[mf][2];
          a[mf][2] = swap;
        }
      }
#pragma unroll
      for (int nb = 0; nb < Cfg::kNBlocks; ++nb) {
        uint32_t b[8][2];
        dequantHalf<Cfg::kBits, Element>(words[nb] + h * (kWords / 2),
                                         scale[nb], minusZero[nb],
                                         minusZero8[nb], b);
#pragma unroll
        for (int j8 = 0; j8 < 8; ++j8) {
#pragma unroll
          for (int mf = 0; mf < MFrags; ++mf)
            mmaK16Of<Element>(acc[mf][nb * 8 + j8], a[mf], b[j8]);
        }
      }
    }
  }
}

/// The K loop of one body: per K tile, the copies of a later tile and the
/// MMAs of this one (computeTile).
///
/// With cp.async the copies run Stages - 1 tiles ahead in a Stages-deep ring.
/// Without it (sm_75) a thread's share of the next tile is loaded into
/// registers before the current tile's MMAs and stored into the ring after
/// them: the loads are in flight during the MMAs, as a cp.async would be,
/// and only one tile fits in registers, so a ring of two stages holds all
/// there is (the planner gives such targets two).
template <class Cfg, int MFrags, bool Small>
__device__ __forceinline__ void
kLoop(const GemmBlock<Cfg> &blk, float (&acc)[MFrags][Cfg::kNBlocks * 8][4]) {
  const int numTiles = blk.kEnd - blk.kBegin;

#pragma unroll
  for (int mf = 0; mf < MFrags; ++mf) {
#pragma unroll
    for (int nf = 0; nf < Cfg::kNBlocks * 8; ++nf) {
#pragma unroll
      for (int i = 0; i < 4; ++i)
        acc[mf][nf][i] = 0.0f;
    }
  }

  if constexpr (!target::kAsyncCopy) {
    uint4 staged[GemmBlock<Cfg>::kStagedChunks];
    if (numTiles > 0) {
      blk.template fetchTile<Small>(blk.kBegin, 0, staged);
      blk.template storeTile<Small>(blk.kBegin, 0, staged);
    }
    int stage = 0;
    for (int i = 0; i < numTiles; ++i) {
      // Tile i's stores are visible, and nobody still reads the stage
      // refilled below (it was consumed in iteration i - 1).
      if constexpr (!faults::kSkipBarrier)
        __syncthreads();
      const int nextStage = stage + 1 == Cfg::kStages ? 0 : stage + 1;
      const bool more = i + 1 < numTiles;
      if (more)
        blk.template fetchTile<Small>(blk.kBegin + i + 1, nextStage, staged);
      computeTile<Cfg, MFrags, Small>(blk, acc, blk.kBegin + i, stage);
      if (more)
        blk.template storeTile<Small>(blk.kBegin + i + 1, nextStage, staged);
      stage = nextStage;
    }
  } else {
    // Prologue: Stages - 1 tiles in flight, one commit group each (possibly
    // empty, so the group count per iteration stays fixed).
#pragma unroll
    for (int s = 0; s < Cfg::kStages - 1; ++s) {
      if (s < numTiles)
        blk.template loadTile<Small>(blk.kBegin + s, s);
      cpAsyncCommit();
    }

    // Ring stages of tile i and of tile i + Stages - 1, kept as counters (a
    // modulo by 3 costs a multiply-high and three more instructions).
    int stage = 0, nextStage = Cfg::kStages - 1;
    for (int i = 0; i < numTiles; ++i) {
      // Tile i has landed for this thread; the barrier makes every thread's
      // copies visible and guarantees nobody still reads the stage refilled
      // next (it was consumed in iteration i - 1).
      cpAsyncWait<Cfg::kStages - 2>();
      if constexpr (!faults::kSkipBarrier)
        __syncthreads();
      const int next = i + Cfg::kStages - 1;
      if (next < numTiles)
        blk.template loadTile<Small>(blk.kBegin + next, nextStage);
      cpAsyncCommit();

      computeTile<Cfg, MFrags, Small>(blk, acc, blk.kBegin + i, stage);
      stage = stage + 1 == Cfg::kStages ? 0 : stage + 1;
      nextStage = nextStage + 1 == Cfg::kStages ? 0 : nextStage + 1;
    }
    // Drain the (empty) trailing groups before the block may exit or reuse
    // the ring.
    cpAsyncWait<0>();
  }
}

/// After the K loop: split-K accumulation through the workspace when
/// SplitK > 1, then the epilogue. `rowBase` is this lane's first row (g of
/// its first m16 tile); only `owner` lanes add or store, but every thread
/// takes part in the barriers.
template <class Cfg, int MFrags>
__device__ __forceinline__ void
finish(const GemmBlock<Cfg> &blk, float (&acc)[MFrags][Cfg::kNBlocks * 8][4],
       int rowBase, bool owner) {
  const ArgsOf<Cfg> &args = blk.args;
  const int colBase = blk.n0 + blk.warpN * Cfg::kWarpTileN + 2 * (blk.lane & 3);

  // Launches of many M tiles split K less (GemmGeometry::gridZ), down to
  // not at all.
  if (Cfg::kSplitK > 1 && gridDim.z > 1) {
    // Partial sums into the workspace; the last of the gridDim.z blocks of
    // this tile finishes it.
    if (owner) {
#pragma unroll
      for (int mf = 0; mf < MFrags; ++mf) {
#pragma unroll
        for (int nf = 0; nf < Cfg::kNBlocks * 8; ++nf) {
#pragma unroll
          for (int half8 = 0; half8 < 2; ++half8) {
            const int row = rowBase + mf * 16 + half8 * 8;
            const int col = colBase + nf * 8;
            if (row < args.M) {
              float *ws =
                  args.workspace + static_cast<long long>(row) * Cfg::kN;
              if (col < Cfg::kN)
                atomicAdd(ws + col, acc[mf][nf][2 * half8]);
              if (col + 1 < Cfg::kN)
                atomicAdd(ws + col + 1, acc[mf][nf][2 * half8 + 1]);
            }
          }
        }
      }
    }
    __threadfence();
    __syncthreads();
    unsigned *flag = blk.lastBlockFlag();
    if (blk.tid == 0) {
      const unsigned tile = blockIdx.y * gridDim.x + blockIdx.x;
      const unsigned arrived = atomicAdd(args.counters + tile, 1u);
      const bool last = arrived == gridDim.z - 1;
      if (last)
        args.counters[tile] = 0; // Ready for the next launch.
      *flag = last ? 1u : 0u;
    }
    __syncthreads();
    if (*flag == 0u || !owner)
      return;
    __threadfence();
#pragma unroll
    for (int mf = 0; mf < MFrags; ++mf) {
#pragma unroll
      for (int nf = 0; nf < Cfg::kNBlocks * 8; ++nf) {
#pragma unroll
        for (int half8 = 0; half8 < 2; ++half8) {
          const int row = rowBase + mf * 16 + half8 * 8;
          const int col = colBase + nf * 8;
          float v[2] = {0.0f, 0.0f};
          if (row < args.M) {
            // volatile: the other blocks' atomics live in L2, not in this
            // SM's L1.
            volatile float *ws =
                args.workspace + static_cast<long long>(row) * Cfg::kN;
#pragma unroll
            for (int e = 0; e < 2; ++e) {
              if (col + e < Cfg::kN) {
                v[e] = ws[col + e];
                ws[col + e] = 0.0f;
              }
            }
          }
          acc[mf][nf][2 * half8] = v[0];
          acc[mf][nf][2 * half8 + 1] = v[1];
        }
      }
    }
  }
  if (!owner)
    return;

#pragma unroll
  for (int mf = 0; mf < MFrags; ++mf) {
#pragma unroll
    for (int nf = 0; nf < Cfg::kNBlocks * 8; ++nf) {
      const int row = rowBase + mf * 16;
      const int col = colBase + nf * 8;
      storePair<Cfg>(args, row, col, acc[mf][nf][0], acc[mf][nf][1]);
      storePair<Cfg>(args, row + 8, col, acc[mf][nf][2], acc[mf][nf][3]);
    }
  }
}

/// The small-M body: the WarpsM warps of a column range each sum their
/// share of the packets (kLoop<..., true>); warps 1.. hand their sums to
/// warp row 0 through the (drained) pipeline's shared memory, which then
/// finishes rows 0..15.
template <class Cfg>
__device__ __forceinline__ void smallBody(const GemmBlock<Cfg> &blk) {
  float acc[1][Cfg::kNBlocks * 8][4];
  kLoop<Cfg, 1, true>(blk, acc);
  // Every warp is past its last shared read and every copy has landed.
  __syncthreads();
  float4 *partials = reinterpret_cast<float4 *>(blk.shared);
  constexpr int kTiles = Cfg::kNBlocks * 8;
  if (blk.warpM > 0) {
    const int warpSlot = (blk.warpM - 1) * Cfg::kWarpsN + blk.warpN;
#pragma unroll
    for (int nf = 0; nf < kTiles; ++nf)
      partials[(warpSlot * kTiles + nf) * 32 + blk.lane] = make_float4(
          acc[0][nf][0], acc[0][nf][1], acc[0][nf][2], acc[0][nf][3]);
  }
  __syncthreads();
  if (blk.warpM == 0) {
    for (int wm = 1; wm < Cfg::kWarpsM; ++wm) {
      const int warpSlot = (wm - 1) * Cfg::kWarpsN + blk.warpN;
#pragma unroll
      for (int nf = 0; nf < kTiles; ++nf) {
        const float4 p = partials[(warpSlot * kTiles + nf) * 32 + blk.lane];
        acc[0][nf][0] += p.x;
        acc[0][nf][1] += p.y;
        acc[0][nf][2] += p.z;
        acc[0][nf][3] += p.w;
      }
    }
  }
  finish<Cfg, 1>(blk, acc, blk.m0 + (blk.lane >> 2), blk.warpM == 0);
}

} // namespace gemm_detail

/// The kernel body; instantiate it through AWQ_GEMM_KERNEL.
template <class Cfg>
__device__ __forceinline__ void gemmKernel(const ArgsOf<Cfg> &args) {
  using namespace gemm_detail;
  // The table's features by index, not findArch's pointer: GCC's
  // sanitizer builds reject pointer comparisons in constant expressions.
  static_assert(Cfg::kActivation == ActivationType::F16 ||
                    target::kBf16Arithmetic,
                "GemmConfig: bf16 activations need sm_80 or newer (bf16 "
                "mma.sync; awq::activationViolation)");
#if defined(__CUDA_ARCH__)
  static_assert(findArch(__CUDA_ARCH__ / 10) == nullptr ||
                    Cfg::kSharedBytes <=
                        findArch(__CUDA_ARCH__ / 10)->maxSharedBytes,
                "GemmConfig: the tiles need more shared memory than a block "
                "may use on this architecture (awq::kArchTable)");
#endif
  static_assert(target::kAsyncCopy ||
                    GemmBlock<Cfg>::kStagedChunks <= kGemmMaxStagedChunks,
                "GemmConfig: without cp.async a thread stages more of a K "
                "tile in registers than awq::gemmArchViolation allows");
  static_assert(GemmBlock<Cfg>::kStagedChunks ==
                    gemmStagedChunks(Cfg::kShape, Cfg::kParams),
                "GemmConfig: the copies per thread disagree with the "
                "contract's count");
  AWQ_DYNAMIC_SHARED(unsigned char, awqGemmShared);

  const GemmBlock<Cfg> blk(args, awqGemmShared, static_cast<int>(threadIdx.x),
                           static_cast<int>(blockIdx.z));
  if constexpr (Cfg::kSmallRows > 0) {
    if (blk.small) {
      smallBody<Cfg>(blk);
      return;
    }
  }
  float acc[Cfg::kMFrags][Cfg::kNBlocks * 8][4];
  kLoop<Cfg, Cfg::kMFrags, false>(blk, acc);
  finish<Cfg, Cfg::kMFrags>(
      blk, acc, blk.m0 + blk.warpM * Cfg::kWarpTileM + (blk.lane >> 2), true);
}

} // namespace awq

/// Defines the extern "C" kernel `name` for the GemmConfig type `Cfg` (a
/// type alias: template arguments contain commas) and its host entry.
#define AWQ_GEMM_KERNEL(name, Cfg)                                             \
  extern "C" __global__ void __launch_bounds__(                                \
      Cfg::kThreads, Cfg::kMinBlocksPerSm) name(awq::ArgsOf<Cfg> args) {       \
    awq::gemmKernel<Cfg>(args);                                                \
  }                                                                            \
  AWQ_HOST_ENTRY(name, awq::ArgsOf<Cfg>)

#endif // AWQ_DEVICE_GEMM_CUH
