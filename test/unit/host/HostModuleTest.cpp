//===- HostModuleTest.cpp - Compiling, caching, loading and launching -----===//
//
// The executor side: the disk cache (hits, keys, corrupt and stale entries),
// compiler errors, kernel lookup, launch validation and thread safety.
// Each cache test works in a fresh temporary cache directory.
//
//===----------------------------------------------------------------------===//
#include "HostTestSupport.h"

#include <gtest/gtest.h>

#include "runtime/host/HostCompiler.h"

#include <gmock/gmock.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <thread>

namespace awq {
namespace host {
namespace test {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
namespace fs = std::filesystem;

/// A fresh directory, removed with its contents at the end of the test.
class TempDir {
public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "awq-host-test-XXXXXX");
    if (!mkdtemp(pattern.data()))
      throw Error("cannot create a temporary directory");
    path = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }
  std::string path;
};

const char *kFillSource = R"(#include "awq/platform.cuh"
#ifndef VALUE
#include "value.h"
#endif
struct FillArgs {
  int *out;
  int n;
};
__global__ void fillKernel(FillArgs args) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < args.n)
    args.out[i] = VALUE * 1000 + i;
}
AWQ_HOST_ENTRY(fillKernel, FillArgs)
)";

struct FillArgs {
  int *out;
  int n;
};

HostCompileOptions cacheOptions(const TempDir &cache, int value) {
  HostCompileOptions options;
  options.cacheDir = cache.path;
  options.sourceName = "fill.cu";
  options.defines = {"VALUE=" + std::to_string(value)};
  return options;
}

/// Launches fillKernel and checks every element.
void expectFill(const HostModule &module, int value, int n = 1000) {
  std::vector<int> out(n, -1);
  FillArgs args{out.data(), n};
  module.launch("fillKernel", {static_cast<unsigned>(n + 127) / 128}, {128}, 0,
                &args);
  for (int i = 0; i < n; ++i)
    ASSERT_EQ(out[i], value * 1000 + i) << "element " << i;
}

TEST(HostModule, SecondLoadHitsTheCache) {
  TempDir cache;
  auto first =
      HostModule::load(kFillSource, {"fillKernel"}, cacheOptions(cache, 4));
  EXPECT_FALSE(first->loadedFromCache());
  expectFill(*first, 4);
  auto second =
      HostModule::load(kFillSource, {"fillKernel"}, cacheOptions(cache, 4));
  EXPECT_TRUE(second->loadedFromCache());
  EXPECT_EQ(second->libraryPath(), first->libraryPath());
  expectFill(*second, 4);
}

TEST(HostModule, DefinesArePartOfTheKey) {
  TempDir cache;
  auto three =
      HostModule::load(kFillSource, {"fillKernel"}, cacheOptions(cache, 3));
  auto five =
      HostModule::load(kFillSource, {"fillKernel"}, cacheOptions(cache, 5));
  EXPECT_FALSE(five->loadedFromCache());
  EXPECT_NE(three->libraryPath(), five->libraryPath());
  expectFill(*three, 3);
  expectFill(*five, 5);
}

TEST(HostModule, CorruptLibraryIsRebuilt) {
  TempDir cache;
  std::string path;
  {
    auto module =
        HostModule::load(kFillSource, {"fillKernel"}, cacheOptions(cache, 6));
    path = module->libraryPath();
  }
  // Replace (not overwrite: the old file may still be mapped) with garbage.
  const std::string garbage = path + ".garbage";
  {
    std::ofstream out(garbage, std::ios::binary);
    out << "not an ELF file";
  }
  fs::rename(garbage, path);
  auto rebuilt =
      HostModule::load(kFillSource, {"fillKernel"}, cacheOptions(cache, 6));
  EXPECT_FALSE(rebuilt->loadedFromCache());
  expectFill(*rebuilt, 6);
  auto again =
      HostModule::load(kFillSource, {"fillKernel"}, cacheOptions(cache, 6));
  EXPECT_TRUE(again->loadedFromCache()) << "the rebuilt entry must be valid";
}

