//===- MixedPrecision.h - Per-group weight widths under a bit budget ------===//
//
// `awqc quantize --target-bits B`: each input group is quantized at every
// candidate width, its predicted error at each width is measured on the
// calibration set, and allocateWidths chooses one width per group so that
// the weight-count-weighted average of the code widths is at most B while
// the sum of the predicted errors is as small as a greedy exchange finds.
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_COMPILER_QUANTIZE_MIXEDPRECISION_H
#define AWQ_COMPILER_QUANTIZE_MIXEDPRECISION_H

#include <cstdint>
#include <vector>

namespace awq {

/// The widths --target-bits chooses from.
constexpr int kCandidateWidths[] = {3, 4, 8};

/// One input group's options: widths (ascending) with their predicted error.
/// A group whose width is fixed has a single candidate.
struct WidthCandidates {
  uint64_t weights = 0; ///< Weights of the group (its share of the budget).
  std::vector<int> bits;
  std::vector<double> errors;
};

struct WidthAllocation {
  std::vector<int> bits; ///< The chosen width of each group.
  double averageBits = 0.0;
  double error = 0.0; ///< Sum of the chosen predicted errors.
};

/// Chooses one width per group with sum(weights * bits) <= targetBits *
/// sum(weights), minimising the sum of errors greedily:
///  1. every group starts at its widest candidate;
///  2. while over the budget, the group whose step down to a narrower width
///     costs the least error per bit saved, (error after - error before) /
///     (weights * bits saved), takes that step;
///  3. then, while some step up to a wider width fits in what is left of the
///     budget and lowers the error, the one gaining the most error per bit
///     spent is taken.
/// With errors convex in the width, the result is within the largest single
/// step's error increase of the optimum (tested against brute force).
/// Throws awq::Error when even the narrowest widths exceed the budget.
WidthAllocation allocateWidths(const std::vector<WidthCandidates> &groups,
                               double targetBits);

} // namespace awq

#endif // AWQ_COMPILER_QUANTIZE_MIXEDPRECISION_H
