//===- AtomicFile.cpp - Write a file under a temporary name, then rename --===//

#include "runtime/formats/AtomicFile.h"

#include "runtime/support/Error.h"

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utility>

namespace awq {

namespace {

std::string errnoText() { return std::strerror(errno); }

/// A name that no concurrent writer (thread or process) picks at the same
/// time; O_EXCL catches the remaining collisions.
std::string temporaryName(const std::string &path, unsigned attempt) {
  static std::atomic<unsigned> counter{0};
  auto ticks = static_cast<unsigned long long>(
      std::chrono::steady_clock::now().time_since_epoch().count());
  char suffix[96];
  std::snprintf(suffix, sizeof(suffix), ".tmp.%d.%u.%u.%llx",
                static_cast<int>(::getpid()), counter.fetch_add(1), attempt,
                ticks & 0xffffffull);
  return path + suffix;
}

} // namespace

size_t removeStaleTemporaries(const std::string &path) {
  namespace fs = std::filesystem;
  const fs::path target(path);
  const std::string name = target.filename().string();
  if (name.empty() || name == "." || name == "..")
    return 0;
  fs::path parent = target.parent_path();
  if (parent.empty())
    parent = ".";
  // The pid that follows `prefix` in `entry`, or -1.
  auto pidAfter = [](const std::string &entry, const std::string &prefix) {
    if (entry.compare(0, prefix.size(), prefix) != 0)
      return -1L;
    const char *digits = entry.c_str() + prefix.size();
    char *end = nullptr;
    const long pid = std::strtol(digits, &end, 10);
    return end != digits && pid > 0 && (*end == '.' || *end == '-') ? pid
                                                                    : -1L;
  };
  size_t removed = 0;
  std::error_code ec;
  const auto now = fs::file_time_type::clock::now();
  for (fs::directory_iterator it(parent, ec), end; !ec && it != end;
       it.increment(ec)) {
    const std::string entry = it->path().filename().string();
    long pid = pidAfter(entry, name + ".tmp.");
    if (pid < 0)
      pid = pidAfter(entry, "." + name + ".awqc-tmp-");
    if (pid < 0)
      pid = pidAfter(entry, "." + name + ".awqc-old-");
    if (pid < 0 || pid == long(::getpid()))
      continue;
    // A live process (or one we may not signal) still owns it.
    if (::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH)
      continue;
    std::error_code timeError;
    const auto modified = fs::last_write_time(it->path(), timeError);
    if (timeError || now - modified < std::chrono::minutes(1))
      continue;
    std::error_code removeError;
    if (fs::remove_all(it->path(), removeError) > 0 && !removeError)
      ++removed;
  }
  return removed;
}

AtomicFileWriter::AtomicFileWriter(std::string path) : path_(std::move(path)) {
  if (path_.empty())
    throw Error("cannot write a file with an empty path");
  removeStaleTemporaries(path_);
  for (unsigned attempt = 0;; ++attempt) {
    tempPath_ = temporaryName(path_, attempt);
    // 0666 lets the process umask decide the final permissions, as for any
    // file the user creates.
    fd_ =
        ::open(tempPath_.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd_ >= 0)
      return;
    if (errno == EEXIST && attempt < 100)
      continue;
    if (errno == EINTR)
      continue;
    throw Error(path_ + ": cannot create a temporary file next to it (" +
                tempPath_ + "): " + errnoText());
  }
}

AtomicFileWriter::AtomicFileWriter(std::string path, std::string tempPath)
    : path_(std::move(path)), tempPath_(std::move(tempPath)), keepTemp_(true) {
  if (path_.empty() || tempPath_.empty())
    throw Error("cannot write a file with an empty path");
  struct stat info;
  reopened_ = ::stat(tempPath_.c_str(), &info) == 0;
  do
    fd_ = ::open(tempPath_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
  while (fd_ < 0 && errno == EINTR);
  if (fd_ < 0)
    throw Error(path_ + ": cannot open its partial file " + tempPath_ + ": " +
                errnoText());
}

AtomicFileWriter::~AtomicFileWriter() {
  if (fd_ >= 0)
    ::close(fd_);
  if (!committed_ && !keepTemp_)
    ::unlink(tempPath_.c_str());
}

void AtomicFileWriter::write(const void *data, size_t size) {
  if (fd_ < 0)
    throw Error(path_ + ": write after the file was finished");
  const char *bytes = static_cast<const char *>(data);
  while (size > 0) {
    // Linux writes at most ~2 GiB per call; loop for larger tensors.
    ssize_t written = ::write(fd_, bytes, size);
    if (written < 0) {
      if (errno == EINTR)
        continue;
      throw Error(path_ + ": write failed: " + errnoText());
    }
    bytes += written;
    size -= static_cast<size_t>(written);
  }
}

void AtomicFileWriter::writeAt(uint64_t offset, const void *data, size_t size) {
  if (fd_ < 0)
    throw Error(path_ + ": write after the file was finished");
  const char *bytes = static_cast<const char *>(data);
  while (size > 0) {
    ssize_t written = ::pwrite(fd_, bytes, size, static_cast<off_t>(offset));
    if (written < 0) {
      if (errno == EINTR)
        continue;
      throw Error(path_ + ": write failed: " + errnoText());
    }
    bytes += written;
    offset += static_cast<uint64_t>(written);
    size -= static_cast<size_t>(written);
  }
}

void AtomicFileWriter::readAt(uint64_t offset, void *data, size_t size) const {
  if (fd_ < 0)
    throw Error(path_ + ": read after the file was finished");
  char *bytes = static_cast<char *>(data);
  while (size > 0) {
    ssize_t got = ::pread(fd_, bytes, size, static_cast<off_t>(offset));
    if (got < 0 && errno == EINTR)
      continue;
    if (got <= 0)
      throw Error(tempPath_ + ": cannot read " + std::to_string(size) +
                  " bytes at offset " + std::to_string(offset) + ": " +
                  (got < 0 ? errnoText() : std::string("end of file")));
    bytes += got;
    offset += static_cast<uint64_t>(got);
    size -= static_cast<size_t>(got);
  }
}

void AtomicFileWriter::sync() {
  if (fd_ >= 0 && ::fsync(fd_) != 0)
    throw Error(path_ + ": fsync failed: " + errnoText());
}

void AtomicFileWriter::finish() {
  if (fd_ < 0)
    return;
  // Without fsync a crash after rename can leave an empty destination.
  if (::fsync(fd_) != 0)
    throw Error(path_ + ": fsync failed: " + errnoText());
  int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0)
    throw Error(path_ + ": close failed: " + errnoText());
}

void AtomicFileWriter::commit() {
  if (committed_)
    return;
  finish();
  if (::rename(tempPath_.c_str(), path_.c_str()) != 0)
    throw Error(path_ + ": cannot rename " + tempPath_ +
                " into place: " + errnoText());
  committed_ = true;
  // The rename itself is durable only once the directory is synced.
  std::string dir = std::filesystem::path(path_).parent_path().string();
  if (dir.empty())
    dir = ".";
  const int dirFd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dirFd < 0)
    throw Error(path_ +
                ": cannot open its directory to sync it: " + errnoText());
  const int synced = ::fsync(dirFd);
  const int saved = errno;
  ::close(dirFd);
  // Some filesystems cannot sync a directory (EINVAL); no data is at risk.
  if (synced != 0 && saved != EINVAL)
    throw Error(path_ +
                ": fsync of its directory failed: " + std::strerror(saved));
}

void writeFileAtomically(const std::string &path, std::string_view contents) {
  AtomicFileWriter writer(path);
  writer.write(contents);
  writer.commit();
}

} // namespace awq
