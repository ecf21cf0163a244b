//===- MappedFile.cpp - A read-only memory mapping of a whole file --------===//

#include "runtime/formats/MappedFile.h"

#include "runtime/support/Error.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utility>

namespace awq {

namespace {

/// Closes the descriptor on every exit path of the constructor.
struct FdGuard {
  int fd;
  ~FdGuard() {
    if (fd >= 0)
      ::close(fd);
  }
};

} // namespace

MappedFile::MappedFile(const std::string &path) {
  int fd;
  do
    // O_NONBLOCK: opening a FIFO must not wait for a writer (it is then
    // refused as not a regular file); it changes nothing for regular files.
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  while (fd < 0 && errno == EINTR);
  if (fd < 0)
    throw Error(path + ": cannot open for reading: " + std::strerror(errno));
  FdGuard guard{fd};

  struct stat st;
  if (::fstat(fd, &st) != 0)
    throw Error(path + ": cannot stat: " + std::strerror(errno));
  if (!S_ISREG(st.st_mode))
    throw Error(path + ": expected a regular file");
  size_ = static_cast<size_t>(st.st_size);
  if (size_ == 0)
    return;

  void *mapping = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
  if (mapping == MAP_FAILED)
    throw Error(path + ": cannot map " + std::to_string(size_) +
                " bytes: " + std::strerror(errno));
  data_ = static_cast<const uint8_t *>(mapping);
}

MappedFile::~MappedFile() { release(); }

MappedFile::MappedFile(MappedFile &&other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)) {}

MappedFile &MappedFile::operator=(MappedFile &&other) noexcept {
  if (this != &other) {
    release();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

void MappedFile::release() noexcept {
  if (data_)
    ::munmap(const_cast<uint8_t *>(data_), size_);
  data_ = nullptr;
  size_ = 0;
}

std::string readRegularFile(const std::string &path) {
  MappedFile file(path);
  return std::string(reinterpret_cast<const char *>(file.data()), file.size());
}

} // namespace awq
