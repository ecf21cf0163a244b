//===- Sha256.h - SHA-256 digests for the host kernel cache ---------------===//
//
// The disk cache names compiled modules by the digest of everything that
// determines them and checks files against recorded digests on load, so a
// corrupt or stale entry is rebuilt instead of loaded.
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_RUNTIME_HOST_SHA256_H
#define AWQ_RUNTIME_HOST_SHA256_H

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

namespace awq {
namespace host {

/// Incremental SHA-256 (FIPS 180-4).
class Sha256 {
public:
  Sha256();
  void update(const void *data, size_t size);
  void update(const std::string &text) { update(text.data(), text.size()); }
  /// Adds a length-prefixed field, so that concatenations cannot collide.
  void field(const std::string &text);
  /// Finishes and returns the digest as 64 lowercase hex digits.
  std::string hexDigest();

  static std::string of(const std::string &text);

private:
  void block(const uint8_t *chunk);
  std::array<uint32_t, 8> state;
  uint8_t buffer[64];
  size_t buffered = 0;
  uint64_t totalBytes = 0;
};

} // namespace host
} // namespace awq

#endif // AWQ_RUNTIME_HOST_SHA256_H
