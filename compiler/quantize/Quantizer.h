//===- Quantizer.h - Grouped integer quantizer (RTN) for linear weights ---===//
//
// The quantizer AWQ and RTN share: each group of G consecutive input channels
// of one output channel gets an fp16 scale and (asymmetric mode) an integer
// zero point. The grid spans [lo, hi] in qmax = 2^b - 1 steps:
//
//   asymmetric: [lo, hi] = [min(min, 0), max(max, 0)],  zero = round(-lo / s)
//   symmetric:  [lo, hi] = [-absmax, absmax],            zero = 2^(b-1)
//   s = down(max(hi - lo, 1e-5) / qmax)
//   q = clamp(round(w / s) + zero, 0, qmax),  w' = (q - zero) * s
//
// round is round-half-to-even, down rounds to the fp16 value below.
// Arithmetic is fp32. Rounding the scale down makes lo and hi get the end
// codes 0 and qmax, so no level is wasted (docs/quantization.md). Weights come
// in the Hugging Face layout W[n, k] (out x in).
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_COMPILER_QUANTIZE_QUANTIZER_H
#define AWQ_COMPILER_QUANTIZE_QUANTIZER_H

#include "runtime/support/QuantizedLinear.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#ifdef __FAST_MATH__
#error "roundHalfEven relies on IEEE semantics; do not build with -ffast-math"
#endif

namespace awq {

/// Largest magnitude roundHalfEven accepts; larger inputs must be clamped
/// first (the quantizer clamps codes to [0, 2^b) anyway).
constexpr float kMaxRoundInput = 4194304.0f; // 2^22

/// Rounds to the nearest integer, ties to even, for |x| <= 2^22, under the
/// default rounding mode. Adding 1.5 * 2^23 moves x into [2^23, 2^24) where
/// the float spacing is exactly 1, so the FPU's own round-to-nearest-even
/// does the work; unlike std::nearbyint it vectorises without SSE4.1.
inline float roundHalfEven(float x) {
  // Without -ffast-math (never used here) the compiler may not fold this.
  const float magic = 12582912.0f; // 1.5 * 2^23
  return (x + magic) - magic;
}

/// The largest fp16 value <= v, as a float, for finite v > 0 (0 below the
/// smallest subnormal); +inf when v exceeds the largest finite fp16 value.
/// Bit arithmetic, so the hot path needs none of the compiler's software
/// fp16 conversions.
float roundDownToHalf(float v);

/// The quantization grid of one group.
struct GroupGrid {
  float scale = 0.0f; ///< Exactly representable in fp16, > 0; +inf if invalid.
  int zero = 0;       ///< Zero point in [0, qmax] (2^(b-1) when symmetric).
  int qmax = 15;      ///< 2^bits - 1.

  /// False when the scale does not fit in fp16 (range too large).
  bool valid() const { return std::isfinite(scale); }
};

/// Checks bits (3, 4, 8) and that the group size is positive and divides k.
/// Throws awq::Error naming `what` otherwise.
void checkQuantParams(const QuantParams &params, int64_t k,
                      const std::string &what);

/// The grid for a group whose weights span [minVal, maxVal] (symmetric mode
/// uses max(|minVal|, |maxVal|)). Returns an invalid grid (scale = +inf) when
/// the scale exceeds the largest finite fp16 value.
GroupGrid makeGroupGrid(float minVal, float maxVal, const QuantParams &params);

/// The integer code of w on `grid`, in [0, qmax].
inline int quantizeCode(float w, const GroupGrid &grid) {
  float v = std::min(std::max(w / grid.scale, -kMaxRoundInput), kMaxRoundInput);
  int q = static_cast<int>(roundHalfEven(v)) + grid.zero;
  return std::min(std::max(q, 0), grid.qmax);
}

/// Quantizes and dequantizes w[0, count) on `grid` into out (may alias w).
/// Bit-identical to (quantizeCode(w) - zero) * scale, written in float so the
/// loop vectorises.
void fakeQuantizeSpan(const float *w, int64_t count, const GroupGrid &grid,
                      float *out);

/// err[i] = fakeQuantize(clamp(w[i], lb, ub)) - w[i] on `grid` for
/// i < count (err may alias w): a clip candidate's error, in one pass.
void clampedQuantizationError(const float *w, int64_t count, float lb, float ub,
                              const GroupGrid &grid, float *err);

/// The minimum and maximum of w[0, count), count >= 1 (finite values).
void groupMinMax(const float *w, int64_t count, float &minVal, float &maxVal);

/// Quantizes and dequantizes one row of k weights, group by group, into out
/// (may alias w). Returns false, leaving out unspecified, when a group's
/// scale does not fit in fp16.
bool fakeQuantizeRow(const float *w, int64_t k, const QuantParams &params,
                     float *out);

/// Quantizes weight[n, k] (HF layout, fp32) into a QuantizedLinear with
/// q[k, n] and scales/zeros[k/G, n]. `bias` (fp16 bits, [n] or empty) is
/// copied. Throws awq::Error naming `what` on bad parameters, non-finite
/// weights, or a group whose scale overflows fp16. `numThreads` = 0 uses
/// every hardware thread.
QuantizedLinear quantizeLinear(const float *weight, int64_t n, int64_t k,
                               const QuantParams &params,
                               const std::vector<uint16_t> &bias,
                               const std::string &what, int numThreads = 0);

} // namespace awq

#endif // AWQ_COMPILER_QUANTIZE_QUANTIZER_H
