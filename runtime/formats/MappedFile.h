//===- MappedFile.h - A read-only memory mapping of a whole file ----------===//
//
// Checkpoints are gigabytes: tensors are read in place from a private,
// read-only mapping instead of being copied into memory.
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_RUNTIME_FORMATS_MAPPEDFILE_H
#define AWQ_RUNTIME_FORMATS_MAPPEDFILE_H

#include <cstddef>
#include <cstdint>
#include <string>

namespace awq {

/// Maps a regular file read-only. Move-only; unmaps on destruction. An empty
/// file maps to data() == nullptr and size() == 0.
class MappedFile {
public:
  /// Throws awq::Error naming `path` when it cannot be opened, is not a
  /// regular file, or cannot be mapped.
  explicit MappedFile(const std::string &path);
  ~MappedFile();
  MappedFile(MappedFile &&other) noexcept;
  MappedFile &operator=(MappedFile &&other) noexcept;
  MappedFile(const MappedFile &) = delete;
  MappedFile &operator=(const MappedFile &) = delete;

  const uint8_t *data() const { return data_; }
  size_t size() const { return size_; }

private:
  void release() noexcept;

  const uint8_t *data_ = nullptr;
  size_t size_ = 0;
};

/// The whole content of the regular file `path` (a FIFO, device or
/// directory is refused, never waited on). Throws awq::Error naming `path`.
std::string readRegularFile(const std::string &path);

} // namespace awq

#endif // AWQ_RUNTIME_FORMATS_MAPPEDFILE_H
