//===- OutputLoss.h - Squared output error of weight perturbations --------===//
//
// The AWQ searches score a candidate weight W' of a linear by how much it
// changes the layer's output on calibration tokens X [T, K]:
//   sumSquares(D) = sum_t sum_n (X[t, :] . D[n, :])^2,   D = W' - W  [R, K]
// Working on the difference avoids cancelling two large outputs in fp32.
// Two equivalent BLAS formulations, picked by cost:
//   direct: Y = X D^T (T x R), then sum Y^2            ~ T*K*R flops
//   Gram:   H = X^T X once, F = D H, sum D .* F        ~ K*K*R flops
// The Gram form wins when T > K (large calibration sets).
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_COMPILER_QUANTIZE_OUTPUTLOSS_H
#define AWQ_COMPILER_QUANTIZE_OUTPUTLOSS_H

#include <atomic>
#include <cstdint>
#include <vector>

namespace awq {

/// Sum of squared output changes over fixed calibration tokens.
class OutputLoss {
public:
  enum class Method { Auto, Direct, Gram };

  /// `x` is [t, k] row-major fp32 and must outlive this object (it is not
  /// copied). `expectedRows` is the total number of weight rows the caller
  /// will evaluate; Method::Auto uses it to pick the cheaper formulation.
  /// Gram precomputes X^T X here. `cancel` (optional) is polled between
  /// BLAS calls; when set, evaluation throws awq::Cancelled.
  OutputLoss(const float *x, int64_t t, int64_t k, int64_t expectedRows,
             Method method, int numThreads,
             const std::atomic<bool> *cancel = nullptr);

  /// sum_t sum_r (x[t, :] . delta[r, :])^2 for delta [rows, k], accumulated
  /// in fp64 over fp32 BLAS products.
  double sumSquares(const float *delta, int64_t rows) const;

  /// Method actually used (never Auto).
  Method method() const { return method_; }

  /// Heap bytes an OutputLoss of these dimensions holds at most (the Gram
  /// matrix and the product buffer), for memory estimates.
  static uint64_t workingBytes(int64_t t, int64_t k, int64_t expectedRows,
                               int64_t maxRowsPerCall);
  int64_t tokens() const { return t_; }

private:
  const float *x_;
  int64_t t_, k_;
  Method method_;
  int numThreads_;
  const std::atomic<bool> *cancel_;
  std::vector<float> gram_; ///< [k, k] X^T X, Gram method only.
  mutable std::vector<float> buffer_;
};

} // namespace awq

#endif // AWQ_COMPILER_QUANTIZE_OUTPUTLOSS_H
