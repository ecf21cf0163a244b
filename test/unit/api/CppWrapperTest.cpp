//===- CppWrapperTest.cpp - The header-only C++ wrapper (awqc_runtime.hpp) ===//
#include "ApiTestSupport.h"

#include "awqc_runtime.hpp"

#include <gtest/gtest.h>

#include <random>

namespace awq {
namespace test {
namespace {

TEST(CppWrapper, RunsALayerThroughRaiiHandlesAndBuffers) {
  awqc::Model model(testBundles().llama, awqc::OpenOptions().device("host"));
  EXPECT_EQ(model.numLayers(), 4);
  const int64_t index = model.findLayer("model.layers.0.mlp.down_proj");
  EXPECT_EQ(index, 3);
  const awqc_layer_info info = model.layer(index);
  EXPECT_TRUE(info.has_residual);

  std::mt19937_64 rng(std::random_device{}());
  const int64_t m = 6; // The GEMM, with split-K: a workspace is needed.
  const std::vector<uint16_t> x = randomHalfs(rng, size_t(m * info.k));
  const std::vector<uint16_t> residual =
      randomHalfs(rng, size_t(m * info.n_out));
  std::vector<uint16_t> y(size_t(m * info.n_out), kHalfNaN);
  awqc::Model::Buffer dx = model.allocate(x.size() * 2);
  awqc::Model::Buffer dr = model.allocate(residual.size() * 2);
  awqc::Model::Buffer dy = model.allocate(y.size() * 2);
  dx.upload(x.data());
  dr.upload(residual.data());
  dy.upload(y.data());
  const size_t bytes = model.workspaceBytes(m);
  ASSERT_GT(bytes, 0u);
  awqc::Model::Buffer workspace = model.allocate(bytes);
  model.zeroWorkspace(workspace.get(), bytes);
  model.runLayer(index, m, {dx.get(), dr.get(), dy.get()}, workspace.get(),
                 bytes);
  model.synchronize();
  dy.download(y.data());
  const KernelRunResult result =
      LayerReference(llamaBundle(), size_t(index)).check(x, residual, m, y);
  EXPECT_TRUE(result.ok()) << result.worst;
}

TEST(CppWrapper, FailuresThrowWithTheStatusAndMessage) {
  try {
    awqc::Model model(testBundles().dir + "/missing.awqb",
                      awqc::OpenOptions().device("host"));
    FAIL() << "opened a missing bundle";
  } catch (const awqc::Error &e) {
    EXPECT_EQ(e.status(), AWQC_ERROR_IO);
    EXPECT_NE(std::string(e.what()).find("missing.awqb"), std::string::npos)
        << e.what();
  }
  awqc::Model model(testBundles().llama, awqc::OpenOptions().device("host"));
  try {
    model.layer(99);
    FAIL() << "layer 99 exists";
  } catch (const awqc::Error &e) {
    EXPECT_EQ(e.status(), AWQC_ERROR_INVALID_ARGUMENT);
  }
  // Moving the handle keeps one owner.
  awqc::Model moved = std::move(model);
  EXPECT_EQ(moved.numLayers(), 4);
}

} // namespace
} // namespace test
} // namespace awq
