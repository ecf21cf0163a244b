//===- ErrorPathTest.cpp - Every C API failure: its status and its message ===//
//
// Each failure the C API reports is provoked once and checked for both the
// status and a fragment of awqc_last_error(): bad options and devices, a
// missing or fake driver, damaged bundles (foreign, truncated, a flipped
// weight byte, a future format version, a kernel NVRTC rejects), bad run
// arguments (M, alignment, workspace, residual, index, NULLs) and weightless
// bundles.
//
//===----------------------------------------------------------------------===//
#include "ApiTestSupport.h"

#include "runtime/bundle/Bundle.h"
#include "runtime/formats/SafeTensors.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <thread>

#include "runtime/support/Half.h"

#ifndef AWQ_API_TEST_FAKE_LIBCUDA
#error "AWQ_API_TEST_FAKE_LIBCUDA (test/unit/backends) must be defined"
#endif

namespace {

using namespace awq::test;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;

/// Opens `path` with `options` and expects `status` and a message holding
/// `fragment`; returns the message.
std::string expectOpenFails(const std::string &path,
                            const awqc_open_options &options,
                            awqc_status status, const std::string &fragment) {
  OpenResult opened = openModel(path, options);
  EXPECT_EQ(opened.status, status)
      << awqc_status_name(opened.status) << ": " << opened.message;
  EXPECT_EQ(opened.model, nullptr);
  EXPECT_THAT(opened.message, HasSubstr(fragment));
  return opened.message;
}

/// A copy of the llama-block bundle under `name`, edited by `edit`.
std::string
editedBundle(const std::string &name,
             const std::function<void(std::vector<uint8_t> &)> &edit) {
  std::vector<uint8_t> bytes = readBytes(testBundles().llama);
  edit(bytes);
  const std::string path = freshDir("edited") + "/" + name;
  writeBytes(path, bytes);
  return path;
}

TEST(ErrorPathTest, StatusNames) {
  const std::pair<awqc_status, const char *> names[] = {
      {AWQC_OK, "AWQC_OK"},
      {AWQC_ERROR_INVALID_ARGUMENT, "AWQC_ERROR_INVALID_ARGUMENT"},
      {AWQC_ERROR_IO, "AWQC_ERROR_IO"},
      {AWQC_ERROR_BUNDLE_CORRUPT, "AWQC_ERROR_BUNDLE_CORRUPT"},
      {AWQC_ERROR_BUNDLE_VERSION, "AWQC_ERROR_BUNDLE_VERSION"},
      {AWQC_ERROR_NO_DRIVER, "AWQC_ERROR_NO_DRIVER"},
      {AWQC_ERROR_NO_DEVICE, "AWQC_ERROR_NO_DEVICE"},
      {AWQC_ERROR_UNSUPPORTED_ARCH, "AWQC_ERROR_UNSUPPORTED_ARCH"},
      {AWQC_ERROR_JIT, "AWQC_ERROR_JIT"},
      {AWQC_ERROR_OUT_OF_MEMORY, "AWQC_ERROR_OUT_OF_MEMORY"},
      {AWQC_ERROR_BUFFER, "AWQC_ERROR_BUFFER"},
      {AWQC_ERROR_BATCH_TOO_LARGE, "AWQC_ERROR_BATCH_TOO_LARGE"},
      {AWQC_ERROR_DRIVER, "AWQC_ERROR_DRIVER"},
      {AWQC_ERROR_NOT_RUNNABLE, "AWQC_ERROR_NOT_RUNNABLE"},
      {AWQC_ERROR_INTERNAL, "AWQC_ERROR_INTERNAL"},
  };
  // Every enumerator, in order, with no gap.
  for (int i = 0; i < int(std::size(names)); ++i) {
    EXPECT_EQ(int(names[i].first), i);
    EXPECT_STREQ(awqc_status_name(names[i].first), names[i].second);
  }
  EXPECT_STREQ(awqc_status_name(static_cast<awqc_status>(15)),
               "AWQC_ERROR_UNKNOWN");
  EXPECT_STREQ(awqc_status_name(static_cast<awqc_status>(-1)),
               "AWQC_ERROR_UNKNOWN");
  EXPECT_THAT(awqc_runtime_version(),
              MatchesRegex("awqc-runtime [0-9.]+ \\(bundle format " +
                           std::to_string(awq::bundle::kFormatVersion) +
                           "\\)"));
}

// --- Devices and targets ---------------------------------------------------

TEST(ErrorPathTest, UnknownCompileOnlyTarget) {
  awqc_open_options options = openOptions(nullptr);
  options.compile_only_target = "sm_99";
  const std::string message =
      expectOpenFails(testBundles().llama, options, AWQC_ERROR_UNSUPPORTED_ARCH,
                      "unknown compile-only "
                      "target 'sm_99'");
  EXPECT_THAT(message, AllOf(HasSubstr("known: sm_75"), HasSubstr("sm_80"),
                             HasSubstr("sm_90")));
}

TEST(ErrorPathTest, BadDeviceStrings) {
  for (const char *device :
       {"gpu", "cuda:", "cuda:x", "cuda:-1", "cuda0", "HOST", ""}) {
    SCOPED_TRACE(device);
    expectOpenFails(
        testBundles().llama, openOptions(device), AWQC_ERROR_INVALID_ARGUMENT,
        "device '" + std::string(device) + "': expected cuda, cuda:N or host");
  }
}

/// Sets the driver environment for one test and restores it afterwards.
class DriverTest : public ::testing::Test {
protected:
  void TearDown() override {
    for (const char *name : {"AWQC_LIBCUDA", "FAKE_CUDA_INIT_RESULT",
                             "FAKE_CUDA_DEVICES", "FAKE_CUDA_CC"})
      unsetenv(name);
  }
};

TEST_F(DriverTest, MissingDriverIsNoDriver) {
  setenv("AWQC_LIBCUDA", "/nonexistent/libcuda.so.1", 1);
  for (const char *device : {"cuda", "cuda:0"}) {
    SCOPED_TRACE(device);
    const std::string message =
        expectOpenFails(testBundles().llama, openOptions(device),
                        AWQC_ERROR_NO_DRIVER, "/nonexistent/libcuda.so.1");
    EXPECT_THAT(message, HasSubstr("needs libcuda.so.1"));
  }
  // NULL means "cuda".
  expectOpenFails(testBundles().llama, openOptions(nullptr),
                  AWQC_ERROR_NO_DRIVER, "libcuda");
}

TEST_F(DriverTest, FakeDriverWithoutDeviceIsNoDevice) {
  setenv("AWQC_LIBCUDA", AWQ_API_TEST_FAKE_LIBCUDA, 1);
  setenv("FAKE_CUDA_INIT_RESULT", "0", 1);
  setenv("FAKE_CUDA_DEVICES", "0", 1);
  expectOpenFails(testBundles().llama, openOptions("cuda"),
                  AWQC_ERROR_NO_DEVICE, "no GPU");
  // A device ordinal the driver does not have.
  setenv("FAKE_CUDA_DEVICES", "1", 1);
  expectOpenFails(testBundles().llama, openOptions("cuda:3"),
                  AWQC_ERROR_NO_DEVICE, "no CUDA device 3");
}

TEST_F(DriverTest, FakeInitWithoutDeviceIsNoDevice) {
  // cuInit itself saying CUDA_ERROR_NO_DEVICE. The runtime keeps a driver
  // that initialised once per path, and the fake keeps its state per loaded
  // copy, so this test loads a copy of its own.
  const std::string copy = freshDir("fake-driver") + "/libcuda.so.1";
  std::filesystem::copy_file(AWQ_API_TEST_FAKE_LIBCUDA, copy);
  setenv("AWQC_LIBCUDA", copy.c_str(), 1);
  setenv("FAKE_CUDA_INIT_RESULT", "100", 1);
  expectOpenFails(testBundles().llama, openOptions("cuda"),
                  AWQC_ERROR_NO_DEVICE, "cuInit: CUDA_ERROR_NO_DEVICE");
}

TEST_F(DriverTest, FakeOldGpuIsUnsupportedArch) {
  setenv("AWQC_LIBCUDA", AWQ_API_TEST_FAKE_LIBCUDA, 1);
  setenv("FAKE_CUDA_CC", "70", 1);
  expectOpenFails(testBundles().llama, openOptions("cuda"),
                  AWQC_ERROR_UNSUPPORTED_ARCH, "sm_70");
}

/// The fake driver loads only its own fake images: the CUBINs NVRTC builds
/// for its sm_90 (re-planned for its 7 SMs) are refused at load, at open
/// when eager and at the first run when lazy.
TEST_F(DriverTest, FakeGpuRefusingCubinsIsUnsupportedArch) {
  setenv("AWQC_LIBCUDA", AWQ_API_TEST_FAKE_LIBCUDA, 1);
  const std::string message =
      expectOpenFails(testBundles().llama, openOptions("cuda:0"),
                      AWQC_ERROR_UNSUPPORTED_ARCH, "cuModuleLoadData");
  EXPECT_THAT(message, AllOf(HasSubstr("Fake GPU, sm_90"),
                             HasSubstr("CUDA_ERROR_NO_BINARY_FOR_GPU")));

  awqc_open_options options = openOptions("cuda");
  options.jit_mode = AWQC_JIT_LAZY;
  OpenResult opened = openModel(testBundles().llama, options);
  ASSERT_EQ(opened.status, AWQC_OK) << opened.message;
  awqc_model *model = opened.model.get();
  awqc_model_info info;
  ASSERT_EQ(awqc_model_get_info(model, &info), AWQC_OK);
  EXPECT_STREQ(info.device, "Fake GPU (sm_90, 7 SMs)");
  EXPECT_STREQ(info.target, "sm_90");
  EXPECT_EQ(info.kernels_cached + info.kernels_compiled, 0);
  EXPECT_GT(info.weight_bytes, 0u);
  DeviceBuffer x(model, 256 * 2), y(model, 768 * 2);
  const awqc_layer_io io = {x.get(), nullptr, y.get()};
  EXPECT_EQ(awqc_model_run_layer(model, 0, 1, &io, nullptr, 0, nullptr),
            AWQC_ERROR_UNSUPPORTED_ARCH);
  EXPECT_THAT(awqc_last_error(), HasSubstr("cuModuleLoadData"));
}

/// A GPU newer than awqc's architecture table runs a bundle's PTX (--aot
/// compute_XY) through the driver; without PTX it is refused with the way
/// out.
TEST_F(DriverTest, NewerGpuRunsTheBundlesPtx) {
  setenv("AWQC_LIBCUDA", AWQ_API_TEST_FAKE_LIBCUDA, 1);
  setenv("FAKE_CUDA_CC", "130", 1);
  expectOpenFails(testBundles().llama, openOptions("cuda"),
                  AWQC_ERROR_UNSUPPORTED_ARCH, "--aot compute_XY");
  const std::string ptxBundle = freshDir("ptx") + "/ptx.awqb";
  runAwqc("compile " + std::string(AWQ_API_TEST_SOURCE_DIR) +
          "/examples/llama-block.mlir -o " + ptxBundle +
          " --random-weights 1 --target sm_80 --aot compute_80");
  OpenResult opened = openModel(ptxBundle, openOptions("cuda"));
  ASSERT_EQ(opened.status, AWQC_OK) << opened.message;
  awqc_model_info info;
  ASSERT_EQ(awqc_model_get_info(opened.model.get(), &info), AWQC_OK);
  EXPECT_STREQ(info.target, "compute_80");
  EXPECT_EQ(info.kernels_embedded, info.num_kernels);
  EXPECT_EQ(info.kernels_compiled + info.kernels_cached, 0);
  // A GPU older than any the kernels serve is refused, PTX or not.
  setenv("FAKE_CUDA_CC", "70", 1);
  expectOpenFails(ptxBundle, openOptions("cuda"), AWQC_ERROR_UNSUPPORTED_ARCH,
                  "awqc supports sm_75 and newer");
}

// --- Options ---------------------------------------------------------------

TEST(ErrorPathTest, OpenArguments) {
  awqc_model *model = reinterpret_cast<awqc_model *>(0x1);
  awqc_open_options options = openOptions("host");
  EXPECT_EQ(awqc_model_open(nullptr, &options, &model),
            AWQC_ERROR_INVALID_ARGUMENT);
  EXPECT_THAT(awqc_last_error(), HasSubstr("the bundle path is NULL"));
  EXPECT_EQ(awqc_model_open(testBundles().llama.c_str(), &options, nullptr),
            AWQC_ERROR_INVALID_ARGUMENT);
  EXPECT_THAT(awqc_last_error(), HasSubstr("the model output pointer is NULL"));

  options.struct_size = sizeof(awqc_open_options) - 8;
  expectOpenFails(testBundles().llama, options, AWQC_ERROR_INVALID_ARGUMENT,
                  "struct_size is " +
                      std::to_string(sizeof(awqc_open_options) - 8));
  options.struct_size = 0;
  expectOpenFails(testBundles().llama, options, AWQC_ERROR_INVALID_ARGUMENT,
                  "call awqc_open_options_init");

  options = openOptions("host");
  options.jit_threads = -1;
  expectOpenFails(testBundles().llama, options, AWQC_ERROR_INVALID_ARGUMENT,
                  "jit_threads must be >= 0");
  options = openOptions("host");
  // What a C caller may store in the enum field (a C++ cast of 7 to the
  // enum type would itself be undefined); under UBSan the runtime must not
  // read it as an awqc_jit_mode either.
  const int badJitMode = 7;
  std::memcpy(&options.jit_mode, &badJitMode, sizeof(badJitMode));
  expectOpenFails(testBundles().llama, options, AWQC_ERROR_INVALID_ARGUMENT,
                  "jit_mode");
  // awqc_open_options_init(NULL) is harmless.
  awqc_open_options_init(nullptr);
}

// --- Bundles ---------------------------------------------------------------

TEST(ErrorPathTest, MissingBundleIsIo) {
  const std::string path = testBundles().dir + "/no-such-model.awqb";
  expectOpenFails(path, openOptions("host"), AWQC_ERROR_IO, path);
}

TEST(ErrorPathTest, RandomFileIsCorrupt) {
  const std::string path = freshDir("random") + "/random.awqb";
  std::mt19937_64 rng(5);
  std::vector<uint8_t> bytes(1000);
  for (uint8_t &b : bytes)
    b = static_cast<uint8_t>(rng());
  writeBytes(path, bytes);
  expectOpenFails(path, openOptions("host"), AWQC_ERROR_BUNDLE_CORRUPT,
                  "not a valid bundle");
  // An empty file too.
  writeBytes(path, {});
  expectOpenFails(path, openOptions("host"), AWQC_ERROR_BUNDLE_CORRUPT,
                  "not a valid bundle");
}

TEST(ErrorPathTest, PlainSafetensorsIsCorrupt) {
  // A valid safetensors file: one U8 tensor, no metadata.
  std::string header =
      R"({"weight":{"dtype":"U8","shape":[4],"data_offsets":[0,4]}})";
  header.resize((header.size() + 7) / 8 * 8, ' ');
  std::vector<uint8_t> bytes(8);
  for (int i = 0; i < 8; ++i)
    bytes[size_t(i)] = uint8_t(uint64_t(header.size()) >> (8 * i));
  bytes.insert(bytes.end(), header.begin(), header.end());
  bytes.insert(bytes.end(), {1, 2, 3, 4});
  const std::string path = freshDir("plain") + "/plain.safetensors";
  writeBytes(path, bytes);
  ASSERT_NO_THROW(awq::SafeTensorsFile{path}); // The control.
  expectOpenFails(path, openOptions("host"), AWQC_ERROR_BUNDLE_CORRUPT,
                  "not an awqc bundle");
}

TEST(ErrorPathTest, TruncatedBundleIsCorrupt) {
  const std::string path = editedBundle(
      "truncated.awqb", [](auto &bytes) { bytes.resize(bytes.size() / 2); });
  expectOpenFails(path, openOptions("host"), AWQC_ERROR_BUNDLE_CORRUPT,
                  "truncated.awqb");
  // Cut inside the header.
  const std::string header =
      editedBundle("header-cut.awqb", [](auto &bytes) { bytes.resize(100); });
  expectOpenFails(header, openOptions("host"), AWQC_ERROR_BUNDLE_CORRUPT,
                  "header-cut.awqb");
}

TEST(ErrorPathTest, FlippedWeightByteIsCorruptAtOpen) {
  const std::string tensor = "layers.2.gemm.qweight";
  const std::string path = editedBundle("flipped.awqb", [&](auto &bytes) {
    const auto [begin, end] = tensorRange(bytes, tensor);
    ASSERT_GT(end, begin);
    bytes[(begin + end) / 2] ^= 0x01;
  });
  const std::string message =
      expectOpenFails(path, openOptions("host"), AWQC_ERROR_BUNDLE_CORRUPT,
                      "tensor '" + tensor + "' does not match its SHA-256");
  EXPECT_THAT(message, HasSubstr("flipped.awqb"));
  // Without verification it opens (the check above is what refused it).
  awqc_open_options options = openOptions("host");
  options.verify_weights = 0;
  OpenResult opened = openModel(path, options);
  EXPECT_EQ(opened.status, AWQC_OK) << opened.message;
  // Compile-only never reads weights.
  options = openOptions(nullptr);
  options.compile_only_target = "sm_80";
  EXPECT_EQ(openModel(path, options).status, AWQC_OK);
}

TEST(ErrorPathTest, FlippedSourceByteIsCorrupt) {
  const std::string tensor = llamaBundle().manifest().kernels.at(0).source;
  const std::string path = editedBundle("source.awqb", [&](auto &bytes) {
    const auto [begin, end] = tensorRange(bytes, tensor);
    bytes[(begin + end) / 2] ^= 0x01;
  });
  awqc_open_options options = openOptions(nullptr);
  options.compile_only_target = "sm_80";
  expectOpenFails(path, options, AWQC_ERROR_BUNDLE_CORRUPT,
                  "tensor '" + tensor + "' does not match its SHA-256");
}

TEST(ErrorPathTest, NewerFormatVersionIsVersionError) {
  // The version this runtime writes, and the next one.
  const std::string current = std::to_string(awq::bundle::kFormatVersion);
  const std::string next = std::to_string(awq::bundle::kFormatVersion + 1);
  const std::string from = "\"format_version\":\"" + current + "\"";
  const std::string to = "\"format_version\":\"" + next + "\"";
  const std::string path = editedBundle("current.awqb", [&](auto &bytes) {
    const auto [begin, end] = tensorRange(bytes, "include/awq/contract.h");
    (void)end;
    std::string header(bytes.begin() + 8,
                       bytes.begin() + std::ptrdiff_t(begin));
    const size_t at = header.find(from);
    ASSERT_NE(at, std::string::npos) << header.substr(0, 200);
    ASSERT_EQ(header.find(from, at + 1), std::string::npos);
    std::memcpy(&bytes[8 + at], to.data(), to.size());
  });
  const std::string message =
      expectOpenFails(path, openOptions("host"), AWQC_ERROR_BUNDLE_VERSION,
                      "bundle format version " + next);
  EXPECT_THAT(message, HasSubstr("this runtime reads version " + current));
}

TEST(ErrorPathTest, EditedManifestIsCorrupt) {
  // The manifest text no longer matches its SHA-256: "max_m": 4096 -> 4095.
  const std::string path = editedBundle("manifest.awqb", [&](auto &bytes) {
    const std::string from = R"(\"max_m\": 4096)";
    const std::string text(bytes.begin(), bytes.end());
    const size_t at = text.find(from);
    ASSERT_NE(at, std::string::npos);
    bytes[at + from.size() - 1] = '5';
  });
  expectOpenFails(path, openOptions("host"), AWQC_ERROR_BUNDLE_CORRUPT,
                  "the manifest does not match its SHA-256");
}

/// A bundle rewritten through awq::bundle::writeBundle with kernel 0's
/// source replaced by `source` (the writer recomputes every hash).
std::string rewrittenBundle(
    const std::string &name,
    const std::function<std::string(const std::string &kernel)> &replace) {
  const awq::bundle::Bundle &original = llamaBundle();
  awq::bundle::Manifest manifest = original.manifest();
  const awq::bundle::Kernel &kernel = manifest.kernels.at(0);
  std::vector<awq::bundle::PendingTensor> tensors;
  for (const auto &[tensorName, hash] : original.manifest().tensorSha256) {
    const awq::TensorView &view = original.tensor(tensorName);
    awq::bundle::PendingTensor pending;
    pending.name = tensorName;
    pending.dtype = view.dtype;
    pending.shape = view.shape;
    if (tensorName == kernel.source && replace) {
      const std::string text = replace(kernel.name);
      pending.shape = {int64_t(text.size())};
      pending.produce = [text](std::vector<uint8_t> &out) {
        out.assign(text.begin(), text.end());
      };
    } else {
      pending.produce = [view = &view](std::vector<uint8_t> &out) {
        out.assign(view->data, view->data + view->size);
      };
    }
    tensors.push_back(std::move(pending));
  }
  const std::string path = freshDir("rewritten") + "/" + name;
  awq::bundle::writeBundle(path, manifest, tensors);
  return path;
}

TEST(ErrorPathTest, KernelNvrtcRejectsIsJitError) {
  awqc_open_options options = openOptions(nullptr);
  options.compile_only_target = "sm_80";
  options.replan = 0; // The bundle's own sources.
  // The control: an unchanged rewrite compiles.
  const std::string good = rewrittenBundle("good.awqb", nullptr);
  OpenResult opened = openModel(good, options);
  ASSERT_EQ(opened.status, AWQC_OK) << opened.message;

  const std::string path =
      rewrittenBundle("broken.awqb", [](const std::string &kernel) {
        return "// broken on purpose\n"
               "extern \"C\" __global__ void " +
               kernel +
               "(int *p) {\n"
               "  *p = 1 +;\n"
               "}\n";
      });
  const std::string kernel = llamaBundle().manifest().kernels.at(0).name;
  const std::string message = expectOpenFails(
      path, options, AWQC_ERROR_JIT, "kernel '" + kernel + "' for sm_80");
  EXPECT_THAT(message, HasSubstr("    3 |   *p = 1 +;")); // Numbered source.
  EXPECT_THAT(message, HasSubstr(".cu(3)")); // NVRTC's log names the line.
}

// --- Weightless bundles ----------------------------------------------------

TEST(ErrorPathTest, WeightlessBundleNeedsRandomWeights) {
  expectOpenFails(testBundles().weightless, openOptions("host"),
                  AWQC_ERROR_INVALID_ARGUMENT, "has no weights");

  awqc_open_options options = openOptions("host");
  options.random_weights = 1;
  options.random_seed = 3;
  OpenResult opened = openModel(testBundles().weightless, options);
  ASSERT_EQ(opened.status, AWQC_OK) << opened.message;
  awqc_model *model = opened.model.get();
  awqc_model_info info;
  ASSERT_EQ(awqc_model_get_info(model, &info), AWQC_OK);
  EXPECT_GT(info.weight_bytes, 0u);
  const awq::bundle::Bundle &shapes = llamaBundle(); // The same layers.
  size_t workspaceBytes = 0;
  ASSERT_EQ(awqc_model_workspace_bytes(model, 33, &workspaceBytes), AWQC_OK);
  DeviceBuffer workspace(model, workspaceBytes);
  ASSERT_EQ(awqc_model_zero_workspace(model, workspace.get(), workspaceBytes,
                                      nullptr),
            AWQC_OK);
  std::mt19937_64 rng(17);
  for (int64_t index : {0, 3})
    for (int64_t m : {1, 33}) {
      SCOPED_TRACE("layer " + std::to_string(index) +
                   ", M = " + std::to_string(m));
      LayerRun run(model, shapes.manifest().layers.at(size_t(index)), m, rng);
      const awqc_layer_io io = run.io();
      const awqc_status status = awqc_model_run_layer(
          model, index, m, &io, workspace.get(), workspaceBytes, nullptr);
      ASSERT_EQ(status, AWQC_OK) << lastError(status);
      const std::vector<uint16_t> y = run.output();
      size_t finite = 0;
      for (uint16_t bits : y)
        finite += std::isfinite(awq::halfToFloat(bits));
      EXPECT_EQ(finite, y.size());
    }
}

// --- Runs ------------------------------------------------------------------

/// Runs on the shared host model with valid buffers for layer 1 (o_proj,
/// which takes a residual) at M = 33, so each test breaks one thing.
class RunArgumentTest : public ::testing::Test {
protected:
  void SetUp() override {
    model = hostModel();
    ASSERT_EQ(awqc_model_get_info(model, &info), AWQC_OK);
    ASSERT_EQ(awqc_model_workspace_bytes(model, m, &workspaceBytes), AWQC_OK);
    workspace = std::make_unique<DeviceBuffer>(model, workspaceBytes);
    ASSERT_EQ(awqc_model_zero_workspace(model, workspace->get(), workspaceBytes,
                                        nullptr),
              AWQC_OK);
    run = std::make_unique<LayerRun>(
        model, llamaBundle().manifest().layers.at(1), m, rng);
    io = run->io();
  }
  awqc_status runLayer(int64_t index, int64_t rows,
                       const awqc_layer_io *buffers, size_t bytes) {
    return awqc_model_run_layer(model, index, rows, buffers, workspace->get(),
                                bytes, nullptr);
  }
  awqc_status runLayer() { return runLayer(1, m, &io, workspaceBytes); }
  /// The message of the last call, checked to hold `fragment`.
  void expectMessage(const std::string &fragment) {
    EXPECT_THAT(awqc_last_error(), HasSubstr(fragment));
  }

