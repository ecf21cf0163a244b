//===- LlamaConfig.cpp - The block structure of a LLaMA-style config.json -===//
#include "compiler/formats/LlamaConfig.h"

#include "compiler/formats/JsonFields.h"

#include <optional>

namespace awq {

using nlohmann::json;

namespace {

constexpr const char *kSupportedArchitectures[] = {
    "LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM"};

} // namespace

LlamaConfig readLlamaConfig(const json &config, const std::string &file) {
  const JsonField root(config, file, "");
  root.requireObject();
  LlamaConfig shape;
  const JsonField architectures = root.field("architectures");
  const size_t count = architectures.requireArray();
  for (size_t i = 0; i < count && shape.architecture.empty(); ++i) {
    const std::string name = architectures.element(i).asString();
    for (const char *supported : kSupportedArchitectures)
      if (name == supported)
        shape.architecture = name;
  }
  if (shape.architecture.empty())
    architectures.fail("a list containing LlamaForCausalLM, "
                       "MistralForCausalLM or Qwen2ForCausalLM");

  constexpr int64_t kMax = (int64_t(1) << 31) - 1;
  const JsonField hidden = root.field("hidden_size");
  shape.hidden = hidden.asInt(1, kMax);
  shape.intermediate = root.field("intermediate_size").asInt(1, kMax);
  shape.heads = root.field("num_attention_heads").asInt(1, kMax);
  shape.kvHeads = shape.heads;
  if (std::optional<JsonField> kv = root.optionalField("num_key_value_heads")) {
    shape.kvHeads = kv->asInt(1, shape.heads);
    if (shape.heads % shape.kvHeads != 0)
      kv->fail("a divisor of num_attention_heads = " +
               std::to_string(shape.heads));
  }
  shape.blocks = root.field("num_hidden_layers").asInt(1, 1 << 20);
  const JsonField epsilon = root.field("rms_norm_eps");
  shape.epsilon = epsilon.asNumber();
  if (!(shape.epsilon > 0))
    epsilon.fail("a positive number");
  if (std::optional<JsonField> headDim = root.optionalField("head_dim")) {
    shape.headDim = headDim->asInt(1, kMax);
  } else {
    if (shape.hidden % shape.heads != 0)
      hidden.failWith("not divisible by num_attention_heads = " +
                      std::to_string(shape.heads) +
                      " and there is no head_dim");
    shape.headDim = shape.hidden / shape.heads;
  }

  if (shape.architecture == "Qwen2ForCausalLM") {
    // Qwen2 always has q/k/v biases and none on o_proj.
    shape.attentionBias = true;
  } else {
    if (std::optional<JsonField> bias = root.optionalField("attention_bias"))
      shape.attentionBias = bias->asBool();
    shape.outputBias = shape.attentionBias;
  }
  if (std::optional<JsonField> bias = root.optionalField("mlp_bias"))
    shape.mlpBias = bias->asBool();
  return shape;
}

} // namespace awq
