//===- QuantizedLinear.h - A grouped quantized weight, unpacked -----------===//
//
// The logical content of one quantized linear layer, independent of any file
// or kernel layout: the exchange type between checkpoint import/export, the
// quantizer, the CPU reference and the kernel repacker.
//
// The layer computes y[m, n] = sum_k x[m, k] * W[k, n] + bias[n] with
//   W[k, n] = (q[k, n] - z[k / G, n]) * s[k / G, n]
// where z is the stored zero point, or 2^(bits-1) for a symmetric layer.
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_RUNTIME_SUPPORT_QUANTIZEDLINEAR_H
#define AWQ_RUNTIME_SUPPORT_QUANTIZEDLINEAR_H

#include "runtime/support/Error.h"

#include "awq/contract.h"

#include <cstdint>
#include <string>
#include <vector>

namespace awq {

struct QuantParams {
  int bits = 4;            ///< 3, 4 or 8.
  int64_t groupSize = 128; ///< 32, 64, 128, or k for one group per column.
  bool zeroPoint = true;   ///< false: symmetric, implicit zero 2^(bits-1).
};

struct QuantizedLinear {
  int64_t k = 0; ///< Input features (reduction dimension).
  int64_t n = 0; ///< Output features.
  QuantParams params;
  std::vector<uint8_t> q;       ///< [k, n] row-major, values in [0, 2^bits).
  std::vector<uint8_t> zeros;   ///< [k/G, n]; empty when symmetric.
  std::vector<uint16_t> scales; ///< [k/G, n], bits of `activation`.
  std::vector<uint16_t> bias;   ///< [n] or empty, bits of `activation`.
  /// The element type of the scales and bias, and of the activations the
  /// layer multiplies.
  ActivationType activation = ActivationType::F16;

  int64_t numGroups() const { return k / params.groupSize; }
  int zeroAt(int64_t group, int64_t col) const {
    return params.zeroPoint ? zeros[group * n + col] : (1 << (params.bits - 1));
  }
};

/// Throws awq::Error naming `what` when the parameters or buffer sizes are
/// inconsistent.
inline void validate(const QuantizedLinear &layer, const std::string &what) {
  const QuantParams &p = layer.params;
  if (p.bits != 3 && p.bits != 4 && p.bits != 8)
    throw Error(what + ": bits must be 3, 4 or 8, got " +
                std::to_string(p.bits));
  if (layer.k <= 0 || layer.n <= 0)
    throw Error(what + ": shape must be positive, got " +
                std::to_string(layer.k) + "x" + std::to_string(layer.n));
  if (p.groupSize <= 0 || layer.k % p.groupSize != 0)
    throw Error(what + ": group size " + std::to_string(p.groupSize) +
                " does not divide K = " + std::to_string(layer.k));
  const size_t weights = static_cast<size_t>(layer.k * layer.n);
  const size_t groups = static_cast<size_t>(layer.numGroups() * layer.n);
  if (layer.q.size() != weights)
    throw Error(what + ": expected " + std::to_string(weights) +
                " weights, got " + std::to_string(layer.q.size()));
  if (layer.scales.size() != groups)
    throw Error(what + ": expected " + std::to_string(groups) +
                " scales, got " + std::to_string(layer.scales.size()));
  if (p.zeroPoint && layer.zeros.size() != groups)
    throw Error(what + ": expected " + std::to_string(groups) + " zeros, got " +
                std::to_string(layer.zeros.size()));
  if (!layer.bias.empty() && layer.bias.size() != static_cast<size_t>(layer.n))
    throw Error(what + ": bias must have N = " + std::to_string(layer.n) +
                " elements, got " + std::to_string(layer.bias.size()));
}

} // namespace awq

#endif // AWQ_RUNTIME_SUPPORT_QUANTIZEDLINEAR_H
