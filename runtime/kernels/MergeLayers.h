//===- MergeLayers.h - Merge quantized layers that share one input --------===//
//
// Layers that read the same activations run as one kernel over a merged
// weight: q, k and v projections are concatenated along N, and the gate and
// up projections of a gated MLP are interleaved column by column so a
// SiLU-and-multiply epilogue finds each (gate, up) pair side by side. These
// work on the logical awq::QuantizedLinear, before any kernel repacking, so
// every kernel family (GEMV, GEMM) reuses them.
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_RUNTIME_KERNELS_MERGELAYERS_H
#define AWQ_RUNTIME_KERNELS_MERGELAYERS_H

#include "runtime/support/QuantizedLinear.h"

#include <string>
#include <vector>

namespace awq {

/// The layer with columns [parts[0] | parts[1] | ...]: output column
/// offset(i) + j is column j of parts[i]. All parts must share K, bits and
/// group size. If any part has zero points the result has them (symmetric
/// parts get their implicit 2^(bits-1)); if any part has a bias the result
/// has one (parts without get zeros). `what` names the merge in errors.
/// Throws awq::Error on an empty list, a null part, an inconsistent part
/// (awq::validate) or mismatched K / bits / group size.
QuantizedLinear concatColumns(const std::vector<const QuantizedLinear *> &parts,
                              const std::string &what);

/// The merged gated-MLP layer: column 2j is gate column j and column 2j + 1
/// is up column j (N = 2 * gate.n). Zero points and bias follow the rules of
/// concatColumns. Throws awq::Error unless gate and up have the same K, N,
/// bits and group size.
QuantizedLinear interleaveGateUp(const QuantizedLinear &gate,
                                 const QuantizedLinear &up,
                                 const std::string &what);

} // namespace awq

#endif // AWQ_RUNTIME_KERNELS_MERGELAYERS_H
