//===- MixedPrecision.cpp - Per-group weight widths under a bit budget ----===//

#include "compiler/quantize/MixedPrecision.h"

#include "runtime/support/Error.h"

#include <cmath>
#include <sstream>

namespace awq {

namespace {

/// Integer bit counts: the budget test is exact, no rounding of averages.
struct Budget {
  long double limit = 0;
  long double used = 0;
  bool fits(long double extra) const { return used + extra <= limit; }
};

} // namespace

WidthAllocation allocateWidths(const std::vector<WidthCandidates> &groups,
                               double targetBits) {
  if (!std::isfinite(targetBits) || targetBits <= 0)
    throw Error("--target-bits must be a positive number, got " +
                std::to_string(targetBits));
  uint64_t totalWeights = 0;
  for (const WidthCandidates &group : groups) {
    if (group.bits.empty() || group.bits.size() != group.errors.size())
      throw Error("allocateWidths: a group needs one error per width");
    for (size_t i = 1; i < group.bits.size(); ++i)
      if (group.bits[i] <= group.bits[i - 1])
        throw Error("allocateWidths: widths must be ascending");
    totalWeights += group.weights;
  }
  Budget budget;
  budget.limit = static_cast<long double>(targetBits) * totalWeights;
  std::vector<size_t> at(groups.size());
  for (size_t g = 0; g < groups.size(); ++g) {
    at[g] = groups[g].bits.size() - 1;
    budget.used +=
        static_cast<long double>(groups[g].weights) * groups[g].bits[at[g]];
  }
  auto bitsOf = [&](size_t g, size_t i) {
    return static_cast<long double>(groups[g].weights) * groups[g].bits[i];
  };

  // 2. Down to the budget, cheapest error per saved bit first.
  while (!budget.fits(0)) {
    size_t bestGroup = groups.size(), bestWidth = 0;
    long double bestRatio = 0;
    for (size_t g = 0; g < groups.size(); ++g)
      for (size_t i = 0; i < at[g]; ++i) {
        const long double saved = bitsOf(g, at[g]) - bitsOf(g, i);
        if (saved <= 0)
          continue;
        const long double ratio =
            (static_cast<long double>(groups[g].errors[i]) -
             groups[g].errors[at[g]]) /
            saved;
        if (bestGroup == groups.size() || ratio < bestRatio) {
          bestGroup = g;
          bestWidth = i;
          bestRatio = ratio;
        }
      }
    if (bestGroup == groups.size()) {
      std::ostringstream message;
      message << "--target-bits " << targetBits
              << " cannot be met: with every free input group at its "
                 "narrowest width the average is "
              << static_cast<double>(budget.used / totalWeights)
              << " bits per weight (widths fixed by --bits or a layer's "
                 "\"quantize\".bits count too)";
      throw Error(message.str());
    }
    budget.used -=
        bitsOf(bestGroup, at[bestGroup]) - bitsOf(bestGroup, bestWidth);
    at[bestGroup] = bestWidth;
  }

  // 3. Spend what the last step left over, most error per bit first.
  for (;;) {
    size_t bestGroup = groups.size(), bestWidth = 0;
    long double bestGain = 0;
    for (size_t g = 0; g < groups.size(); ++g)
      for (size_t i = at[g] + 1; i < groups[g].bits.size(); ++i) {
        const long double extra = bitsOf(g, i) - bitsOf(g, at[g]);
        const long double gain =
            static_cast<long double>(groups[g].errors[at[g]]) -
            groups[g].errors[i];
        if (!budget.fits(extra) || gain <= 0)
          continue;
        const long double ratio = extra > 0 ? gain / extra : gain;
        if (bestGroup == groups.size() || ratio > bestGain) {
          bestGroup = g;
          bestWidth = i;
          bestGain = ratio;
        }
      }
    if (bestGroup == groups.size())
      break;
    budget.used +=
        bitsOf(bestGroup, bestWidth) - bitsOf(bestGroup, at[bestGroup]);
    at[bestGroup] = bestWidth;
  }

  WidthAllocation result;
  for (size_t g = 0; g < groups.size(); ++g) {
    result.bits.push_back(groups[g].bits[at[g]]);
    result.error += groups[g].errors[at[g]];
  }
  result.averageBits =
      totalWeights ? static_cast<double>(budget.used / totalWeights) : 0.0;
  return result;
}

} // namespace awq
