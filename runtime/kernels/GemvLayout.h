//===- GemvLayout.h - Quantized weights in the CUDA-core GEMV layout ------===//
//
// The weight layout the GEMV kernel family (awq/gemv.cuh) reads, part of the
// device library's ABI, and the repacking into it: each
// column's weights packed along K so that lane L of a warp reads unit L of a
// tile with 16-byte loads (4 and 8 bits: one / two; 3 bits: three, each
// holding one word of 4 interleaved columns) and a warp reads 512 contiguous
// bytes per load.
//
// Layout (bits b in {3, 4, 8}; K_u = ceil(K / 32) units per column):
//  - A unit is 32 consecutive k of one column: b 32-bit words. K is padded
//    with q = 0 up to 32 K_u (the kernel stages x = 0 there).
//  - Word format inside a unit (awq/dequant.cuh):
//      4 bits: word j holds k = 8j + o in nibble i, o = {0,2,4,6,1,3,5,7}[i]
//              (AutoAWQ's interleave);
//      8 bits: word j holds k = 4j + i in byte i;
//      3 bits: word j (0..2) holds k = 10j + 2i at bits 3i..3i+2 and
//              k = 10j + 2i + 1 at bits 16+3i..18+3i (i = 0..4); bit 15 of
//              word j is bit j of k = 30, bit 31 of word j is bit j of k = 31.
//  - Columns form groups of I = gemvInterleavedColumns(b) (4 for 3 bits, else
//    1; N is padded with q = 0 columns to a multiple of I); group n / I starts
//    at word (n / I) * I * K_u * b. Its units fill tiles of 32 slots (the
//    last tile holds U_t = K_u - 32 t <= 32 units). Unit u sits in slot l of
//    tile t (contract: gemvUnitPlace): where G is a multiple of 64 or G == K
//    (gemvPairedUnits), the first P = 64 floor(K_u / 64) units are paired:
//    unit 64 p + 2 l + j in slot l of tile 2 p + j, so a lane reads two
//    consecutive units of one group in consecutive tiles. The units from P
//    on (one or two tiles, the last maybe short), and every unit of other
//    layers: unit u in slot u % 32 of tile u / 32. Within tile t the 16-byte
//    chunks are stored chunk-major, slot-minor; chunk h of slot l holds
//    c = 4 / I words of each of the I columns (4 and 8 bits: words 4h..4h+3
//    of the column; 3 bits: word h of 4 columns). Word w of (column n, the
//    unit in slot l of tile t) sits at (contract: gemvWordIndex)
//      (n / I) * I * K_u * b + 32 t * b * I + (h * U_t + l) * 4
//          + (n % I) * c + w % c,   h = w / c.
//    (4 bits: one chunk, so a tile's slots are consecutive 16-byte vectors.)
//    Bundle format 5 pairs the whole tile pairs of every such layer; format 4
//    paired only where K_u was a multiple of 64; format 3 kept unit u in
//    slot u % 32.
//  - scales: [G_n, N_s] (G_n = K / G, or 1 when G == K; N_s = N rounded up
//    to 32, gemvScaleColumns) of the layer's activation type (fp16 or bf16),
//    row-major: scale of (group g, column n) at g * N_s + n, so that a warp
//    loads its columns' scales of a group with one vector load; the padding
//    columns hold 0. A bf16 layer stores s 2^30 (kGemvWideAccumulatorExponent
//    in awq/contract.h: the bf16 kernel's sums carry 2^-30), exact for every
//    scale the repacker accepts (finite, below 2^96).
//  - zeros: [G_n, N_s] of the activation type holding the zero point z itself
//    (exact), same indexing; empty for a symmetric layer (the kernel uses
//    2^(b-1)).
//  - bias: [N] of the activation type, unchanged.
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_RUNTIME_KERNELS_GEMVLAYOUT_H
#define AWQ_RUNTIME_KERNELS_GEMVLAYOUT_H

#include "awq/contract.h"
#include "runtime/support/QuantizedLinear.h"

#include <cstdint>
#include <string>
#include <vector>

namespace awq {

/// The buffers the GEMV kernel reads for one linear layer.
struct GemvWeights {
  int64_t k = 0;      ///< Logical input features.
  int64_t n = 0;      ///< Output features (merged columns).
  QuantParams params; ///< As in the source layer.
  /// The element type of scales, zeros and bias (the layer's).
  ActivationType activation = ActivationType::F16;
  int64_t units = 0;        ///< ceil(k / 32): units per column.
  int64_t numGroups = 0;    ///< Groups per column (1 when groupSize == k).
  int64_t scaleColumns = 0; ///< Columns of a scale row: gemvScaleColumns(n).
  /// Packed weights, n (3 bits: rounded up to 4) * units * bits words, in
  /// the layout above.
  std::vector<uint32_t> qweight;
  /// Element bits, [numGroups, scaleColumns] (bf16: s 2^30).
  std::vector<uint16_t> scales;
  /// Element bits of z, [numGroups, scaleColumns]; empty when the layer is
  /// symmetric.
  std::vector<uint16_t> zeros;
  /// Element bits, [n] or empty.
  std::vector<uint16_t> bias;
};

/// Repacks `layer` into the GEMV layout. `what` names the layer in errors.
/// Throws awq::Error when the layer is inconsistent (awq::validate), when
/// the group size is neither a multiple of 32 nor K, when a q or zero value
/// does not fit in `bits` bits, or when a scale is not finite (bf16: or not
/// below 2^96, the bf16 kernel's limit). Scales, zeros and bias are in
/// `layer.activation`.
GemvWeights repackGemv(const QuantizedLinear &layer, const std::string &what);

/// The inverse of repackGemv: reads the logical layer (q [k, n], scales and
/// zeros [groups, n]; no bias) back from GEMV buffers of the sizes
/// gemvBuffers gives (`qweight`: n, for 3 bits rounded up to 4, * ceil(k / 32)
/// * bits words; `scales`,
/// `zeros`: [groups, gemvScaleColumns(n)] elements of `activation`). `zeros`
/// may be null when the layer is symmetric (it is ignored then). q in the K
/// padding is ignored. Throws awq::Error naming `what` when the shape or
/// parameters break the contract (linearViolation), when a buffer is missing,
/// when a scale is not finite, or when a stored zero point is not an integer in
/// [0, 2^bits) (the message names its group and column).
QuantizedLinear unpackGemv(int64_t k, int64_t n, const QuantParams &params,
                           const uint32_t *qweight, const uint16_t *scales,
                           const uint16_t *zeros, const std::string &what,
                           ActivationType activation);

/// A human-readable description of the GEMV layout for `bits` (3, 4 or 8),
/// for documentation and debug dumps.
std::string describeGemvLayout(int bits);

} // namespace awq

#endif // AWQ_RUNTIME_KERNELS_GEMVLAYOUT_H
