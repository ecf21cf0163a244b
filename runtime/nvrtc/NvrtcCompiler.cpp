//===- NvrtcCompiler.cpp - CUDA C++ source to CUBIN with NVRTC, no driver -===//

#include "runtime/nvrtc/NvrtcCompiler.h"

#include "runtime/support/Error.h"

#include <nvrtc.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <regex>
#include <sstream>

#ifndef AWQ_DEVICE_INCLUDE_DIR_DEFAULT
#error "AWQ_DEVICE_INCLUDE_DIR_DEFAULT must be defined by the build"
#endif
#ifndef AWQ_CUDA_INCLUDE_DIR_DEFAULT
#error "AWQ_CUDA_INCLUDE_DIR_DEFAULT must be defined by the build"
#endif

namespace awq {

namespace {

void checkNvrtc(nvrtcResult result, const char *call,
                const std::string &sourceName) {
  if (result != NVRTC_SUCCESS)
    throw Error("NVRTC " + std::string(call) + " failed for '" + sourceName +
                "': " + nvrtcGetErrorString(result));
}

/// Destroys the program on every exit path.
struct ProgramGuard {
  nvrtcProgram program = nullptr;
  ~ProgramGuard() {
    if (program)
      nvrtcDestroyProgram(&program);
  }
};

bool fileExists(const std::string &path) {
  std::ifstream in(path);
  return in.good();
}

std::string envOr(const char *name, const std::string &fallback) {
  const char *value = std::getenv(name);
  return value && *value ? std::string(value) : fallback;
}

/// The base architecture number of "sm_XX[a|f]" (or "compute_XX[a|f]", a
/// virtual architecture: PTX), or -1 if malformed.
int archNumber(const std::string &arch) {
  static const std::regex pattern("^(?:sm|compute)_([0-9]{2,3})[af]?$");
  std::smatch match;
  if (!std::regex_match(arch, match, pattern))
    return -1;
  return std::stoi(match[1].str());
}

bool isVirtualArch(const std::string &arch) {
  return arch.rfind("compute_", 0) == 0;
}

KernelResources &findOrAdd(std::vector<KernelResources> &kernels,
                           const std::string &name) {
  for (KernelResources &k : kernels)
    if (k.name == name)
      return k;
  kernels.emplace_back();
  kernels.back().name = name;
  return kernels.back();
}

int64_t toInt(const std::ssub_match &m) { return std::stoll(m.str()); }

} // namespace

const KernelResources *CompileResult::find(const std::string &name) const {
  for (const KernelResources &k : kernels)
    if (k.name == name)
      return &k;
  return nullptr;
}

std::string deviceIncludeDir() {
  return envOr("AWQ_DEVICE_INCLUDE_DIR", AWQ_DEVICE_INCLUDE_DIR_DEFAULT);
}

std::string cudaIncludeDir() {
  if (const char *dir = std::getenv("AWQ_CUDA_INCLUDE_DIR"); dir && *dir)
    return dir;
  if (const char *home = std::getenv("CUDA_HOME"); home && *home) {
    const std::string candidate = std::string(home) + "/include";
    if (fileExists(candidate + "/cuda_fp16.h"))
      return candidate;
  }
  return AWQ_CUDA_INCLUDE_DIR_DEFAULT;
}

std::string nvrtcVersionString() {
  int major = 0, minor = 0;
  checkNvrtc(nvrtcVersion(&major, &minor), "nvrtcVersion", "<version>");
  return std::to_string(major) + "." + std::to_string(minor);
}

std::vector<std::string> nvrtcSupportedArchs() {
  int count = 0;
  checkNvrtc(nvrtcGetNumSupportedArchs(&count), "nvrtcGetNumSupportedArchs",
             "<archs>");
  std::vector<int> numbers(static_cast<size_t>(count));
  checkNvrtc(nvrtcGetSupportedArchs(numbers.data()), "nvrtcGetSupportedArchs",
             "<archs>");
  std::vector<std::string> archs;
  for (int n : numbers)
    archs.push_back("sm_" + std::to_string(n));
  return archs;
}

std::string numberSourceLines(const std::string &source) {
  std::ostringstream out;
  std::istringstream in(source);
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    std::string label = std::to_string(number);
    if (label.size() < 5)
      label.insert(0, 5 - label.size(), ' ');
    out << label << " | " << line << '\n';
  }
  return out.str();
}

