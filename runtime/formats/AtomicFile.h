//===- AtomicFile.h - Write a file under a temporary name, then rename ----===//
//
// Readers must never see a half-written checkpoint or description: output
// goes to a temporary file in the destination directory (same filesystem, so
// rename is atomic) and replaces the destination only once it is complete.
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_RUNTIME_FORMATS_ATOMICFILE_H
#define AWQ_RUNTIME_FORMATS_ATOMICFILE_H

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace awq {

/// A file being written under a temporary name next to its destination.
/// Unless commit() succeeds, the destructor removes the temporary file, so an
/// exception anywhere in between leaves the destination untouched.
class AtomicFileWriter {
public:
  /// Creates the temporary file. Throws awq::Error naming `path` when the
  /// directory does not exist or is not writable.
  explicit AtomicFileWriter(std::string path);
  /// Resumable: writes through the fixed temporary `tempPath`, opened
  /// without truncation when it exists (a run that resumes reopens what an
  /// interrupted one wrote) and left in place unless committed.
  AtomicFileWriter(std::string path, std::string tempPath);
  ~AtomicFileWriter();
  AtomicFileWriter(const AtomicFileWriter &) = delete;
  AtomicFileWriter &operator=(const AtomicFileWriter &) = delete;

  /// Appends bytes. Throws awq::Error naming the destination on failure.
  void write(const void *data, size_t size);
  void write(std::string_view text) { write(text.data(), text.size()); }

  /// Overwrites bytes already written at `offset` (a header patched once
  /// the data after it is known), leaving the append position alone.
  void writeAt(uint64_t offset, const void *data, size_t size);

  /// Reads `size` bytes at `offset` back; throws awq::Error naming the
  /// destination when they are not all there.
  void readAt(uint64_t offset, void *data, size_t size) const;

  /// fsyncs what was written so far, keeping the file open.
  void sync();

  /// Flushes the data to disk and closes the temporary file, without making
  /// it visible yet. Lets a caller finish several files before renaming any.
  void finish();

  /// finish() if needed, then renames the temporary file over the
  /// destination and fsyncs its directory.
  void commit();

  const std::string &path() const { return path_; }
  const std::string &tempPath() const { return tempPath_; }
  /// Resumable only: whether the temporary file existed before.
  bool reopened() const { return reopened_; }

private:
  std::string path_;
  std::string tempPath_;
  int fd_ = -1;
  bool committed_ = false;
  bool keepTemp_ = false;
  bool reopened_ = false;
};

/// Removes what killed writers left next to `path`: siblings named like
/// the temporaries of `path` (files `NAME.tmp.PID.*` and, for staging
/// directories, `.NAME.awqc-tmp-PID-*` and `.NAME.awqc-old-PID-*`) whose
/// process PID no longer exists on this machine and that were not modified
/// in the last minute. Anything else, and any failure, is left alone.
/// Returns how many were removed.
size_t removeStaleTemporaries(const std::string &path);

/// Writes `contents` to `path` through an AtomicFileWriter.
void writeFileAtomically(const std::string &path, std::string_view contents);

} // namespace awq

#endif // AWQ_RUNTIME_FORMATS_ATOMICFILE_H
