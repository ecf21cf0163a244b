//===- KernelCache.cpp - Compiled kernels on disk, keyed by what made them ===//
//
// Entry layout (docs/jit-cache.md), all integers little-endian:
//   magic "AWQCKC01" (8) | format version u32 | key, 64 hex (64) |
//   payload size u64 | payload SHA-256, 64 hex (64) | payload
// at <dir>/<key[0:2]>/<key>.cubin. Temporary files are
// <dir>/<key[0:2]>/.tmp-<key[0:16]>.<pid>.<thread>.<random>.
//
//===----------------------------------------------------------------------===//

#include "runtime/jit/KernelCache.h"

#include "runtime/host/Sha256.h"
#include "runtime/support/Error.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <sstream>
#include <thread>

namespace awq {
namespace rt {

namespace {

constexpr char kMagic[8] = {'A', 'W', 'Q', 'C', 'K', 'C', '0', '1'};
constexpr uint32_t kFormatVersion = 1;
constexpr size_t kHexBytes = 64;
constexpr size_t kHeaderBytes = sizeof(kMagic) + 4 + kHexBytes + 8 + kHexBytes;
constexpr uint64_t kDefaultMaxBytes = uint64_t(2) << 30;
constexpr const char *kEntrySuffix = ".cubin";
constexpr const char *kTempPrefix = ".tmp-";
/// A temporary file this old belongs to a writer that died.
constexpr int64_t kStaleTempSeconds = 3600;

bool isHexKey(const std::string &key) {
  return key.size() == kHexBytes &&
         std::all_of(key.begin(), key.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

std::string envOrEmpty(const char *name) {
  const char *value = std::getenv(name);
  return value && *value ? std::string(value) : std::string();
}

std::string defaultDirectory() {
  if (std::string dir = envOrEmpty("AWQC_CACHE_DIR"); !dir.empty())
    return dir;
  if (std::string xdg = envOrEmpty("XDG_CACHE_HOME"); !xdg.empty())
    return xdg + "/awqc/kernels";
  if (std::string home = envOrEmpty("HOME"); !home.empty())
    return home + "/.cache/awqc/kernels";
  return {};
}

/// mkdir -p; true when `path` is a directory afterwards.
bool makeDirectories(const std::string &path) {
  std::string prefix;
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = path.find('/', pos + 1);
    prefix = path.substr(0, pos);
    if (!prefix.empty() && mkdir(prefix.c_str(), 0755) != 0 && errno != EEXIST)
      return false;
  }
  struct stat info;
  return stat(path.c_str(), &info) == 0 && S_ISDIR(info.st_mode);
}

void putLittle(std::string &out, uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i)
    out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

uint64_t getLittle(const char *in, int bytes) {
  uint64_t value = 0;
  for (int i = 0; i < bytes; ++i)
    value |= uint64_t(static_cast<unsigned char>(in[i])) << (8 * i);
  return value;
}

std::string payloadDigest(const char *data, size_t size) {
  host::Sha256 sha;
  sha.update(data, size);
  return sha.hexDigest();
}

bool writeAll(int fd, const char *data, size_t size) {
  while (size > 0) {
    const ssize_t written = ::write(fd, data, size);
    if (written < 0) {
      if (errno == EINTR)
        continue;
      return false;
    }
    data += written;
    size -= static_cast<size_t>(written);
  }
  return true;
}

/// Reads the whole of `fd`; false on a read error.
bool readAll(int fd, std::vector<char> &out) {
  char buffer[1 << 16];
  for (;;) {
    const ssize_t got = ::read(fd, buffer, sizeof(buffer));
    if (got < 0) {
      if (errno == EINTR)
        continue;
      return false;
    }
    if (got == 0)
      return true;
    out.insert(out.end(), buffer, buffer + got);
  }
}

void syncDirectory(const std::string &dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

/// Unique among processes and threads: a clash would make two writers
/// share one temporary file.
std::string uniqueSuffix() {
  static std::atomic<uint64_t> counter{0};
  thread_local std::mt19937_64 random(
      std::random_device{}() ^
      std::hash<std::thread::id>()(std::this_thread::get_id()));
  std::ostringstream out;
  out << ::getpid() << '.'
      << (std::hash<std::thread::id>()(std::this_thread::get_id()) & 0xffffff)
      << '.' << counter.fetch_add(1) << '.' << std::hex << random();
  return out.str();
}

/// Why `bytes` is not a valid entry for `key`, or "" (the payload is then
/// at offset kHeaderBytes).
std::string checkEntry(const std::vector<char> &bytes, const std::string &key) {
  if (bytes.size() < kHeaderBytes)
    return "truncated header (" + std::to_string(bytes.size()) + " bytes)";
  const char *p = bytes.data();
  if (std::memcmp(p, kMagic, sizeof(kMagic)) != 0)
    return "bad magic";
  p += sizeof(kMagic);
  if (getLittle(p, 4) != kFormatVersion)
    return "format version " + std::to_string(getLittle(p, 4)) + ", expected " +
           std::to_string(kFormatVersion);
  p += 4;
  if (std::string(p, kHexBytes) != key)
    return "holds another key";
  p += kHexBytes;
  const uint64_t size = getLittle(p, 8);
  p += 8;
  if (size != bytes.size() - kHeaderBytes)
    return "payload of " + std::to_string(bytes.size() - kHeaderBytes) +
           " bytes, header says " + std::to_string(size);
  const std::string digest(p, kHexBytes);
  if (payloadDigest(bytes.data() + kHeaderBytes, size) != digest)
    return "payload hash mismatch";
  return {};
}

struct EntryFile {
  std::string path;
  uint64_t bytes;
  struct timespec mtime;
};

bool olderThan(const EntryFile &a, const EntryFile &b) {
  if (a.mtime.tv_sec != b.mtime.tv_sec)
    return a.mtime.tv_sec < b.mtime.tv_sec;
  if (a.mtime.tv_nsec != b.mtime.tv_nsec)
    return a.mtime.tv_nsec < b.mtime.tv_nsec;
  return a.path < b.path;
}

bool endsWith(const std::string &text, const std::string &suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

} // namespace

KernelCache::KernelCache(KernelCacheOptions options)
    : dir(options.directory.empty() ? defaultDirectory()
                                    : std::move(options.directory)),
      maxBytes(options.maxBytes ? options.maxBytes : kDefaultMaxBytes),
      verbose(options.verbose) {
  while (dir.size() > 1 && dir.back() == '/')
    dir.pop_back();
}

std::string KernelCache::key(const std::vector<std::string> &fields) {
  host::Sha256 sha;
  for (const std::string &field : fields)
    sha.field(field);
  return sha.hexDigest();
}

std::string KernelCache::entryPath(const std::string &key) const {
  if (!isHexKey(key))
    throw Error("kernel cache: malformed key '" + key +
                "' (expected 64 lowercase hex digits)");
  return dir + "/" + key.substr(0, 2) + "/" + key + kEntrySuffix;
}

KernelCacheStats KernelCache::stats() const {
  std::lock_guard<std::mutex> lock(mutex);
  return counters;
}

std::optional<std::vector<char>> KernelCache::load(const std::string &key) {
  const std::string path = entryPath(key);
  auto miss = [&](bool corrupt) -> std::optional<std::vector<char>> {
    std::lock_guard<std::mutex> lock(mutex);
    ++counters.misses;
    if (corrupt)
      ++counters.corrupt;
    return std::nullopt;
  };
  if (dir.empty())
    return miss(false);

  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return miss(false);
  std::vector<char> bytes;
  struct stat opened;
  const bool read = ::fstat(fd, &opened) == 0 && readAll(fd, bytes);
  ::close(fd);
  const std::string problem = read ? checkEntry(bytes, key) : "read error";
  if (!problem.empty()) {
    if (verbose)
      std::fprintf(stderr, "awqc kernel cache: ignoring '%s': %s\n",
                   path.c_str(), problem.c_str());
    // Only the file that was read: another process may have renamed a good
    // entry over it meanwhile.
    struct stat now;
    if (::stat(path.c_str(), &now) == 0 && now.st_ino == opened.st_ino &&
        now.st_dev == opened.st_dev)
      ::unlink(path.c_str());
    return miss(true);
  }
  // The modification time is the LRU clock.
  ::utimensat(AT_FDCWD, path.c_str(), nullptr, 0);
  {
    std::lock_guard<std::mutex> lock(mutex);
    ++counters.hits;
  }
  return std::vector<char>(bytes.begin() + kHeaderBytes, bytes.end());
}

void KernelCache::store(const std::string &key,
                        const std::vector<char> &payload) {
  const std::string path = entryPath(key);
  if (dir.empty()) {
    if (verbose)
      std::fprintf(stderr, "awqc kernel cache: no directory (set "
                           "AWQC_CACHE_DIR, XDG_CACHE_HOME or HOME)\n");
    return;
  }
  const std::string shard = dir + "/" + key.substr(0, 2);
  auto fail = [&](const std::string &what) {
    if (verbose)
      std::fprintf(stderr, "awqc kernel cache: cannot store '%s': %s: %s\n",
                   path.c_str(), what.c_str(), std::strerror(errno));
  };
  if (!makeDirectories(shard))
    return fail("cannot create '" + shard + "'");

  std::string header(kMagic, sizeof(kMagic));
  putLittle(header, kFormatVersion, 4);
  header += key;
  putLittle(header, payload.size(), 8);
  header += payloadDigest(payload.data(), payload.size());

  const std::string temp =
      shard + "/" + kTempPrefix + key.substr(0, 16) + "." + uniqueSuffix();
  const int fd =
      ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0)
    return fail("cannot create '" + temp + "'");
  const bool written = writeAll(fd, header.data(), header.size()) &&
                       writeAll(fd, payload.data(), payload.size()) &&
                       ::fsync(fd) == 0;
  const bool closed = ::close(fd) == 0;
  if (!written || !closed) {
    fail("cannot write '" + temp + "'");
    ::unlink(temp.c_str());
    return;
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    fail("cannot rename '" + temp + "'");
    ::unlink(temp.c_str());
    return;
  }
  syncDirectory(shard);
  {
    std::lock_guard<std::mutex> lock(mutex);
    ++counters.stores;
  }
  evict(path);
}

void KernelCache::evict(const std::string &keep) {
  const auto now = std::chrono::system_clock::now();
  const int64_t nowSeconds =
      std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch())
          .count();
  std::vector<EntryFile> entries;
  uint64_t total = 0;
  DIR *top = ::opendir(dir.c_str());
  if (!top)
    return;
  while (const dirent *shardEntry = ::readdir(top)) {
    const std::string shardName = shardEntry->d_name;
    if (shardName.size() != 2 || !isHexKey(shardName + std::string(62, '0')))
      continue;
    const std::string shard = dir + "/" + shardName;
    DIR *inner = ::opendir(shard.c_str());
    if (!inner)
      continue;
    while (const dirent *file = ::readdir(inner)) {
      const std::string name = file->d_name;
      const std::string path = shard + "/" + name;
      struct stat info;
      // Files may vanish under us: another process evicts too.
      if (::lstat(path.c_str(), &info) != 0 || !S_ISREG(info.st_mode))
        continue;
      if (name.compare(0, std::strlen(kTempPrefix), kTempPrefix) == 0) {
        if (nowSeconds - info.st_mtim.tv_sec > kStaleTempSeconds)
          ::unlink(path.c_str());
        continue;
      }
      if (!endsWith(name, kEntrySuffix))
        continue;
      entries.push_back(
          {path, static_cast<uint64_t>(info.st_size), info.st_mtim});
      total += static_cast<uint64_t>(info.st_size);
    }
    ::closedir(inner);
  }
  ::closedir(top);
  if (total <= maxBytes)
    return;

  std::sort(entries.begin(), entries.end(), olderThan);
  for (const EntryFile &entry : entries) {
    if (total <= maxBytes)
      break;
    // The entry just stored stays, even alone past the limit.
    if (entry.path == keep)
      continue;
    if (::unlink(entry.path.c_str()) == 0) {
      {
        std::lock_guard<std::mutex> lock(mutex);
        ++counters.evictions;
      }
      if (verbose)
        std::fprintf(stderr, "awqc kernel cache: evicted '%s' (%llu bytes)\n",
                     entry.path.c_str(),
                     static_cast<unsigned long long>(entry.bytes));
    } else if (errno != ENOENT) {
      continue;
    }
    // Gone either way (ENOENT: another process evicted it first).
    total -= entry.bytes;
  }
}

} // namespace rt
} // namespace awq
