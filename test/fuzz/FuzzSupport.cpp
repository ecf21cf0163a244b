//===- FuzzSupport.cpp - Scratch files and failure reports for fuzz targets
//===//
#include "test/fuzz/FuzzSupport.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <system_error>

#include <unistd.h>

namespace fs = std::filesystem;

namespace awq::fuzz {

namespace {

std::string &scratchPath() {
  static std::string path;
  return path;
}

void removeScratch() {
  std::error_code ec;
  if (!scratchPath().empty())
    fs::remove_all(scratchPath(), ec);
}

} // namespace

const std::string &scratchDirectory() {
  std::string &path = scratchPath();
  if (path.empty()) {
    const char *tmp = std::getenv("TMPDIR");
    std::string pattern =
        std::string(tmp && *tmp ? tmp : "/tmp") + "/awqc-fuzz.XXXXXX";
    if (!::mkdtemp(pattern.data())) {
      std::perror(("awqc fuzz: mkdtemp " + pattern).c_str());
      std::abort();
    }
    path = pattern;
    std::atexit(removeScratch);
  }
  return path;
}

std::string freshDirectory(const std::string &name) {
  const std::string dir = scratchDirectory() + "/" + name;
  std::error_code ec;
  fs::remove_all(dir, ec);
  if (!fs::create_directories(dir, ec) || ec) {
    std::fprintf(stderr, "awqc fuzz: cannot create %s: %s\n", dir.c_str(),
                 ec.message().c_str());
    std::abort();
  }
  return dir;
}

std::string keptDirectory(const std::string &name) {
  const std::string dir = scratchDirectory() + "/" + name;
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    return freshDirectory(name);
  return dir;
}

void writeFile(const std::string &path, const uint8_t *data, size_t size) {
  std::FILE *file = std::fopen(path.c_str(), "wb");
  if (!file || (size && std::fwrite(data, 1, size, file) != size) ||
      std::fclose(file) != 0) {
    std::perror(("awqc fuzz: writing " + path).c_str());
    std::abort();
  }
}

void writeFile(const std::string &path, const std::string &text) {
  writeFile(path, reinterpret_cast<const uint8_t *>(text.data()), text.size());
}

void rejected(const std::string &message) {
  static const bool verbose = std::getenv("AWQC_FUZZ_VERBOSE") != nullptr;
  if (verbose)
    std::fprintf(stderr, "rejected: %s\n", message.c_str());
}

void rejected(const std::exception &error) { rejected(error.what()); }

void fail(const char *target, const std::string &what) {
  std::fprintf(stderr, "fuzz invariant violated in %s: %s\n", target,
               what.c_str());
  std::fflush(stderr);
  std::abort();
}

} // namespace awq::fuzz
