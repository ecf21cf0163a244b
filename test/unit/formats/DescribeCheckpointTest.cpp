//===- DescribeCheckpointTest.cpp - LLaMA-style structure from config -----===//

#include "TestUtil.h"

#include "compiler/formats/ModelDescription.h"
#include "compiler/formats/QuantizedCheckpoint.h"

#include <gtest/gtest.h>

namespace awq::test {
namespace {

using nlohmann::json;

/// The tiny LLaMA of examples/tiny-llama: hidden 256, intermediate 768,
/// 4 heads of 64, 2 KV heads (GQA), 2 blocks.
json tinyLlamaConfig() {
  return {{"architectures", {"LlamaForCausalLM"}},
          {"model_type", "llama"},
          {"hidden_size", 256},
          {"intermediate_size", 768},
          {"num_attention_heads", 4},
          {"num_key_value_heads", 2},
          {"num_hidden_layers", 2},
          {"rms_norm_eps", 1e-5},
          {"vocab_size", 1024},
          {"quantization_config",
           {{"quant_method", "awq"},
            {"bits", 4},
            {"group_size", 128},
            {"zero_point", true},
            {"version", "gemm"}}}};
}

void writeConfig(const TempDir &dir, const json &config) {
  writeBytes(dir.file("config.json"), config.dump(2));
}

TEST(DescribeCheckpoint, DerivesLlamaBlocks) {
  TempDir dir;
  writeConfig(dir, tinyLlamaConfig());
  ModelDescription d = describeCheckpoint(dir.path());
  EXPECT_EQ(d.checkpoint.path, dir.path());
  EXPECT_EQ(d.checkpoint.format, "awq");
  ASSERT_EQ(d.layers.size(), 14u);
  ASSERT_EQ(d.inputGroups.size(), 8u);

  struct Expected {
    const char *name;
    int64_t k, n;
    const char *group;
  };
  const Expected block1[] = {
      {"model.layers.1.self_attn.q_proj", 256, 256,
       "model.layers.1.attn_input"},
      {"model.layers.1.self_attn.k_proj", 256, 128,
       "model.layers.1.attn_input"},
      {"model.layers.1.self_attn.v_proj", 256, 128,
       "model.layers.1.attn_input"},
      {"model.layers.1.self_attn.o_proj", 256, 256,
       "model.layers.1.attn_output"},
      {"model.layers.1.mlp.gate_proj", 256, 768, "model.layers.1.mlp_input"},
      {"model.layers.1.mlp.up_proj", 256, 768, "model.layers.1.mlp_input"},
      {"model.layers.1.mlp.down_proj", 768, 256, "model.layers.1.mlp_hidden"},
  };
  for (const Expected &e : block1) {
    SCOPED_TRACE(e.name);
    const LayerDescription *layer = d.findLayer(e.name);
    ASSERT_NE(layer, nullptr);
    EXPECT_EQ(layer->k, e.k);
    EXPECT_EQ(layer->n, e.n);
    EXPECT_EQ(layer->inputGroup, e.group);
    EXPECT_EQ(layer->bits, 4);
    EXPECT_EQ(layer->groupSize, 128);
    EXPECT_TRUE(layer->zeroPoint);
    EXPECT_FALSE(layer->bias);
    EXPECT_EQ(layer->weights, e.name);
  }
  const InputGroup *attnIn = d.findInputGroup("model.layers.1.attn_input");
  ASSERT_NE(attnIn, nullptr);
  EXPECT_EQ(attnIn->producer.kind, ProducerKind::RmsNorm);
  EXPECT_EQ(attnIn->producer.weight, "model.layers.1.input_layernorm.weight");
  EXPECT_DOUBLE_EQ(attnIn->producer.epsilon, 1e-5);
  const InputGroup *attnOut = d.findInputGroup("model.layers.1.attn_output");
  EXPECT_EQ(attnOut->producer.kind, ProducerKind::Activation);
  EXPECT_EQ(attnOut->producer.name, "attention");
  EXPECT_EQ(attnOut->producer.inputs.size(), 3u);
  const InputGroup *mlpIn = d.findInputGroup("model.layers.1.mlp_input");
  EXPECT_EQ(mlpIn->producer.weight,
            "model.layers.1.post_attention_layernorm.weight");
  const InputGroup *hidden = d.findInputGroup("model.layers.1.mlp_hidden");
  EXPECT_EQ(hidden->producer.name, "silu_mul");

  const LayerDescription *gate = d.findLayer("model.layers.1.mlp.gate_proj");
  EXPECT_EQ(gate->epilogue.kind, EpilogueKind::SiluMul);
  EXPECT_EQ(gate->epilogue.role, SiluMulRole::Gate);
  EXPECT_EQ(gate->epilogue.partner, "model.layers.1.mlp.up_proj");
  const LayerDescription *up = d.findLayer("model.layers.1.mlp.up_proj");
  EXPECT_EQ(up->epilogue.role, SiluMulRole::Up);
  EXPECT_EQ(d.findLayer("model.layers.1.self_attn.o_proj")->epilogue.kind,
            EpilogueKind::ResidualAdd);
  EXPECT_EQ(d.findLayer("model.layers.1.mlp.down_proj")->epilogue.kind,
            EpilogueKind::ResidualAdd);
}

TEST(DescribeCheckpoint, MatchesTheTinyLlamaExample) {
  TempDir dir;
  writeConfig(dir, tinyLlamaConfig());
  ModelDescription derived = describeCheckpoint(dir.path());
  const std::string example =
      std::string(AWQC_SOURCE_DIR) + "/examples/tiny-llama/model.json";
  ModelDescription checked = parseModelDescription(example);
  EXPECT_EQ(checked.checkpoint.path, "checkpoint");
  derived.checkpoint.path = checked.checkpoint.path;
  derived.name = checked.name;
  EXPECT_EQ(modelDescriptionToJson(derived), modelDescriptionToJson(checked));
}

TEST(DescribeCheckpoint, QwenBiasesAndHeadDim) {
  TempDir dir;
  json config = tinyLlamaConfig();
  config["architectures"] = {"Qwen2ForCausalLM"};
  config["head_dim"] = 32; // 4 heads x 32 = 128 wide attention.
  config["quantization_config"] = {{"quant_method", "gptq"},
                                   {"bits", 8},
                                   {"group_size", -1},
                                   {"sym", true},
                                   {"desc_act", false}};
  writeConfig(dir, config);
  ModelDescription d = describeCheckpoint(dir.path());
  EXPECT_EQ(d.checkpoint.format, "gptq");
  const LayerDescription *q = d.findLayer("model.layers.0.self_attn.q_proj");
  EXPECT_EQ(q->n, 128);
  EXPECT_TRUE(q->bias);
  EXPECT_EQ(q->bits, 8);
  EXPECT_EQ(q->groupSize, -1);
  EXPECT_FALSE(q->zeroPoint);
  EXPECT_EQ(d.findLayer("model.layers.0.self_attn.k_proj")->n, 64);
  const LayerDescription *o = d.findLayer("model.layers.0.self_attn.o_proj");
  EXPECT_EQ(o->k, 128);
  EXPECT_FALSE(o->bias);
  EXPECT_FALSE(d.findLayer("model.layers.0.mlp.down_proj")->bias);
}

TEST(DescribeCheckpoint, ChecksWeightsWhenPresent) {
  TempDir dir;
  json config = tinyLlamaConfig();
  config["num_hidden_layers"] = 1;
  QuantizedCheckpoint checkpoint;
  checkpoint.config = config;
  checkpoint.config.erase("quantization_config");
  QuantParams params;
  const std::pair<const char *, std::pair<int64_t, int64_t>> shapes[] = {
      {"self_attn.q_proj", {256, 256}}, {"self_attn.k_proj", {256, 128}},
      {"self_attn.v_proj", {256, 128}}, {"self_attn.o_proj", {256, 256}},
      {"mlp.gate_proj", {256, 768}},    {"mlp.up_proj", {256, 768}},
      {"mlp.down_proj", {768, 256}}};
  for (const auto &[name, shape] : shapes)
    checkpoint.linears.emplace(
        std::string("model.layers.0.") + name,
        randomLayer(shape.first, shape.second, params,
                    std::string(name) == "self_attn.v_proj"));
  exportAwqCheckpoint(checkpoint, dir.path());

  ModelDescription d = describeCheckpoint(dir.path());
  // The bias follows the tensors, not the config's attention_bias.
  EXPECT_TRUE(d.findLayer("model.layers.0.self_attn.v_proj")->bias);
  EXPECT_FALSE(d.findLayer("model.layers.0.self_attn.q_proj")->bias);

  // A layer of the wrong width is caught.
  checkpoint.linears["model.layers.0.mlp.up_proj"] =
      randomLayer(256, 512, params, false);
  exportAwqCheckpoint(checkpoint, dir.path());
  expectError([&] { describeCheckpoint(dir.path()); },
              {"model.safetensors", "layer 'model.layers.0.mlp.up_proj'",
               "K = 256, N = 768", "scales [2, 512]"});

  // A missing layer is caught.
  checkpoint.linears.erase("model.layers.0.mlp.up_proj");
  exportAwqCheckpoint(checkpoint, dir.path());
  expectError([&] { describeCheckpoint(dir.path()); },
              {"no tensor 'model.layers.0.mlp.up_proj.qweight'"});
}

TEST(DescribeCheckpoint, DtypeFollowsTheScales) {
  TempDir dir;
  json config = tinyLlamaConfig();
  config["num_hidden_layers"] = 1;
  // Without weights, torch_dtype decides.
  config["torch_dtype"] = "bfloat16";
  writeConfig(dir, config);
  EXPECT_EQ(describeCheckpoint(dir.path()).activation, ActivationType::BF16);
  config["torch_dtype"] = "float16";
  writeConfig(dir, config);
  EXPECT_EQ(describeCheckpoint(dir.path()).activation, ActivationType::F16);

  QuantizedCheckpoint checkpoint;
  checkpoint.config = config;
  checkpoint.config.erase("quantization_config");
  QuantParams params;
  const std::pair<const char *, std::pair<int64_t, int64_t>> shapes[] = {
      {"self_attn.q_proj", {256, 256}}, {"self_attn.k_proj", {256, 128}},
      {"self_attn.v_proj", {256, 128}}, {"self_attn.o_proj", {256, 256}},
      {"mlp.gate_proj", {256, 768}},    {"mlp.up_proj", {256, 768}},
      {"mlp.down_proj", {768, 256}}};
  for (const auto &[name, shape] : shapes) {
    QuantizedLinear layer = randomLayer(shape.first, shape.second, params,
                                        std::string(name) == "mlp.down_proj");
    layer.activation = ActivationType::BF16;
    checkpoint.linears.emplace(std::string("model.layers.0.") + name, layer);
  }
  exportAwqCheckpoint(checkpoint, dir.path());
  // BF16 scales make a bf16 model even where torch_dtype says float16.
  EXPECT_EQ(describeCheckpoint(dir.path()).activation, ActivationType::BF16);

  // AutoAWQ's fp16 scales of a bf16 model: an fp16 model.
  for (auto &[name, layer] : checkpoint.linears)
    layer.activation = ActivationType::F16;
  checkpoint.config["torch_dtype"] = "bfloat16";
  exportAwqCheckpoint(checkpoint, dir.path());
  EXPECT_EQ(describeCheckpoint(dir.path()).activation, ActivationType::F16);

  // One layer in the other type is named.
  checkpoint.linears["model.layers.0.mlp.down_proj"].activation =
      ActivationType::BF16;
  exportAwqCheckpoint(checkpoint, dir.path());
  expectError([&] { describeCheckpoint(dir.path()); },
              {"model.safetensors", "'model.layers.0.mlp.down_proj.scales'",
               "has dtype BF16 but the model's scales are F16",
               "a model has one activation type"});
}

TEST(DescribeCheckpoint, ReportsBadConfigs) {
  struct Case {
    std::string label;
    std::function<void(json &)> edit;
    std::vector<std::string> fragments;
  };
  const std::vector<Case> cases = {
      {"architecture",
       [](json &c) { c["architectures"] = {"GPT2LMHeadModel"}; },
       {"config.json: architectures", "LlamaForCausalLM"}},
      {"no architectures",
       [](json &c) { c.erase("architectures"); },
       {"architectures: missing required field"}},
      {"hidden",
       [](json &c) { c["hidden_size"] = "256"; },
       {"hidden_size", "an integer"}},
      {"intermediate",
       [](json &c) { c.erase("intermediate_size"); },
       {"intermediate_size: missing required field"}},
      {"kv heads",
       [](json &c) { c["num_key_value_heads"] = 3; },
       {"num_key_value_heads", "a divisor of num_attention_heads = 4"}},
      {"blocks",
       // A 250-byte config once drove the builder to 11 GB and bad_alloc.
       [](json &c) { c["num_hidden_layers"] = 1 << 20; },
       {"num_hidden_layers", "[1, 1024]"}},
      {"eps",
       [](json &c) { c["rms_norm_eps"] = 0; },
       {"rms_norm_eps", "a positive number"}},
      {"heads",
       [](json &c) {
         c["num_attention_heads"] = 3;
         c["num_key_value_heads"] = 3;
       },
       {"hidden_size", "not divisible by num_attention_heads = 3"}},
      {"group",
       [](json &c) { c["intermediate_size"] = 704; },
       {"derived description", "group_size",
        "multiple of 32 that divides k = 704"}},
      {"not converted",
       [](json &c) {
         c["quantization_config"]["modules_to_not_convert"] = {"down_proj"};
       },
       {"modules_to_not_convert entry 'down_proj'",
        "model.layers.0.mlp.down_proj"}},
      {"not quantized",
       [](json &c) { c.erase("quantization_config"); },
       {"no quantization settings"}},
  };
  for (const Case &c : cases) {
    SCOPED_TRACE(c.label);
    TempDir dir;
    json config = tinyLlamaConfig();
    c.edit(config);
    writeConfig(dir, config);
    std::string message =
        expectError([&] { describeCheckpoint(dir.path()); }, {});
    for (const std::string &fragment : c.fragments)
      EXPECT_NE(message.find(fragment), std::string::npos)
          << c.label << ": " << message;
  }
  TempDir empty;
  expectError([&] { describeCheckpoint(empty.path()); }, {"no config.json"});
}

} // namespace
} // namespace awq::test
