//===- RepackGemm.h - Quantized weights in tensor-core fragment order -----===//
//
// The offline repacking for the GEMM kernel family (awq/gemm.cuh). The
// kernel feeds mma.sync.m16n8k16 B fragments straight from these buffers:
// every lane finds its fragment values for a 32 x 64 (K x N) block in one
// contiguous run of 16-byte vectors, so loads are 16 bytes wide and the
// dequantized registers are already in B-fragment order (no shuffles).
//
// Weight format (bits b in {3, 4, 8}); g = lane / 4, t = lane % 4:
//  - K is padded with zero weights to kPadded = roundUp(K, kGemmKAlign), N to
//    nPadded = roundUp(N, kGemmPacketN). The weights form packets of
//    kGemmPacketK x kGemmPacketN values, stored packet column by packet
//    column: packet (kp, nb) starts at byte
//      (nb * kPadded / kGemmPacketK + kp) * gemmPacketBytes(b).
//  - Inside a packet each lane owns 64 values; its value v (0..63) is
//      h = v / 32, j = v / 4 % 8, r = v / 2 % 2, e = v % 2,
//      k = 32 kp + 16 h + 8 r + 2 t + e,   n = 64 nb + 8 j + g,
//    i.e. value pair v / 2 is B-fragment register r of the m16n8k16 tile for
//    K rows 16 h.. and N columns 8 j.. (low half = even k).
//  - The lane's 64 values are packed into 32-bit words (little-endian) and
//    the words are laid out as 16-byte vectors "vector-major, lane-minor"
//    (vector x of lane L at byte 512 x + 16 L), so one warp-wide vector
//    load reads 512 contiguous bytes:
//      4 bits: 8 words, word w holds values 8w..8w+7 with value 8w + o in
//              nibble i where o = kAwqOrder[i] (AutoAWQ's interleave, the
//              4-bit word format of awq/dequant.cuh); vector x = words
//              4x..4x+3, i.e. one vector per 16-row half.
//      8 bits: 16 words, byte i of word w holds value 4w + i; vector x =
//              words 4x..4x+3 (two vectors per 16-row half h).
//      3 bits: 6 words, three per 16-row half: words 3h..3h+2 hold the
//              half's 32 values 32h + u (u = 0..31) in the 3-bit word format
//              of awq/dequant.cuh (word j: bits 3i and 16 + 3i hold values
//              10j + 2i and 10j + 2i + 1 for i < 5; bits 15 and 31 hold bit
//              j of values 30 and 31). Words 0..3 form one 16-byte vector
//              (lane L at byte 16 L), words 4..5 an 8-byte vector (lane L at
//              byte 512 + 8 L).
//  - Scales: fp16, scaleRows x nPadded, row r = group r (scaleRows =
//    ceil(kPadded / G), or 1 when G == K: one group per column). Inside a row
//    each 64-column block stores its 64 scales as [g][j] (column 64 nb + 8 j
//    + g at index 64 nb + 8 g + j), so lanes with the same g read one
//    16-byte vector holding the scales of their eight columns.
//  - Zero-scale products zs = fp16(z * s), same layout as the scales, only
//    when the layer has zero points; the kernel computes w = q * s - zs. A
//    symmetric layer has no zs buffer: w = (q - 2^(b-1)) * s.
//  - Padding holds q = 0, s = 0, zs = 0, so padded weights are exactly zero.
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_COMPILER_REPACK_REPACKGEMM_H
#define AWQ_COMPILER_REPACK_REPACKGEMM_H

#include "runtime/support/QuantizedLinear.h"

#include <cstdint>
#include <string>
#include <vector>

