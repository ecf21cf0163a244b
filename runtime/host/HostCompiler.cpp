//===- HostCompiler.cpp - Build kernel modules with the host C++ compiler -===//

#include "runtime/host/HostCompiler.h"

#include "awq/host/abi.h"
#include "runtime/formats/AtomicFile.h"
#include "runtime/host/Process.h"
#include "runtime/host/Sha256.h"
#include "runtime/support/Error.h"

#include <nlohmann/json.hpp>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

#ifndef AWQ_DEVICE_INCLUDE_DIR_DEFAULT
#error "the build must define AWQ_DEVICE_INCLUDE_DIR_DEFAULT"
#endif
#ifndef AWQ_CUDA_INCLUDE_DIR_DEFAULT
#error "the build must define AWQ_CUDA_INCLUDE_DIR_DEFAULT"
#endif
#ifndef AWQ_BOOST_CONTEXT_LIBRARY
#error "the build must define AWQ_BOOST_CONTEXT_LIBRARY"
#endif
#ifndef AWQ_BOOST_INCLUDE_DIR
#define AWQ_BOOST_INCLUDE_DIR ""
#endif
// A sanitized build (AWQC_SANITIZE) sets both: its modules are built with
// the process's sanitizer flags by the compiler that built the process.
#ifndef AWQ_HOST_SANITIZE_FLAGS
#define AWQ_HOST_SANITIZE_FLAGS ""
#endif
#ifndef AWQ_HOST_CXX_DEFAULT
#define AWQ_HOST_CXX_DEFAULT "c++"
#endif

namespace awq {
namespace host {

namespace {

/// Bumped when the cache layout or the meaning of an entry changes.
constexpr int kCacheFormat = 1;

std::string envOr(const char *name, const std::string &fallback) {
  const char *value = std::getenv(name);
  return value && *value ? std::string(value) : fallback;
}

bool readFile(const std::string &path, std::string &content) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return false;
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad())
    return false;
  content = buffer.str();
  return true;
}

std::string uniqueSuffix() {
  static std::atomic<unsigned long> counter{0};
  return std::to_string(getpid()) + "." + std::to_string(counter++);
}

/// mkdir -p.
void makeDirectories(const std::string &path) {
  std::string prefix;
  std::istringstream parts(path);
  std::string part;
  if (!path.empty() && path[0] == '/')
    prefix = "/";
  while (std::getline(parts, part, '/')) {
    if (part.empty())
      continue;
    prefix += part + "/";
    if (mkdir(prefix.c_str(), 0755) != 0 && errno != EEXIST)
      throw Error("host kernel cache: cannot create directory '" + prefix +
                  "': " + std::strerror(errno));
  }
}

/// Writes `content` to a temporary file beside `path`, fsyncs it and
/// renames it over `path` (then fsyncs the directory), so readers see the
/// old file or the complete new one, also after a crash.
void writeFileAtomic(const std::string &path, const std::string &content) {
  try {
    writeFileAtomically(path, content);
  } catch (const Error &e) {
    throw Error(std::string("host kernel cache: ") + e.what());
  }
}

/// fsyncs the file or directory `path` (best effort: the cache checks every
/// entry's digest on load, so a lost write is a rebuild, not a wrong load).
void syncPath(const std::string &path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return;
  (void)::fsync(fd);
  ::close(fd);
}

std::string fileDigest(const std::string &path) {
  std::string content;
  if (!readFile(path, content))
    return std::string();
  return Sha256::of(content);
}

/// The compiler's `--version` text, run once per command.
std::string compilerIdentity(const std::vector<std::string> &compiler) {
  static std::mutex mutex;
  static std::map<std::vector<std::string>, std::string> known;
  std::lock_guard<std::mutex> lock(mutex);
  auto it = known.find(compiler);
  if (it != known.end())
    return it->second;
  std::vector<std::string> argv = compiler;
  argv.push_back("--version");
  ProcessResult result = runProcess(argv);
  if (result.exitCode != 0)
    throw Error("host compiler '" + joinCommand(compiler) +
                "' does not run (set AWQ_HOST_CXX to a C++17 compiler): " +
                result.output);
  known[compiler] = result.output;
  return result.output;
}

/// Parses a make-style dependency file (-MMD) into its prerequisites.
std::vector<std::string> parseDependencies(const std::string &text) {
  std::vector<std::string> words;
  std::string word;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\\' && i + 1 < text.size() &&
        (text[i + 1] == '\n' || text[i + 1] == '\r')) {
      ++i;
      continue;
    }
    if (c == '\\' && i + 1 < text.size() && text[i + 1] == ' ') {
      word += ' ';
      ++i;
      continue;
    }
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      if (!word.empty())
        words.push_back(word);
      word.clear();
      continue;
    }
    word += c;
  }
  if (!word.empty())
    words.push_back(word);
  // Drop the target ("out.so:").
  std::vector<std::string> prerequisites;
  bool seenTarget = false;
  for (const std::string &w : words) {
    if (!seenTarget) {
      if (!w.empty() && w.back() == ':')
        seenTarget = true;
      continue;
    }
    prerequisites.push_back(w);
  }
  return prerequisites;
}