TEST(HostModule, CorruptManifestIsRebuilt) {
  TempDir cache;
  HostModule::load(kFillSource, {"fillKernel"}, cacheOptions(cache, 7));
  int manifests = 0;
  for (const auto &entry : fs::directory_iterator(cache.path))
    if (entry.path().extension() == ".json") {
      std::ofstream(entry.path()) << "{ truncated";
      ++manifests;
    }
  ASSERT_EQ(manifests, 1);
  auto rebuilt =
      HostModule::load(kFillSource, {"fillKernel"}, cacheOptions(cache, 7));
  EXPECT_FALSE(rebuilt->loadedFromCache());
  expectFill(*rebuilt, 7);
}

TEST(HostModule, ChangedHeaderMakesTheEntryStale) {
  TempDir cache, include;
  HostCompileOptions options;
  options.cacheDir = cache.path;
  options.includeDirs = {include.path};
  options.sourceName = "fill.cu";
  std::ofstream(include.path + "/value.h") << "#define VALUE 11\n";
  auto first = HostModule::load(kFillSource, {"fillKernel"}, options);
  expectFill(*first, 11);
  std::ofstream(include.path + "/value.h") << "#define VALUE 12\n";
  auto second = HostModule::load(kFillSource, {"fillKernel"}, options);
  EXPECT_FALSE(second->loadedFromCache());
  expectFill(*second, 12);
}

TEST(HostModule, CompileErrorShowsCompilerOutputAndNumberedSource) {
  TempDir cache;
  HostCompileOptions options;
  options.cacheDir = cache.path;
  options.sourceName = "broken.cu";
  const std::string source = "#include \"awq/platform.cuh\"\n"
                             "struct A { int *out; };\n"
                             "__global__ void k(A a) {\n"
                             "  a.out[0] = undeclaredName;\n"
                             "}\n"
                             "AWQ_HOST_ENTRY(k, A)\n";
  try {
    HostModule::load(source, {"k"}, options);
    FAIL() << "compilation must fail";
  } catch (const Error &e) {
    EXPECT_THAT(std::string(e.what()),
                AllOf(HasSubstr("host compile of 'broken.cu' failed"),
                      HasSubstr("broken.cu:4"), HasSubstr("undeclaredName"),
                      HasSubstr("    4 |   a.out[0] = undeclaredName;"),
                      HasSubstr("--- command ---")));
  }
}

TEST(HostModule, MissingHostEntryIsReported) {
  TempDir cache;
  HostCompileOptions options = cacheOptions(cache, 1);
  try {
    HostModule::load(kFillSource, {"fillKernel", "otherKernel"}, options);
    FAIL() << "loading must fail";
  } catch (const Error &e) {
    EXPECT_THAT(std::string(e.what()),
                AllOf(HasSubstr("has no kernel 'otherKernel'"),
                      HasSubstr("AWQ_HOST_ENTRY(otherKernel, ArgsType)")));
  }
}

TEST(HostModule, KernelNamesAreValidated) {
  TempDir cache;
  const HostCompileOptions options = cacheOptions(cache, 1);
  EXPECT_THROW(HostModule::load(kFillSource, {}, options), Error);
  EXPECT_THROW(HostModule::load(kFillSource, {"1fill"}, options), Error);
  EXPECT_THROW(
      HostModule::load(kFillSource, {"fillKernel", "fillKernel"}, options),
      Error);
}

