//===- TestUtil.h - Random inputs and poisoning for the quantize tests ----===//
//
// Every test draws fresh random inputs. The seed comes from the clock unless
// AWQ_TEST_SEED is set, and is printed on failure so a run can be replayed.
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_TEST_UNIT_QUANTIZE_TESTUTIL_H
#define AWQ_TEST_UNIT_QUANTIZE_TESTUTIL_H

#include "runtime/support/Half.h"

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace awq::test {

/// A fresh seed per call, or AWQ_TEST_SEED when set.
inline uint64_t testSeed() {
  if (const char *env = std::getenv("AWQ_TEST_SEED"))
    return std::strtoull(env, nullptr, 10);
  static uint64_t counter = 0;
  return static_cast<uint64_t>(
             std::chrono::steady_clock::now().time_since_epoch().count()) +
         0x9e3779b97f4a7c15ull * ++counter;
}

inline std::string seedMessage(uint64_t seed) {
  return "replay with AWQ_TEST_SEED=" + std::to_string(seed);
}

inline std::vector<float> normalVector(std::mt19937_64 &rng, size_t count,
                                       float stddev = 1.0f) {
  std::normal_distribution<float> dist(0.0f, stddev);
  std::vector<float> v(count);
  for (float &x : v)
    x = dist(rng);
  return v;
}

inline std::vector<float> uniformVector(std::mt19937_64 &rng, size_t count,
                                        float lo, float hi) {
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(count);
  for (float &x : v)
    x = dist(rng);
  return v;
}

/// Rounds every value to fp16 and returns the bit patterns.
inline std::vector<uint16_t> toHalfs(const std::vector<float> &v) {
  std::vector<uint16_t> h(v.size());
  for (size_t i = 0; i < v.size(); ++i)
    h[i] = floatToHalf(v[i]);
  return h;
}

/// Rounds every value to the nearest fp16 value, kept as float.
inline std::vector<float> roundedToHalf(std::vector<float> v) {
  for (float &x : v)
    x = roundToHalf(x);
  return v;
}

inline std::vector<double> nanVector(size_t count) {
  return std::vector<double>(count, std::numeric_limits<double>::quiet_NaN());
}

} // namespace awq::test

#endif // AWQ_TEST_UNIT_QUANTIZE_TESTUTIL_H
