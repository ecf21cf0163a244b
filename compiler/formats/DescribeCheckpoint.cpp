//===- DescribeCheckpoint.cpp - Model description of a LLaMA-style model --===//
//
// Derives the layers, input groups and epilogues of LLaMA, Mistral and Qwen2
// checkpoints from their Hugging Face config.json, and cross-checks them
// against the weights when the directory has them.
//
//===----------------------------------------------------------------------===//

#include "compiler/formats/JsonFields.h"
#include "compiler/formats/LlamaConfig.h"
#include "compiler/formats/ModelDescription.h"
#include "compiler/formats/QuantizationConfig.h"
#include "runtime/formats/SafeTensors.h"
#include "runtime/support/Error.h"

#include <filesystem>
#include <optional>

namespace awq {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

bool hasWeights(const fs::path &dir) {
  if (fs::exists(dir / "model.safetensors") ||
      fs::exists(dir / "model.safetensors.index.json"))
    return true;
  std::error_code ec;
  for (const fs::directory_entry &entry : fs::directory_iterator(dir, ec))
    if (entry.path().extension() == ".safetensors")
      return true;
  return false;
}

/// Checks that the checkpoint holds `layer` with its K and N; returns
/// whether it has a bias.
bool checkLayerWeights(const SafeTensorsCheckpoint &weights,
                       const LayerDescription &layer, QuantMethod method,
                       const std::string &configFile) {
  const TensorView *qweight = weights.find(layer.weights + ".qweight");
  const TensorView *scales = weights.find(layer.weights + ".scales");
  const std::string expected = "layer '" + layer.name +
                               "' (K = " + std::to_string(layer.k) +
                               ", N = " + std::to_string(layer.n) + ")";
  if (!qweight || !scales)
    throw Error(weights.source() + ": " + configFile + " implies " + expected +
                " but the checkpoint has no tensor '" + layer.weights +
                (qweight ? ".scales'" : ".qweight'"));
  // Rows of qweight give K (AWQ: K; GPTQ: K * bits / 32), scales give N.
  const int64_t rowsPerK = method == QuantMethod::Awq ? 1 : 32 / layer.bits;
  if (qweight->shape.size() != 2 || scales->shape.size() != 2 ||
      qweight->shape[0] * rowsPerK != layer.k || scales->shape[1] != layer.n)
    throw Error(std::string(qweight->file) + ": " + configFile + " implies " +
                expected + " but qweight is " + formatShape(qweight->shape) +
                " and scales " + formatShape(scales->shape));
  return weights.find(layer.weights + ".bias") != nullptr;
}

LayerDescription makeLayer(const std::string &name, int64_t k, int64_t n,
                           const std::string &group,
                           const QuantizationConfig &quantization, bool bias) {
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

ModelDescription describeCheckpoint(const std::string &dir) {
  const fs::path directory(dir);
  const std::string configFile = (directory / "config.json").string();
  if (!fs::exists(configFile))
    throw Error(dir + ": no config.json; describeCheckpoint needs a Hugging "
                      "Face checkpoint directory");
  const LlamaConfig shape = readLlamaConfig(readJsonFile(configFile), configFile);
  const QuantizationConfig quantization = readQuantizationConfig(dir);

  ModelDescription description;
  fs::path named = directory.lexically_normal();
  if (named.filename().empty())
    named = named.parent_path();
  description.name = named.filename().string();
  description.checkpoint.path = dir;
  description.checkpoint.format =
      quantization.method == QuantMethod::Awq ? "awq" : "gptq";

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

  // AutoAWQ skips a module when any entry is a substring of its name.
  for (const LayerDescription &layer : description.layers)
    for (const std::string &skip : quantization.modulesToNotConvert)
      if (layer.name.find(skip) != std::string::npos)
        throw Error(quantization.source + ": modules_to_not_convert entry '" +
                    skip + "' leaves layer '" + layer.name +
                    "' unquantized; the model description covers only "
                    "quantized linears of the blocks");

  if (hasWeights(directory)) {
    SafeTensorsCheckpoint weights = SafeTensorsCheckpoint::open(dir);
    for (LayerDescription &layer : description.layers)
      layer.bias =
          checkLayerWeights(weights, layer, quantization.method, configFile);
  }

  // Group sizes that do not divide K and similar surface here, naming the
  // derived field.
  parseModelDescriptionJson(modelDescriptionToJson(description),
                            configFile + " (derived description)");
  return description;
}

} // namespace awq