TEST(HostModule, BadLaunchesAreReported) {
  TempDir cache;
  auto module =
      HostModule::load(kFillSource, {"fillKernel"}, cacheOptions(cache, 2));
  std::vector<int> out(64);
  FillArgs args{out.data(), 64};
  auto message = [&](const std::string &kernel, Dim3 grid, Dim3 block,
                     size_t shared, const void *launchArgs,
                     HostLaunchOptions options = {}) {
    try {
      module->launch(kernel, grid, block, shared, launchArgs, options);
    } catch (const Error &e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_THAT(
      message("nope", {1}, {64}, 0, &args),
      AllOf(HasSubstr("kernel 'nope'"), HasSubstr("it has: fillKernel")));
  EXPECT_THAT(message("fillKernel", {1}, {2048}, 0, &args),
              HasSubstr("at most 1024 threads"));
  EXPECT_THAT(message("fillKernel", {1}, {1, 1, 65}, 0, &args),
              HasSubstr("block dimensions"));
  EXPECT_THAT(message("fillKernel", {1, 70000}, {64}, 0, &args),
              HasSubstr("grid dimensions"));
  EXPECT_THAT(message("fillKernel", {0}, {64}, 0, &args),
              HasSubstr("grid dimensions"));
  EXPECT_THAT(message("fillKernel", {1}, {64}, 300 * 1024, &args),
              HasSubstr("more dynamic shared memory than the limit of 232448"));
  EXPECT_THAT(message("fillKernel", {1}, {64}, 0, nullptr),
              HasSubstr("arguments pointer is null"));
  HostLaunchOptions tiny;
  tiny.stackBytes = 4096;
  EXPECT_THAT(message("fillKernel", {1}, {64}, 0, &args, tiny),
              HasSubstr("fiber stack size"));
}

TEST(HostModule, CompilerCommandIsConfigurable) {
  TempDir cache;
  HostCompileOptions options = cacheOptions(cache, 1);
  options.compiler = "/nonexistent/awq-cxx";
  EXPECT_THAT(
      [&] {
        try {
          HostModule::load(kFillSource, {"fillKernel"}, options);
        } catch (const Error &e) {
          return std::string(e.what());
        }
        return std::string("no error");
      }(),
      HasSubstr("cannot run '/nonexistent/awq-cxx'"));
  // A compiler with arguments, as AWQ_HOST_CXX may hold.
  options.compiler = "c++ -DVALUE=9 -UVALUE";
  auto module = HostModule::load(kFillSource, {"fillKernel"}, options);
  expectFill(*module, 1);
}

TEST(HostModule, CacheDirectoryDefaults) {
  HostCompileOptions options;
  auto withEnv = [&](const char *name, const char *value) {
    const char *old = std::getenv(name);
    const std::string saved = old ? old : "";
    if (value)
      setenv(name, value, 1);
    else
      unsetenv(name);
    const std::string dir = resolveCacheDir(options);
    if (old)
      setenv(name, saved.c_str(), 1);
    else
      unsetenv(name);
    return dir;
  };
  const char *explicitDir = std::getenv("AWQ_HOST_CACHE_DIR");
  if (!explicitDir) {
    EXPECT_EQ(withEnv("XDG_CACHE_HOME", "/tmp/xdg"), "/tmp/xdg/awqc/host");
  }
  EXPECT_EQ(withEnv("AWQ_HOST_CACHE_DIR", "/tmp/awq-cache"), "/tmp/awq-cache");
  options.cacheDir = "/explicit";
  EXPECT_EQ(resolveCacheDir(options), "/explicit");
}

TEST(HostModule, ConcurrentLaunchesOnOneModule) {
  TempDir cache;
  auto module =
      HostModule::load(kFillSource, {"fillKernel"}, cacheOptions(cache, 8));
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      const int n = 500 + 37 * t;
      for (int round = 0; round < 20; ++round) {
        std::vector<int> out(n, -1);
        FillArgs args{out.data(), n};
        module->launch("fillKernel", {static_cast<unsigned>(n + 63) / 64}, {64},
                       0, &args);
        for (int i = 0; i < n; ++i)
          if (out[i] != 8000 + i)
            ++failures;
      }
    });
  for (std::thread &thread : threads)
    thread.join();
  EXPECT_EQ(failures.load(), 0);
}

TEST(HostModule, ConcurrentLoadsOfOneSource) {
  TempDir cache;
  std::vector<std::shared_ptr<const HostModule>> modules(3);
  std::vector<std::string> errors(3);
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t)
    threads.emplace_back([&, t] {
      try {
        modules[t] = HostModule::load(kFillSource, {"fillKernel"},
                                      cacheOptions(cache, 9));
      } catch (const std::exception &e) {
        errors[t] = e.what();
      }
    });
  for (std::thread &thread : threads)
    thread.join();
  for (int t = 0; t < 3; ++t) {
    ASSERT_EQ(errors[t], "");
    expectFill(*modules[t], 9);
  }
}

} // namespace
} // namespace test
} // namespace host
} // namespace awq
