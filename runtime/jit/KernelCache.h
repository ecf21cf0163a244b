//===- KernelCache.h - Compiled kernels on disk, keyed by what made them --===//
//
// A directory of compiled kernel images (CUBINs). The key is the SHA-256 of
// everything that determines the image: the kernel source and the headers
// it includes, the compiler options, the target with its suffix, the NVRTC
// version and the runtime version. Each entry file carries a magic, a format
// version, its key and the payload's SHA-256, so a corrupt, truncated or
// foreign entry is a miss (and is rebuilt), never a crash. Entries are
// written to a temporary file and renamed, so processes filling one cache
// at once all succeed. Past a size limit, the least recently used entries
// are evicted. MLIR-free.
//
// An entry is <dir>/<key[0:2]>/<key>.cubin holding, integers little-endian:
//   "AWQCKC01" (8 bytes) | format version u32 (1) | key, 64 hex digits |
//   payload size u64 | payload SHA-256, 64 hex digits | payload
// A hit sets the file's modification time, which serves as the LRU clock.
// docs/jit-cache.md has the details.
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_RUNTIME_JIT_KERNELCACHE_H
#define AWQ_RUNTIME_JIT_KERNELCACHE_H

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace awq {
namespace rt {

struct KernelCacheOptions {
  /// Empty: $AWQC_CACHE_DIR, else $XDG_CACHE_HOME/awqc/kernels, else
  /// $HOME/.cache/awqc/kernels.
  std::string directory;
  /// Evict least recently used entries past this many bytes; 0: 2 GiB.
  uint64_t maxBytes = 0;
  /// Report misses on corrupt entries and evictions on stderr.
  bool verbose = false;
};

/// Counters since construction (tests assert on them).
struct KernelCacheStats {
  int64_t hits = 0;
  int64_t misses = 0; ///< Absent entries.
  int64_t corrupt =
      0; ///< Entries present but unusable (counted as misses too).
  int64_t stores = 0;
  int64_t evictions = 0;
};

class KernelCache {
public:
  explicit KernelCache(KernelCacheOptions options = {});

  /// The directory options resolve to (created on first store).
  const std::string &directory() const { return dir; }

  /// The key of a compilation: hex SHA-256 over length-prefixed fields.
  static std::string key(const std::vector<std::string> &fields);

  /// The payload stored under `key`, or nullopt on a miss (absent, or
  /// corrupt: wrong magic, version, key or payload hash, or truncated).
  /// A hit refreshes the entry's use time.
  std::optional<std::vector<char>> load(const std::string &key);

  /// Stores `payload` under `key` atomically, then evicts past the limit.
  /// A failure to write (read-only directory, full disk) is reported on
  /// stderr when verbose and otherwise ignored: the cache is an optimisation.
  void store(const std::string &key, const std::vector<char> &payload);

  KernelCacheStats stats() const;

  /// The path of the entry for `key` (for tests that corrupt entries).
  std::string entryPath(const std::string &key) const;

private:
  /// Removes the oldest entries (but `keep`) until the total is under the
  /// limit, and temporary files a dead writer left behind.
  void evict(const std::string &keep);

  std::string dir;
  uint64_t maxBytes;
  bool verbose;
  mutable std::mutex mutex;
  KernelCacheStats counters;
};

} // namespace rt
} // namespace awq

#endif // AWQ_RUNTIME_JIT_KERNELCACHE_H
