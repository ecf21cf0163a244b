//===- CompileOnlyTest.cpp - The C API JIT-compiling for a target, no GPU -===//
//
// awqc_model_open with compile_only_target: NVRTC fills a fresh kernel cache
// (every kernel compiled), a second open reads it back (every kernel
// cached), a corrupt and a truncated entry are rebuilt (exactly those two),
// and the model refuses to run.
//
//===----------------------------------------------------------------------===//
#include "ApiTestSupport.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

namespace {

using namespace awq::test;
using ::testing::HasSubstr;
namespace fs = std::filesystem;

class CompileOnlyTest : public ::testing::TestWithParam<const char *> {
protected:
  awqc_open_options options() const {
    awqc_open_options o;
    awqc_open_options_init(&o);
    o.compile_only_target = GetParam();
    o.cache_dir = cacheDir.c_str();
    return o;
  }
  /// The info of a fresh open, with its strings copied before the close.
  struct Info {
    awqc_model_info info{};
    std::string device, target;
  };
  Info openAndInfo() {
    OpenResult opened = openModel(testBundles().llama, options());
    EXPECT_EQ(opened.status, AWQC_OK)
        << awqc_status_name(opened.status) << ": " << opened.message;
    Info out;
    if (opened.model) {
      EXPECT_EQ(awqc_model_get_info(opened.model.get(), &out.info), AWQC_OK);
      out.device = out.info.device;
      out.target = out.info.target;
    }
    return out;
  }
  void SetUp() override { fs::create_directories(cacheDir); }
  /// The cache's entry files, in name order.
  std::vector<fs::path> entries() const {
    std::vector<fs::path> out;
    for (const auto &entry : fs::recursive_directory_iterator(cacheDir))
      if (entry.is_regular_file() && entry.path().extension() == ".cubin")
        out.push_back(entry.path());
    std::sort(out.begin(), out.end());
    return out;
  }
  /// One cache per target and process.
  const std::string cacheDir =
      testBundles().dir + "/cache-" + std::string(GetParam());
};

TEST_P(CompileOnlyTest, CompilesThenCachesThenRebuildsDamagedEntries) {
  fs::remove_all(cacheDir);
  const Info firstOpen = openAndInfo();
  const awqc_model_info &first = firstOpen.info;
  EXPECT_EQ(firstOpen.target, GetParam());
  EXPECT_THAT(firstOpen.device, HasSubstr("compile only"));
  EXPECT_GT(first.num_kernels, 0);
  EXPECT_EQ(first.kernels_compiled, first.num_kernels);
  EXPECT_EQ(first.kernels_cached, 0);
  EXPECT_EQ(first.kernels_embedded, 0);
  EXPECT_EQ(first.num_layers, 4);
  EXPECT_EQ(first.weight_bytes, 0u);

  const awqc_model_info second = openAndInfo().info;
  EXPECT_EQ(second.num_kernels, first.num_kernels);
  EXPECT_EQ(second.kernels_cached, first.num_kernels);
  EXPECT_EQ(second.kernels_compiled, 0);

  // One entry with a byte flipped in its middle, one cut in half.
  std::vector<fs::path> files = entries();
  ASSERT_EQ(int64_t(files.size()), first.num_kernels);
  std::vector<uint8_t> flipped = readBytes(files[0].string());
  flipped[flipped.size() / 2] ^= 0x5a;
  writeBytes(files[0].string(), flipped);
  std::vector<uint8_t> truncated = readBytes(files[1].string());
  truncated.resize(truncated.size() / 2);
  writeBytes(files[1].string(), truncated);

  const awqc_model_info third = openAndInfo().info;
  EXPECT_EQ(third.kernels_compiled, 2);
  EXPECT_EQ(third.kernels_cached, first.num_kernels - 2);

  // Rebuilt entries are whole again.
  const awqc_model_info fourth = openAndInfo().info;
  EXPECT_EQ(fourth.kernels_cached, first.num_kernels);
  EXPECT_EQ(fourth.kernels_compiled, 0);
}

/// A compile-only model answers queries but runs nothing (from the cache the
/// test above filled when run in the same process, else compiled again).
TEST_P(CompileOnlyTest, CannotRun) {
  OpenResult opened = openModel(testBundles().llama, options());
  ASSERT_EQ(opened.status, AWQC_OK) << opened.message;
  awqc_model *model = opened.model.get();
  alignas(16) const char x[512] = {};
  alignas(16) char y[2048];
  const awqc_layer_io io = {x, nullptr, y};
  EXPECT_EQ(awqc_model_run_layer(model, 0, 1, &io, nullptr, 0, nullptr),
            AWQC_ERROR_NOT_RUNNABLE);
  EXPECT_THAT(awqc_last_error(), HasSubstr("compile-only"));
  EXPECT_THAT(awqc_last_error(), HasSubstr(GetParam()));
  EXPECT_EQ(awqc_model_run_layers(model, 0, 1, 1, &io, nullptr, 0, nullptr),
            AWQC_ERROR_NOT_RUNNABLE);
  void *pointer = nullptr;
  EXPECT_EQ(awqc_model_alloc(model, 64, &pointer), AWQC_ERROR_NOT_RUNNABLE);
  EXPECT_EQ(pointer, nullptr);
  EXPECT_EQ(awqc_model_zero_workspace(model, y, sizeof y, nullptr),
            AWQC_ERROR_NOT_RUNNABLE);
  EXPECT_EQ(awqc_model_synchronize(model, nullptr), AWQC_ERROR_NOT_RUNNABLE);
  // Queries still answer.
  awqc_layer_info layer;
  EXPECT_EQ(awqc_model_get_layer(model, 3, &layer), AWQC_OK);
  EXPECT_EQ(layer.k, 768);
  size_t bytes = 0;
  EXPECT_EQ(awqc_model_workspace_bytes(model, 33, &bytes), AWQC_OK);
}

/// Re-planning for the architecture the bundle was planned for reproduces
/// every kernel, the GEMV's row bodies included (the runtime plans them for
/// the M range the bundle gives the GEMV, as the compiler did), so the
/// embedded CUBINs serve and nothing is compiled.
TEST(CompileOnlyReplan, SamePlanUsesEveryEmbeddedCubin) {
  const std::string bundle = freshDir("replan") + "/aot.awqb";
  runAwqc("compile " + std::string(AWQ_API_TEST_SOURCE_DIR) +
          "/examples/llama-block.mlir -o " + bundle +
          " --random-weights 1 --target sm_80 --aot sm_80");
  const std::string cacheDir = freshDir("replan-cache");
  awqc_open_options o;
  awqc_open_options_init(&o);
  o.compile_only_target = "sm_80";
  o.cache_dir = cacheDir.c_str();
  OpenResult opened = openModel(bundle, o);
  ASSERT_EQ(opened.status, AWQC_OK) << opened.message;
  awqc_model_info info;
  ASSERT_EQ(awqc_model_get_info(opened.model.get(), &info), AWQC_OK);
  EXPECT_GT(info.num_kernels, 0);
  EXPECT_EQ(info.kernels_embedded, info.num_kernels);
  EXPECT_EQ(info.kernels_compiled + info.kernels_cached, 0);
}

INSTANTIATE_TEST_SUITE_P(Targets, CompileOnlyTest,
                         ::testing::Values("sm_75", "sm_80", "sm_90a"),
                         [](const auto &info) {
                           return std::string(info.param);
                         });

} // namespace
