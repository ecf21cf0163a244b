//===- JitCompilerTest.cpp - jitCompile: NVRTC, in-memory headers, cache --===//
//
// Real GEMV and GEMM kernels built for sm_80 and sm_90a with the device
// library given in memory; a second call is served by the cache; unknown
// targets and failing kernels give the C API's status with a useful message.
//
//===----------------------------------------------------------------------===//
#include "TempDir.h"

#include "runtime/backends/Backend.h"
#include "runtime/jit/JitCompiler.h"
#include "runtime/kernels/KernelInstance.h"
#include "runtime/kernels/KernelPlan.h"
#include "runtime/nvrtc/NvrtcCompiler.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#ifndef AWQ_JIT_TEST_DEVICE_INCLUDE
#error "AWQ_JIT_TEST_DEVICE_INCLUDE must be defined by the build"
#endif

namespace {

using awq::rt::jitCompile;
using awq::rt::JitKernel;
using awq::rt::JitOptions;
using awq::rt::JitSummary;
using awq::rt::KernelCache;
using awq::rt::KernelCacheOptions;
using awq::rt::RuntimeError;
using awq::test::TempDir;
using ::testing::HasSubstr;
namespace fs = std::filesystem;

/// Every file of the device library, by include name ("awq/gemv.cuh").
std::vector<std::pair<std::string, std::string>> deviceLibraryHeaders() {
  const fs::path root = AWQ_JIT_TEST_DEVICE_INCLUDE;
  std::vector<std::pair<std::string, std::string>> headers;
  for (const auto &entry : fs::recursive_directory_iterator(root / "awq")) {
    if (!entry.is_regular_file())
      continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    headers.emplace_back(fs::relative(entry.path(), root).generic_string(),
                         text.str());
  }
  return headers;
}

/// A GEMV and a GEMM of a small layer as the planner picks them for sm_80.
std::vector<JitKernel> twoRealKernels() {
  awq::LinearShape shape;
  shape.k = 512;
  shape.n = 256;
  shape.bits = 4;
  shape.group = 128;
  const awq::ArchInfo &arch = *awq::parseTarget("sm_80")->arch;
  std::vector<JitKernel> kernels;
  for (const awq::KernelInstance &instance :
       {awq::KernelInstance::makeGemv(shape, *awq::planGemv(shape, arch)),
        awq::KernelInstance::makeGemm(shape, *awq::planGemm(shape, arch))}) {
    const std::string name = instance.suggestedName();
    kernels.push_back({name, instance.source(name)});
  }
  return kernels;
}

bool isElf(const std::vector<char> &image) {
  return image.size() > 4 && image[0] == 0x7f && image[1] == 'E' &&
         image[2] == 'L' && image[3] == 'F';
}

struct JitFixture : ::testing::Test {
  TempDir dir;
  KernelCache cache{[this] {
    KernelCacheOptions options;
    options.directory = dir.path();
    return options;
  }()};
  JitOptions options(const std::string &target) {
    JitOptions o;
    o.target = target;
    o.headers = deviceLibraryHeaders();
    o.cache = &cache;
    return o;
  }
};

class JitRealKernels : public JitFixture,
                       public ::testing::WithParamInterface<std::string> {};

TEST_P(JitRealKernels, CompilesThenHitsTheCache) {
  const std::vector<JitKernel> kernels = twoRealKernels();
  const JitSummary cold = jitCompile(kernels, options(GetParam()));
  ASSERT_EQ(cold.kernels.size(), 2u);
  EXPECT_EQ(cold.compiled, 2);
  EXPECT_EQ(cold.cached, 0);
  for (size_t i = 0; i < kernels.size(); ++i) {
    EXPECT_EQ(cold.kernels[i].name, kernels[i].name) << "not in input order";
    EXPECT_TRUE(isElf(cold.kernels[i].cubin)) << kernels[i].name;
    EXPECT_FALSE(cold.kernels[i].fromCache);
  }
  EXPECT_EQ(cache.stats().stores, 2);

  const JitSummary warm = jitCompile(kernels, options(GetParam()));
  EXPECT_EQ(warm.cached, 2);
  EXPECT_EQ(warm.compiled, 0);
  for (size_t i = 0; i < kernels.size(); ++i) {
    EXPECT_TRUE(warm.kernels[i].fromCache);
    EXPECT_EQ(warm.kernels[i].cubin, cold.kernels[i].cubin);
  }
  EXPECT_EQ(cache.stats().hits, 2);
  RecordProperty("cold_seconds", std::to_string(cold.seconds));
  RecordProperty("warm_seconds", std::to_string(warm.seconds));
}

INSTANTIATE_TEST_SUITE_P(Targets, JitRealKernels,
                         ::testing::Values("sm_80", "sm_90a"));

/// A kernel that compiles only against the in-memory copy of contract.h.
JitKernel markerKernel(const std::string &name) {
  return {name, "#include \"awq/contract.h\"\n"
                "#ifndef AWQ_JIT_TEST_IN_MEMORY\n"
                "#error \"the device library came from disk\"\n"
                "#endif\n"
                "extern \"C\" __global__ void " +
                    name + "(int *out) { *out = AWQ_JIT_TEST_IN_MEMORY; }\n"};
}

TEST_F(JitFixture, InMemoryHeadersAreTheOnesUsed) {
  JitOptions o = options("sm_80");
  for (auto &[name, contents] : o.headers)
    if (name == "awq/contract.h")
      contents += "\n#define AWQ_JIT_TEST_IN_MEMORY 7\n";
  const JitSummary summary = jitCompile({markerKernel("marker")}, o);
  EXPECT_EQ(summary.compiled, 1);
  EXPECT_TRUE(isElf(summary.kernels[0].cubin));
}

TEST_F(JitFixture, InMemoryHeadersReplaceTheDeviceIncludeDir) {
  // With headers in memory, the source tree's awq/ is not on the path.
  JitOptions o = options("sm_80");
  o.headers = {{"unrelated.h", "#define UNRELATED 1\n"}};
  const auto run = [&] { jitCompile({markerKernel("marker")}, o); };
  EXPECT_THROW(run(), RuntimeError);
  try {
    run();
  } catch (const RuntimeError &error) {
    EXPECT_EQ(error.status(), AWQC_ERROR_JIT);
    EXPECT_THAT(error.what(), HasSubstr("awq/contract.h"));
  }
}

TEST_F(JitFixture, KeyCoversHeadersTargetAndOptions) {
  JitOptions o = options("sm_80");
  for (auto &[name, contents] : o.headers)
    if (name == "awq/contract.h")
      contents += "\n#define AWQ_JIT_TEST_IN_MEMORY 7\n";
  const std::vector<JitKernel> kernels = {markerKernel("marker")};
  EXPECT_EQ(jitCompile(kernels, o).compiled, 1);
  // Headers listed in another order: the same key.
  std::reverse(o.headers.begin(), o.headers.end());
  EXPECT_EQ(jitCompile(kernels, o).cached, 1);
  // A header changed, an option added, another target: each recompiles.
  JitOptions changed = o;
  for (auto &[name, contents] : changed.headers)
    if (name == "awq/contract.h")
      contents += "// changed\n";
  EXPECT_EQ(jitCompile(kernels, changed).compiled, 1);
  JitOptions withOption = o;
  withOption.extraOptions = {"-DAWQ_SOMETHING=1"};
  EXPECT_EQ(jitCompile(kernels, withOption).compiled, 1);
  JitOptions otherTarget = o;
  otherTarget.target = "sm_86";
  EXPECT_EQ(jitCompile(kernels, otherTarget).compiled, 1);
  EXPECT_EQ(jitCompile(kernels, o).cached, 1);
}

TEST_F(JitFixture, CorruptEntryIsRecompiled) {
  JitOptions o = options("sm_80");
  o.headers.clear(); // The tiny kernels include nothing.
  std::vector<JitKernel> kernels;
  for (const char *name : {"tiny_a", "tiny_b"})
    kernels.push_back({name, std::string("extern \"C\" __global__ void ") +
                                 name + "(int *p) { *p = 1; }\n"});
  const JitSummary cold = jitCompile(kernels, o);
  EXPECT_EQ(cold.compiled, 2);
  // Truncate every entry but leave one intact.
  int damaged = 0;
  for (const auto &entry : fs::recursive_directory_iterator(dir.path()))
    if (entry.is_regular_file() && damaged++ == 0)
      fs::resize_file(entry.path(), fs::file_size(entry.path()) - 1);
  const JitSummary warm = jitCompile(kernels, o);
  EXPECT_EQ(warm.cached, 1);
  EXPECT_EQ(warm.compiled, 1);
  EXPECT_EQ(cache.stats().corrupt, 1);
  for (size_t i = 0; i < kernels.size(); ++i)
    EXPECT_EQ(warm.kernels[i].cubin, cold.kernels[i].cubin);
  EXPECT_EQ(jitCompile(kernels, o).cached, 2);
}

TEST_F(JitFixture, WithoutCacheAlwaysCompiles) {
  JitOptions o = options("sm_80");
  o.cache = nullptr;
  o.threads = 1;
  const std::vector<JitKernel> kernels = {
      {"tiny", "extern \"C\" __global__ void tiny(int *p) { *p = 1; }\n"}};
  EXPECT_EQ(jitCompile(kernels, o).compiled, 1);
  EXPECT_EQ(jitCompile(kernels, o).compiled, 1);
  EXPECT_EQ(jitCompile({}, o).kernels.size(), 0u);
}

/// The status and message of what `call` throws.
template <typename Call>
std::pair<awqc_status, std::string> failure(Call call) {
  try {
    call();
  } catch (const RuntimeError &error) {
    return {error.status(), error.what()};
  }
  ADD_FAILURE() << "no RuntimeError thrown";
  return {AWQC_OK, ""};
}

TEST_F(JitFixture, UnknownTargetIsUnsupportedArch) {
  for (const char *target : {"sm_99", "sm_80x", "sm_80a", "compute_80", ""}) {
    const auto [status, message] =
        failure([&] { jitCompile({markerKernel("marker")}, options(target)); });
    EXPECT_EQ(status, AWQC_ERROR_UNSUPPORTED_ARCH) << target;
    EXPECT_THAT(message, HasSubstr("'" + std::string(target) + "'"));
    EXPECT_THAT(message, HasSubstr("NVRTC " + awq::nvrtcVersionString()));
    EXPECT_THAT(message, HasSubstr("supports sm_"));
    EXPECT_THAT(message, HasSubstr("sm_90"));
  }
  EXPECT_EQ(cache.stats().stores, 0);
}

TEST_F(JitFixture, SyntaxErrorIsJitErrorWithNumberedSource) {
  std::vector<JitKernel> kernels = {
      {"good", "extern \"C\" __global__ void good(int *p) { *p = 1; }\n"},
      {"broken", "// line one\n"
                 "extern \"C\" __global__ void broken(int *p) {\n"
                 "  *p = 1 +;\n"
                 "}\n"}};
  const auto [status, message] =
      failure([&] { jitCompile(kernels, options("sm_80")); });
  EXPECT_EQ(status, AWQC_ERROR_JIT);
  EXPECT_THAT(message, HasSubstr("'broken'"));
  EXPECT_THAT(message, HasSubstr("sm_80"));
  EXPECT_THAT(message, HasSubstr("broken.cu(3)")); // NVRTC's log.
  EXPECT_THAT(message, HasSubstr("    3 |   *p = 1 +;"));
  // The broken kernel was not cached.
  EXPECT_LE(cache.stats().stores, 1);
}

TEST_F(JitFixture, FirstFailureInInputOrderIsReported) {
  std::vector<JitKernel> kernels;
  for (int i = 0; i < 4; ++i) {
    const std::string name = "bad" + std::to_string(i);
    kernels.push_back({name, "extern \"C\" __global__ void " + name +
                                 "() { undefined_" + name + "(); }\n"});
  }
  JitOptions o = options("sm_80");
  o.threads = 4;
  const auto [status, message] = failure([&] { jitCompile(kernels, o); });
  EXPECT_EQ(status, AWQC_ERROR_JIT);
  EXPECT_THAT(message, HasSubstr("'bad0'"));
}

} // namespace