std::string numberedSource(const std::string &source) {
  std::ostringstream out;
  std::istringstream in(source);
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    char prefix[16];
    std::snprintf(prefix, sizeof(prefix), "%5d | ", ++number);
    out << prefix << line << '\n';
  }
  return out.str();
}

/// One lock per cache key, so threads of this process build a module once.
std::shared_ptr<std::mutex> keyLock(const std::string &key) {
  static std::mutex mutex;
  static std::map<std::string, std::weak_ptr<std::mutex>> locks;
  std::lock_guard<std::mutex> lock(mutex);
  std::shared_ptr<std::mutex> existing = locks[key].lock();
  if (!existing) {
    existing = std::make_shared<std::mutex>();
    locks[key] = existing;
  }
  return existing;
}

struct BuildPlan {
  std::vector<std::string> compiler;
  std::vector<std::string> flags; ///< Everything but the file names.
  std::string key;
  std::string cacheDir;
};

BuildPlan planBuild(const std::string &source,
                    const HostCompileOptions &options) {
  BuildPlan plan;
  plan.compiler = splitCommand(options.compiler.empty()
                                   ? envOr("AWQ_HOST_CXX", AWQ_HOST_CXX_DEFAULT)
                                   : options.compiler);
  if (plan.compiler.empty())
    throw Error("host compiler command is empty");
  const std::string identity = compilerIdentity(plan.compiler);
  const bool isClang = identity.find("clang") != std::string::npos;
  const std::string deviceInclude =
      options.deviceIncludeDir.empty()
          ? envOr("AWQ_DEVICE_INCLUDE_DIR", AWQ_DEVICE_INCLUDE_DIR_DEFAULT)
          : options.deviceIncludeDir;
  const std::string cudaInclude =
      envOr("AWQ_CUDA_INCLUDE_DIR", AWQ_CUDA_INCLUDE_DIR_DEFAULT);
  struct stat info;
  if (stat((deviceInclude + "/awq/platform.cuh").c_str(), &info) != 0)
    throw Error("device library include directory '" + deviceInclude +
                "' has no awq/platform.cuh (set AWQ_DEVICE_INCLUDE_DIR)");
  // -ffp-contract=off: every fp32 operation rounds separately, so results do
  // not depend on whether the host compiler may fuse (e.g. with -march).
  plan.flags = {"-std=c++17",
                "-O2",
                "-fPIC",
                "-shared",
                "-pthread",
                "-fexceptions",
                "-fvisibility=hidden",
                "-ffp-contract=off"};
  if (!isClang) // GNU unique symbols would merge module state across modules.
    plan.flags.push_back("-fno-gnu-unique");
  for (const std::string &flag : splitCommand(AWQ_HOST_SANITIZE_FLAGS))
    plan.flags.push_back(flag);
  plan.flags.push_back("-I" + deviceInclude);
  for (const std::string &dir : options.includeDirs)
    plan.flags.push_back("-I" + dir);
  plan.flags.push_back("-I" + cudaInclude);
  if (std::string(AWQ_BOOST_INCLUDE_DIR) != "")
    plan.flags.push_back("-isystem" + std::string(AWQ_BOOST_INCLUDE_DIR));
  for (const std::string &define : options.defines) {
    if (define.empty() || define[0] == '=')
      throw Error("host compile: malformed define '" + define +
                  "', expected NAME or NAME=VALUE");
    plan.flags.push_back("-D" + define);
  }
  if (options.smVersion != 0)
    plan.flags.push_back("-DAWQ_HOST_SM=" + std::to_string(options.smVersion));
  for (const std::string &flag : options.extraFlags)
    plan.flags.push_back(flag);

  Sha256 hash;
  hash.field("awq-host-module");
  hash.field(std::to_string(kCacheFormat));
  hash.field(std::to_string(AWQ_HOST_ABI_VERSION));
  hash.field(identity);
  for (const std::string &word : plan.compiler)
    hash.field(word);
  for (const std::string &flag : plan.flags)
    hash.field(flag);
  hash.field(AWQ_BOOST_CONTEXT_LIBRARY);
  hash.field(options.sourceName);
  hash.field(source);
  plan.key = hash.hexDigest();
  plan.cacheDir = resolveCacheDir(options);
  return plan;
}