  const int64_t m = 33;
  awqc_model *model = nullptr;
  awqc_model_info info{};
  size_t workspaceBytes = 0;
  std::unique_ptr<DeviceBuffer> workspace;
  std::mt19937_64 rng{1234};
  std::unique_ptr<LayerRun> run;
  awqc_layer_io io{};
};

TEST_F(RunArgumentTest, ValidArgumentsRun) {
  // The control every other test in this suite breaks one thing of.
  ASSERT_EQ(runLayer(), AWQC_OK) << lastError(AWQC_OK);
  EXPECT_STREQ(awqc_last_error(), "");
  const LayerReference reference(llamaBundle(), 1);
  EXPECT_TRUE(reference.check(run->x, run->residual, m, run->output()).ok());
}

TEST_F(RunArgumentTest, BatchOutOfRange) {
  EXPECT_EQ(runLayer(1, 0, &io, workspaceBytes), AWQC_ERROR_BATCH_TOO_LARGE);
  expectMessage("M = 0 is outside [1, 4096]");
  EXPECT_EQ(runLayer(1, info.max_m + 1, &io, workspaceBytes),
            AWQC_ERROR_BATCH_TOO_LARGE);
  expectMessage("M = 4097 is outside [1, 4096]");
  EXPECT_EQ(runLayer(1, -1, &io, workspaceBytes), AWQC_ERROR_BATCH_TOO_LARGE);
  EXPECT_EQ(awqc_model_run_layers(model, 1, 1, 0, &io, workspace->get(),
                                  workspaceBytes, nullptr),
            AWQC_ERROR_BATCH_TOO_LARGE);
  size_t bytes = 0;
  EXPECT_EQ(awqc_model_workspace_bytes(model, 0, &bytes),
            AWQC_ERROR_BATCH_TOO_LARGE);
  expectMessage("M = 0 is outside [1, 4096]");
  EXPECT_EQ(awqc_model_workspace_bytes(model, info.max_m + 1, &bytes),
            AWQC_ERROR_BATCH_TOO_LARGE);
  expectMessage("M = 4097");
}

TEST_F(RunArgumentTest, MisalignedBuffers) {
  const awqc_layer_io good = io;
  io.x = static_cast<const char *>(good.x) + 2;
  EXPECT_EQ(runLayer(), AWQC_ERROR_BUFFER);
  expectMessage("x is not 16-byte aligned");
  io = good;
  io.y = static_cast<char *>(good.y) + 8;
  EXPECT_EQ(runLayer(), AWQC_ERROR_BUFFER);
  expectMessage("y is not 16-byte aligned");
  io = good;
  io.residual = static_cast<const char *>(good.residual) + 2;
  EXPECT_EQ(runLayer(), AWQC_ERROR_BUFFER);
  expectMessage("residual is not 16-byte aligned");
  io = good;
  EXPECT_EQ(awqc_model_run_layer(model, 1, m, &io,
                                 static_cast<char *>(workspace->get()) + 4,
                                 workspaceBytes - 4, nullptr),
            AWQC_ERROR_BUFFER);
  expectMessage("the workspace is not 16-byte aligned");
}

TEST_F(RunArgumentTest, WorkspaceTooSmallOrMissing) {
  EXPECT_EQ(runLayer(1, m, &io, 16), AWQC_ERROR_BUFFER);
  expectMessage("workspace bytes, got 16");
  EXPECT_EQ(
      awqc_model_run_layer(model, 1, m, &io, nullptr, workspaceBytes, nullptr),
      AWQC_ERROR_INVALID_ARGUMENT);
  expectMessage("the workspace is NULL");
  // The GEMV (M = 1) needs none.
  LayerRun small(model, llamaBundle().manifest().layers.at(1), 1, rng);
  const awqc_layer_io smallIo = small.io();
  EXPECT_EQ(awqc_model_run_layer(model, 1, 1, &smallIo, nullptr, 0, nullptr),
            AWQC_OK)
      << awqc_last_error();
}

TEST_F(RunArgumentTest, ResidualMismatch) {
  io.residual = nullptr;
  EXPECT_EQ(runLayer(), AWQC_ERROR_INVALID_ARGUMENT);
  expectMessage("layer model.layers.0.self_attn.o_proj: residual is NULL");
  // Layer 0 (q, k, v) takes none; here x has the right shape for it.
  awqc_layer_io extra = run->io();
  LayerRun qkv(model, llamaBundle().manifest().layers.at(0), m, rng);
  extra = qkv.io();
  extra.residual = run->dr.get();
  EXPECT_EQ(runLayer(0, m, &extra, workspaceBytes),
            AWQC_ERROR_INVALID_ARGUMENT);
  expectMessage("takes no residual, but one was given");
}

TEST_F(RunArgumentTest, LayerIndexOutOfRange) {
  for (int64_t index : {int64_t(-1), info.num_layers, int64_t(1) << 40}) {
    SCOPED_TRACE(index);
    EXPECT_EQ(runLayer(index, m, &io, workspaceBytes),
              AWQC_ERROR_INVALID_ARGUMENT);
    expectMessage("layer index " + std::to_string(index) +
                  " is out of range (the model has 4 layers)");
    awqc_layer_info layer;
    EXPECT_EQ(awqc_model_get_layer(model, index, &layer),
              AWQC_ERROR_INVALID_ARGUMENT);
    expectMessage("is out of range");
  }
  EXPECT_EQ(awqc_model_run_layers(model, 0, -1, m, &io, workspace->get(),
                                  workspaceBytes, nullptr),
            AWQC_ERROR_INVALID_ARGUMENT);
  expectMessage("the layer count is negative");
}

TEST_F(RunArgumentTest, NullHandlesAndPointers) {
  auto expectNull = [](awqc_status status, const std::string &fragment) {
    EXPECT_EQ(status, AWQC_ERROR_INVALID_ARGUMENT) << fragment;
    EXPECT_THAT(awqc_last_error(), HasSubstr(fragment));
  };
  awqc_model_info modelInfo;
  awqc_layer_info layerInfo;
  int64_t index = 0;
  size_t bytes = 0;
  void *pointer = nullptr;
  char host[16];
  expectNull(awqc_model_get_info(nullptr, &modelInfo), "the model is NULL");
  expectNull(awqc_model_get_info(model, nullptr), "the info pointer is NULL");
  expectNull(awqc_model_get_layer(nullptr, 0, &layerInfo), "the model is NULL");
  expectNull(awqc_model_get_layer(model, 0, nullptr),
             "the info pointer is NULL");
  expectNull(awqc_model_find_layer(nullptr, "x", &index), "the model is NULL");
  expectNull(awqc_model_find_layer(model, nullptr, &index),
             "the layer name is NULL");
  expectNull(awqc_model_find_layer(model, "x", nullptr),
             "the index pointer is NULL");
  expectNull(awqc_model_workspace_bytes(nullptr, 1, &bytes),
             "the model is NULL");
  expectNull(awqc_model_workspace_bytes(model, 1, nullptr),
             "the bytes pointer is NULL");
  expectNull(awqc_model_zero_workspace(nullptr, workspace->get(), 16, nullptr),
             "the model is NULL");
  expectNull(awqc_model_zero_workspace(model, nullptr, 16, nullptr),
             "the workspace is NULL");
  expectNull(runLayer(1, m, nullptr, workspaceBytes),
             "the layer buffers is NULL");
  expectNull(awqc_model_run_layer(nullptr, 1, m, &io, workspace->get(),
                                  workspaceBytes, nullptr),
             "the model is NULL");
  expectNull(awqc_model_run_layers(nullptr, 1, 1, m, &io, workspace->get(),
                                   workspaceBytes, nullptr),
             "the model is NULL");
  expectNull(awqc_model_run_layers(model, 1, 1, m, nullptr, workspace->get(),
                                   workspaceBytes, nullptr),
             "the layer buffers is NULL");
  awqc_layer_io broken = io;
  broken.x = nullptr;
  expectNull(runLayer(1, m, &broken, workspaceBytes), "x is NULL");
  broken = io;
  broken.y = nullptr;
  expectNull(runLayer(1, m, &broken, workspaceBytes), "y is NULL");
  expectNull(awqc_model_alloc(nullptr, 16, &pointer), "the model is NULL");
  expectNull(awqc_model_alloc(model, 16, nullptr),
             "the pointer output is NULL");
  expectNull(awqc_model_free(nullptr, pointer), "the model is NULL");
  expectNull(awqc_model_copy_to_device(nullptr, workspace->get(), host, 16),
             "the model is NULL");
  expectNull(awqc_model_copy_to_device(model, nullptr, host, 16),
             "the device pointer is NULL");
  expectNull(awqc_model_copy_to_device(model, workspace->get(), nullptr, 16),
             "the host pointer is NULL");
  expectNull(awqc_model_copy_to_host(nullptr, host, workspace->get(), 16),
             "the model is NULL");
  expectNull(awqc_model_copy_to_host(model, host, nullptr, 16),
             "the device pointer is NULL");
  expectNull(awqc_model_copy_to_host(model, nullptr, workspace->get(), 16),
             "the host pointer is NULL");
  expectNull(awqc_model_synchronize(nullptr, nullptr), "the model is NULL");
  // NULL is fine where documented: closing, freeing, empty copies.
  awqc_model_close(nullptr);
  EXPECT_EQ(awqc_model_free(model, nullptr), AWQC_OK);
  EXPECT_EQ(awqc_model_copy_to_host(model, nullptr, nullptr, 0), AWQC_OK);
  EXPECT_EQ(awqc_model_zero_workspace(model, nullptr, 0, nullptr), AWQC_OK);
}

/// The message is per thread: a failure on one thread leaves another's.
TEST_F(RunArgumentTest, LastErrorIsPerThread) {
  EXPECT_EQ(runLayer(1, 0, &io, workspaceBytes), AWQC_ERROR_BATCH_TOO_LARGE);
  std::string other;
  std::thread([&] {
    other = awqc_last_error();
    int64_t index;
    awqc_model_find_layer(model, "nothing", &index);
  }).join();
  EXPECT_EQ(other, "");
  expectMessage("M = 0");
}

} // namespace
