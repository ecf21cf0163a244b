//===- Reference.h - Plain fp64 CPU oracle for awqc's numerics ------------===//
//
// Every numerics test in awqc compares against these functions. They are
// written as plain loops with fp64 accumulation and no intermediate rounding,
// so that they are obviously correct; they never use BLAS or the kernels
// under test. Threads only split independent output rows.
//
// Layouts are row-major. fp16 and bf16 tensors are uint16_t bit patterns
// (runtime/support/Half.h); their conversions to fp32 and fp64 are exact.
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_COMPILER_REFERENCE_REFERENCE_H
#define AWQ_COMPILER_REFERENCE_REFERENCE_H

#include "runtime/support/QuantizedLinear.h"

#include <cstdint>
#include <vector>

namespace awq {

/// Converts fp16 bit patterns to floats (exact).
std::vector<float> halfsToFloats(const std::vector<uint16_t> &halfs);

/// The dense weight of `layer` as W[k, n] = (q[k, n] - z[k / G, n]) * s[k/G, n]
/// in a [K, N] row-major vector. s is the fp16 or bf16 scale (the layer's
/// activation type) converted to float; the product is exact in fp32
/// (|q - z| < 2^8 and s has at most 11 significant bits).
/// Throws awq::Error when the layer is inconsistent (awq::validate).
std::vector<float> dequantize(const QuantizedLinear &layer);

/// The quantized linear layer in fp64:
///   y[m, n] = sum_k (x[m, k] * a[k]) * W[k, n] + bias[n] + residual[m, n]
/// with W = dequantize(layer).
///   - x: [M, K] in the layer's activation type (fp16 or bf16); M = `m`.
///   - a: optional per-input-channel activation scale, [K] (empty = 1).
///   - bias: layer.bias when present ([N]).
///   - residual: optional [M, N] added to the output (empty = none).
/// All of them are bits of layer.activation.
/// Every product and sum is done in fp64 without rounding to fp16, so the
/// result is the exact value up to fp64 accumulation error; kernels are
/// expected to match it within a tolerance that models their fp16/fp32
/// rounding. `numThreads` = 0 uses every hardware thread.
/// Returns y as fp64 [M, N]. Throws awq::Error on inconsistent sizes.
std::vector<double>
referenceLinear(const std::vector<uint16_t> &x, int64_t m,
                const QuantizedLinear &layer,
                const std::vector<uint16_t> &activationScale = {},
                const std::vector<uint16_t> &residual = {}, int numThreads = 0);

/// An unquantized linear layer in the Hugging Face layout, in fp64:
///   y[m, n] = sum_k x[m, k] * weight[n, k] + bias[n]
/// x is fp32 [M, K], weight fp32 [N, K] (out x in), bias fp32 [N] or empty.
/// Returns y as fp64 [M, N]. Throws awq::Error on inconsistent sizes.
std::vector<double> referenceDenseLinear(const std::vector<float> &x, int64_t m,
                                         const std::vector<float> &weight,
                                         int64_t n,
                                         const std::vector<float> &bias = {},
                                         int numThreads = 0);

/// RMSNorm over the last dimension D = weight.size(), in fp64:
///   y[r, d] = x[r, d] / sqrt(mean_d(x[r, :]^2) + eps) * weight[d] + bias[d]
/// (Llama convention: the weight multiplies directly, it is not 1 + weight).
/// x is fp32 [rows, D]; bias is fp32 [D] or empty. Returns fp64 [rows, D].
std::vector<double> referenceRmsNorm(const std::vector<float> &x, int64_t rows,
                                     const std::vector<float> &weight,
                                     double eps,
                                     const std::vector<float> &bias = {});

/// LayerNorm over the last dimension D = weight.size(), in fp64:
///   mu = mean_d x[r, d],  var = mean_d (x[r, d] - mu)^2  (biased variance)
///   y[r, d] = (x[r, d] - mu) / sqrt(var + eps) * weight[d] + bias[d]
/// x is fp32 [rows, D]; bias is fp32 [D] or empty. Returns fp64 [rows, D].
std::vector<double> referenceLayerNorm(const std::vector<float> &x,
                                       int64_t rows,
                                       const std::vector<float> &weight,
                                       double eps,
                                       const std::vector<float> &bias = {});

/// The gated MLP activation, elementwise in fp64:
///   y[i] = silu(gate[i]) * up[i],  silu(g) = g / (1 + exp(-g)).
/// gate and up must have the same size. Returns fp64 of that size.
std::vector<double> referenceSiluMul(const std::vector<float> &gate,
                                     const std::vector<float> &up);

} // namespace awq

#endif // AWQ_COMPILER_REFERENCE_REFERENCE_H
