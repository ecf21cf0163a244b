//===- OutputStaging.cpp - Write a tool's output without losing data ------===//

#include "compiler/frontend/OutputStaging.h"

#include "runtime/formats/AtomicFile.h"
#include "runtime/support/Error.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <system_error>

namespace awq {

namespace fs = std::filesystem;

namespace {

/// Distinguishes several staging directories of one process.
std::atomic<unsigned> stagingCounter{0};

fs::path parentOf(const fs::path &destination) {
  fs::path parent = destination.parent_path();
  return parent.empty() ? fs::path(".") : parent;
}

std::string siblingName(const fs::path &destination, const char *kind) {
  fs::path name = destination.filename();
  return (parentOf(destination) / ("." + name.string() + ".awqc-" + kind + "-" +
                                   std::to_string(::getpid()) + "-" +
                                   std::to_string(stagingCounter.fetch_add(1))))
      .string();
}

/// Absolute, with symlinks of the existing part resolved.
fs::path canonicalPath(const fs::path &path) {
  std::error_code ec;
  fs::path absolute = fs::absolute(path, ec);
  if (ec)
    return path.lexically_normal();
  fs::path canonical = fs::weakly_canonical(absolute, ec);
  return ec ? absolute.lexically_normal() : canonical;
}

/// Whether `ancestor` is `path` or one of its parents (both canonical).
bool isSameOrAncestor(const fs::path &ancestor, const fs::path &path) {
  auto a = ancestor.begin(), p = path.begin();
  for (; a != ancestor.end(); ++a, ++p) {
    if (a->empty()) // A trailing separator.
      continue;
    if (p == path.end() || *a != *p)
      return false;
  }
  return true;
}

/// The destination without trailing slashes ("out/" names the same "out").
/// Refuses names that cannot be a new entry of a directory.
fs::path normalizedDestination(const std::string &destination) {
  if (destination.empty())
    throw Error("the output name is empty");
  fs::path path = fs::path(destination).lexically_normal();
  if (!path.has_filename())
    path = path.parent_path();
  const std::string name = path.filename().string();
  if (name.empty() || name == "." || name == ".." || path == path.root_path())
    throw Error(destination +
                ": is the current directory, a parent of it or the root; "
                "expected a new name to create, such as 'out' or "
                "'models/out'");
  return path;
}

/// The checks shared by files and directories; returns the normalized
/// destination.
fs::path checkPlacement(const std::string &destination,
                        const OutputRules &rules) {
  const fs::path dest = normalizedDestination(destination);
  std::error_code ec;
  const fs::path parent = parentOf(dest);
  if (!fs::is_directory(parent, ec))
    throw Error(destination + ": the parent directory '" + parent.string() +
                (fs::exists(parent, ec) ? "' is not a directory"
                                        : "' does not exist"));
  // Whether files can be created there is found out now, not after the work
  // (a read-only mount, a pseudo file system, a full quota).
  const fs::path probe =
      parent / ("." + dest.filename().string() + ".awqc-probe-" +
                std::to_string(::getpid()) + "-" +
                std::to_string(stagingCounter.fetch_add(1)));
  const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
                        0600);
  if (fd < 0)
    throw Error(destination + ": cannot create files in '" + parent.string() +
                "': " + std::strerror(errno));
  ::close(fd);
  ::unlink(probe.c_str());
  const fs::path canonical = canonicalPath(dest);
  const fs::path cwd = canonicalPath(fs::current_path(ec));
  if (!ec && isSameOrAncestor(canonical, cwd))
    throw Error(destination +
                ": is the current directory or one of its parents; refusing "
                "to replace it");
  for (const std::string &input : rules.inputs) {
    if (input.empty())
      continue;
    const fs::path in = canonicalPath(input);
    if (canonical == in)
      throw Error(destination + ": is an input of " + rules.command + " ('" +
                  input + "'); refusing to replace it, choose another output");
    if (isSameOrAncestor(canonical, in))
      throw Error(destination + ": contains an input of " + rules.command +
                  " ('" + input +
                  "'); refusing to replace it, choose another output");
  }
  return dest;
}

/// An existing, non-empty destination: allowed only with --force and only
/// if it is an earlier output of the same command.
void checkReplaceable(const std::string &destination, const fs::path &dest,
                      const OutputRules &rules, const char *what) {
  if (!rules.force)
    throw Error(destination + ": the output " + what +
                " exists and is not empty; pass --force to replace it");
  if (!rules.isEarlierOutput || !rules.isEarlierOutput(dest))
    throw Error(destination + ": exists and is not an earlier output of " +
                rules.command +
                (rules.earlierOutput.empty()
                     ? std::string()
                     : " (" + rules.earlierOutput + ")") +
                "; refusing to replace it even with --force");
}

/// Checks an existing destination directory; returns whether one exists.
bool checkExistingDirectory(const std::string &destination,
                            const fs::path &dest, const OutputRules &rules) {
  std::error_code ec;
  const fs::file_status status = fs::symlink_status(dest, ec);
  if (!fs::exists(status))
    return false;
  if (!fs::is_directory(status))
    throw Error(destination + ": exists and is not a directory");
  if (!fs::is_empty(dest, ec) || ec)
    checkReplaceable(destination, dest, rules, "directory");
  return true;
}

} // namespace

