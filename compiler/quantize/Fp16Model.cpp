//===- Fp16Model.cpp - The unquantized model awqc quantize starts from ----===//

#include "compiler/quantize/Fp16Model.h"

#include "awq/contract.h"

#include "compiler/formats/AwqPacking.h"
#include "compiler/formats/JsonFields.h"
#include "compiler/formats/LlamaConfig.h"
#include "runtime/support/Error.h"

#include <filesystem>
#include <map>
#include <set>

namespace awq {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

/// The structure of a LLaMA-style model, named exactly as describeCheckpoint
/// names it (both use appendLlamaBlocks), so the description written next to
/// the quantized checkpoint matches what the compiler derives from it.
/// Quantization settings and biases are filled in later from the options and
/// the tensors.
ModelDescription describeLlama(const LlamaConfig &shape,
                               const std::string &name) {
  ModelDescription description;
  description.name = name;
  appendLlamaBlocks(shape, LayerDescription(), description);
  return description;
}

bool isFloatType(DType dtype) {
  return dtype == DType::F16 || dtype == DType::BF16 || dtype == DType::F32;
}

std::string tensorWhere(const TensorView &view) {
  return std::string(view.file) + ": tensor '" + view.name + "'";
}

/// Checks the layer's FP16 tensors; returns whether it has a bias.
bool checkLayerTensors(const SafeTensorsCheckpoint &weights,
                       const LayerDescription &layer,
                       const std::string &shapeSource) {
  const std::string name = layer.weights + ".weight";
  const TensorView *weight = weights.find(name);
  if (!weight) {
    if (weights.find(layer.weights + ".qweight"))
      throw Error(weights.source() + ": layer '" + layer.name +
                  "' is already quantized ('" + layer.weights +
                  ".qweight'); awqc quantize needs FP16, BF16 or F32 "
                  "'.weight' tensors");
    throw Error(weights.source() + ": missing tensor '" + name +
                "' of layer '" + layer.name + "' (expected [N, K] = [" +
                std::to_string(layer.n) + ", " + std::to_string(layer.k) +
                "] from " + shapeSource + ")");
  }
  if (!isFloatType(weight->dtype))
    throw Error(tensorWhere(*weight) +
                ": expected dtype F16, BF16 or F32, got " +
                dtypeName(weight->dtype));
  const std::vector<int64_t> expected = {layer.n, layer.k};
  if (weight->shape != expected)
    throw Error(tensorWhere(*weight) + ": expected shape [N, K] = " +
                formatShape(expected) + " (from " + shapeSource + "), got " +
                dtypeName(weight->dtype) + " " + formatShape(weight->shape));
  const TensorView *bias = weights.find(layer.weights + ".bias");
  if (bias) {
    if (!isFloatType(bias->dtype))
      throw Error(tensorWhere(*bias) +
                  ": expected dtype F16, BF16 or F32, got " +
                  dtypeName(bias->dtype));
    if (bias->shape != std::vector<int64_t>{layer.n})
      throw Error(tensorWhere(*bias) + ": expected shape [N] = [" +
                  std::to_string(layer.n) + "], got " +
                  formatShape(bias->shape));
  }
  return bias != nullptr;
}

/// Resolves each layer's settings: its "quantize" override, else the
/// command line's, else the description's (a Hugging Face directory: 4 bits,
/// group 128, zero point). Checks that the layers of an input group agree
/// (they are quantized together and merged into kernels) and that one
/// zero_point covers the model (config.json states one). Returns the first
/// layer's settings.
UniformQuantSettings applySettings(ModelDescription &description,
                                   const QuantSettingsOverride &overrides,
                                   bool fromDescription,
                                   const std::string &source) {
  if (overrides.bits && *overrides.bits != 3 && *overrides.bits != 4 &&
      *overrides.bits != 8)
    throw Error("--bits must be 3, 4 or 8, got " +
                std::to_string(*overrides.bits));
  if (overrides.groupSize && *overrides.groupSize != -1 &&
      *overrides.groupSize <= 0)
    throw Error("--group must be -1 or positive, got " +
                std::to_string(*overrides.groupSize));
  const UniformQuantSettings defaults;
  std::map<std::string, const LayerDescription *> firstOfGroup;
  const LayerDescription *first = nullptr;
  for (LayerDescription &layer : description.layers) {
    const QuantizeOverride &own = layer.quantize;
    layer.bits = own.bits          ? own.bits
                 : overrides.bits  ? *overrides.bits
                 : fromDescription ? layer.bits
                                   : defaults.bits;
    layer.groupSize = own.groupSize         ? own.groupSize
                      : overrides.groupSize ? *overrides.groupSize
                      : fromDescription     ? layer.groupSize
                                            : defaults.groupSize;
    layer.zeroPoint = overrides.zeroPoint ? *overrides.zeroPoint
                      : fromDescription   ? layer.zeroPoint
                                          : defaults.zeroPoint;
    if (!first)
      first = &layer;
    // One AWQ checkpoint has one zero_point.
    if (layer.zeroPoint != first->zeroPoint)
      throw Error(source + ": layer '" + layer.name + "' and layer '" +
                  first->name +
                  "' differ in zero_point (pass --symmetric or not); one AWQ "
                  "checkpoint holds one zero point setting for all layers");
    auto [it, isFirst] = firstOfGroup.emplace(layer.inputGroup, &layer);
    const LayerDescription &groupFirst = *it->second;
    if (!isFirst) {
      const bool bitsDiffer = layer.bits != groupFirst.bits;
      if (bitsDiffer || layer.groupSize != groupFirst.groupSize)
        throw Error(
            source + ": layer '" + layer.name + "' has " +
            (bitsDiffer ? "bits " + std::to_string(layer.bits)
                        : "group_size " + std::to_string(layer.groupSize)) +
            " but layer '" + groupFirst.name + "' of the same input group '" +
            layer.inputGroup + "' has " +
            (bitsDiffer ? std::to_string(groupFirst.bits)
                        : std::to_string(groupFirst.groupSize)) +
            "; the layers of an input group are quantized together and "
            "merged into kernels: give them the same " +
            (bitsDiffer ? "bits (or pass --bits)"
                        : "group_size (or pass --group)"));
    }
    const std::string what = source + ": layer '" + layer.name + "'";
    // The kernels' rule (awq/contract.h), checked before any work so that
    // every checkpoint awqc writes also compiles.
    if (layer.groupSize != -1 &&
        !isSupportedGroupSize(layer.k, layer.groupSize))
      throw Error(what + ": group size " + std::to_string(layer.groupSize) +
                  " must be K or a multiple of 32 that divides K = " +
                  std::to_string(layer.k) +
                  " (use --group 32, 64, 128, ... dividing every K, or -1)");
    // Fails here, before any work, rather than when packing the result. A
    // width --target-bits may choose is checked when it is chosen.
    awqPackedWords(layer.n, layer.bits,
                   what + " (N = " + std::to_string(layer.n) + ")");
  }
  if (!first)
    return defaults;
  return {first->bits, first->groupSize, first->zeroPoint};
}

std::string directoryName(const fs::path &dir) {
  fs::path named = dir.lexically_normal();
  if (named.filename().empty())
    named = named.parent_path();
  std::string name = named.filename().string();
  if (name.empty() || name == "." || name == "..")
    name = fs::absolute(dir).lexically_normal().filename().string();
  return name.empty() ? "model" : name;
}

} // namespace

