//===- TempDir.h - A fresh directory per test, removed afterwards ---------===//
#ifndef AWQ_TEST_UNIT_JIT_TEMPDIR_H
#define AWQ_TEST_UNIT_JIT_TEMPDIR_H

#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>

namespace awq {
namespace test {

/// mkdtemp under $TMPDIR (or /tmp); the destructor removes the tree.
class TempDir {
public:
  TempDir() {
    const char *base = std::getenv("TMPDIR");
    std::string pattern =
        std::string(base && *base ? base : "/tmp") + "/awqc-jit-test-XXXXXX";
    if (!mkdtemp(pattern.data()))
      throw std::runtime_error("mkdtemp failed for " + pattern);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir &) = delete;
  TempDir &operator=(const TempDir &) = delete;
  const std::string &path() const { return path_; }

private:
  std::string path_;
};

} // namespace test
} // namespace awq

#endif // AWQ_TEST_UNIT_JIT_TEMPDIR_H