/// The library a valid cache entry names, or "" when the entry is missing,
/// corrupt or stale.
std::string validCachedLibrary(const BuildPlan &plan) {
  std::string text;
  if (!readFile(plan.cacheDir + "/" + plan.key + ".json", text))
    return std::string();
  nlohmann::json manifest = nlohmann::json::parse(text, nullptr, false);
  if (manifest.is_discarded() || !manifest.is_object())
    return std::string();
  try {
    if (manifest.at("format").get<int>() != kCacheFormat ||
        manifest.at("key").get<std::string>() != plan.key)
      return std::string();
    const std::string library =
        plan.cacheDir + "/" + manifest.at("library").get<std::string>();
    if (fileDigest(library) != manifest.at("librarySha256").get<std::string>())
      return std::string();
    for (const nlohmann::json &dependency : manifest.at("dependencies"))
      if (fileDigest(dependency.at("path").get<std::string>()) !=
          dependency.at("sha256").get<std::string>())
        return std::string();
    return library;
  } catch (const nlohmann::json::exception &) {
    return std::string();
  }
}

/// Removes a temporary build directory and its files.
void removeBuildDirectory(const std::string &dir,
                          const std::vector<std::string> &files) {
  for (const std::string &file : files)
    std::remove((dir + "/" + file).c_str());
  rmdir(dir.c_str());
}

