//===- Compare.h - Compare outputs against the fp64 oracle ----------------===//
//
// Tests poison outputs with NaN before running the code under test, so a
// non-finite output element always counts as a failure. The tolerance model
// is elementwise |got - ref| <= atol + rtol * |ref|.
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_COMPILER_REFERENCE_COMPARE_H
#define AWQ_COMPILER_REFERENCE_COMPARE_H

#include <cstdint>
#include <string>
#include <vector>

namespace awq {

/// Elementwise tolerance |got - ref| <= atol + rtol * |ref|.
struct Tolerance {
  double atol = 0.0;
  double rtol = 0.0;
};

/// The outcome of comparing one output tensor with its reference.
struct Comparison {
  int64_t count = 0;     ///< Elements compared.
  int64_t failures = 0;  ///< Elements outside the tolerance (NaN/Inf included).
  int64_t nonFinite = 0; ///< Elements of `got` that are NaN or infinite.
  double maxAbsError = 0.0; ///< max |got - ref| over finite elements.
  /// max |got - ref| / |ref| over finite elements with ref != 0.
  double maxRelError = 0.0;
  /// The element that violates the tolerance the most (largest
  /// |got - ref| / (atol + rtol*|ref|); the first non-finite one wins), or
  /// -1 when count == 0.
  int64_t worstIndex = -1;
  double worstGot = 0.0;
  double worstRef = 0.0;
  Tolerance tolerance;
  int64_t cols = 0; ///< When > 0, indices are also shown as (row, col).

  bool ok() const { return failures == 0; }
  /// A one-paragraph summary naming `what`, the counts, the errors and the
  /// worst element, for test failure messages.
  std::string describe(const std::string &what) const;
};

/// Compares `got` with `ref` elementwise. `cols` (optional) is the row length
/// used to print the worst index as (row, col). Throws awq::Error when the
/// sizes differ.
Comparison compareToReference(const std::vector<float> &got,
                              const std::vector<double> &ref, Tolerance tol,
                              int64_t cols = 0);
Comparison compareToReference(const std::vector<double> &got,
                              const std::vector<double> &ref, Tolerance tol,
                              int64_t cols = 0);
/// `got` holds fp16 bit patterns.
Comparison compareHalfToReference(const std::vector<uint16_t> &got,
                                  const std::vector<double> &ref, Tolerance tol,
                                  int64_t cols = 0);

} // namespace awq

#endif // AWQ_COMPILER_REFERENCE_COMPARE_H
