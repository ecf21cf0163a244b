//===- ReplayMain.cpp - Runs a fuzz target on saved inputs, without libFuzzer
//
// The plain (GCC, no libFuzzer) build links each fuzz target's
// LLVMFuzzerTestOneInput with this main, so ctest replays the regression
// inputs under test/fuzz/regressions/<target>/ in every normal build. A
// crash, sanitizer report or abort fails the test; returning normally on
// every input passes it.
//
//===----------------------------------------------------------------------===//
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <system_error>
#include <vector>

namespace fs = std::filesystem;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv) {
  if (argc < 2) {
    std::fprintf(stderr,
                 "usage: %s FILE|DIR...\nruns the fuzz target on every "
                 "file (directories recursively, in name order)\n",
                 argv[0]);
    return 2;
  }
  std::vector<fs::path> inputs;
  for (int i = 1; i < argc; ++i) {
    std::error_code ec;
    fs::path path(argv[i]);
    if (fs::is_directory(path, ec)) {
      for (fs::recursive_directory_iterator it(path, ec), end; !ec && it != end;
           it.increment(ec))
        if (it->is_regular_file(ec))
          inputs.push_back(it->path());
    } else if (fs::is_regular_file(path, ec)) {
      inputs.push_back(path);
    } else {
      std::fprintf(stderr, "%s: '%s' is neither a file nor a directory\n",
                   argv[0], argv[i]);
      return 2;
    }
    if (ec) {
      std::fprintf(stderr, "%s: cannot list '%s': %s\n", argv[0], argv[i],
                   ec.message().c_str());
      return 2;
    }
  }
  std::sort(inputs.begin(), inputs.end());
  for (const fs::path &path : inputs) {
    std::ifstream in(path, std::ios::binary);
    std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                               std::istreambuf_iterator<char>());
    if (!in.good() && !in.eof()) {
      std::fprintf(stderr, "%s: cannot read '%s'\n", argv[0], path.c_str());
      return 2;
    }
    std::fprintf(stderr, "replay %s (%zu bytes)\n", path.c_str(), bytes.size());
    LLVMFuzzerTestOneInput(bytes.data(), bytes.size());
  }
  std::fprintf(stderr, "replayed %zu input(s)\n", inputs.size());
  return 0;
}
