//===- Compare.cpp - Compare outputs against the fp64 oracle --------------===//

#include "compiler/reference/Compare.h"

#include "runtime/support/Error.h"
#include "runtime/support/Half.h"

#include <cmath>
#include <limits>
#include <sstream>

namespace awq {

namespace {

template <typename Get>
Comparison compareImpl(size_t gotSize, Get get, const std::vector<double> &ref,
                       Tolerance tol, int64_t cols) {
  if (gotSize != ref.size())
    throw Error("compareToReference: output has " + std::to_string(gotSize) +
                " elements but the reference has " +
                std::to_string(ref.size()));
  if (!(tol.atol >= 0.0) || !(tol.rtol >= 0.0))
    throw Error("compareToReference: atol and rtol must be >= 0");
  Comparison c;
  c.count = static_cast<int64_t>(ref.size());
  c.tolerance = tol;
  c.cols = cols;
  double worstRatio = -1.0;
  bool worstIsNonFinite = false;
  for (size_t i = 0; i < ref.size(); ++i) {
    const double g = get(i), r = ref[i];
    double ratio;
    if (!std::isfinite(g) || !std::isfinite(r)) {
      // NaN means "never written" (outputs are poisoned) or a real overflow.
      if (!std::isfinite(g))
        ++c.nonFinite;
      ++c.failures;
      if (worstIsNonFinite)
        continue;
      worstIsNonFinite = true;
      worstRatio = std::numeric_limits<double>::infinity();
      c.worstIndex = static_cast<int64_t>(i);
      c.worstGot = g;
      c.worstRef = r;
      continue;
    }
    const double err = std::fabs(g - r);
    const double bound = tol.atol + tol.rtol * std::fabs(r);
    c.maxAbsError = std::max(c.maxAbsError, err);
    if (r != 0.0)
      c.maxRelError = std::max(c.maxRelError, err / std::fabs(r));
    if (err > bound)
      ++c.failures;
    ratio = bound > 0.0
                ? err / bound
                : (err > 0.0 ? std::numeric_limits<double>::infinity() : 0.0);
    if (!worstIsNonFinite && ratio > worstRatio) {
      worstRatio = ratio;
      c.worstIndex = static_cast<int64_t>(i);
      c.worstGot = g;
      c.worstRef = r;
    }
  }
  return c;
}

} // namespace

std::string Comparison::describe(const std::string &what) const {
  std::ostringstream os;
  os.precision(9);
  os << what << ": " << failures << " of " << count
     << " elements outside |got - ref| <= " << tolerance.atol << " + "
     << tolerance.rtol << " * |ref|";
  if (nonFinite > 0)
    os << " (" << nonFinite << " NaN/Inf)";
  os << "; max abs error " << maxAbsError << ", max rel error " << maxRelError;
  if (worstIndex >= 0) {
    os << "; worst at index " << worstIndex;
    if (cols > 0)
      os << " (row " << worstIndex / cols << ", col " << worstIndex % cols
         << ")";
    os << ": got " << worstGot << ", ref " << worstRef;
  }
  return os.str();
}

Comparison compareToReference(const std::vector<float> &got,
                              const std::vector<double> &ref, Tolerance tol,
                              int64_t cols) {
  return compareImpl(
      got.size(), [&](size_t i) { return static_cast<double>(got[i]); }, ref,
      tol, cols);
}

Comparison compareToReference(const std::vector<double> &got,
                              const std::vector<double> &ref, Tolerance tol,
                              int64_t cols) {
  return compareImpl(
      got.size(), [&](size_t i) { return got[i]; }, ref, tol, cols);
}

Comparison compareHalfToReference(const std::vector<uint16_t> &got,
                                  const std::vector<double> &ref, Tolerance tol,
                                  int64_t cols) {
  return compareImpl(
      got.size(),
      [&](size_t i) { return static_cast<double>(halfToFloat(got[i])); }, ref,
      tol, cols);
}

} // namespace awq
