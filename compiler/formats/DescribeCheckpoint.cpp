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
#include "compiler/formats/QuantizedCheckpoint.h"
#include "runtime/formats/SafeTensors.h"
#include "runtime/support/Error.h"

#include <filesystem>
#include <optional>
#include <set>

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

/// The activation type of a checkpoint without weights: config.json's
/// torch_dtype when it is "bfloat16", else fp16 (AutoAWQ stores fp16 scales).
ActivationType activationOfConfig(const json &config) {
  auto it = config.find("torch_dtype");
  return it != config.end() && it->is_string() &&
                 it->get<std::string>() == "bfloat16"
             ? ActivationType::BF16
             : ActivationType::F16;
}

/// Checks that the checkpoint holds `layer` with its K and N and scales (and
/// bias) of `dtype`; returns whether it has a bias.
bool checkLayerWeights(const SafeTensorsCheckpoint &weights,
                       const LayerDescription &layer, QuantMethod method,
                       const std::string &configFile, DType dtype) {
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
  // One model, one activation type: the first layer's scales set it.
  const TensorView *bias = weights.find(layer.weights + ".bias");
  for (const TensorView *view : {scales, bias})
    if (view && view->dtype != dtype)
      throw Error(std::string(view->file) + ": tensor '" + view->name +
                  "' has dtype " + dtypeName(view->dtype) +
                  " but the model's scales are " + dtypeName(dtype) +
                  ": a model has one activation type (F16 or BF16)");
  return bias != nullptr;
}

} // namespace

ModelDescription describeCheckpoint(const std::string &dir) {
  const fs::path directory(dir);
  const std::string configFile = (directory / "config.json").string();
  if (!fs::exists(configFile))
    throw Error(dir + ": no config.json; describeCheckpoint needs a Hugging "
                      "Face checkpoint directory");
  const json config = readJsonFile(configFile);
  const LlamaConfig shape = readLlamaConfig(config, configFile);
  const QuantizationConfig quantization = readQuantizationConfig(dir);

  ModelDescription description;
  fs::path named = directory.lexically_normal();
  if (named.filename().empty())
    named = named.parent_path();
  description.name = named.filename().string();
  description.checkpoint.path = dir;
  description.checkpoint.format =
      quantization.method == QuantMethod::Awq ? "awq" : "gptq";

  LayerDescription layerQuantization;
  layerQuantization.bits = quantization.bits;
  layerQuantization.groupSize = quantization.groupSize;
  layerQuantization.zeroPoint = quantization.zeroPoint;
  appendLlamaBlocks(shape, layerQuantization, description);
  // A mixed-precision checkpoint: each listed layer's own width.
  std::set<std::string> listed;
  for (LayerDescription &layer : description.layers) {
    auto own = quantization.layers.find(layer.weights);
    if (own == quantization.layers.end())
      continue;
    layer.bits = own->second.bits;
    layer.groupSize = own->second.groupSize;
    listed.insert(own->first);
  }
  for (const auto &entry : quantization.layers)
    if (!listed.count(entry.first))
      throw Error(quantization.source +
                  ": quantization_config.awqc_layers "
                  "names '" +
                  entry.first + "', which is no layer of the model");

  // AutoAWQ skips a module when any entry is a substring of its name.
  for (const LayerDescription &layer : description.layers)
    for (const std::string &skip : quantization.modulesToNotConvert)
      if (layer.name.find(skip) != std::string::npos)
        throw Error(quantization.source + ": modules_to_not_convert entry '" +
                    skip + "' leaves layer '" + layer.name +
                    "' unquantized; the model description covers only "
                    "quantized linears of the blocks");

  // The scales' dtype is the activation type (AutoAWQ writes fp16 scales
  // even for bf16 models, which then run in fp16 as AutoAWQ runs them);
  // without weights, config.json's torch_dtype.
  description.activation = activationOfConfig(config);
  if (hasWeights(directory)) {
    SafeTensorsCheckpoint weights = SafeTensorsCheckpoint::open(dir);
    const TensorView *first =
        description.layers.empty()
            ? nullptr
            : weights.find(description.layers.front().weights + ".scales");
    if (first && (first->dtype == DType::F16 || first->dtype == DType::BF16))
      description.activation = first->dtype == DType::BF16
                                   ? ActivationType::BF16
                                   : ActivationType::F16;
    const DType dtype = activationDType(description.activation);
    for (LayerDescription &layer : description.layers)
      layer.bias = checkLayerWeights(weights, layer, quantization.method,
                                     configFile, dtype);
  }

  // Group sizes that do not divide K and similar surface here, naming the
  // derived field.
  parseModelDescriptionJson(modelDescriptionToJson(description),
                            configFile + " (derived description)");
  return description;
}

} // namespace awq
