//===- Fp16Model.h - The unquantized model awqc quantize starts from ------===//
//
// `awqc quantize` reads an FP16/BF16/F32 model in one of two forms:
//  - a Hugging Face LLaMA-style directory (config.json naming
//    LlamaForCausalLM, MistralForCausalLM or Qwen2ForCausalLM, plus
//    safetensors, possibly sharded), whose structure is derived the way
//    describeCheckpoint derives it for quantized checkpoints;
//  - a model description JSON whose checkpoint holds `<weights>.weight`
//    [N, K] (and `<weights>.bias` [N]) tensors.
// Either way the result is a ModelDescription with the requested
// quantization settings plus zero-copy views of the weights, all checked.
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_COMPILER_QUANTIZE_FP16MODEL_H
#define AWQ_COMPILER_QUANTIZE_FP16MODEL_H

#include "compiler/formats/ModelDescription.h"
#include "compiler/quantize/ModelPlan.h"
#include "runtime/formats/SafeTensors.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace awq {

struct Fp16Model {
  std::string source;       ///< The path given.
  bool huggingFace = false; ///< A config.json directory (else a description).
  /// Layers, input groups and epilogues, with the final settings.
  ModelDescription description;
  UniformQuantSettings settings;
  /// The Hugging Face config.json object (empty object when there is none).
  nlohmann::json config = nlohmann::json::object();
  std::string configFile; ///< Empty when there is no config.json.
  std::unique_ptr<SafeTensorsCheckpoint> weights;

  /// `<weights>.weight` of `layer` (checked when the model was opened).
  const TensorView &weightOf(const LayerDescription &layer) const;
  /// `<weights>.bias`, or nullptr when the layer has none.
  const TensorView *biasOf(const LayerDescription &layer) const;
};

/// Opens and checks the model at `path` (a directory with config.json, or a
/// model description file). Every layer's weight must exist with dtype F16,
/// BF16 or F32 and shape [N, K]; the settings must be valid for every layer
/// (group size divides K, N fits the bit packing). Throws awq::Error naming
/// the file, tensor or field on any problem.
Fp16Model openFp16Model(const std::string &path,
                        const QuantSettingsOverride &overrides);

} // namespace awq

#endif // AWQ_COMPILER_QUANTIZE_FP16MODEL_H