std::string compileIntoCache(const std::string &source,
                             const HostCompileOptions &options,
                             const BuildPlan &plan) {
  makeDirectories(plan.cacheDir + "/tmp");
  const std::string dir =
      plan.cacheDir + "/tmp/" + plan.key.substr(0, 16) + "." + uniqueSuffix();
  if (mkdir(dir.c_str(), 0755) != 0)
    throw Error("host kernel cache: cannot create '" + dir +
                "': " + std::strerror(errno));
  const std::vector<std::string> files = {"kernel.cpp", "kernel.so",
                                          "kernel.d"};
  try {
    // #line makes compiler messages and emulation errors name the source as
    // the caller knows it, with line numbers of the numbered listing.
    std::string text = "#line 1 \"" + options.sourceName + "\"\n" + source;
    if (text.back() != '\n')
      text += '\n';
    writeFileAtomic(dir + "/kernel.cpp", text);
    std::vector<std::string> argv = plan.compiler;
    argv.insert(argv.end(), plan.flags.begin(), plan.flags.end());
    const std::vector<std::string> tail = {"-MMD",
                                           "-MF",
                                           dir + "/kernel.d",
                                           "-x",
                                           "c++",
                                           dir + "/kernel.cpp",
                                           "-x",
                                           "none",
                                           "-o",
                                           dir + "/kernel.so",
                                           AWQ_BOOST_CONTEXT_LIBRARY};
    argv.insert(argv.end(), tail.begin(), tail.end());
    const ProcessResult result = runProcess(argv);
    if (result.exitCode != 0)
      throw Error(
          "host compile of '" + options.sourceName + "' failed (" +
          (result.signal ? "signal " + std::to_string(result.signal)
                         : "exit status " + std::to_string(result.exitCode)) +
          "):\n" + result.output + "\n--- " + options.sourceName + " ---\n" +
          numberedSource(source) + "--- command ---\n" + joinCommand(argv));

    std::string library;
    if (!readFile(dir + "/kernel.so", library))
      throw Error("host compile of '" + options.sourceName +
                  "' produced no shared object");
    const std::string libraryDigest = Sha256::of(library);
    std::string dependencyText;
    readFile(dir + "/kernel.d", dependencyText);
    nlohmann::json dependencies = nlohmann::json::array();
    for (const std::string &path : parseDependencies(dependencyText)) {
      if (path == dir + "/kernel.cpp")
        continue; // Part of the key already.
      const std::string digest = fileDigest(path);
      if (digest.empty())
        throw Error("host kernel cache: cannot read dependency '" + path + "'");
      dependencies.push_back({{"path", path}, {"sha256", digest}});
    }

    // The library name carries its digest: a process that loaded an older
    // build of this key keeps it, and dlopen never confuses the two.
    const std::string libraryName =
        plan.key + "-" + libraryDigest.substr(0, 16) + ".so";
    const std::string libraryPath = plan.cacheDir + "/" + libraryName;
    syncPath(dir + "/kernel.so");
    if (std::rename((dir + "/kernel.so").c_str(), libraryPath.c_str()) != 0)
      throw Error("host kernel cache: cannot move the build to '" +
                  libraryPath + "': " + std::strerror(errno));
    syncPath(plan.cacheDir);
    // The library a previous manifest of this key named, to delete once the
    // new manifest is in place (processes that mapped it keep their copy).
    std::string previousLibrary;
    {
      std::string text;
      if (readFile(plan.cacheDir + "/" + plan.key + ".json", text)) {
        nlohmann::json old = nlohmann::json::parse(text, nullptr, false);
        if (old.is_object() && old.contains("library") &&
            old["library"].is_string())
          previousLibrary = old["library"].get<std::string>();
      }
    }
    writeFileAtomic(plan.cacheDir + "/" + plan.key + ".cu", source);
    nlohmann::json manifest = {
        {"format", kCacheFormat},         {"key", plan.key},
        {"source", options.sourceName},   {"library", libraryName},
        {"librarySha256", libraryDigest}, {"dependencies", dependencies},
        {"command", joinCommand(argv)}};
    writeFileAtomic(plan.cacheDir + "/" + plan.key + ".json",
                    manifest.dump(2) + "\n");
    if (!previousLibrary.empty() && previousLibrary != libraryName &&
        previousLibrary.find('/') == std::string::npos)
      std::remove((plan.cacheDir + "/" + previousLibrary).c_str());
    removeBuildDirectory(dir, files);
    return libraryPath;
  } catch (...) {
    removeBuildDirectory(dir, files);
    throw;
  }
}

} // namespace

std::string resolveCacheDir(const HostCompileOptions &options) {
  if (!options.cacheDir.empty())
    return options.cacheDir;
  if (const char *dir = std::getenv("AWQ_HOST_CACHE_DIR"); dir && *dir)
    return dir;
  if (const char *xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg)
    return std::string(xdg) + "/awqc/host";
  if (const char *home = std::getenv("HOME"); home && *home)
    return std::string(home) + "/.cache/awqc/host";
  throw Error("host kernel cache: set AWQ_HOST_CACHE_DIR, XDG_CACHE_HOME or "
              "HOME to choose a cache directory");
}

HostBuild buildHostModule(const std::string &source,
                          const HostCompileOptions &options,
                          bool forceRebuild) {
  // A runtime-only build (AWQC_RUNTIME_ONLY) has no Boost.Context to link.
  if (std::string(AWQ_BOOST_CONTEXT_LIBRARY).empty())
    throw Error("host compile: this runtime was built without Boost.Context "
                "(AWQC_RUNTIME_ONLY), so it cannot build host kernel modules");
  if (options.sourceName.empty() ||
      options.sourceName.find_first_of("\"\n\\") != std::string::npos)
    throw Error("host compile: source name '" + options.sourceName +
                "' must be non-empty without quotes, backslashes or newlines");
  const BuildPlan plan = planBuild(source, options);
  std::shared_ptr<std::mutex> lock = keyLock(plan.key);
  std::lock_guard<std::mutex> guard(*lock);
  HostBuild build;
  if (!forceRebuild) {
    build.libraryPath = validCachedLibrary(plan);
    if (!build.libraryPath.empty()) {
      build.fromCache = true;
      return build;
    }
  }
  build.libraryPath = compileIntoCache(source, options, plan);
  return build;
}

} // namespace host
} // namespace awq
