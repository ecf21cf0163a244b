//===- HostModelTest.cpp - The C API running a bundle on the host device --===//
//
// The llama-block bundle opened on "host": model and layer queries, every
// layer at M = 1, 3, 5, 33 (GEMV and split-K GEMM kernels) through
// awqc_model_run_layer and a range through awqc_model_run_layers, the
// workspace contract (sized for split-K, left zeroed), and two threads
// running layers at once. Outputs are poisoned with NaN and compared with
// the fp64 reference of the bundle's own weights.
//
//===----------------------------------------------------------------------===//
#include "ApiTestSupport.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <thread>

namespace {

using namespace awq::test;
using ::testing::HasSubstr;

/// Asserts `result` is within the reference's bound everywhere.
void expectMatches(const awq::KernelRunResult &result,
                   const std::string &what) {
  EXPECT_TRUE(result.ok()) << what << ": " << result.failures << " of "
                           << result.count << " elements outside the bound ("
                           << result.nonFinite << " not finite); worst "
                           << result.worst;
  EXPECT_EQ(result.nonFinite, 0) << what;
}

TEST(HostModelTest, Info) {
  awqc_model *model = hostModel();
  awqc_model_info info;
  ASSERT_EQ(awqc_model_get_info(model, &info), AWQC_OK);
  EXPECT_EQ(info.num_layers, 4);
  EXPECT_EQ(info.num_kernels, 8);
  EXPECT_EQ(info.max_m, 4096);
  EXPECT_EQ(info.alignment, 16);
  EXPECT_STREQ(info.device, "host");
  EXPECT_STREQ(info.target, "sm_80"); // The bundle's own target.
  EXPECT_EQ(info.kernels_cached + info.kernels_compiled, info.num_kernels);
  EXPECT_EQ(info.kernels_embedded, 0);
  EXPECT_GT(info.weight_bytes, 0u);
  EXPECT_STREQ(awqc_last_error(), "");
}

TEST(HostModelTest, Layers) {
  awqc_model *model = hostModel();
  struct Expected {
    const char *name;
    int64_t k, nOut;
    int residual, siluMul;
  };
  const Expected expected[] = {
      {"model.layers.0.self_attn.q_proj, model.layers.0.self_attn.k_proj, "
       "model.layers.0.self_attn.v_proj",
       256, 768, 0, 0},
      {"model.layers.0.self_attn.o_proj", 256, 256, 1, 0},
      {"model.layers.0.mlp.gate_proj, model.layers.0.mlp.up_proj", 256, 768, 0,
       1},
      {"model.layers.0.mlp.down_proj", 768, 256, 1, 0},
  };
  for (int64_t i = 0; i < 4; ++i) {
    SCOPED_TRACE("layer " + std::to_string(i));
    awqc_layer_info layer;
    ASSERT_EQ(awqc_model_get_layer(model, i, &layer), AWQC_OK);
    EXPECT_STREQ(layer.name, expected[i].name);
    EXPECT_EQ(layer.k, expected[i].k);
    EXPECT_EQ(layer.n_out, expected[i].nOut);
    EXPECT_EQ(layer.bits, 4);
    EXPECT_EQ(layer.group_size, 128);
    EXPECT_EQ(layer.zero_point, 1);
    EXPECT_EQ(layer.has_residual, expected[i].residual);
    EXPECT_EQ(layer.silu_mul, expected[i].siluMul);
    EXPECT_EQ(layer.has_bias, 0);
    EXPECT_EQ(layer.has_act_scale, 0);
    EXPECT_EQ(layer.activation, AWQC_ACTIVATION_F16);

    int64_t index = -1;
    ASSERT_EQ(awqc_model_find_layer(model, expected[i].name, &index), AWQC_OK);
    EXPECT_EQ(index, i);
  }
  // One tensor of a merged layer finds the merged layer.
  int64_t index = -1;
  ASSERT_EQ(
      awqc_model_find_layer(model, "model.layers.0.self_attn.k_proj", &index),
      AWQC_OK);
  EXPECT_EQ(index, 0);
  ASSERT_EQ(awqc_model_find_layer(model, "model.layers.0.mlp.up_proj", &index),
            AWQC_OK);
  EXPECT_EQ(index, 2);
  // A prefix of a name is no name.
  EXPECT_EQ(awqc_model_find_layer(model, "model.layers.0.mlp", &index),
            AWQC_ERROR_INVALID_ARGUMENT);
  EXPECT_THAT(awqc_last_error(),
              HasSubstr("no layer named 'model.layers.0.mlp'"));
}

TEST(HostModelTest, WorkspaceBytesFollowSplitK) {
  awqc_model *model = hostModel();
  // M = 1 runs GEMV kernels (no split); M = 2 to 64, one M tile, the GEMMs
  // with all their K splits (an M x N workspace); 4096 rows are 64 M tiles,
  // more than any layer's splits, so none split (GemmGeometry::gridZ).
  size_t at1 = 1, at2 = 0, at33 = 0, at4096 = 1;
  ASSERT_EQ(awqc_model_workspace_bytes(model, 1, &at1), AWQC_OK);
  ASSERT_EQ(awqc_model_workspace_bytes(model, 2, &at2), AWQC_OK);
  ASSERT_EQ(awqc_model_workspace_bytes(model, 33, &at33), AWQC_OK);
  ASSERT_EQ(awqc_model_workspace_bytes(model, 4096, &at4096), AWQC_OK);
  EXPECT_EQ(at1, 0u);
  EXPECT_GT(at2, 0u);
  EXPECT_GE(at33, at2);
  EXPECT_EQ(at4096, 0u);
}

/// Every layer at each M: a fresh model-owned workspace, zeroed once and
/// reused (the kernels leave it zeroed, which is checked after each run).
TEST(HostModelTest, EveryLayerMatchesTheReference) {
  awqc_model *model = hostModel();
  const awq::bundle::Bundle &bundle = llamaBundle();
  size_t workspaceBytes = 0;
  ASSERT_EQ(awqc_model_workspace_bytes(model, 33, &workspaceBytes), AWQC_OK);
  ASSERT_GT(workspaceBytes, 0u);
  DeviceBuffer workspace(model, workspaceBytes);
  ASSERT_EQ(awqc_model_zero_workspace(model, workspace.get(), workspaceBytes,
                                      nullptr),
            AWQC_OK);
  std::mt19937_64 rng(20261206);
  for (size_t index = 0; index < 4; ++index) {
    const LayerReference reference(bundle, index);
    for (int64_t m : {1, 3, 5, 33}) {
      const std::string what =
          reference.layer().name + " at M = " + std::to_string(m);
      SCOPED_TRACE(what);
      LayerRun run(model, reference.layer(), m, rng);
      const awqc_layer_io io = run.io();
      const awqc_status status =
          awqc_model_run_layer(model, int64_t(index), m, &io, workspace.get(),
                               workspaceBytes, nullptr);
      ASSERT_EQ(status, AWQC_OK) << lastError(status);
      ASSERT_EQ(awqc_model_synchronize(model, nullptr), AWQC_OK);
      expectMatches(reference.check(run.x, run.residual, m, run.output()),
                    what);
      const std::vector<uint8_t> after =
          workspace.download<uint8_t>(workspaceBytes);
      EXPECT_TRUE(std::all_of(after.begin(), after.end(),
                              [](uint8_t b) { return b == 0; }))
          << "the workspace is not zero after " << what;
    }
  }
}

/// A dirty workspace is the caller's bug: a split-K GEMM then miscounts its
/// slices, and the output is wrong (the check can fail).
TEST(HostModelTest, DirtyWorkspaceIsNoticed) {
  awqc_model *model = hostModel();
  const awq::bundle::Bundle &bundle = llamaBundle();
  size_t workspaceBytes = 0;
  ASSERT_EQ(awqc_model_workspace_bytes(model, 33, &workspaceBytes), AWQC_OK);
  DeviceBuffer workspace(model, workspaceBytes);
  // Partial sums of 1.0f everywhere, and counters too.
  std::vector<float> ones(workspaceBytes / 4, 1.0f);
  workspace.upload(ones);
  std::mt19937_64 rng(7);
  const LayerReference reference(bundle, 0);
  LayerRun run(model, reference.layer(), 33, rng);
  const awqc_layer_io io = run.io();
  awqc_model_run_layer(model, 0, 33, &io, workspace.get(), workspaceBytes,
                       nullptr);
  EXPECT_FALSE(reference.check(run.x, run.residual, 33, run.output()).ok());
}

/// awqc_model_run_layers over the whole block at M = 5, the gate/up output
/// feeding down_proj in the same call.
TEST(HostModelTest, RunLayersInOrder) {
  awqc_model *model = hostModel();
  const awq::bundle::Bundle &bundle = llamaBundle();
  const int64_t m = 5;
  size_t workspaceBytes = 0;
  ASSERT_EQ(awqc_model_workspace_bytes(model, m, &workspaceBytes), AWQC_OK);
  DeviceBuffer workspace(model, workspaceBytes);
  ASSERT_EQ(awqc_model_zero_workspace(model, workspace.get(), workspaceBytes,
                                      nullptr),
            AWQC_OK);
  std::mt19937_64 rng(99);
  std::vector<LayerReference> references;
  std::vector<std::unique_ptr<LayerRun>> runs;
  for (size_t i = 0; i < 4; ++i) {
    references.emplace_back(bundle, i);
    runs.push_back(
        std::make_unique<LayerRun>(model, references[i].layer(), m, rng));
  }
  std::vector<awqc_layer_io> io;
  for (const auto &run : runs)
    io.push_back(run->io());
  io[3].x = io[2].y; // down_proj reads silu(gate) * up.
  const awqc_status status = awqc_model_run_layers(
      model, 0, 4, m, io.data(), workspace.get(), workspaceBytes, nullptr);
  ASSERT_EQ(status, AWQC_OK) << lastError(status);
  ASSERT_EQ(awqc_model_synchronize(model, nullptr), AWQC_OK);
  std::vector<uint16_t> gateUp;
  for (size_t i = 0; i < 4; ++i) {
    const std::vector<uint16_t> y = runs[i]->output();
    const std::vector<uint16_t> &x = i == 3 ? gateUp : runs[i]->x;
    expectMatches(references[i].check(x, runs[i]->residual, m, y),
                  references[i].layer().name);
    if (i == 2)
      gateUp = y;
  }
  // A range past the end fails on the first missing layer. io[i] belongs to
  // the i-th layer of the range: layers 2 and 3 run first, on their own
  // buffers (io[2], io[3]), and only the third entry is never read.
  std::vector<awqc_layer_io> pastTheEnd = {io[2], io[3], io[3]};
  EXPECT_EQ(awqc_model_run_layers(model, 2, 3, m, pastTheEnd.data(),
                                  workspace.get(), workspaceBytes, nullptr),
            AWQC_ERROR_INVALID_ARGUMENT);
  EXPECT_THAT(awqc_last_error(), HasSubstr("layer index 4 is out of range"));
}

/// AWQC_JIT_LAZY on the host: nothing is built at open, each kernel on its
/// first run, against the bundle's own headers (the build's device library
/// is hidden to prove it).
TEST(HostModelTest, LazyJitBuildsFromTheBundlesHeaders) {
  const awq::bundle::Bundle &bundle = llamaBundle();
  setenv("AWQ_DEVICE_INCLUDE_DIR", "/nonexistent/awqc-device-include", 1);
  struct Restore {
    ~Restore() { unsetenv("AWQ_DEVICE_INCLUDE_DIR"); }
  } restore;
  awqc_open_options options = openOptions("host");
  options.jit_mode = AWQC_JIT_LAZY;
  OpenResult opened = openModel(testBundles().llama, options);
  ASSERT_EQ(opened.status, AWQC_OK) << opened.message;
  awqc_model *model = opened.model.get();
  awqc_model_info info;
  ASSERT_EQ(awqc_model_get_info(model, &info), AWQC_OK);
  EXPECT_EQ(info.kernels_cached + info.kernels_compiled, 0);
  size_t workspaceBytes = 0;
  ASSERT_EQ(awqc_model_workspace_bytes(model, 33, &workspaceBytes), AWQC_OK);
  DeviceBuffer workspace(model, workspaceBytes);
  ASSERT_EQ(awqc_model_zero_workspace(model, workspace.get(), workspaceBytes,
                                      nullptr),
            AWQC_OK);
  std::mt19937_64 rng(31);
  for (size_t index : {0, 3})
    for (int64_t m : {2, 33}) {
      const LayerReference reference(bundle, index);
      LayerRun run(model, reference.layer(), m, rng);
      const awqc_layer_io io = run.io();
      const awqc_status status =
          awqc_model_run_layer(model, int64_t(index), m, &io, workspace.get(),
                               workspaceBytes, nullptr);
      EXPECT_EQ(status, AWQC_OK) << lastError(status);
      expectMatches(reference.check(run.x, run.residual, m, run.output()),
                    reference.layer().name + " at M = " + std::to_string(m));
    }
}

/// Two threads run different layers at once, each on its own workspace.
TEST(HostModelTest, TwoThreadsRunDifferentLayers) {
  awqc_model *model = hostModel();
  const awq::bundle::Bundle &bundle = llamaBundle();
  size_t workspaceBytes = 0;
  ASSERT_EQ(awqc_model_workspace_bytes(model, 33, &workspaceBytes), AWQC_OK);
  struct Outcome {
    std::vector<std::string> failures;
  };
  auto worker = [&](size_t layer, uint64_t seed, Outcome &outcome) {
    try {
      const LayerReference reference(bundle, layer);
      DeviceBuffer workspace(model, workspaceBytes);
      if (awqc_model_zero_workspace(model, workspace.get(), workspaceBytes,
                                    nullptr) != AWQC_OK)
        throw std::runtime_error(awqc_last_error());
      std::mt19937_64 rng(seed);
      for (int repeat = 0; repeat < 3; ++repeat)
        for (int64_t m : {33, 2, 6}) {
          LayerRun run(model, reference.layer(), m, rng);
          const awqc_layer_io io = run.io();
          const awqc_status status =
              awqc_model_run_layer(model, int64_t(layer), m, &io,
                                   workspace.get(), workspaceBytes, nullptr);
          if (status != AWQC_OK) {
            outcome.failures.push_back(lastError(status));
            continue;
          }
          const awq::KernelRunResult result =
              reference.check(run.x, run.residual, m, run.output());
          if (!result.ok())
            outcome.failures.push_back(reference.layer().name + " at M = " +
                                       std::to_string(m) + ": " + result.worst);
        }
    } catch (const std::exception &e) {
      outcome.failures.push_back(e.what());
    }
  };
  Outcome first, second;
  std::thread a(worker, 1, 11, std::ref(first));
  std::thread b(worker, 2, 22, std::ref(second));
  a.join();
  b.join();
  EXPECT_THAT(first.failures, ::testing::IsEmpty());
  EXPECT_THAT(second.failures, ::testing::IsEmpty());
}

} // namespace
