//===- HostTestSupport.h - Shared helpers of the host executor tests ------===//
//
// Loading the test kernel files through the executor (with a cache shared by
// the test processes ctest starts), fresh random inputs with a printed seed,
// and fp16 bit helpers written independently of the code under test.
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_TEST_UNIT_HOST_HOSTTESTSUPPORT_H
#define AWQ_TEST_UNIT_HOST_HOSTTESTSUPPORT_H

#include "runtime/host/HostModule.h"
#include "runtime/support/Error.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <limits>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace awq {
namespace host {
namespace test {

inline std::string kernelDir() { return AWQ_HOST_TEST_KERNEL_DIR; }

inline std::string readKernelFile(const std::string &name) {
  std::ifstream in(kernelDir() + "/" + name);
  if (!in)
    throw Error("cannot read test kernel file " + kernelDir() + "/" + name);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

/// Compile options for the test kernel files: the shared test cache and the
/// kernel directory for TestPrimitives.cuh.
inline HostCompileOptions testOptions(const std::string &sourceName) {
  HostCompileOptions options;
  options.cacheDir = AWQ_HOST_TEST_CACHE_DIR;
  options.includeDirs = {kernelDir()};
  options.sourceName = sourceName;
  return options;
}

/// The kernels of HostTestKernels.cu, loaded once per process.
inline const HostModule &primitivesModule() {
  static std::shared_ptr<const HostModule> module = HostModule::load(
      readKernelFile("HostTestKernels.cu"),
      {"mmaKernel", "ldmatrixKernel", "cpAsyncKernel", "lop3Kernel",
       "prmtKernel", "shuffleKernel", "voteKernel", "reduceKernel",
       "reduceMissingBarrierKernel", "staticSharedReduceKernel", "poisonKernel",
       "atomicKernel", "indexKernel", "halfKernel"},
      testOptions("HostTestKernels.cu"));
  return *module;
}

/// The kernels of HostErrorKernels.cu, loaded once per process.
inline const HostModule &errorModule() {
  static std::shared_ptr<const HostModule> module =
      HostModule::load(readKernelFile("HostErrorKernels.cu"),
                       {"earlyExitKernel", "divergentBarrierKernel",
                        "warpBarrierDeadlockKernel", "partialMaskKernel",
                        "exitedLaneShuffleKernel", "ldmatrixOutOfBoundsKernel",
                        "cpAsyncMisalignedKernel", "deepStackKernel"},
                       testOptions("HostErrorKernels.cu"));
  return *module;
}

/// A generator seeded fresh each run; the seed is printed with failures.
class Random {
public:
  Random() : seed(std::random_device{}()), engine(seed) {}
  uint32_t seedValue() const { return seed; }
  uint32_t bits() { return static_cast<uint32_t>(engine()); }
  int uniformInt(int low, int high) {
    return std::uniform_int_distribution<int>(low, high)(engine);
  }
  float uniform(float low, float high) {
    return std::uniform_real_distribution<float>(low, high)(engine);
  }
  std::mt19937 &raw() { return engine; }

private:
  uint32_t seed;
  std::mt19937 engine;
};

#define AWQ_TRACE_SEED(random)                                                 \
  SCOPED_TRACE("random seed " + std::to_string((random).seedValue()))

// ---- fp16, written plainly for the references ----------------------------

/// fp16 bits -> double, from the IEEE 754 binary16 definition.
inline double halfToDouble(uint16_t bits) {
  const int sign = bits >> 15;
  const int exponent = (bits >> 10) & 0x1f;
  const int mantissa = bits & 0x3ff;
  double magnitude;
  if (exponent == 0x1f)
    magnitude = mantissa ? std::numeric_limits<double>::quiet_NaN()
                         : std::numeric_limits<double>::infinity();
  else if (exponent == 0)
    magnitude = std::ldexp(mantissa, -24);
  else
    magnitude = std::ldexp(1024 + mantissa, exponent - 25);
  return sign ? -magnitude : magnitude;
}

inline bool isFiniteHalf(uint16_t bits) {
  return ((bits >> 10) & 0x1f) != 0x1f;
}

/// A random finite fp16 whose biased exponent lies in [minExponent,
/// maxExponent] (0 gives zeros and subnormals, 30 the largest binade).
inline uint16_t randomHalf(Random &random, int minExponent = 0,
                           int maxExponent = 30) {
  const uint32_t sign = random.bits() & 0x8000u;
  const uint32_t exponent =
      static_cast<uint32_t>(random.uniformInt(minExponent, maxExponent));
  const uint32_t mantissa = random.bits() & 0x3ffu;
  return static_cast<uint16_t>(sign | exponent << 10 | mantissa);
}

/// A random fp16 in roughly [-2, 2], for matrix products.
inline uint16_t randomModerateHalf(Random &random) {
  return randomHalf(random, 9, 15);
}

inline float nanFloat() { return std::numeric_limits<float>::quiet_NaN(); }

} // namespace test
} // namespace host
} // namespace awq

#endif // AWQ_TEST_UNIT_HOST_HOSTTESTSUPPORT_H
