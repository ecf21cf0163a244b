//===- GemmLayout.h - Quantized weights in tensor-core fragment order -----===//
//
// The weight layout the GEMM kernel family (awq/gemm.cuh) reads, part of the
// device library's ABI, and the repacking into it. The layout constants are
// the kernel contract's (awq/contract.h). The
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
//              nibble i where o = kAwqNibbleOrder[i] (AutoAWQ's interleave, the
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
//  - Scales: the layer's activation type (fp16 or bf16; the word formats
//    are the same for both), scaleRows x nPadded, row r = group r (scaleRows =
//    ceil(kPadded / G), or 1 when G == K: one group per column). Inside a row
//    each 64-column block stores its 64 scales as [g][j] (column 64 nb + 8 j
//    + g at index 64 nb + 8 g + j), so lanes with the same g read one
//    16-byte vector holding the scales of their eight columns.
//  - Zero-scale products zs = fp16(z * s) (for a bf16 layer the zero point
//    z itself as bf16, exact: the bf16 kernel computes w = (q - z) * s,
//    since bf16(z * s) would be off by up to 2^-8 z s), same layout as the
//    scales, only when the layer has zero points; the kernel computes w = q * s
//    - zs. A symmetric layer has no zs buffer: w = (q - 2^(b-1)) * s.
//  - Padding holds q = 0, s = 0, zs = 0, so padded weights are exactly zero.
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_RUNTIME_KERNELS_GEMMLAYOUT_H
#define AWQ_RUNTIME_KERNELS_GEMMLAYOUT_H

#include "awq/contract.h"
#include "runtime/support/QuantizedLinear.h"

#include <cstdint>
#include <string>
#include <vector>

namespace awq {

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
  /// Bits of the layer's activation type (fp16 or bf16), scaleRows x
  /// nPadded in [g][j] order per 64 columns.
  std::vector<uint16_t> scales;
  /// fp16 bits of z * s (bf16 layers: bf16 bits of z), same layout as
  /// `scales`; empty when symmetric.
  std::vector<uint16_t> zeroScales;
};

/// The zero terms zs = fp16(z * s) (a bf16 layer: bf16(z), exact) of every
/// group, [numGroups, n] like the
/// scales (z * s is exact in fp32 for 8-bit z and 11-bit s; one rounding):
/// what awq.fold_zero_points computes. Empty for a symmetric layer.
std::vector<uint16_t> foldZeroPoints(const QuantizedLinear &layer,
                                     const std::string &what);

/// Repacks `layer` into the GEMM fragment order described above, with the
/// zero terms `zeroScales` (foldZeroPoints' layout; empty when symmetric)
/// laid out like the scales: what awq.repack to mma_fragment computes from a
/// scaled_zero weight. `what` names the layer in error messages. Throws
/// awq::Error when the layer is inconsistent (awq::validate), when K is not
/// a multiple of 8 (activation rows must be 16-byte aligned), when the group
/// size breaks the contract's rule, when a q value does not fit in `bits`
/// bits, when a scale is not finite, or when zeroScales has the wrong size.
GemmWeights repackGemm(const QuantizedLinear &layer,
                       const std::vector<uint16_t> &zeroScales,
                       const std::string &what);

/// foldZeroPoints then repackGemm: the whole way from stored zero points.
GemmWeights repackGemm(const QuantizedLinear &layer, const std::string &what);

/// The inverse of repackGemm: reads the logical layer (q [k, n], scales and
/// zero points [groups, n]; no bias) back from GEMM buffers of the sizes
/// gemmBuffers gives (`qweight`: roundUp(k, 128) * roundUp(n, 64) * bits / 8
/// bytes; `scales`, `zeroScales`: gemmScaleRows(k, group) x roundUp(n, 64)
/// elements of `activation`). `zeroScales` may be null when the layer is
/// symmetric (it is ignored then). Padding (K, N and scale rows past the last
/// group) is ignored. Each zero point is recovered as z = round(zs / s) and
/// must be an integer in [0, 2^bits) with fp16(z * s) == zs bit for bit (bf16:
/// zs is bf16(z)); where s == 0, zs must be fp16(0 * s) and z is 0 (the layout
/// keeps nothing else). Throws awq::Error naming `what` when the shape or
/// parameters break the contract (linearViolation), when a buffer is missing,
/// when a scale is not finite, or when a zero term gives no such z (the message
/// names its group and column).
QuantizedLinear unpackGemm(int64_t k, int64_t n, const QuantParams &params,
                           const uint8_t *qweight, const uint16_t *scales,
                           const uint16_t *zeroScales, const std::string &what,
                           ActivationType activation);

} // namespace awq

#endif // AWQ_RUNTIME_KERNELS_GEMMLAYOUT_H
