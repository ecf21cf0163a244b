//===- CommandsTestSupport.h - Temporary directories and seeds for tests
//----===//
//
// Every test works in a fresh directory that is removed afterwards, draws a
// fresh seed (AWQ_TEST_SEED replays one), and can list leftovers of the
// quantizer's temporary directories to prove that failures clean up.
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_TEST_UNIT_COMMANDS_COMMANDSTESTSUPPORT_H
#define AWQ_TEST_UNIT_COMMANDS_COMMANDSTESTSUPPORT_H

#include "compiler/commands/Commands.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace awq::test {

/// A fresh seed per call, or AWQ_TEST_SEED when set.
inline uint64_t testSeed() {
  if (const char *env = std::getenv("AWQ_TEST_SEED"))
    return std::strtoull(env, nullptr, 10);
  static uint64_t counter = 0;
  return (static_cast<uint64_t>(
              std::chrono::steady_clock::now().time_since_epoch().count()) +
          0x9e3779b97f4a7c15ull * ++counter) %
         1000000007ull;
}

inline std::string seedMessage(uint64_t seed) {
  return "replay with AWQ_TEST_SEED=" + std::to_string(seed);
}

/// A directory under the system temp dir, removed with its contents.
class TempDir {
public:
  TempDir() {
    static int counter = 0;
    path_ = std::filesystem::temp_directory_path() /
            ("awqc-driver-test-" + std::to_string(::getpid()) + "-" +
             std::to_string(++counter));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir &) = delete;
  TempDir &operator=(const TempDir &) = delete;

  std::string operator/(const std::string &name) const {
    return (path_ / name).string();
  }
  const std::filesystem::path &path() const { return path_; }

  /// Entries left by a staging directory (".<name>.awqc-tmp-...").
  std::vector<std::string> leftovers() const {
    std::vector<std::string> found;
    for (const auto &entry : std::filesystem::directory_iterator(path_)) {
      const std::string name = entry.path().filename().string();
      if (name.find(".awqc-") != std::string::npos)
        found.push_back(name);
    }
    return found;
  }

private:
  std::filesystem::path path_;
};

/// The result of running a subcommand with captured streams.
struct CommandRun {
  int code = -1;
  std::string out, err;
};

using CommandFunction = int (*)(const std::vector<std::string> &,
                                std::ostream &, std::ostream &);

inline CommandRun runCommand(CommandFunction command,
                             const std::vector<std::string> &args) {
  std::ostringstream out, err;
  CommandRun run;
  run.code = command(args, out, err);
  run.out = out.str();
  run.err = err.str();
  return run;
}

inline std::string readText(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

inline void writeText(const std::string &path, const std::string &text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

/// Writes a small synthetic model (hidden 256, intermediate 512, 2 blocks)
/// into `dir`; `extra` adds synth options. Fails the test on error.
inline void synthesize(const std::string &dir, uint64_t seed,
                       std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {"-o", dir, "--seed", std::to_string(seed),
                                   "--quiet"};
  args.insert(args.end(), extra.begin(), extra.end());
  const CommandRun run = runCommand(&runSynthCommand, args);
  ASSERT_EQ(run.code, 0) << run.err;
}

} // namespace awq::test

#endif // AWQ_TEST_UNIT_COMMANDS_COMMANDSTESTSUPPORT_H
