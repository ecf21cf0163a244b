//===- StagingDirectory.cpp - Build an output directory, then rename it ---===//

#include "compiler/driver/StagingDirectory.h"

#include "runtime/support/Error.h"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
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

/// The destination without trailing slashes ("out/" names the same "out").
fs::path normalizedDestination(const std::string &destination) {
  if (destination.empty())
    throw Error("the output directory name is empty");
  fs::path path = fs::path(destination).lexically_normal();
  if (path.has_filename())
    return path;
  path = path.parent_path();
  if (path.empty() || !path.has_filename() || path.filename() == "." ||
      path.filename() == "..")
    throw Error(destination + ": expected a directory name to create, such "
                              "as 'out' or 'models/out'");
  return path;
}

} // namespace

void checkOutputDirectory(const std::string &destination, bool overwrite) {
  const fs::path dest = normalizedDestination(destination);
  if (dest.filename() == "." || dest.filename() == "..")
    throw Error(destination + ": expected a directory name to create, such "
                              "as 'out' or 'models/out'");
  std::error_code ec;
  const fs::path parent = parentOf(dest);
  if (!fs::is_directory(parent, ec))
    throw Error(destination + ": the parent directory '" + parent.string() +
                "' does not exist");
  const fs::file_status status = fs::symlink_status(dest, ec);
  if (!fs::exists(status))
    return;
  if (!fs::is_directory(status))
    throw Error(destination + ": exists and is not a directory");
  if (!overwrite && !fs::is_empty(dest, ec))
    throw Error(destination + ": the output directory exists and is not "
                              "empty; pass --force to replace it");
}

StagingDirectory::StagingDirectory(std::string destination, bool overwrite)
    : destination_(std::move(destination)), overwrite_(overwrite) {
  checkOutputDirectory(destination_, overwrite_);
  const fs::path dest = normalizedDestination(destination_);
  temp_ = siblingName(dest, "tmp");
  std::error_code ec;
  if (!fs::create_directory(temp_, ec) || ec)
    throw Error(destination_ + ": cannot create the temporary directory '" +
                temp_ + "'" + (ec ? ": " + ec.message() : std::string()));
}

StagingDirectory::~StagingDirectory() {
  if (committed_)
    return;
  std::error_code ec;
  fs::remove_all(temp_, ec); // Best effort: never throw from a destructor.
}

void StagingDirectory::commit() {
  if (committed_)
    throw Error(destination_ + ": staging directory committed twice");
  const fs::path dest = normalizedDestination(destination_);
  std::error_code ec;
  const fs::file_status status = fs::symlink_status(dest, ec);
  std::string aside;
  if (fs::exists(status)) {
    if (!fs::is_directory(status))
      throw Error(destination_ + ": exists and is not a directory");
    if (!overwrite_ && !fs::is_empty(dest, ec))
      throw Error(destination_ + ": the output directory appeared while "
                                 "awqc was working; pass --force to "
                                 "replace it");
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
  if (!aside.empty())
    fs::remove_all(aside, ec);
}

} // namespace awq
