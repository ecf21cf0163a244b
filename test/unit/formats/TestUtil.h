//===- TestUtil.h - Temporary directories, raw files and random data ------===//
//
// Shared helpers of the formats tests: a self-deleting temporary directory,
// byte-exact file writing for hand-crafted (often broken) inputs, seeded
// random data, and error-message assertions.
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_TEST_UNIT_FORMATS_TESTUTIL_H
#define AWQ_TEST_UNIT_FORMATS_TESTUTIL_H

#include "runtime/support/Error.h"
#include "runtime/support/QuantizedLinear.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace awq::test {

/// A fresh directory under $TMPDIR (or /tmp), removed with its contents.
class TempDir {
public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir &) = delete;
  TempDir &operator=(const TempDir &) = delete;

  const std::string &path() const { return path_; }
  std::string file(const std::string &name) const { return path_ + "/" + name; }
  /// Names of the entries in the directory, sorted.
  std::vector<std::string> entries() const;

private:
  std::string path_;
};

/// Writes `bytes` exactly.
void writeBytes(const std::string &path, const std::string &bytes);
std::string readBytes(const std::string &path);

/// A safetensors file from its parts: the 8-byte length (of `header`, unless
/// `lengthOverride` is given), the header text as is, then `data`.
std::string rawSafeTensors(const std::string &header, const std::string &data,
                           std::optional<uint64_t> lengthOverride = {});

/// A random engine seeded from AWQC_TEST_SEED or std::random_device; the seed
/// is printed so that a failure can be replayed.
std::mt19937_64 &rng();

/// Random fp16 bit patterns of finite, non-zero values with magnitudes in
/// [2^-10, 2^2), both signs.
std::vector<uint16_t> randomHalves(size_t count);

/// A random layer with values in range for `params`; `withBias` adds a bias.
QuantizedLinear randomLayer(int64_t k, int64_t n, QuantParams params,
                            bool withBias);

/// Runs `body`, expecting awq::Error whose message contains every fragment.
/// Returns the message (empty when nothing was thrown).
std::string expectError(const std::function<void()> &body,
                        std::initializer_list<std::string> fragments);

} // namespace awq::test

#endif // AWQ_TEST_UNIT_FORMATS_TESTUTIL_H
