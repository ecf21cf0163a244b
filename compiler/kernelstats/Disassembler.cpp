//===- Disassembler.cpp - Find nvdisasm or cuobjdump and disassemble ------===//
#include "compiler/kernelstats/Disassembler.h"

#include "runtime/support/Error.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sys/wait.h>
#include <unistd.h>

#ifndef AWQC_SOURCE_DIR_DEFAULT
#error "AWQC_SOURCE_DIR_DEFAULT must be defined by the build"
#endif
#ifndef AWQ_CUDA_BIN_DIR_DEFAULT
#error "AWQ_CUDA_BIN_DIR_DEFAULT must be defined by the build"
#endif

namespace fs = std::filesystem;

namespace awq {
namespace {

bool isExecutable(const fs::path &path) {
  std::error_code ec;
  return fs::is_regular_file(path, ec) && ::access(path.c_str(), X_OK) == 0;
}

std::string envString(const char *name) {
  const char *value = std::getenv(name);
  return value ? value : "";
}

/// nvdisasm under the project's virtual environment (the wheel puts it in
/// site-packages/nvidia/cu13/bin).
std::string venvNvdisasm() {
  const fs::path lib = fs::path(AWQC_SOURCE_DIR_DEFAULT) / ".venv" / "lib";
  std::error_code ec;
  if (!fs::is_directory(lib, ec))
    return "";
  for (const fs::directory_entry &python : fs::directory_iterator(lib, ec)) {
    const fs::path nvidia = python.path() / "site-packages" / "nvidia";
    if (!fs::is_directory(nvidia, ec))
      continue;
    for (const fs::directory_entry &cuda : fs::directory_iterator(nvidia, ec))
      if (isExecutable(cuda.path() / "bin" / "nvdisasm"))
        return (cuda.path() / "bin" / "nvdisasm").string();
  }
  return "";
}

std::string onPath(const std::string &name) {
  const std::string path = envString("PATH");
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find(':', start);
    if (end == std::string::npos)
      end = path.size();
    const fs::path candidate = fs::path(path.substr(start, end - start)) / name;
    if (end > start && isExecutable(candidate))
      return candidate.string();
    start = end + 1;
  }
  return "";
}

std::string shellQuote(const std::string &s) {
  std::string out = "'";
  for (char c : s)
    out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

} // namespace

bool Disassembler::isCuobjdump() const {
  return fs::path(path).filename().string().find("cuobjdump") !=
         std::string::npos;
}

std::string disassemblerSearchDescription() {
  return "--disassembler, $AWQC_DISASSEMBLER, $CUDA_HOME/bin, " +
         std::string(AWQ_CUDA_BIN_DIR_DEFAULT) +
         ", PATH (nvdisasm, cuobjdump) and " + AWQC_SOURCE_DIR_DEFAULT +
         "/.venv (the nvidia-cuda-nvdisasm wheel that .ci/bootstrap.sh "
         "installs)";
}

Disassembler findDisassembler(const std::string &override) {
  for (const auto &[value, by] :
       {std::pair<std::string, const char *>{override, "--disassembler"},
        {envString("AWQC_DISASSEMBLER"), "AWQC_DISASSEMBLER"}}) {
    if (value.empty())
      continue;
    if (!isExecutable(value))
      throw Error(std::string(by) + " names '" + value +
                  "', which is not an executable file");
    return {value, by};
  }
  std::vector<fs::path> toolkitDirs;
  if (const std::string home = envString("CUDA_HOME"); !home.empty())
    toolkitDirs.push_back(fs::path(home) / "bin");
  toolkitDirs.push_back(AWQ_CUDA_BIN_DIR_DEFAULT);
  for (const fs::path &dir : toolkitDirs)
    for (const char *name : {"nvdisasm", "cuobjdump"})
      if (isExecutable(dir / name))
        return {(dir / name).string(), "CUDA toolkit"};
  for (const char *name : {"nvdisasm", "cuobjdump"})
    if (std::string path = onPath(name); !path.empty())
      return {path, "PATH"};
  if (std::string path = venvNvdisasm(); !path.empty())
    return {path, "project .venv"};
  return {};
}

std::string disassemble(const Disassembler &tool,
                        const std::vector<char> &cubin,
                        const std::string &what) {
  if (tool.path.empty())
    throw Error("no SASS disassembler found (looked at " +
                disassemblerSearchDescription() + ")");
  fs::path dir = fs::temp_directory_path();
  std::string pattern = (dir / "awq-kernel-stats-XXXXXX").string();
  const int fd = ::mkstemp(pattern.data());
  if (fd < 0)
    throw Error("cannot create a temporary file in " + dir.string());
  ::close(fd);
  struct Remove {
    std::string path;
    ~Remove() { std::remove(path.c_str()); }
  } remove{pattern};
  {
    std::ofstream out(pattern, std::ios::binary);
    out.write(cubin.data(), static_cast<std::streamsize>(cubin.size()));
    if (!out)
      throw Error("cannot write " + pattern);
  }
  const std::string command = shellQuote(tool.path) +
                              (tool.isCuobjdump() ? " -sass " : " -c ") +
                              shellQuote(pattern) + " 2>&1";
  FILE *pipe = ::popen(command.c_str(), "r");
  if (!pipe)
    throw Error("cannot run " + tool.path);
  std::string text;
  char buffer[1 << 16];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0)
    text.append(buffer, n);
  const int status = ::pclose(pipe);
  if (status != 0) {
    const int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    throw Error(tool.path + " failed on the CUBIN of " + what +
                " (exit status " + std::to_string(code) +
                "): " + text.substr(0, 2000));
  }
  return text;
}

} // namespace awq
