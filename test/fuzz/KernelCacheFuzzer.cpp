//===- KernelCacheFuzzer.cpp - Fuzz target: kernel cache entries ----------===//
//
// The first byte picks what the rest is:
//  - even: the bytes of a cache entry file, read with KernelCache::load. A
//    corrupt, truncated or foreign entry must be a miss, never a crash, and
//    a hit must have been a well-formed entry;
//  - odd: a payload, stored with KernelCache::store; it must load back
//    unchanged, and the entry cut to a length the first byte chooses must
//    then be a miss.
//
//===----------------------------------------------------------------------===//
#include "runtime/jit/KernelCache.h"
#include "runtime/support/Error.h"
#include "test/fuzz/FuzzSupport.h"

#include <filesystem>
#include <vector>

#include <unistd.h>

using namespace awq;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  static const std::string key = rt::KernelCache::key({"awqc fuzz", "entry"});
  rt::KernelCacheOptions options;
  options.directory = fuzz::freshDirectory("cache");
  rt::KernelCache cache(options);
  const std::string entry = cache.entryPath(key);
  const uint8_t mode = data[0];
  ++data;
  --size;

  if (mode % 2 == 0) {
    std::filesystem::create_directories(
        std::filesystem::path(entry).parent_path());
    fuzz::writeFile(entry, data, size);
    std::optional<std::vector<char>> payload = cache.load(key);
    if (payload && payload->size() >= size)
      fuzz::fail("kernel-cache", "a hit returned a payload of " +
                                     std::to_string(payload->size()) +
                                     " bytes from an entry of " +
                                     std::to_string(size));
    return 0;
  }

  const std::vector<char> payload(data, data + size);
  cache.store(key, payload);
  std::optional<std::vector<char>> loaded = cache.load(key);
  if (!loaded || *loaded != payload)
    fuzz::fail("kernel-cache", "a stored payload of " + std::to_string(size) +
                                   " bytes does not load back unchanged");
  const uintmax_t full = std::filesystem::file_size(entry);
  const uintmax_t cut = full * (mode >> 1) / 128;
  if (::truncate(entry.c_str(), static_cast<off_t>(cut)) != 0)
    fuzz::fail("kernel-cache", "cannot truncate " + entry);
  if (cache.load(key))
    fuzz::fail("kernel-cache", "an entry cut from " + std::to_string(full) +
                                   " to " + std::to_string(cut) +
                                   " bytes is still a hit");
  return 0;
}
