//===- Gptq.h - GPTQ error-compensating quantization of one linear --------===//
//
// GPTQ (Frantar et al., ICLR 2023) as implemented by the reference code and
// AutoGPTQ: columns (input channels) are quantized one at a time with the
// grouped quantizer of Quantizer.h, and each column's rounding error is
// spread over the columns not yet quantized through the inverse Hessian of
// the layer's reconstruction loss, H = 2/T X^T X. The output is the same
// QuantizedLinear as RTN's, so every checkpoint writer and kernel takes it.
//
// Groups stay contiguous (group g holds input channels [g G, (g+1) G)), as
// awqc's kernels require. With act-order the columns are visited by
// decreasing H diagonal, and each group's grid is fixed up front from the
// weights before any compensation ("static groups"), so the visiting order
// never reaches the checkpoint.
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_COMPILER_QUANTIZE_GPTQ_H
#define AWQ_COMPILER_QUANTIZE_GPTQ_H

#include "runtime/support/QuantizedLinear.h"

#include <cstdint>
#include <string>
#include <vector>

namespace awq {

struct GptqOptions {
  /// Added to H's diagonal: dampening * mean(diag(H)) (AutoGPTQ's
  /// damp_percent, default 0.01). Raised tenfold, up to 3 times, when H is
  /// still not positive definite.
  double dampening = 0.01;
  /// Columns per lazy batch update.
  int64_t blockSize = 128;
  /// Visit columns by decreasing H diagonal (static groups).
  bool actOrder = false;
};

/// H = 2/T (X diag(1/s))^T (X diag(1/s)) for activations x [t, k]; inputScale
/// (s, [k]) may be empty for s = 1. Symmetric, fp32, [k, k] row-major.
std::vector<float> gptqHessian(const float *x, int64_t t, int64_t k,
                               const std::vector<float> &inputScale,
                               int numThreads);

/// Heap bytes gptqQuantizeLinear holds at most for an [n, k] weight (the
/// Hessian passed in not included).
uint64_t gptqWorkingBytes(int64_t n, int64_t k, const GptqOptions &options);

/// Quantizes weight [n, k] (Hugging Face layout) with GPTQ against `hessian`
/// ([k, k], from gptqHessian). Throws awq::Error naming `what` on bad
/// shapes, non-finite weights, a group range too large for an fp16 scale, or
/// a Hessian that stays singular after dampening.
QuantizedLinear gptqQuantizeLinear(const float *weight, int64_t n, int64_t k,
                                   const QuantParams &params,
                                   const std::vector<uint16_t> &bias,
                                   const std::vector<float> &hessian,
                                   const GptqOptions &options,
                                   const std::string &what, int numThreads);

} // namespace awq

#endif // AWQ_COMPILER_QUANTIZE_GPTQ_H
