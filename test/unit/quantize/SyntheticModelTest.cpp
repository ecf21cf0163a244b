//===- SyntheticModelTest.cpp - Tests of awqc synth -----------------------===//

#include "test/unit/commands/CommandsTestSupport.h"

#include "compiler/formats/JsonFields.h"
#include "compiler/quantize/SyntheticModel.h"
#include "runtime/formats/SafeTensors.h"
#include "runtime/support/Error.h"
#include "runtime/support/Half.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>

namespace awq {
namespace {

using test::TempDir;

float elementAsFloat(const TensorView &view, uint64_t i) {
  if (view.dtype == DType::F32) {
    float f;
    std::memcpy(&f, view.data + 4 * i, 4);
    return f;
  }
  uint16_t bits;
  std::memcpy(&bits, view.data + 2 * i, 2);
  if (view.dtype == DType::F16)
    return halfToFloat(bits);
  const uint32_t wide = uint32_t(bits) << 16;
  float f;
  std::memcpy(&f, &wide, 4);
  return f;
}

TEST(SyntheticModel, WritesALlamaCheckpointWithExpectedShapes) {
  TempDir dir;
  const uint64_t seed = test::testSeed();
  SCOPED_TRACE(test::seedMessage(seed));
  SynthOptions options;
  options.output = dir / "model";
  options.hidden = 128;
  options.intermediate = 384;
  options.layers = 3;
  options.heads = 4;
  options.kvHeads = 2;
  options.vocab = 100;
  options.seed = seed;
  const SynthResult result = writeSyntheticModel(options);
  EXPECT_EQ(result.inputGroups, 12u);

  const nlohmann::json config = readJsonFile(dir / "model/config.json");
  EXPECT_EQ(config["architectures"][0], "LlamaForCausalLM");
  EXPECT_EQ(config["hidden_size"], 128);
  EXPECT_EQ(config["intermediate_size"], 384);
  EXPECT_EQ(config["num_hidden_layers"], 3);
  EXPECT_EQ(config["num_key_value_heads"], 2);
  EXPECT_EQ(config["torch_dtype"], "float16");

  const SafeTensorsCheckpoint weights =
      SafeTensorsCheckpoint::open(dir / "model");
  const std::pair<std::string, std::vector<int64_t>> expected[] = {
      {"model.embed_tokens.weight", {100, 128}},
      {"model.layers.2.self_attn.q_proj.weight", {128, 128}},
      {"model.layers.2.self_attn.k_proj.weight", {64, 128}},
      {"model.layers.2.self_attn.v_proj.weight", {64, 128}},
      {"model.layers.2.self_attn.o_proj.weight", {128, 128}},
      {"model.layers.2.mlp.gate_proj.weight", {384, 128}},
      {"model.layers.2.mlp.up_proj.weight", {384, 128}},
      {"model.layers.2.mlp.down_proj.weight", {128, 384}},
      {"model.layers.2.input_layernorm.weight", {128}},
      {"model.layers.2.post_attention_layernorm.weight", {128}},
      {"model.norm.weight", {128}},
      {"lm_head.weight", {100, 128}}};
  for (const auto &[name, shape] : expected) {
    const TensorView &view = weights.get(name);
    EXPECT_EQ(view.shape, shape) << name;
    EXPECT_EQ(view.dtype, DType::F16) << name;
  }
  EXPECT_EQ(weights.size(), 2 + 9 * 3 + 1u);
  uint64_t parameters = 0;
  for (const std::string &name : weights.names())
    parameters += weights.get(name).numel();
  EXPECT_EQ(parameters, result.parameters);

  // Norms near 1; linear weights about 1/sqrt(K) with a heavy tail.
  const TensorView &norm = weights.get("model.layers.1.input_layernorm.weight");
  for (uint64_t i = 0; i < norm.numel(); ++i) {
    const float v = elementAsFloat(norm, i);
    EXPECT_GT(v, 0.4f);
    EXPECT_LT(v, 1.6f);
  }
  const TensorView &down = weights.get("model.layers.0.mlp.down_proj.weight");
  double sum = 0, sumSq = 0, maxAbs = 0;
  for (uint64_t i = 0; i < down.numel(); ++i) {
    const double v = elementAsFloat(down, i);
    sum += v;
    sumSq += v * v;
    maxAbs = std::max(maxAbs, std::fabs(v));
  }
  const double rms = std::sqrt(sumSq / double(down.numel()));
  const double expectedRms = 1.0 / std::sqrt(384.0);
  EXPECT_GT(rms, 0.7 * expectedRms);
  EXPECT_LT(rms, 1.6 * expectedRms);
  EXPECT_LT(std::fabs(sum / double(down.numel())), 0.1 * rms);
  EXPECT_GT(maxAbs, 6 * rms) << "expected a heavy tail";
}

TEST(SyntheticModel, CalibrationHasOutlierChannels) {
  TempDir dir;
  const uint64_t seed = test::testSeed();
  SCOPED_TRACE(test::seedMessage(seed));
  SynthOptions options;
  options.output = dir / "model";
  options.seed = seed;
  options.outliers = 5;
  options.tokens = 200;
  const SynthResult result = writeSyntheticModel(options);
  EXPECT_EQ(result.calibration, dir / "model/calibration.safetensors");

  const SafeTensorsFile calibration(result.calibration);
  EXPECT_EQ(calibration.metadata().at("format"), "awqc-calibration");
  EXPECT_EQ(calibration.metadata().at("version"), "1");
  EXPECT_EQ(calibration.tensors().size(), 8u);
  const nlohmann::json groups =
      nlohmann::json::parse(calibration.metadata().at("groups"));
  EXPECT_EQ(groups["model.layers.1.self_attn.q_proj"],
            nlohmann::json({"model.layers.1.self_attn.q_proj",
                            "model.layers.1.self_attn.k_proj",
                            "model.layers.1.self_attn.v_proj"}));
  EXPECT_EQ(groups["model.layers.0.mlp.gate_proj"],
            nlohmann::json({"model.layers.0.mlp.gate_proj",
                            "model.layers.0.mlp.up_proj"}));

  for (const TensorView &view : calibration.tensors()) {
    SCOPED_TRACE(view.name);
    ASSERT_EQ(view.shape.size(), 2u);
    EXPECT_EQ(view.shape[0], 200);
    const int64_t k = view.shape[1];
    EXPECT_EQ(k, view.name.find("down_proj") != std::string::npos ? 512 : 256);
    std::vector<double> meanAbs(k, 0.0);
    for (int64_t t = 0; t < 200; ++t)
      for (int64_t c = 0; c < k; ++c)
        meanAbs[c] += std::fabs(elementAsFloat(view, t * k + c)) / 200.0;
    std::vector<double> sorted = meanAbs;
    std::sort(sorted.begin(), sorted.end());
    const double median = sorted[k / 2];
    int large = 0;
    for (double m : meanAbs)
      large += m > 10.0 * median ? 1 : 0;
    EXPECT_EQ(large, 5) << "outlier channels (> 10x the median channel)";
    EXPECT_GT(sorted[k - 1], 20.0 * median * 0.7);
    EXPECT_LT(sorted[k - 1], 100.0 * median * 2.0);
  }
}

TEST(SyntheticModel, SameSeedSameBytesOtherSeedOtherBytes) {
  TempDir dir;
  const uint64_t seed = test::testSeed();
  SCOPED_TRACE(test::seedMessage(seed));
  test::synthesize(dir / "a", seed,
                   {"--hidden", "64", "--intermediate", "128"});
  test::synthesize(dir / "b", seed,
                   {"--hidden", "64", "--intermediate", "128"});
  test::synthesize(dir / "c", seed + 1,
                   {"--hidden", "64", "--intermediate", "128"});
  const std::string a = test::readText(dir / "a/model.safetensors");
  EXPECT_FALSE(a.empty());
  EXPECT_TRUE(a == test::readText(dir / "b/model.safetensors"));
  EXPECT_TRUE(a != test::readText(dir / "c/model.safetensors"));
  // Calibration data too (its metadata names the model directory).
  auto calibrationBytes = [&](const std::string &model) {
    const SafeTensorsFile file(dir / (model + "/calibration.safetensors"));
    std::string bytes;
    for (const TensorView &view : file.tensors())
      bytes.append(reinterpret_cast<const char *>(view.data), view.size);
    return bytes;
  };
  EXPECT_TRUE(calibrationBytes("a") == calibrationBytes("b"));
  EXPECT_TRUE(calibrationBytes("a") != calibrationBytes("c"));
}

TEST(SyntheticModel, OtherDtypesAndShards) {
  TempDir dir;
  const uint64_t seed = test::testSeed();
  SCOPED_TRACE(test::seedMessage(seed));
  test::synthesize(dir / "bf16", seed,
                   {"--dtype", "bf16", "--shard-size", "400KB", "--calibration",
                    dir / "calib.safetensors"});
  EXPECT_TRUE(std::filesystem::exists(dir / "calib.safetensors"));
  EXPECT_FALSE(std::filesystem::exists(dir / "bf16/calibration.safetensors"));
  EXPECT_TRUE(
      std::filesystem::exists(dir / "bf16/model.safetensors.index.json"));
  EXPECT_FALSE(std::filesystem::exists(dir / "bf16/model.safetensors"));
  const SafeTensorsCheckpoint weights =
      SafeTensorsCheckpoint::open(dir / "bf16");
  EXPECT_GT(weights.shards().size(), 2u);
  EXPECT_EQ(weights.get("model.norm.weight").dtype, DType::BF16);
  EXPECT_EQ(readJsonFile(dir / "bf16/config.json")["torch_dtype"], "bfloat16");

  test::synthesize(dir / "f32", seed, {"--dtype", "f32", "--layers", "1"});
  EXPECT_EQ(SafeTensorsCheckpoint::open(dir / "f32")
                .get("model.layers.0.mlp.up_proj.weight")
                .dtype,
            DType::F32);
}

TEST(SyntheticModel, RejectsBadOptionsWithoutLeavingFiles) {
  TempDir dir;
  const auto run = [&](std::vector<std::string> args) {
    return test::runCommand(&runSynthCommand, args);
  };
  test::CommandRun r =
      run({"-o", dir / "m", "--hidden", "250", "--heads", "4"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("--hidden 250 must be divisible by --heads 4"),
            std::string::npos)
      << r.err;
  r = run({"-o", dir / "m", "--heads", "4", "--kv-heads", "3"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("must be divisible by --kv-heads 3"), std::string::npos)
      << r.err;
  r = run({"-o", dir / "m", "--dtype", "f8"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("one of f16, bf16, f32"), std::string::npos) << r.err;
  r = run({"--hidden", "64"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("missing required option --output"), std::string::npos)
      << r.err;
  r = run({"-o", dir / "m", "--layers", "0"});
  EXPECT_EQ(r.code, 2);
  // 1.1 T parameters, each tensor small enough: more than any test disk.
  r = run({"-o", dir / "m", "--hidden", "8192", "--intermediate", "32768",
           "--layers", "1024"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("the model and its calibration would need "
                       "2229138374656 bytes, but only"),
            std::string::npos)
      << r.err;
  // One 64 G-parameter tensor (drawn in 384 GiB): more than any test machine.
  r = run({"-o", dir / "m", "--hidden", "65536", "--vocab", "1048576",
           "--layers", "1"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("tensor model.embed_tokens.weight [1048576, 65536] "
                       "needs 412316860416 bytes of memory"),
            std::string::npos)
      << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir / "m"));
  EXPECT_TRUE(dir.leftovers().empty());

  test::synthesize(dir / "m", 1, {"--hidden", "64", "--intermediate", "64"});
  r = run({"-o", dir / "m", "--hidden", "64"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("pass --force to replace it"), std::string::npos)
      << r.err;
  r = run({"-o", dir / "m", "--hidden", "32", "--force", "-q"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(readJsonFile(dir / "m/config.json")["hidden_size"], 32);
  EXPECT_TRUE(dir.leftovers().empty());
}

} // namespace
} // namespace awq
