//===- MixedPrecisionTest.cpp - --target-bits' width choice vs brute force ===//

#include "TestUtil.h"

#include "compiler/quantize/MixedPrecision.h"
#include "runtime/support/Error.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <random>

namespace awq {
namespace {

/// Runs `body`, expecting awq::Error whose message holds every fragment.
template <typename F>
void expectError(F body, const std::vector<std::string> &fragments) {
  try {
    body();
    ADD_FAILURE() << "expected awq::Error";
  } catch (const Error &error) {
    const std::string message = error.what();
    for (const std::string &fragment : fragments)
      EXPECT_NE(message.find(fragment), std::string::npos)
          << "'" << fragment << "' not in: " << message;
  }
}

/// Every assignment of one candidate per group, plainly: the least error
/// whose sum(weights * bits) <= target * sum(weights), or +inf.
double bruteForceOptimum(const std::vector<WidthCandidates> &groups,
                         double target) {
  uint64_t total = 0;
  for (const WidthCandidates &g : groups)
    total += g.weights;
  const long double limit = static_cast<long double>(target) * total;
  std::vector<size_t> pick(groups.size(), 0);
  double best = std::numeric_limits<double>::infinity();
  for (;;) {
    long double bits = 0;
    double error = 0;
    for (size_t g = 0; g < groups.size(); ++g) {
      bits +=
          static_cast<long double>(groups[g].weights) * groups[g].bits[pick[g]];
      error += groups[g].errors[pick[g]];
    }
    if (bits <= limit)
      best = std::min(best, error);
    size_t g = 0;
    while (g < groups.size() && ++pick[g] == groups[g].bits.size())
      pick[g++] = 0;
    if (g == groups.size())
      return best;
  }
}

double averageBits(const std::vector<WidthCandidates> &groups,
                   const std::vector<int> &bits) {
  double weighted = 0, total = 0;
  for (size_t g = 0; g < groups.size(); ++g) {
    weighted += double(groups[g].weights) * bits[g];
    total += double(groups[g].weights);
  }
  return weighted / total;
}

/// Errors that fall with the width and flatten out (convex in the bits),
/// like a quantizer's: e(b) = c * 4^-b, plus a little jitter that keeps
/// them convex.
WidthCandidates convexGroup(std::mt19937_64 &rng) {
  std::uniform_int_distribution<uint64_t> weights(1, 64);
  std::uniform_real_distribution<double> scale(0.1, 10.0);
  WidthCandidates g;
  g.weights = 1024 * weights(rng);
  g.bits = {3, 4, 8};
  const double c = scale(rng);
  g.errors = {c / 64.0,
              c / 256.0 * std::uniform_real_distribution<double>(0.8, 1.0)(rng),
              c / 65536.0};
  return g;
}

TEST(AllocateWidths, ConvexErrorsStayWithinOneStepOfTheBruteForceOptimum) {
  const uint64_t seed = test::testSeed();
  SCOPED_TRACE(test::seedMessage(seed));
  std::mt19937_64 rng(seed);
  int exact = 0;
  const int trials = 300;
  for (int trial = 0; trial < trials; ++trial) {
    const size_t count = 1 + rng() % 7;
    std::vector<WidthCandidates> groups;
    double largestStep = 0;
    for (size_t i = 0; i < count; ++i) {
      groups.push_back(convexGroup(rng));
      const WidthCandidates &g = groups.back();
      largestStep = std::max(largestStep, g.errors[0] - g.errors[2]);
    }
    const double target = std::uniform_real_distribution<double>(3.0, 8.0)(rng);
    SCOPED_TRACE("trial " + std::to_string(trial) + ", target " +
                 std::to_string(target));
    const WidthAllocation chosen = allocateWidths(groups, target);
    ASSERT_EQ(chosen.bits.size(), groups.size());
    EXPECT_LE(averageBits(groups, chosen.bits), target + 1e-12);
    EXPECT_NEAR(chosen.averageBits, averageBits(groups, chosen.bits), 1e-9);
    double error = 0;
    for (size_t g = 0; g < groups.size(); ++g) {
      const auto &bits = groups[g].bits;
      const size_t at =
          std::find(bits.begin(), bits.end(), chosen.bits[g]) - bits.begin();
      ASSERT_LT(at, bits.size());
      error += groups[g].errors[at];
    }
    EXPECT_DOUBLE_EQ(chosen.error, error);
    const double optimum = bruteForceOptimum(groups, target);
    // The greedy never beats the optimum, and with convex errors it is
    // within the largest single step of it (the state before its last step
    // down lies on the lower convex hull, so it is optimal for its own
    // larger budget; the fill step only lowers the error).
    EXPECT_GE(error, optimum - 1e-12 * std::abs(optimum));
    EXPECT_LE(error, optimum + largestStep);
    exact += error <= optimum * (1 + 1e-12) ? 1 : 0;
  }
  // Most draws are solved exactly; a weak test otherwise.
  EXPECT_GT(exact, trials * 3 / 4) << exact << " of " << trials;
}

TEST(AllocateWidths, EqualGroupsTakeTheCheapestStepsExactly) {
  // Four equal groups; the error saved per bit falls from a to d, so for a
  // budget of 3.5 bits the optimum keeps the two most sensitive groups at 4
  // bits and takes the others to 3. Greedy: all to 4 (each 8 -> 4 costs
  // little), then d and c down to 3.
  std::vector<WidthCandidates> groups;
  for (double sensitivity : {8.0, 4.0, 2.0, 1.0})
    groups.push_back({1000, {3, 4, 8}, {sensitivity, sensitivity / 4, 0.0}});
  const WidthAllocation chosen = allocateWidths(groups, 3.5);
  EXPECT_EQ(chosen.bits, (std::vector<int>{4, 4, 3, 3}));
  EXPECT_DOUBLE_EQ(chosen.averageBits, 3.5);
  EXPECT_DOUBLE_EQ(chosen.error, 2.0 + 1.0 + 2.0 + 1.0);
  EXPECT_DOUBLE_EQ(chosen.error, bruteForceOptimum(groups, 3.5));
  // A budget of 8 keeps everything at 8; of 3, everything at 3.
  EXPECT_EQ(allocateWidths(groups, 8.0).bits, (std::vector<int>{8, 8, 8, 8}));
  EXPECT_EQ(allocateWidths(groups, 3.0).bits, (std::vector<int>{3, 3, 3, 3}));
  // 6 bits: the fill step spends what stepping down left over.
  const WidthAllocation six = allocateWidths(groups, 6.0);
  EXPECT_LE(six.averageBits, 6.0);
  EXPECT_DOUBLE_EQ(six.error, bruteForceOptimum(groups, 6.0));
}

TEST(AllocateWidths, FixedGroupsCountAndAnImpossibleBudgetIsAnError) {
  // A group fixed at 8 bits takes half the weights: 3.5 on average cannot
  // be met, since the other half reaches 3 at best (5.5 on average).
  std::vector<WidthCandidates> groups = {{1000, {8}, {0.0}},
                                         {1000, {3, 4, 8}, {1.0, 0.5, 0.1}}};
  expectError([&] { allocateWidths(groups, 3.5); },
              {"--target-bits 3.5 cannot be met", "5.5 bits per weight",
               "fixed by --bits"});
  const WidthAllocation chosen = allocateWidths(groups, 6.0);
  EXPECT_EQ(chosen.bits, (std::vector<int>{8, 4}));
  // Invalid input.
  expectError([&] { allocateWidths(groups, 0.0); },
              {"--target-bits must be a positive number"});
  groups[1].errors.pop_back();
  expectError([&] { allocateWidths(groups, 6.0); }, {"one error per width"});
  groups[1] = {1000, {4, 3}, {0.5, 1.0}};
  expectError([&] { allocateWidths(groups, 6.0); }, {"ascending"});
}

} // namespace
} // namespace awq
