//===- BundleRoundTripTest.cpp - awqc's bundle writer against its reader --===//
//
// A module is lowered, written as a bundle with seeded random weights, and
// read back: every weight tensor must be byte-identical to what a fresh
// weight evaluator computes for the same IR value, every source identical to
// the emitter's, and the manifest must describe the same layers and kernels.
// Then the reader is shown refusing what it must refuse.
//
//===----------------------------------------------------------------------===//
#include "../execute/ExecuteTestSupport.h"
#include "compiler/bundle/BundleBuilder.h"
#include "compiler/execute/WeightEvaluator.h"
#include "dialects/awq/AwqDialect.h"
#include "dialects/awq/KernelSchedules.h"
#include "runtime/formats/MappedFile.h"
#include "runtime/formats/SafeTensors.h"
#include "runtime/kernels/KernelPlan.h"
#include "runtime/nvrtc/NvrtcCompiler.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

namespace fs = std::filesystem;
namespace ir = mlir::awq;

namespace awq {
namespace {

std::string readFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void writeFile(const std::string &path, const std::string &bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

class BundleRoundTrip : public ::testing::Test {
protected:
  void SetUp() override {
    dir = fs::temp_directory_path() /
          ("awqc-bundle-test-" + std::to_string(::getpid()) + "-" +
           std::to_string(std::random_device()()));
    fs::create_directories(dir);
    context = test::makeContext();
    module = test::parse(*context, readFile(std::string(AWQC_SOURCE_DIR) +
                                            "/examples/llama-block.mlir"));
    ASSERT_TRUE(module);
    ASSERT_TRUE(test::lower(*module, "sm_80"));
    ASSERT_TRUE(mlir::succeeded(ir::emitKernels(*module, kernels)));
    seed = test::testSeed();
    source = makeRandomWeightSource(seed);
    options.compiler = "awqc test";
    options.inputPath = "examples/llama-block.mlir";
    options.inputSha256 = std::string(64, 'a');
    options.weights = source.get();
    options.deviceIncludeDir = deviceIncludeDir();
    options.maxM = 100;
    path = (dir / "model.awqb").string();
    writeModuleBundle(*module, kernels, path, options, &written);
  }
  void TearDown() override { fs::remove_all(dir); }

  fs::path dir;
  std::unique_ptr<mlir::MLIRContext> context;
  mlir::OwningOpRef<mlir::ModuleOp> module;
  std::vector<ir::EmittedKernel> kernels;
  uint64_t seed = 0;
  std::unique_ptr<WeightSource> source;
  BundleOptions options;
  std::string path;
  bundle::Manifest written;
};

TEST_F(BundleRoundTrip, TensorsAreWhatTheEvaluatorComputes) {
  std::unique_ptr<bundle::Bundle> b = bundle::Bundle::open(path);
  const bundle::Manifest &m = b->manifest();
  ASSERT_EQ(m.layers.size(), 4u);
  // An independent evaluator over the same seeded source.
  std::unique_ptr<WeightSource> fresh = makeRandomWeightSource(seed);
  WeightEvaluator evaluator(*fresh);
  std::map<std::string, mlir::Operation *> kernelOps;
  module->walk([&](mlir::Operation *op) {
    if (mlir::isa<ir::GemvKernelOp, ir::GemmKernelOp>(op))
      kernelOps[ir::getKernelOperands(op).kernelName.str()] = op;
  });
  size_t checked = 0;
  for (const bundle::Layer &layer : m.layers) {
    for (const bundle::KernelUse &use : layer.kernels) {
      ASSERT_TRUE(kernelOps.count(use.kernel)) << use.kernel;
      const ir::KernelOperands operands =
          ir::getKernelOperands(kernelOps[use.kernel]);
      const KernelWeights &expected = evaluator.packed(operands.weight);
      const bundle::LayoutBuffers &buffers = layer.layouts.at(use.family);
      const TensorView &q = b->tensor(buffers.qweight);
      ASSERT_EQ(q.size, expected.qweight.size()) << buffers.qweight;
      EXPECT_EQ(std::memcmp(q.data, expected.qweight.data(), q.size), 0)
          << buffers.qweight << " (AWQC_TEST_SEED=" << seed << ")";
      const TensorView &s = b->tensor(buffers.scales);
      ASSERT_EQ(s.size, expected.scales.size() * 2);
      EXPECT_EQ(std::memcmp(s.data, expected.scales.data(), s.size), 0);
      const TensorView &z = b->tensor(buffers.zeros);
      ASSERT_EQ(z.size, expected.zeros.size() * 2);
      EXPECT_EQ(std::memcmp(z.data, expected.zeros.data(), z.size), 0);
      ++checked;
    }
  }
  EXPECT_EQ(checked, 8u);
  for (const ir::EmittedKernel &kernel : kernels) {
    if (const bundle::Kernel *k = m.findKernel(kernel.name)) {
      EXPECT_EQ(b->text(k->source), kernel.source) << kernel.name;
    }
  }
  // The headers are the device library's, byte for byte.
  for (const auto &[include, text] : b->headerFiles())
    EXPECT_EQ(text, readRegularFile(deviceIncludeDir() + "/" + include))
        << include;
}

TEST_F(BundleRoundTrip, ManifestDescribesLayersKernelsAndRanges) {
  std::unique_ptr<bundle::Bundle> b = bundle::Bundle::open(path);
  const bundle::Manifest &m = b->manifest();
  EXPECT_EQ(m.target, "sm_80");
  EXPECT_EQ(m.targetSms, 108);
  EXPECT_EQ(m.maxM, 100);
  EXPECT_EQ(m.compiler, "awqc test");
  EXPECT_TRUE(m.hasWeights);
  EXPECT_EQ(m.kernels.size(), 8u);
  const bundle::Layer &qkv = m.layers[0];
  EXPECT_EQ(qkv.name, "model.layers.0.self_attn.q_proj, "
                      "model.layers.0.self_attn.k_proj, "
                      "model.layers.0.self_attn.v_proj");
  EXPECT_EQ(qkv.sources.size(), 3u);
  EXPECT_EQ(qkv.function, "attention_inputs");
  EXPECT_EQ(qkv.shape.k, 256);
  EXPECT_EQ(qkv.shape.n, 768);
  ASSERT_EQ(qkv.kernels.size(), 2u);
  // The pipeline's default: the GEMV for one row, the GEMM from two rows to
  // max M.
  EXPECT_EQ(qkv.kernels[0].family, KernelFamily::Gemv);
  EXPECT_EQ(qkv.kernels[0].minM, 1);
  EXPECT_EQ(qkv.kernels[0].maxM, kDefaultGemmMinM - 1);
  EXPECT_EQ(qkv.kernels[1].family, KernelFamily::Gemm);
  EXPECT_EQ(qkv.kernels[1].minM, kDefaultGemmMinM);
  EXPECT_EQ(qkv.kernels[1].maxM, 100);
  EXPECT_TRUE(m.layers[1].shape.residual);
  EXPECT_TRUE(m.layers[2].shape.siluMul);
  // What the writer returned is what the reader read, and JSON round trips.
  EXPECT_EQ(bundle::toJson(written), bundle::toJson(m));
  EXPECT_EQ(bundle::toJson(bundle::manifestFromJson(bundle::toJson(m), "x")),
            bundle::toJson(m));
}

TEST_F(BundleRoundTrip, EveryTensorIsAlignedAndHashed) {
  const std::string bytes = readFile(path);
  uint64_t headerLength = 0;
  std::memcpy(&headerLength, bytes.data(), 8);
  EXPECT_EQ((8 + headerLength) % bundle::kAlignment, 0u);
  SafeTensorsFile file(path);
  std::unique_ptr<bundle::Bundle> b = bundle::Bundle::open(path);
  // Tensors are in data order and the first starts at data offset 0.
  const uint8_t *first = file.tensors().front().data;
  size_t hashed = 0;
  for (const TensorView &t : file.tensors()) {
    if (t.name.rfind(".pad.", 0) == 0) // Padding fills the gaps.
      continue;
    EXPECT_EQ(
        (8 + headerLength + uint64_t(t.data - first)) % bundle::kAlignment, 0u)
        << t.name;
    EXPECT_NO_THROW(b->verify(t.name)) << t.name;
    ++hashed;
  }
  EXPECT_EQ(hashed, b->manifest().tensorSha256.size());
}

/// A copy of the bundle with `edit` applied to its bytes.
std::string edited(const std::string &path, const std::string &name,
                   const std::function<void(std::string &)> &edit) {
  std::string bytes = readFile(path);
  edit(bytes);
  const std::string out = fs::path(path).parent_path() / name;
  writeFile(out, bytes);
  return out;
}

bundle::BundleError::Kind openError(const std::string &path,
                                    std::string *message) {
  try {
    bundle::Bundle::open(path);
  } catch (const bundle::BundleError &e) {
    *message = e.what();
    return e.kind;
  }
  ADD_FAILURE() << path << " opened";
  return bundle::BundleError::Io;
}

TEST_F(BundleRoundTrip, ReaderRefusesCorruptAndForeignFiles) {
  std::string message;
  const std::string source = kernels[0].source;
  // One flipped byte in a kernel source: found by its hash at open.
  std::string flipped = edited(path, "flipped.awqb", [&](std::string &bytes) {
    const size_t at = bytes.find(source);
    ASSERT_NE(at, std::string::npos);
    bytes[at + source.size() / 2] ^= 0x20;
  });
  EXPECT_EQ(openError(flipped, &message), bundle::BundleError::Corrupt);
  EXPECT_NE(message.find("does not match its SHA-256"), std::string::npos)
      << message;
  // A weight byte: open succeeds (weights are checked on upload), verify
  // names the tensor.
  std::string weight = edited(path, "weight.awqb", [&](std::string &bytes) {
    bytes[bytes.size() - 3] ^= 0x01;
  });
  std::unique_ptr<bundle::Bundle> b = bundle::Bundle::open(weight);
  bool named = false;
  for (const auto &[tensor, hash] : b->manifest().tensorSha256)
    try {
      b->verify(tensor);
    } catch (const bundle::BundleError &e) {
      named = std::string(e.what()).find(tensor) != std::string::npos;
    }
  EXPECT_TRUE(named);
  // Another format version is told apart from corruption.
  const std::string current =
      "\"format_version\":\"" + std::to_string(bundle::kFormatVersion) + "\"";
  std::string version = edited(path, "newer.awqb", [&](std::string &bytes) {
    const size_t at = bytes.find(current);
    ASSERT_NE(at, std::string::npos);
    // One digit up (the manifest's hash covers the manifest, not this key).
    ++bytes[at + current.size() - 2];
  });
  EXPECT_EQ(openError(version, &message), bundle::BundleError::Version);
  EXPECT_NE(message.find("bundle format version " +
                         std::to_string(bundle::kFormatVersion + 1)),
            std::string::npos)
      << message;
  // An edited manifest no longer matches its hash.
  std::string manifest = edited(path, "manifest.awqb", [&](std::string &bytes) {
    const size_t at = bytes.find("max_m\\\": 100");
    ASSERT_NE(at, std::string::npos) << bytes.substr(0, 2000);
    bytes.replace(at + std::strlen("max_m\\\": "), 3, "999");
  });
  EXPECT_EQ(openError(manifest, &message), bundle::BundleError::Corrupt);
  EXPECT_NE(message.find("manifest does not match its SHA-256"),
            std::string::npos)
      << message;
  // Truncated.
  std::string truncated = edited(path, "truncated.awqb", [](std::string &b) {
    b.resize(b.size() - 1000);
  });
  EXPECT_EQ(openError(truncated, &message), bundle::BundleError::Corrupt);
  // A plain safetensors file is not a bundle.
  const std::string plain = (dir / "plain.safetensors").string();
  writeFile(plain, std::string("\x10\0\0\0\0\0\0\0{}              ", 24));
  EXPECT_EQ(openError(plain, &message), bundle::BundleError::Corrupt);
  EXPECT_NE(message.find("not an awqc bundle"), std::string::npos) << message;
  EXPECT_FALSE(bundle::looksLikeBundle(plain));
  EXPECT_TRUE(bundle::looksLikeBundle(path));
  // Missing.
  EXPECT_EQ(openError((dir / "missing.awqb").string(), &message),
            bundle::BundleError::Io);
}

TEST_F(BundleRoundTrip, WeightlessBundleDeclaresBuffersWithoutTensors) {
  BundleOptions none = options;
  none.weights = nullptr;
  const std::string weightless = (dir / "none.awqb").string();
  writeModuleBundle(*module, kernels, weightless, none);
  std::unique_ptr<bundle::Bundle> b = bundle::Bundle::open(weightless);
  EXPECT_FALSE(b->manifest().hasWeights);
  const bundle::Layer &layer = b->manifest().layers[0];
  EXPECT_FALSE(layer.layouts.at(KernelFamily::Gemv).qweight.empty());
  EXPECT_EQ(b->manifest().tensorSha256.count(
                layer.layouts.at(KernelFamily::Gemv).qweight),
            0u);
  EXPECT_LT(fs::file_size(weightless), fs::file_size(path));
}

TEST_F(BundleRoundTrip, MaxMBeyondTheGridIsRefused) {
  BundleOptions huge = options;
  huge.maxM = bundle::kMaxRowsLimit + 1;
  EXPECT_THROW(
      writeModuleBundle(*module, kernels, (dir / "huge.awqb").string(), huge),
      Error);
  EXPECT_FALSE(fs::exists(dir / "huge.awqb"));
}

} // namespace
} // namespace awq
