//===- OutputStaging.h - Write a tool's output without losing data --------===//
//
// Every file or directory an awq tool writes goes through here. Outputs are
// built under a hidden temporary name next to the destination (same
// filesystem, so the final rename is atomic), fsynced, and renamed into
// place only when complete. An existing destination is refused unless
// --force is given, and even then only an earlier output of the same command
// is replaced; an input of the command, the current directory and its
// parents are never replaced. MLIR-free.
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_COMPILER_FRONTEND_OUTPUTSTAGING_H
#define AWQ_COMPILER_FRONTEND_OUTPUTSTAGING_H

#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace awq {

/// What a command may do to an existing path at its output.
struct OutputRules {
  /// The command, for messages, e.g. "awqc compile".
  std::string command;
  /// --force: replace an earlier output of this command.
  bool force = false;
  /// Paths the command reads. The output may be none of them and may not
  /// contain any of them.
  std::vector<std::string> inputs;
  /// Whether an existing path is an earlier output of this command (only
  /// those are replaced, and only with --force).
  std::function<bool(const std::filesystem::path &)> isEarlierOutput;
  /// What an earlier output looks like, for messages, e.g. "a directory
  /// holding manifest.json and kernels/".
  std::string earlierOutput;
};

/// Throws awq::Error naming `destination` unless a directory may be created
/// there: its parent must exist; it must not be `.`, `..`, the current
/// directory or one of its parents, an input or a parent of an input; an
/// existing non-empty directory needs --force and must be an earlier output.
/// Used to fail before any expensive work.
void checkOutputDirectory(const std::string &destination,
                          const OutputRules &rules);

/// The same checks for a single output file.
void checkOutputFile(const std::string &destination, const OutputRules &rules);

/// Writes `contents` to `destination` after checkOutputFile, through a
/// temporary file that is fsynced and renamed into place.
void writeOutputFile(const std::string &destination, std::string_view contents,
                     const OutputRules &rules);

/// Whether the first `limit` bytes of `file` contain `text`: how the
/// isEarlierOutput predicates recognise a file they wrote.
bool fileContains(const std::filesystem::path &file, std::string_view text,
                  size_t limit = size_t(1) << 20);

/// fsyncs a directory, so that renames and new entries in it survive a
/// crash. Throws awq::Error naming it.
void syncDirectory(const std::string &path);

/// `.<name>.awqc-<kind>` next to `destination`: a fixed name (no pid) that a
/// later run finds again, such as the state an interrupted run keeps for
/// --resume. Throws awq::Error as checkOutputDirectory does for names that
/// cannot be created.
std::string fixedSiblingPath(const std::string &destination,
                             const std::string &kind);

/// A directory being built under a temporary name next to its destination.
class StagingDirectory {
public:
  /// Runs checkOutputDirectory and creates `.<name>.awqc-tmp-<pid>-<n>` next
  /// to `destination`. Throws awq::Error naming the destination.
  StagingDirectory(std::string destination, OutputRules rules);
  /// Adopts `existing`, a directory the caller created (on the same
  /// filesystem), instead of creating one; the caller owns its removal, so
  /// the destructor leaves it.
  StagingDirectory(std::string destination, OutputRules rules,
                   std::string existing);
  /// Removes the temporary directory unless committed (or adopted).
  ~StagingDirectory();
  StagingDirectory(const StagingDirectory &) = delete;
  StagingDirectory &operator=(const StagingDirectory &) = delete;

  /// Where to write the files (each one fsynced, e.g. with
  /// writeFileAtomically).
  const std::string &path() const { return temp_; }
  const std::string &destination() const { return destination_; }

  /// Checks the destination again, fsyncs the temporary directory and moves
  /// it to the destination. An existing destination (an empty directory, or
  /// an earlier output allowed by --force) is first renamed aside and removed
  /// only after the new directory is in place; if the final rename fails it
  /// is restored. The parent directory is fsynced after the rename.
  void commit();

private:
  std::string destination_;
  std::string temp_;
  OutputRules rules_;
  bool committed_ = false;
  bool adopted_ = false;
};

} // namespace awq

#endif // AWQ_COMPILER_FRONTEND_OUTPUTSTAGING_H