std::vector<KernelResources> parsePtxasReport(const std::string &log) {
  static const std::regex entryRe(
      R"(Compiling entry function '([^']+)' for '([^']+)')");
  static const std::regex propertiesRe(R"(Function properties for (\S+))");
  static const std::regex stackRe(
      R"((\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads)");
  static const std::regex registersRe(R"(Used (\d+) registers)");
  static const std::regex barriersRe(R"(used (\d+) barriers)");
  static const std::regex smemRe(R"((\d+) bytes smem)");
  static const std::regex cmemRe(R"((\d+) bytes cmem\[0\])");

  std::vector<KernelResources> kernels;
  int current = -1;
  std::istringstream in(log);
  std::string line;
  std::smatch m;
  while (std::getline(in, line)) {
    if (line.find("ptxas") == std::string::npos)
      continue;
    if (std::regex_search(line, m, entryRe)) {
      KernelResources &k = findOrAdd(kernels, m[1].str());
      k.isEntry = true;
      k.arch = m[2].str();
      current = static_cast<int>(&k - kernels.data());
    } else if (std::regex_search(line, m, propertiesRe)) {
      KernelResources &k = findOrAdd(kernels, m[1].str());
      current = static_cast<int>(&k - kernels.data());
    } else if (current >= 0 && std::regex_search(line, m, stackRe)) {
      KernelResources &k = kernels[static_cast<size_t>(current)];
      k.stackBytes = toInt(m[1]);
      k.spillStoreBytes = toInt(m[2]);
      k.spillLoadBytes = toInt(m[3]);
    } else if (current >= 0 && std::regex_search(line, m, registersRe)) {
      KernelResources &k = kernels[static_cast<size_t>(current)];
      k.registers = static_cast<int>(toInt(m[1]));
      if (std::regex_search(line, m, barriersRe))
        k.barriers = static_cast<int>(toInt(m[1]));
      if (std::regex_search(line, m, smemRe))
        k.sharedBytes = toInt(m[1]);
      if (std::regex_search(line, m, cmemRe))
        k.constantBytes = toInt(m[1]);
    }
  }
  return kernels;
}