const TensorView &Fp16Model::weightOf(const LayerDescription &layer) const {
  return weights->get(layer.weights + ".weight");
}

const TensorView *Fp16Model::biasOf(const LayerDescription &layer) const {
  return layer.bias ? weights->find(layer.weights + ".bias") : nullptr;
}

Fp16Model openFp16Model(const std::string &path,
                        const QuantSettingsOverride &overrides) {
  Fp16Model model;
  model.source = path;
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    model.huggingFace = true;
    const fs::path dir(path);
    model.configFile = (dir / "config.json").string();
    if (!fs::exists(model.configFile, ec))
      throw Error(path + ": no config.json; expected a Hugging Face "
                         "checkpoint directory or a model description file");
    model.config = readJsonFile(model.configFile);
    if (model.config.is_object() &&
        model.config.contains("quantization_config"))
      throw Error(model.configFile + ": quantization_config: the model is "
                                     "already quantized; awqc quantize needs "
                                     "an FP16, BF16 or F32 checkpoint");
    const LlamaConfig shape = readLlamaConfig(model.config, model.configFile);
    model.description = describeLlama(shape, directoryName(dir));
    model.weights = std::make_unique<SafeTensorsCheckpoint>(
        SafeTensorsCheckpoint::open(path));
  } else if (fs::is_regular_file(path, ec)) {
    model.description = parseModelDescription(path);
    const std::string checkpoint =
        resolveCheckpointPath(model.description, path);
    model.weights = std::make_unique<SafeTensorsCheckpoint>(
        SafeTensorsCheckpoint::open(checkpoint));
    // The model config travels with the weights when there is one.
    const fs::path checkpointDir = fs::is_directory(checkpoint, ec)
                                       ? fs::path(checkpoint)
                                       : fs::path(checkpoint).parent_path();
    const fs::path config = checkpointDir / "config.json";
    if (fs::is_regular_file(config, ec)) {
      model.configFile = config.string();
      model.config = readJsonFile(model.configFile);
      if (!model.config.is_object())
        throw Error(model.configFile + ": expected a JSON object");
      if (model.config.contains("quantization_config"))
        throw Error(model.configFile + ": quantization_config: the model is "
                                       "already quantized; awqc quantize "
                                       "needs FP16, BF16 or F32 weights");
    }
  } else {
    throw Error(path + ": no such file or directory (expected a Hugging Face "
                       "checkpoint directory or a model description file)");
  }

  const std::string shapeSource =
      model.huggingFace ? model.configFile : model.source;
  model.settings = applySettings(model.description, overrides,
                                 !model.huggingFace, shapeSource);
  for (LayerDescription &layer : model.description.layers) {
    const bool hasBias = checkLayerTensors(*model.weights, layer, shapeSource);
    if (model.huggingFace) {
      layer.bias = hasBias;
    } else if (layer.bias != hasBias) {
      throw Error(model.source + ": layer '" + layer.name +
                  "' has bias: " + (layer.bias ? "true" : "false") +
                  " but the checkpoint " + (hasBias ? "has" : "has no") +
                  " tensor '" + layer.weights + ".bias'");
    }
  }
  // The output description must pass the compiler's own checks.
  model.description.checkpoint = {".", "awq"};
  parseModelDescriptionJson(modelDescriptionToJson(model.description),
                            shapeSource + " (derived description)");
  return model;
}

} // namespace awq
