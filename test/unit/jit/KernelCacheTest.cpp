//===- KernelCacheTest.cpp - The disk cache of compiled kernel images -----===//
//
// Miss then hit; corrupt, truncated and foreign entries are misses that get
// rebuilt; LRU eviction by modification time; stale temporary files; many
// threads and two processes filling one directory at once.
//
//===----------------------------------------------------------------------===//
#include "TempDir.h"

#include "runtime/jit/KernelCache.h"

#include <gtest/gtest.h>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

namespace {

using awq::rt::KernelCache;
using awq::rt::KernelCacheOptions;
using awq::test::TempDir;
namespace fs = std::filesystem;

/// A payload that tells which key it was stored under.
std::vector<char> payloadFor(const std::string &key, size_t size = 4096) {
  std::vector<char> payload(size);
  for (size_t i = 0; i < size; ++i)
    payload[i] = static_cast<char>(key[i % key.size()] + i * 7);
  return payload;
}

std::string keyOf(int i) {
  return KernelCache::key({"test", std::to_string(i)});
}

KernelCacheOptions optionsFor(const TempDir &dir, uint64_t maxBytes = 0) {
  KernelCacheOptions options;
  options.directory = dir.path();
  options.maxBytes = maxBytes;
  return options;
}

std::vector<char> readBytes(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<char>(std::istreambuf_iterator<char>(in), {});
}

void writeBytes(const std::string &path, const std::vector<char> &bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

/// Sets the modification time to `secondsAgo` before now.
void setAge(const std::string &path, int64_t secondsAgo) {
  const auto when =
      fs::file_time_type::clock::now() - std::chrono::seconds(secondsAgo);
  fs::last_write_time(path, when);
}

/// Files in the cache tree, entries and temporaries alike.
std::vector<std::string> filesUnder(const std::string &dir) {
  std::vector<std::string> files;
  for (const auto &entry : fs::recursive_directory_iterator(dir))
    if (entry.is_regular_file())
      files.push_back(entry.path().filename().string());
  return files;
}

TEST(KernelCache, KeyIsHexAndSeparatesFields) {
  const std::string key = KernelCache::key({"ab", "c"});
  EXPECT_EQ(key.size(), 64u);
  EXPECT_EQ(key.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_NE(key, KernelCache::key({"a", "bc"}));
  EXPECT_NE(key, KernelCache::key({"abc"}));
  EXPECT_EQ(key, KernelCache::key({"ab", "c"}));
}

TEST(KernelCache, MissThenHit) {
  TempDir dir;
  KernelCache cache(optionsFor(dir));
  EXPECT_EQ(cache.directory(), dir.path());
  const std::string key = keyOf(1);
  EXPECT_FALSE(cache.load(key));
  EXPECT_EQ(cache.stats().misses, 1);
  EXPECT_EQ(cache.stats().hits, 0);

  cache.store(key, payloadFor(key));
  EXPECT_EQ(cache.stats().stores, 1);
  EXPECT_TRUE(fs::exists(cache.entryPath(key)));
  EXPECT_EQ(cache.entryPath(key).rfind(
                dir.path() + "/" + key.substr(0, 2) + "/" + key, 0),
            0u);

  std::optional<std::vector<char>> loaded = cache.load(key);
  ASSERT_TRUE(loaded);
  EXPECT_EQ(*loaded, payloadFor(key));
  EXPECT_EQ(cache.stats().hits, 1);
  EXPECT_EQ(cache.stats().misses, 1);
  EXPECT_EQ(cache.stats().corrupt, 0);

  // A second cache object over the same directory (another process, later).
  KernelCache again(optionsFor(dir));
  EXPECT_TRUE(again.load(key));
  EXPECT_EQ(again.stats().hits, 1);
}

TEST(KernelCache, EmptyPayloadRoundTrips) {
  TempDir dir;
  KernelCache cache(optionsFor(dir));
  cache.store(keyOf(2), {});
  std::optional<std::vector<char>> loaded = cache.load(keyOf(2));
  ASSERT_TRUE(loaded);
  EXPECT_TRUE(loaded->empty());
}

TEST(KernelCache, MalformedKeyIsRefused) {
  TempDir dir;
  KernelCache cache(optionsFor(dir));
  EXPECT_THROW(cache.load("../../etc/passwd"), std::runtime_error);
  EXPECT_THROW(cache.store(std::string(64, 'G'), {}), std::runtime_error);
}

/// Damages the entry of `key` with `damage`, then expects a corrupt miss
/// that removes the file, a rebuild and a hit.
template <typename Damage> void expectRebuiltAfter(Damage damage) {
  TempDir dir;
  KernelCache cache(optionsFor(dir));
  const std::string key = keyOf(3);
  cache.store(key, payloadFor(key));
  damage(cache, key);

  EXPECT_FALSE(cache.load(key));
  EXPECT_EQ(cache.stats().corrupt, 1);
  EXPECT_EQ(cache.stats().misses, 1);
  EXPECT_EQ(cache.stats().hits, 0);
  EXPECT_FALSE(fs::exists(cache.entryPath(key))) << "bad entry not removed";

  cache.store(key, payloadFor(key));
  std::optional<std::vector<char>> loaded = cache.load(key);
  ASSERT_TRUE(loaded);
  EXPECT_EQ(*loaded, payloadFor(key));
  EXPECT_EQ(cache.stats().hits, 1);
  EXPECT_EQ(cache.stats().corrupt, 1);
}

TEST(KernelCache, FlippedPayloadByteIsCorrupt) {
  expectRebuiltAfter([](KernelCache &cache, const std::string &key) {
    std::vector<char> bytes = readBytes(cache.entryPath(key));
    bytes[bytes.size() - 100] ^= 0x01;
    writeBytes(cache.entryPath(key), bytes);
  });
}

TEST(KernelCache, TruncatedEntryIsCorrupt) {
  expectRebuiltAfter([](KernelCache &cache, const std::string &key) {
    fs::resize_file(cache.entryPath(key),
                    fs::file_size(cache.entryPath(key)) / 2);
  });
}

TEST(KernelCache, TruncatedHeaderIsCorrupt) {
  expectRebuiltAfter([](KernelCache &cache, const std::string &key) {
    fs::resize_file(cache.entryPath(key), 20);
  });
}

TEST(KernelCache, BadMagicIsCorrupt) {
  expectRebuiltAfter([](KernelCache &cache, const std::string &key) {
    std::vector<char> bytes = readBytes(cache.entryPath(key));
    bytes[0] = 'X';
    writeBytes(cache.entryPath(key), bytes);
  });
}

TEST(KernelCache, OtherFormatVersionIsCorrupt) {
  expectRebuiltAfter([](KernelCache &cache, const std::string &key) {
    std::vector<char> bytes = readBytes(cache.entryPath(key));
    bytes[8] = 2; // The u32 after the 8-byte magic.
    writeBytes(cache.entryPath(key), bytes);
  });
}

TEST(KernelCache, TrailingBytesAreCorrupt) {
  expectRebuiltAfter([](KernelCache &cache, const std::string &key) {
    std::vector<char> bytes = readBytes(cache.entryPath(key));
    bytes.push_back('!');
    writeBytes(cache.entryPath(key), bytes);
  });
}

TEST(KernelCache, EntryOfAnotherKeyIsCorrupt) {
  expectRebuiltAfter([](KernelCache &cache, const std::string &key) {
    // A valid entry, but for another key, under this key's name.
    const std::string other = keyOf(4);
    cache.store(other, payloadFor(key));
    fs::copy_file(cache.entryPath(other), cache.entryPath(key),
                  fs::copy_options::overwrite_existing);
  });
}

TEST(KernelCache, EvictsLeastRecentlyUsed) {
  TempDir dir;
  const size_t payloadBytes = 1000;
  // Three entries fit (each is the payload plus a 148-byte header), four do
  // not.
  KernelCache cache(optionsFor(dir, 3 * (payloadBytes + 148) + 100));
  const std::string a = keyOf(10), b = keyOf(11), c = keyOf(12), d = keyOf(13);
  for (const std::string &key : {a, b, c})
    cache.store(key, payloadFor(key, payloadBytes));
  EXPECT_EQ(cache.stats().evictions, 0);
  setAge(cache.entryPath(a), 300);
  setAge(cache.entryPath(b), 200);
  setAge(cache.entryPath(c), 100);
  // Using `a` makes it the most recent: `b` is now the oldest.
  ASSERT_TRUE(cache.load(a));

  cache.store(d, payloadFor(d, payloadBytes));
  EXPECT_EQ(cache.stats().evictions, 1);
  EXPECT_FALSE(fs::exists(cache.entryPath(b)));
  for (const std::string &key : {a, c, d})
    EXPECT_TRUE(cache.load(key)) << key;
  EXPECT_FALSE(cache.load(b));
  EXPECT_EQ(cache.stats().corrupt, 0);
}

TEST(KernelCache, KeepsTheNewEntryEvenPastTheLimit) {
  TempDir dir;
  KernelCache cache(optionsFor(dir, 100));
  cache.store(keyOf(20), payloadFor(keyOf(20), 1000));
  cache.store(keyOf(21), payloadFor(keyOf(21), 1000));
  EXPECT_EQ(cache.stats().evictions, 1);
  EXPECT_FALSE(cache.load(keyOf(20)));
  EXPECT_TRUE(cache.load(keyOf(21)));
}

TEST(KernelCache, RemovesStaleTemporaryFiles) {
  TempDir dir;
  KernelCache cache(optionsFor(dir));
  const std::string key = keyOf(30);
  cache.store(key, payloadFor(key));
  const std::string shard = fs::path(cache.entryPath(key)).parent_path();
  const std::string stale = shard + "/.tmp-0123456789abcdef.1.2.3.4";
  const std::string fresh = shard + "/.tmp-0123456789abcdef.5.6.7.8";
  writeBytes(stale, {'x'});
  writeBytes(fresh, {'y'});
  setAge(stale, 2 * 3600);
  cache.store(keyOf(31), payloadFor(keyOf(31)));
  EXPECT_FALSE(fs::exists(stale));
  EXPECT_TRUE(fs::exists(fresh)) << "a live writer's file was removed";
}

TEST(KernelCache, UnwritableDirectoryIsIgnored) {
  TempDir dir;
  const std::string file = dir.path() + "/not-a-directory";
  writeBytes(file, {'x'});
  KernelCacheOptions options;
  options.directory = file + "/cache";
  KernelCache cache(options);
  cache.store(keyOf(40), payloadFor(keyOf(40))); // Must not throw.
  EXPECT_EQ(cache.stats().stores, 0);
  EXPECT_FALSE(cache.load(keyOf(40)));
}

/// Sets or unsets an environment variable for one scope.
class ScopedEnv {
public:
  ScopedEnv(const char *name, const char *value) : name(name) {
    if (const char *old = std::getenv(name))
      saved = old;
    if (value)
      setenv(name, value, 1);
    else
      unsetenv(name);
  }
  ~ScopedEnv() {
    if (saved)
      setenv(name, saved->c_str(), 1);
    else
      unsetenv(name);
  }

private:
  const char *name;
  std::optional<std::string> saved;
};

TEST(KernelCache, DirectoryFromEnvironment) {
  {
    ScopedEnv cache("AWQC_CACHE_DIR", "/some/where/");
    ScopedEnv xdg("XDG_CACHE_HOME", "/xdg");
    EXPECT_EQ(KernelCache().directory(), "/some/where");
  }
  {
    ScopedEnv cache("AWQC_CACHE_DIR", nullptr);
    ScopedEnv xdg("XDG_CACHE_HOME", "/xdg");
    EXPECT_EQ(KernelCache().directory(), "/xdg/awqc/kernels");
  }
  {
    ScopedEnv cache("AWQC_CACHE_DIR", nullptr);
    ScopedEnv xdg("XDG_CACHE_HOME", nullptr);
    ScopedEnv home("HOME", "/home/someone");
    EXPECT_EQ(KernelCache().directory(), "/home/someone/.cache/awqc/kernels");
  }
}

TEST(KernelCache, ManyThreadsStoringOneKey) {
  TempDir dir;
  KernelCache cache(optionsFor(dir));
  const std::string key = keyOf(50);
  const std::vector<char> payload = payloadFor(key, 64 * 1024);
  std::atomic<int> wrongPayloads{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 25; ++i) {
        cache.store(key, payload);
        if (std::optional<std::vector<char>> got = cache.load(key))
          if (*got != payload)
            ++wrongPayloads;
      }
    });
  for (std::thread &thread : threads)
    thread.join();
  EXPECT_EQ(cache.stats().stores, 8 * 25);
  EXPECT_EQ(cache.stats().corrupt, 0);
  EXPECT_EQ(cache.stats().hits, 8 * 25); // Each load follows a store.
  EXPECT_EQ(wrongPayloads, 0);
  EXPECT_EQ(filesUnder(dir.path()).size(), 1u) << "temporary files left";
}

/// Stores keys [0, count) (in an order that depends on `seed`) and loads
/// each back; returns the number of problems.
int fillCache(const std::string &dir, uint64_t maxBytes, int count, int seed) {
  KernelCacheOptions options;
  options.directory = dir;
  options.maxBytes = maxBytes;
  KernelCache cache(options);
  int problems = 0;
  for (int j = 0; j < count; ++j) {
    const int i = (j * 37 + seed * 11) % count;
    const std::string key = keyOf(1000 + i);
    cache.store(key, payloadFor(key, 2048 + 16 * i));
    // Evicted meanwhile is fine with a small limit; a wrong payload is not.
    if (std::optional<std::vector<char>> got = cache.load(key)) {
      problems += *got != payloadFor(key, 2048 + 16 * i);
    } else if (maxBytes == 0) {
      ++problems;
    }
  }
  const awq::rt::KernelCacheStats stats = cache.stats();
  problems += stats.stores != count;
  problems += static_cast<int>(stats.corrupt);
  return problems;
}

/// Two processes (this one and a fork) fill one directory at once.
void fillFromTwoProcesses(uint64_t maxBytes) {
  TempDir dir;
  const int count = 150;
  fflush(nullptr);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    int problems = 0;
    try {
      problems = fillCache(dir.path(), maxBytes, count, 1);
    } catch (...) {
      problems = 1;
    }
    _exit(problems == 0 ? 0 : 1);
  }
  const int problems = fillCache(dir.path(), maxBytes, count, 2);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "the other process failed";
  EXPECT_EQ(problems, 0);

  // Afterwards every entry left is valid and no temporary file remains.
  KernelCache check(optionsFor(dir, maxBytes));
  int present = 0;
  for (int i = 0; i < count; ++i) {
    const std::string key = keyOf(1000 + i);
    if (std::optional<std::vector<char>> got = check.load(key)) {
      ++present;
      EXPECT_EQ(*got, payloadFor(key, 2048 + 16 * i)) << i;
    }
  }
  EXPECT_EQ(check.stats().corrupt, 0);
  if (maxBytes == 0)
    EXPECT_EQ(present, count);
  else
    EXPECT_GT(present, 0);
  for (const std::string &name : filesUnder(dir.path()))
    EXPECT_EQ(name.rfind(".tmp-", 0), std::string::npos) << name;
}

TEST(KernelCache, TwoProcessesFillOneDirectory) { fillFromTwoProcesses(0); }

TEST(KernelCache, TwoProcessesFillAndEvictOneDirectory) {
  fillFromTwoProcesses(64 * 1024);
}

} // namespace
