//===- StagingDirectory.h - Build an output directory, then rename it -----===//
//
// A checkpoint is several files; readers must see either the old directory
// or the complete new one. Everything is written into a hidden temporary
// directory next to the destination (same filesystem, so the final rename is
// atomic) and removed again unless commit() succeeds.
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_COMPILER_DRIVER_STAGINGDIRECTORY_H
#define AWQ_COMPILER_DRIVER_STAGINGDIRECTORY_H

#include <string>

namespace awq {

/// Throws awq::Error naming `destination` when it exists and is not an empty
/// directory and `overwrite` is false, or when its parent directory does not
/// exist. Used to fail before any expensive work.
void checkOutputDirectory(const std::string &destination, bool overwrite);

class StagingDirectory {
public:
  /// Creates `.<name>.awqc-tmp-<pid>-<n>` next to `destination`. Throws
  /// awq::Error as checkOutputDirectory does, or when the directory cannot
  /// be created.
  StagingDirectory(std::string destination, bool overwrite);
  /// Removes the temporary directory unless committed.
  ~StagingDirectory();
  StagingDirectory(const StagingDirectory &) = delete;
  StagingDirectory &operator=(const StagingDirectory &) = delete;

  /// Where to write the files.
  const std::string &path() const { return temp_; }
  const std::string &destination() const { return destination_; }

  /// Moves the temporary directory to the destination. An existing
  /// destination (allowed by `overwrite`) is first renamed aside and removed
  /// only after the new directory is in place; if the final rename fails it
  /// is restored.
  void commit();

private:
  std::string destination_;
  std::string temp_;
  bool overwrite_;
  bool committed_ = false;
};

} // namespace awq

#endif // AWQ_COMPILER_DRIVER_STAGINGDIRECTORY_H
