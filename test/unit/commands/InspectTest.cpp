//===- InspectTest.cpp - Tests of awqc inspect ----------------------------===//

#include "test/unit/commands/CommandsTestSupport.h"

#include "compiler/commands/Inspect.h"
#include "runtime/formats/SafeTensors.h"
#include "runtime/support/Error.h"

#include <filesystem>

namespace awq {
namespace {

using test::CommandRun;
using test::TempDir;

bool contains(const std::string &text, const std::string &part) {
  return text.find(part) != std::string::npos;
}

class InspectTest : public testing::Test {
protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    seed_ = test::testSeed();
    test::synthesize(*dir_ / "fp16", seed_, {"--tokens", "16"});
    const CommandRun run = test::runCommand(
        &runQuantizeCommand,
        {*dir_ / "fp16", "--calibration",
         *dir_ / "fp16/calibration.safetensors", "-o", *dir_ / "awq", "--group",
         "64", "--threads", "1", "-q"});
    ASSERT_EQ(run.code, 0) << run.err;
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  static TempDir *dir_;
  static uint64_t seed_;
};

TempDir *InspectTest::dir_ = nullptr;
uint64_t InspectTest::seed_ = 0;

TEST_F(InspectTest, SafeTensorsFile) {
  const nlohmann::json summary =
      inspectPath(*dir_ / "fp16/calibration.safetensors");
  EXPECT_EQ(summary["kind"], "safetensors");
  EXPECT_EQ(summary["metadata"]["format"], "awqc-calibration");
  ASSERT_EQ(summary["tensors"].size(), 8u);
  uint64_t bytes = 0;
  for (const nlohmann::json &t : summary["tensors"]) {
    EXPECT_EQ(t["dtype"], "F16");
    EXPECT_EQ(t["shape"][0], 16);
    bytes += t["bytes"].get<uint64_t>();
  }
  EXPECT_EQ(summary["data_bytes"], bytes);
  EXPECT_EQ(summary["elements"]["F16"], bytes / 2);
  const std::string text = formatInspection(summary);
  EXPECT_PRED2(contains, text, "safetensors file, 8 tensors");
  EXPECT_PRED2(contains, text, "metadata format: awqc-calibration");
  const size_t line = text.find("  model.layers.1.mlp.down_proj ");
  ASSERT_NE(line, std::string::npos) << text;
  const std::string row = text.substr(line, text.find('\n', line) - line);
  EXPECT_PRED2(contains, row, " F16 ");
  EXPECT_PRED2(contains, row, "[16, 512]");
  EXPECT_PRED2(contains, row, "16.0 KiB");
}

TEST_F(InspectTest, UnquantizedCheckpoint) {
  const nlohmann::json summary = inspectPath(*dir_ / "fp16");
  EXPECT_EQ(summary["kind"], "checkpoint");
  EXPECT_EQ(summary["config"]["hidden_size"], 256);
  EXPECT_EQ(summary["tensors"].size(), 21u);
  const SafeTensorsCheckpoint weights =
      SafeTensorsCheckpoint::open(*dir_ / "fp16");
  uint64_t parameters = 0;
  for (const std::string &name : weights.names())
    parameters += weights.get(name).numel();
  EXPECT_EQ(summary["elements"]["F16"], parameters);
  EXPECT_PRED2(contains, formatInspection(summary),
               "unquantized checkpoint (LlamaForCausalLM: hidden 256, "
               "intermediate 512, layers 2, heads 4, KV heads 4, vocab 512)");
}

TEST_F(InspectTest, QuantizedCheckpoint) {
  const nlohmann::json summary = inspectPath(*dir_ / "awq");
  EXPECT_EQ(summary["kind"], "quantized_checkpoint");
  EXPECT_EQ(summary["quantization"]["bits"], 4);
  EXPECT_EQ(summary["quantization"]["group_size"], 64);
  EXPECT_EQ(summary["quantization"]["zero_point"], true);
  ASSERT_EQ(summary["layers"].size(), 14u);
  uint64_t weights = 0;
  for (const nlohmann::json &layer : summary["layers"]) {
    SCOPED_TRACE(layer["name"].get<std::string>());
    const int64_t k = layer["k"], n = layer["n"];
    EXPECT_EQ(layer["group_size"], 64);
    EXPECT_EQ(layer["groups"], k / 64);
    // qweight K*N/2 + qzeros (K/G)*N/2 + scales (K/G)*N*2 bytes.
    EXPECT_EQ(layer["bytes"], k * n / 2 + (k / 64) * n / 2 + (k / 64) * n * 2);
    const std::string name = layer["name"];
    if (contains(name, "down_proj")) {
      EXPECT_EQ(k, 512);
    }
    weights += uint64_t(k * n);
  }
  EXPECT_EQ(summary["totals"]["quantized_weights"], weights);
  EXPECT_NEAR(summary["totals"]["bits_per_weight"].get<double>(),
              4.0 + 20.0 / 64.0, 1e-9);
  EXPECT_EQ(summary["tensors"].size(), 7u);
  EXPECT_EQ(summary["model_description"]["input_groups"], 8);
  EXPECT_EQ(summary["model_description"]["activation_scales"].size(), 0u);

  const CommandRun run = test::runCommand(&runInspectCommand, {*dir_ / "awq"});
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_PRED2(contains, run.out, "AWQ checkpoint (LlamaForCausalLM");
  EXPECT_PRED2(contains, run.out,
               "quantization: 4-bit, group 64, zero point, version gemm");
  EXPECT_PRED2(contains, run.out, "14 quantized layers, 1310720 weights");
  EXPECT_PRED2(contains, run.out,
               "model.layers.1.mlp.down_proj     512x256      64");
  const CommandRun json =
      test::runCommand(&runInspectCommand, {*dir_ / "awq", "--json"});
  ASSERT_EQ(json.code, 0);
  EXPECT_EQ(nlohmann::json::parse(json.out), summary);
}

TEST_F(InspectTest, ModelDescription) {
  const nlohmann::json summary = inspectPath(*dir_ / "awq/model.json");
  EXPECT_EQ(summary["kind"], "model_description");
  EXPECT_EQ(summary["name"], "fp16");
  EXPECT_TRUE(std::filesystem::equivalent(
      summary["resolved_checkpoint"].get<std::string>(), *dir_ / "awq"));
  ASSERT_EQ(summary["input_groups"].size(), 8u);
  EXPECT_EQ(summary["input_groups"][0]["layers"],
            nlohmann::json({"model.layers.0.self_attn.q_proj",
                            "model.layers.0.self_attn.k_proj",
                            "model.layers.0.self_attn.v_proj"}));
  EXPECT_EQ(summary["layers"].size(), 14u);
  EXPECT_EQ(summary["quantized_weights"], 1310720);
  const std::string text = formatInspection(summary);
  EXPECT_PRED2(contains, text, "model description 'fp16', checkpoint . (awq)");
  EXPECT_PRED2(contains, text,
               "model.layers.0.mlp_input <- rms_norm "
               "model.layers.0.post_attention_layernorm");
  EXPECT_PRED2(contains, text,
               "silu_mul (gate, partner model.layers.0.mlp.up_proj)");
}

TEST_F(InspectTest, Errors) {
  CommandRun run =
      test::runCommand(&runInspectCommand, {*dir_ / "missing.safetensors"});
  EXPECT_EQ(run.code, 1);
  EXPECT_PRED2(contains, run.err,
               "awqc inspect: error: " + *dir_ / "missing.safetensors" +
                   ": no such file or directory");
  test::writeText(*dir_ / "other.json", R"({"hello": 1})");
  run = test::runCommand(&runInspectCommand, {*dir_ / "other.json"});
  EXPECT_EQ(run.code, 1);
  EXPECT_PRED2(contains, run.err, "neither a model description");
  test::writeText(*dir_ / "junk.bin", "12345678 not a header");
  run = test::runCommand(&runInspectCommand, {*dir_ / "junk.bin"});
  EXPECT_EQ(run.code, 1);
  EXPECT_PRED2(contains, run.err, *dir_ / "junk.bin");
  test::writeText(*dir_ / "bad.json", R"({"awqc_model_description": 1})");
  run = test::runCommand(&runInspectCommand, {*dir_ / "bad.json"});
  EXPECT_EQ(run.code, 1);
  EXPECT_PRED2(contains, run.err, "bad.json");
  run = test::runCommand(&runInspectCommand, {});
  EXPECT_EQ(run.code, 2);
  EXPECT_PRED2(contains, run.err, "missing argument PATH");
}

} // namespace
} // namespace awq
