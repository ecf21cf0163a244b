//===- OutputLoss.cpp - Squared output error of weight perturbations ------===//

#include "compiler/quantize/OutputLoss.h"

#include "compiler/quantize/Cancellation.h"
#include "compiler/reference/Parallel.h"
#include "runtime/support/Error.h"

#include <cblas.h>

#include <algorithm>
#include <climits>
#include <string>

namespace awq {

namespace {

/// Bounds the scratch product so huge layers are evaluated in row chunks
/// (32 MiB of fp32), which also gives regular cancellation points.
constexpr int64_t kBufferFloats = int64_t(8) << 20;

/// sum_i a[i] * b[i] in fp64. The partition into partial sums depends only
/// on `count`, so the result is the same for any thread count.
double parallelDot(const float *a, const float *b, int64_t count,
                   int numThreads) {
  const int64_t parts =
      std::min<int64_t>(64, std::max<int64_t>(1, count / 65536));
  std::vector<double> partial(static_cast<size_t>(parts), 0.0);
  parallelFor(parts, numThreads, [&](int64_t pb, int64_t pe) {
    for (int64_t p = pb; p < pe; ++p) {
      const int64_t begin = count * p / parts, end = count * (p + 1) / parts;
      double acc = 0.0;
      for (int64_t i = begin; i < end; ++i)
        acc += static_cast<double>(a[i]) * b[i];
      partial[p] = acc;
    }
  });
  double total = 0.0;
  for (double v : partial)
    total += v;
  return total;
}

/// The formulation with fewer flops over the whole run.
OutputLoss::Method cheaperMethod(int64_t t, int64_t k, int64_t expectedRows) {
  const double rows = static_cast<double>(std::max<int64_t>(expectedRows, 1));
  const double direct = static_cast<double>(t) * k * rows;
  const double gram = static_cast<double>(t) * k * k + double(k) * k * rows;
  return gram < direct ? OutputLoss::Method::Gram : OutputLoss::Method::Direct;
}

} // namespace

uint64_t OutputLoss::workingBytes(int64_t t, int64_t k, int64_t expectedRows,
                                  int64_t maxRowsPerCall) {
  const int64_t rows = std::max<int64_t>(1, maxRowsPerCall);
  if (cheaperMethod(t, k, expectedRows) == Method::Direct)
    return 4 * static_cast<uint64_t>(t) *
           std::max<int64_t>(1, std::min(rows, kBufferFloats / t));
  return 4 * static_cast<uint64_t>(k) *
         (k + std::max<int64_t>(1, std::min(rows, kBufferFloats / k)));
}

OutputLoss::OutputLoss(const float *x, int64_t t, int64_t k,
                       int64_t expectedRows, Method method, int numThreads,
                       const std::atomic<bool> *cancel)
    : x_(x), t_(t), k_(k), method_(method), numThreads_(numThreads),
      cancel_(cancel) {
  if (x == nullptr || t <= 0 || k <= 0 || t > INT_MAX || k > INT_MAX)
    throw Error("OutputLoss: calibration activations must be a non-empty "
                "[T, K] matrix with dimensions below 2^31, got " +
                std::to_string(t) + "x" + std::to_string(k));
  if (method_ == Method::Auto)
    method_ = cheaperMethod(t, k, expectedRows);
  if (method_ == Method::Gram) {
    throwIfCancelled(cancel_, "OutputLoss");
    gram_.assign(static_cast<size_t>(k * k), 0.0f);
    cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, static_cast<int>(k),
                static_cast<int>(t), 1.0f, x, static_cast<int>(k), 0.0f,
                gram_.data(), static_cast<int>(k));
    for (int64_t i = 0; i < k; ++i)
      for (int64_t j = 0; j < i; ++j)
        gram_[i * k + j] = gram_[j * k + i];
  }
}

double OutputLoss::sumSquares(const float *delta, int64_t rows) const {
  if (rows <= 0)
    return 0.0;
  const int ik = static_cast<int>(k_);
  double total = 0.0;
  if (method_ == Method::Direct) {
    const int64_t chunk =
        std::max<int64_t>(1, std::min(rows, kBufferFloats / t_));
    buffer_.resize(static_cast<size_t>(t_ * chunk));
    for (int64_t r0 = 0; r0 < rows; r0 += chunk) {
      throwIfCancelled(cancel_, "output loss");
      const int64_t rc = std::min(chunk, rows - r0);
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(t_),
                  static_cast<int>(rc), ik, 1.0f, x_, ik, delta + r0 * k_, ik,
                  0.0f, buffer_.data(), static_cast<int>(rc));
      total +=
          parallelDot(buffer_.data(), buffer_.data(), t_ * rc, numThreads_);
    }
  } else {
    const int64_t chunk =
        std::max<int64_t>(1, std::min(rows, kBufferFloats / k_));
    buffer_.resize(static_cast<size_t>(k_ * chunk));
    for (int64_t r0 = 0; r0 < rows; r0 += chunk) {
      throwIfCancelled(cancel_, "output loss");
      const int64_t rc = std::min(chunk, rows - r0);
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans,
                  static_cast<int>(rc), ik, ik, 1.0f, delta + r0 * k_, ik,
                  gram_.data(), ik, 0.0f, buffer_.data(), ik);
      total +=
          parallelDot(delta + r0 * k_, buffer_.data(), rc * k_, numThreads_);
    }
  }
  return total;
}

} // namespace awq
