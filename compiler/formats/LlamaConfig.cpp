//===- LlamaConfig.cpp - The block structure of a LLaMA-style config.json -===//
#include "compiler/formats/LlamaConfig.h"

#include "compiler/formats/ModelDescription.h"

#include "compiler/formats/JsonFields.h"

#include <optional>

namespace awq {

using nlohmann::json;

namespace {

constexpr const char *kSupportedArchitectures[] = {
    "LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM"};

LayerDescription makeLayer(const std::string &name, int64_t k, int64_t n,
                           const std::string &group,
                           const LayerDescription &quantization, bool bias) {
  LayerDescription layer;
  layer.name = name;
  layer.k = k;
  layer.n = n;
  layer.bits = quantization.bits;
  layer.groupSize = quantization.groupSize;
  layer.zeroPoint = quantization.zeroPoint;
  layer.bias = bias;
  layer.inputGroup = group;
  layer.weights = name;
  return layer;
}

InputGroup normGroup(const std::string &group, const std::string &norm,
                     double epsilon) {
  InputGroup result;
  result.name = group;
  result.producer.kind = ProducerKind::RmsNorm;
  result.producer.name = norm;
  result.producer.weight = norm + ".weight";
  result.producer.epsilon = epsilon;
  return result;
}

InputGroup activationGroup(const std::string &group, const std::string &op,
                           std::vector<std::string> inputs) {
  InputGroup result;
  result.name = group;
  result.producer.kind = ProducerKind::Activation;
  result.producer.name = op;
  result.producer.inputs = std::move(inputs);
  return result;
}

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
  shape.blocks = root.field("num_hidden_layers").asInt(1, kMaxBlocks);
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

void appendLlamaBlocks(const LlamaConfig &shape,
                       const LayerDescription &quantization,
                       ModelDescription &description) {
  const int64_t qWidth = shape.heads * shape.headDim;
  const int64_t kvWidth = shape.kvHeads * shape.headDim;
  for (int64_t block = 0; block < shape.blocks; ++block) {
    const std::string p = "model.layers." + std::to_string(block);
    const std::string attn = p + ".self_attn.", mlp = p + ".mlp.";
    const std::string attnIn = p + ".attn_input", attnOut = p + ".attn_output";
    const std::string mlpIn = p + ".mlp_input", mlpHidden = p + ".mlp_hidden";

    description.inputGroups.push_back(
        normGroup(attnIn, p + ".input_layernorm", shape.epsilon));
    description.inputGroups.push_back(
        activationGroup(attnOut, "attention",
                        {attn + "q_proj", attn + "k_proj", attn + "v_proj"}));
    description.inputGroups.push_back(
        normGroup(mlpIn, p + ".post_attention_layernorm", shape.epsilon));
    description.inputGroups.push_back(activationGroup(
        mlpHidden, "silu_mul", {mlp + "gate_proj", mlp + "up_proj"}));

    auto &layers = description.layers;
    layers.push_back(makeLayer(attn + "q_proj", shape.hidden, qWidth, attnIn,
                               quantization, shape.attentionBias));
    layers.push_back(makeLayer(attn + "k_proj", shape.hidden, kvWidth, attnIn,
                               quantization, shape.attentionBias));
    layers.push_back(makeLayer(attn + "v_proj", shape.hidden, kvWidth, attnIn,
                               quantization, shape.attentionBias));
    layers.push_back(makeLayer(attn + "o_proj", qWidth, shape.hidden, attnOut,
                               quantization, shape.outputBias));
    layers.back().epilogue.kind = EpilogueKind::ResidualAdd;
    layers.back().epilogue.residual = p + ".residual_input";

    layers.push_back(makeLayer(mlp + "gate_proj", shape.hidden,
                               shape.intermediate, mlpIn, quantization,
                               shape.mlpBias));
    layers.back().epilogue = {EpilogueKind::SiluMul, SiluMulRole::Gate,
                              mlp + "up_proj", ""};
    layers.push_back(makeLayer(mlp + "up_proj", shape.hidden,
                               shape.intermediate, mlpIn, quantization,
                               shape.mlpBias));
    layers.back().epilogue = {EpilogueKind::SiluMul, SiluMulRole::Up,
                              mlp + "gate_proj", ""};
    layers.push_back(makeLayer(mlp + "down_proj", shape.intermediate,
                               shape.hidden, mlpHidden, quantization,
                               shape.mlpBias));
    layers.back().epilogue.kind = EpilogueKind::ResidualAdd;
    layers.back().epilogue.residual = p + ".residual_attention";
  }
}

} // namespace awq