CompileResult compileToCubin(const std::string &source,
                             const std::string &sourceName,
                             const NvrtcOptions &options) {
  const int archNum = archNumber(options.arch);
  if (archNum < 0)
    throw Error("NVRTC: architecture '" + options.arch + "' for '" +
                sourceName +
                "' is not of the form sm_XX[a|f] or compute_XX[a|f]");
  const std::vector<std::string> supported = nvrtcSupportedArchs();
  if (std::find(supported.begin(), supported.end(),
                "sm_" + std::to_string(archNum)) == supported.end())
    throw Error("NVRTC " + nvrtcVersionString() + " cannot compile '" +
                sourceName + "' for " + options.arch +
                ": not in its supported architectures");

  std::vector<std::string> args;
  args.push_back("--gpu-architecture=" + options.arch);
  args.push_back("-std=c++17");
  for (const std::string &dir : options.includeDirs)
    args.push_back("--include-path=" + dir);
  if (options.headers.empty())
    args.push_back("--include-path=" + deviceIncludeDir());
  args.push_back("--include-path=" + (options.cudaIncludeDirOverride.empty()
                                          ? cudaIncludeDir()
                                          : options.cudaIncludeDirOverride));
  for (const std::string &define : options.defines)
    args.push_back("-D" + define);
  if (options.ptxasVerbose && !isVirtualArch(options.arch))
    args.push_back("--ptxas-options=-v");
  if (options.lineInfo)
    args.push_back("-lineinfo");
  for (const std::string &extra : options.extraOptions)
    args.push_back(extra);
  std::vector<const char *> argv;
  for (const std::string &a : args)
    argv.push_back(a.c_str());

  std::vector<const char *> headerSources, headerNames;
  for (const auto &[name, contents] : options.headers) {
    headerNames.push_back(name.c_str());
    headerSources.push_back(contents.c_str());
  }

  ProgramGuard guard;
  checkNvrtc(nvrtcCreateProgram(&guard.program, source.c_str(),
                                sourceName.c_str(),
                                static_cast<int>(headerSources.size()),
                                headerSources.data(), headerNames.data()),
             "nvrtcCreateProgram", sourceName);
  for (const std::string &expr : options.nameExpressions)
    checkNvrtc(nvrtcAddNameExpression(guard.program, expr.c_str()),
               "nvrtcAddNameExpression", sourceName);

  const auto start = std::chrono::steady_clock::now();
  const nvrtcResult compiled = nvrtcCompileProgram(
      guard.program, static_cast<int>(argv.size()), argv.data());
  const auto stop = std::chrono::steady_clock::now();

  CompileResult result;
  result.arch = options.arch;
  result.seconds = std::chrono::duration<double>(stop - start).count();
  size_t logSize = 0;
  checkNvrtc(nvrtcGetProgramLogSize(guard.program, &logSize),
             "nvrtcGetProgramLogSize", sourceName);
  std::string log(logSize, '\0');
  if (logSize > 0)
    checkNvrtc(nvrtcGetProgramLog(guard.program, log.data()),
               "nvrtcGetProgramLog", sourceName);
  while (!log.empty() && log.back() == '\0')
    log.pop_back();
  result.log = log;

  if (compiled != NVRTC_SUCCESS) {
    std::string optionText;
    for (const std::string &a : args)
      optionText += " " + a;
    throw Error("NVRTC failed to compile '" + sourceName + "' for " +
                options.arch + " (" + nvrtcGetErrorString(compiled) +
                ")\noptions:" + optionText + "\n--- log ---\n" + log +
                "\n--- source ---\n" + numberSourceLines(source));
  }

  if (isVirtualArch(options.arch)) {
    // A virtual architecture yields PTX, which the driver compiles for any
    // GPU of that architecture or newer.
    size_t ptxSize = 0;
    checkNvrtc(nvrtcGetPTXSize(guard.program, &ptxSize), "nvrtcGetPTXSize",
               sourceName);
    result.ptx.assign(ptxSize, '\0');
    checkNvrtc(nvrtcGetPTX(guard.program, &result.ptx[0]), "nvrtcGetPTX",
               sourceName);
    // Keep the text without the terminating NUL NVRTC counts.
    while (!result.ptx.empty() && result.ptx.back() == '\0')
      result.ptx.pop_back();
    if (result.ptx.empty())
      throw Error("NVRTC produced empty PTX for '" + sourceName + "' (" +
                  options.arch + ")");
    for (const std::string &expr : options.nameExpressions) {
      const char *lowered = nullptr;
      checkNvrtc(nvrtcGetLoweredName(guard.program, expr.c_str(), &lowered),
                 "nvrtcGetLoweredName", sourceName);
      result.loweredNames[expr] = lowered;
    }
    return result;
  }

  size_t cubinSize = 0;
  checkNvrtc(nvrtcGetCUBINSize(guard.program, &cubinSize), "nvrtcGetCUBINSize",
             sourceName);
  result.cubin.resize(cubinSize);
  checkNvrtc(nvrtcGetCUBIN(guard.program, result.cubin.data()), "nvrtcGetCUBIN",
             sourceName);
  if (cubinSize == 0)
    throw Error("NVRTC produced an empty CUBIN for '" + sourceName + "' (" +
                options.arch + ")");

  for (const std::string &expr : options.nameExpressions) {
    const char *lowered = nullptr;
    checkNvrtc(nvrtcGetLoweredName(guard.program, expr.c_str(), &lowered),
               "nvrtcGetLoweredName", sourceName);
    result.loweredNames[expr] = lowered;
  }
  result.kernels = parsePtxasReport(log);
  return result;
}

} // namespace awq