bool fileContains(const fs::path &file, std::string_view text, size_t limit) {
  std::ifstream in(file, std::ios::binary);
  if (!in)
    return false;
  std::string head(limit, '\0');
  in.read(head.data(), static_cast<std::streamsize>(limit));
  head.resize(static_cast<size_t>(in.gcount()));
  return head.find(text) != std::string::npos;
}

void syncDirectory(const std::string &path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    throw Error(path + ": cannot open the directory to sync it: " +
                std::strerror(errno));
  const int result = ::fsync(fd);
  const int saved = errno;
  ::close(fd);
  // Some filesystems cannot sync a directory (EINVAL); that is no data loss.
  if (result != 0 && saved != EINVAL)
    throw Error(path + ": fsync failed: " + std::strerror(saved));
}

void checkOutputDirectory(const std::string &destination,
                          const OutputRules &rules) {
  const fs::path dest = checkPlacement(destination, rules);
  checkExistingDirectory(destination, dest, rules);
}

void checkOutputFile(const std::string &destination, const OutputRules &rules) {
  const fs::path dest = checkPlacement(destination, rules);
  std::error_code ec;
  const fs::file_status status = fs::symlink_status(dest, ec);
  if (!fs::exists(status))
    return;
  if (fs::is_directory(status))
    throw Error(destination + ": is a directory; expected a file name");
  if (!fs::is_regular_file(status))
    throw Error(destination + ": exists and is not a regular file");
  checkReplaceable(destination, dest, rules, "file");
}

void writeOutputFile(const std::string &destination, std::string_view contents,
                     const OutputRules &rules) {
  checkOutputFile(destination, rules);
  writeFileAtomically(normalizedDestination(destination).string(), contents);
}

StagingDirectory::StagingDirectory(std::string destination, OutputRules rules)
    : destination_(std::move(destination)), rules_(std::move(rules)) {
  checkOutputDirectory(destination_, rules_);
  const fs::path dest = normalizedDestination(destination_);
  // What killed runs left here (their pids are gone) is removed first.
  removeStaleTemporaries(dest.string());
  temp_ = siblingName(dest, "tmp");
  std::error_code ec;
  if (!fs::create_directory(temp_, ec) || ec)
    throw Error(destination_ + ": cannot create the temporary directory '" +
                temp_ + "'" + (ec ? ": " + ec.message() : std::string()));
}

std::string fixedSiblingPath(const std::string &destination,
                             const std::string &kind) {
  const fs::path dest = normalizedDestination(destination);
  return (dest.parent_path() /
          ("." + dest.filename().string() + ".awqc-" + kind))
      .string();
}

StagingDirectory::StagingDirectory(std::string destination, OutputRules rules,
                                   std::string existing)
    : destination_(std::move(destination)), temp_(std::move(existing)),
      rules_(std::move(rules)), adopted_(true) {
  checkOutputDirectory(destination_, rules_);
  std::error_code ec;
  if (!fs::is_directory(temp_, ec))
    throw Error(destination_ + ": the directory to move into place, '" + temp_ +
                "', does not exist");
}

StagingDirectory::~StagingDirectory() {
  if (committed_ || adopted_)
    return;
  std::error_code ec;
  fs::remove_all(temp_, ec); // Best effort: never throw from a destructor.
}

void StagingDirectory::commit() {
  if (committed_)
    throw Error(destination_ + ": staging directory committed twice");
  // The destination may have appeared, or changed, while we were working.
  const fs::path dest = checkPlacement(destination_, rules_);
  const bool exists = checkExistingDirectory(destination_, dest, rules_);
  syncDirectory(temp_);
  std::string aside;
  if (exists) {
    aside = siblingName(dest, "old");
    if (std::rename(dest.c_str(), aside.c_str()) != 0)
      throw Error(destination_ +
                  ": cannot move the existing directory aside: " +
                  std::strerror(errno));
  }
  if (std::rename(temp_.c_str(), dest.c_str()) != 0) {
    const int saved = errno;
    if (!aside.empty())
      std::rename(aside.c_str(), dest.c_str());
    throw Error(destination_ + ": cannot rename '" + temp_ +
                "' into place: " + std::strerror(saved));
  }
  committed_ = true;
  syncDirectory(parentOf(dest).string());
  // Only what checkExistingDirectory accepted is removed: an empty directory
  // or an earlier output of this command.
  std::error_code ec;
  if (!aside.empty())
    fs::remove_all(aside, ec);
}

} // namespace awq
