//===- Bf16ModelTest.cpp - A bf16 bundle through the C API ----------------===//
//
// The llama-block example with bf16 activations (every f16 type of the IR
// spelled bf16): the layer queries report bf16, every layer on the host
// device matches the fp64 reference of the bundle's own weights under the
// bf16 bound on fresh random bf16 inputs with NaN-poisoned outputs, the
// bundle stores its scales as BF16, and a target without bf16 arithmetic
// (sm_75) refuses the bundle before compiling anything.
//
// Every test here needs the bf16 kernels (branches bf16-gemv and bf16-gemm):
// until they are merged, awqc compile refuses bf16 layers (Bf16ModelTest
// fails in setup) and the bundle reader refuses bf16 kernel configurations
// (Bf16ManifestTest, which relabels the f16 bundle's manifest as bf16 and
// expects sm_75 to refuse it before anything is compiled).
//
//===----------------------------------------------------------------------===//
#include "ApiTestSupport.h"

#include "runtime/formats/SafeTensors.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <random>
#include <sstream>

namespace {

using namespace awq::test;
using ::testing::HasSubstr;

/// The bf16 llama-block bundle, compiled once per process.
const std::string &bf16Bundle() {
  static const std::string path = [] {
    const std::string dir = freshDir("bf16");
    std::ifstream in(std::string(AWQ_API_TEST_SOURCE_DIR) +
                     "/examples/llama-block.mlir");
    std::stringstream text;
    text << in.rdbuf();
    std::string ir = text.str();
    for (size_t at; (at = ir.find("xf16>")) != std::string::npos;)
      ir.replace(at, 5, "xbf16>");
    const std::string input = dir + "/llama-block-bf16.mlir";
    std::ofstream(input) << ir;
    const std::string bundle = dir + "/llama-block-bf16.awqb";
    runAwqc("compile '" + input + "' -o '" + bundle +
            "' --random-weights 5 --target sm_80");
    return bundle;
  }();
  return path;
}

TEST(Bf16ModelTest, HostRunsEveryLayerWithinTheBf16Bound) {
  OpenResult opened = openModel(bf16Bundle(), openOptions("host"));
  ASSERT_EQ(opened.status, AWQC_OK) << opened.message;
  awqc_model *model = opened.model.get();
  std::unique_ptr<awq::bundle::Bundle> bundle =
      awq::bundle::Bundle::open(bf16Bundle());
  size_t workspaceBytes = 0;
  ASSERT_EQ(awqc_model_workspace_bytes(model, 33, &workspaceBytes), AWQC_OK);
  DeviceBuffer workspace(model, workspaceBytes);
  ASSERT_EQ(awqc_model_zero_workspace(model, workspace.get(), workspaceBytes,
                                      nullptr),
            AWQC_OK);
  const uint64_t seed = std::random_device()();
  std::printf("Bf16ModelTest seed %llu\n", (unsigned long long)seed);
  std::mt19937_64 rng(seed);
  for (size_t index = 0; index < bundle->manifest().layers.size(); ++index) {
    awqc_layer_info info;
    ASSERT_EQ(awqc_model_get_layer(model, int64_t(index), &info), AWQC_OK);
    EXPECT_EQ(info.activation, AWQC_ACTIVATION_BF16);
    const LayerReference reference(*bundle, index);
    ASSERT_EQ(reference.layer().shape.activation, awq::ActivationType::BF16);
    for (const auto &[family, buffers] : reference.layer().layouts)
      EXPECT_EQ(bundle->tensor(buffers.scales).dtype, awq::DType::BF16)
          << buffers.scales;
    for (int64_t m : {1, 5, 33}) {
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
      const awq::KernelRunResult result =
          reference.check(run.x, run.residual, m, run.output());
      EXPECT_TRUE(result.ok())
          << what << ": " << result.failures << " of " << result.count
          << " outside the bf16 bound (" << result.nonFinite
          << " not finite); worst " << result.worst;
    }
  }
}

TEST(Bf16ModelTest, RefusedWithoutBf16Arithmetic) {
  awqc_open_options options = openOptions("host");
  options.compile_only_target = "sm_75";
  OpenResult opened = openModel(bf16Bundle(), options);
  EXPECT_EQ(opened.status, AWQC_ERROR_UNSUPPORTED_ARCH) << opened.message;
  EXPECT_THAT(opened.message, HasSubstr("cannot run on"));
  EXPECT_THAT(opened.message, HasSubstr("sm_75"));
  EXPECT_THAT(opened.message,
              HasSubstr("bf16 activations need sm_80 or newer"));
  // The same bundle opens compile-only for sm_80.
  options.compile_only_target = "sm_80";
  opened = openModel(bf16Bundle(), options);
  EXPECT_EQ(opened.status, AWQC_OK) << opened.message;
}

/// testBundles().llama with every layer and kernel marked bf16 in its
/// manifest (weights and sources unchanged; the writer recomputes hashes).
std::string relabelledBf16Bundle() {
  const awq::bundle::Bundle &original = llamaBundle();
  awq::bundle::Manifest manifest = original.manifest();
  for (awq::bundle::Layer &layer : manifest.layers)
    layer.shape.activation = awq::ActivationType::BF16;
  for (awq::bundle::Kernel &kernel : manifest.kernels)
    kernel.instance.shape.activation = awq::ActivationType::BF16;
  std::vector<awq::bundle::PendingTensor> tensors;
  for (const auto &[name, hash] : original.manifest().tensorSha256) {
    const awq::TensorView &view = original.tensor(name);
    awq::bundle::PendingTensor pending;
    pending.name = name;
    pending.dtype = view.dtype;
    pending.shape = view.shape;
    pending.produce = [view = &view](std::vector<uint8_t> &out) {
      out.assign(view->data, view->data + view->size);
    };
    tensors.push_back(std::move(pending));
  }
  const std::string path = freshDir("relabelled") + "/bf16.awqb";
  awq::bundle::writeBundle(path, manifest, tensors);
  return path;
}

TEST(Bf16ManifestTest, Sm75RefusesBf16Layers) {
  const std::string path = relabelledBf16Bundle();
  awqc_open_options options = openOptions(nullptr);
  options.compile_only_target = "sm_75";
  OpenResult opened = openModel(path, options);
  EXPECT_EQ(opened.status, AWQC_ERROR_UNSUPPORTED_ARCH) << opened.message;
  EXPECT_THAT(opened.message,
              HasSubstr("layer '" + llamaBundle().manifest().layers[0].name +
                        "' cannot run on none (compile only for sm_75) "
                        "(sm_75): bf16 activations need sm_80 or newer"));
  // The unchanged bundle opens for sm_75: the refusal is the activation's.
  opened = openModel(testBundles().llama, options);
  EXPECT_EQ(opened.status, AWQC_OK) << opened.message;
}

} // namespace