namespace awq {

/// K rows of one fragment packet (two m16n8k16 K steps).
constexpr int64_t kGemmPacketK = 32;
/// N columns of one fragment packet (eight m16n8k16 N tiles).
constexpr int64_t kGemmPacketN = 64;
/// K is padded to this: the largest K tile a GEMM config may use.
constexpr int64_t kGemmKAlign = 128;

/// Bytes of one 32 x 64 packet of `bits`-bit weights (32 lanes x 64 values).
constexpr int64_t gemmPacketBytes(int bits) { return 256 * bits; }

/// The buffers the GEMM kernel reads for one linear layer.
struct GemmWeights {
  int64_t k = 0;         ///< Logical input features.
  int64_t n = 0;         ///< Logical output features.
  QuantParams params;    ///< As in the source layer.
  int64_t kPadded = 0;   ///< roundUp(k, kGemmKAlign).
  int64_t nPadded = 0;   ///< roundUp(n, kGemmPacketN).
  int64_t scaleRows = 0; ///< Group rows stored in scales / zeroScales.
  /// Fragment-ordered packets, kPadded * nPadded * bits / 8 bytes.
  std::vector<uint8_t> qweight;
  /// fp16 bits, scaleRows x nPadded in [g][j] order per 64 columns.
  std::vector<uint16_t> scales;
  /// fp16 bits of z * s, same layout as `scales`; empty when symmetric.
  std::vector<uint16_t> zeroScales;
};

/// The number of group rows the GEMM format stores for K = `k` and group
/// size `groupSize` (1 when groupSize == k).
int64_t gemmScaleRows(int64_t k, int64_t groupSize);

/// Repacks `layer` into the GEMM fragment order described above. `what`
/// names the layer in error messages. Throws awq::Error when the layer is
/// inconsistent (awq::validate), when K is not a multiple of 8 (activation
/// rows must be 16-byte aligned), when the group size is neither a multiple
/// of 32 nor K, when a q or zero value does not fit in `bits` bits, or when a
/// scale is not finite.
GemmWeights repackGemm(const QuantizedLinear &layer, const std::string &what);

/// The compile-time parameters of one awq::GemmConfig instance (see
/// awq/gemm.cuh for their meaning and constraints).
struct GemmKernelSpec {
  int64_t k = 0;      ///< Input features.
  int64_t n = 0;      ///< Weight columns (gate and up counted when siluMul).
  QuantParams params; ///< bits, group size (k = per column), zero point.
  int tileM = 64, tileN = 256, tileK = 64;
  int warpsM = 1, warpsN = 4;
  int stages = 4;
  int splitK = 1;
  bool actScale = false; ///< x * a[k] enters the product.
  bool bias = false;
  bool residual = false;
  bool siluMul = false; ///< Output silu(v[2j]) * v[2j+1], N / 2 columns.
  int minBlocksPerSm = 1;
};

/// Dynamic shared memory of a spec's kernel (GemmConfig::kSharedBytes).
int64_t gemmSharedBytes(const GemmKernelSpec &spec);

/// The dynamic shared memory a block may use on sm_`smArch` (80, 86, 87, 89,
/// 90): 163 KB, 99 KB, 163 KB, 99 KB, 227 KB. Throws awq::Error for other
/// architectures.
int64_t gemmMaxSharedBytes(int smArch);

/// Checks `spec` against every GemmConfig constraint and the shared-memory
/// limit of sm_`smArch` (0 = no architecture check), so that the compiler
/// reports a bad tiling with a clear message instead of an NVRTC error.
/// Throws awq::Error naming `what` and the offending field.
void validateGemmKernelSpec(const GemmKernelSpec &spec, int smArch,
                            const std::string &what);

/// The optional parts of a linear layer's computation.
struct GemmEpilogue {
  bool actScale = false;
  bool bias = false;
  bool residual = false;
  bool siluMul = false;
};

/// The tiling awqc recommends (docs/kernels.md, "GEMM") for a layer of K x N
/// with `params`, when the kernel is expected to see about `expectedM` rows,
/// on sm_`smArch` with `smCount` SMs:
///   - M tile by expected rows: <= 16 -> 16, <= 32 -> 32, <= 64 -> 64 (one
///     warp row), else 128 with 2 x 2 warps of 64 x 64;
///   - 64 columns per warp, 4 warps along N (TileN 256) up to M tile 64,
///     never wider than N rounded up to 64;
///   - TileK 128 for warp tiles of 16 rows (or 32 rows at <= 4 bits), else
///     64; halved until it and the group size divide one another;
///   - the deepest pipeline (4, then 3 stages, then a smaller TileK, at
///     last 2 stages) that fits the architecture's shared memory;
///   - split-K when the M x N tiles fill less than one wave of `smCount`
///     SMs: floor(smCount / tiles) splits (one wave, no straggling partial
///     wave), at most 16, with at least two K tiles per split.
/// The result satisfies validateGemmKernelSpec and compiles without
/// register spills (tested for sm_80/86/89/90). Throws awq::Error when the
/// layer itself cannot be run by the GEMM kernel (see repackGemm) or for a
/// non-positive expectedM or smCount.
GemmKernelSpec chooseGemmKernelSpec(int64_t k, int64_t n,
                                    const QuantParams &params,
                                    const GemmEpilogue &epilogue,
                                    int64_t expectedM, int smArch, int smCount);

/// The C++ type `awq::GemmConfig<...>` of a spec.
std::string gemmConfigType(const GemmKernelSpec &spec);

/// A complete CUDA source defining the extern "C" kernel `kernelName` for
/// `spec` (includes awq/gemm.cuh; compiles with NVRTC and with the host
/// emulation). Validates the spec (no architecture check) and the name.
std::string gemmKernelSource(const GemmKernelSpec &spec,
                             const std::string &kernelName);

/// How to launch a spec's kernel for `m` rows.
struct GemmLaunch {
  unsigned gridX = 1, gridY = 1, gridZ = 1; ///< N tiles, M tiles, splits.
  unsigned threads = 0;                     ///< Block size (x only).
  int64_t sharedBytes = 0;     ///< Dynamic shared memory; opt in above 48 KB.
  int64_t workspaceFloats = 0; ///< Zeroed fp32 split-K workspace ([M, N]).
  int64_t counters = 0;        ///< Zeroed split-K counters.
};

/// Launch geometry for `m` >= 1 rows. Throws awq::Error for m < 1 or when
/// the grid would exceed CUDA's limits.
GemmLaunch gemmLaunch(const GemmKernelSpec &spec, int64_t m);

} // namespace awq

#endif // AWQ_COMPILER_REPACK_REPACKGEMM_H
