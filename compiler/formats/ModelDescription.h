//===- ModelDescription.h - The model description the compiler consumes --===//
//
// A versioned JSON file ("awqc_model_description": 1) listing a model's
// quantized linears, which of them share one input (an input group), the op
// that produces each input, optional epilogues (SiLU(gate) * up pairs,
// residual adds), and where the weights are. docs/formats.md has the schema.
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_COMPILER_FORMATS_MODELDESCRIPTION_H
#define AWQ_COMPILER_FORMATS_MODELDESCRIPTION_H

#include "runtime/support/QuantizedLinear.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace awq {

/// The schema version this code reads and writes.
constexpr int kModelDescriptionVersion = 1;

/// The most layers and input groups one description may hold (a 1024-block
/// model has 7168 linears; the largest public LLMs have about 130 blocks).
/// Larger counts are refused before any work is sized by them.
constexpr size_t kMaxDescriptionEntries = size_t(1) << 16;

/// The most transformer blocks a config.json may declare.
constexpr int64_t kMaxBlocks = 1024;

/// What produces the activations an input group consumes.
enum class ProducerKind {
  RmsNorm,
  LayerNorm,
  Linear,
  Activation,
  Embedding,
  Input
};

/// JSON spelling: "rms_norm", "layer_norm", "linear", "activation",
/// "embedding", "input".
const char *producerKindName(ProducerKind kind);

struct Producer {
  ProducerKind kind = ProducerKind::Input;
  /// The op's name; for kind Linear the name of a layer of this description.
  std::string name;
  /// Weight tensor (rms_norm, layer_norm, embedding: required; else empty).
  std::string weight;
  /// Bias tensor (layer_norm only, optional).
  std::string bias;
  /// rms_norm and layer_norm: required, > 0; else 0.
  double epsilon = 0;
  /// activation only (optional): layers whose outputs the op consumes, e.g.
  /// q, k, v for attention or gate, up for silu_mul.
  std::vector<std::string> inputs;
};

/// A set of layers that read the same activations.
struct InputGroup {
  std::string name;
  Producer producer;
  /// Optional per-input-channel tensor [K], a = 1/s, the input is multiplied by
  /// (AWQ scales that could not be folded into the producer); empty when none.
  std::string activationScale;
};

enum class EpilogueKind { None, SiluMul, ResidualAdd };
enum class SiluMulRole { Gate, Up };

/// What happens to a layer's output right after the GEMM.
struct Epilogue {
  EpilogueKind kind = EpilogueKind::None;
  /// SiluMul: this layer's role in SiLU(gate) * up and the other layer.
  SiluMulRole role = SiluMulRole::Gate;
  std::string partner;
  /// ResidualAdd: name of the residual stream added to the output.
  std::string residual;
};

/// awqc quantize's settings for one layer (the layer's `"quantize"` object).
/// They win over the command line (--method, --bits, --group) and over the
/// widths --target-bits chooses. Every layer of an input group must give the
/// same values (the group is quantized together and merged into kernels).
struct QuantizeOverride {
  /// "rtn", "awq", "gptq" or "awq-gptq"; empty when not given.
  std::string method;
  int bits = 0;          ///< 3, 4 or 8; 0 when not given.
  int64_t groupSize = 0; ///< As group_size; 0 when not given.

  bool empty() const { return method.empty() && !bits && !groupSize; }
  bool operator==(const QuantizeOverride &other) const {
    return method == other.method && bits == other.bits &&
           groupSize == other.groupSize;
  }
  bool operator!=(const QuantizeOverride &other) const {
    return !(*this == other);
  }
};

struct LayerDescription {
  std::string name;
  int64_t k = 0;
  int64_t n = 0;
  int bits = 4;
  /// As written: a positive divisor of k, or -1 for one group per column.
  int64_t groupSize = 128;
  bool zeroPoint = true;
  bool bias = false;
  std::string inputGroup;
  /// Tensor name prefix in the checkpoint (`<weights>.qweight`, ...).
  std::string weights;
  Epilogue epilogue;
  /// awqc quantize leaves the layer out of the clip search (it always does
  /// for the first two inputs of an attention producer, q and k).
  bool skipClip = false;
  /// awqc quantize's per-layer method, bits and group size.
  QuantizeOverride quantize;

  /// The resolved QuantParams (group size -1 becomes k).
  QuantParams params() const;
};

struct CheckpointLocation {
  /// Directory (or file) relative to the description file, or absolute.
  std::string path;
  /// "awq" or "gptq".
  std::string format = "awq";
};

/// The description's "dtype" spelling of `type` (Hugging Face's torch_dtype
/// names): "float16" or "bfloat16".
const char *descriptionDtypeName(ActivationType type);

struct ModelDescription {
  int version = kModelDescriptionVersion;
  std::string name;
  /// The element type of activations and 16-bit parameters ("dtype":
  /// "float16", the default, or "bfloat16").
  ActivationType activation = ActivationType::F16;
  CheckpointLocation checkpoint;
  std::vector<InputGroup> inputGroups;
  std::vector<LayerDescription> layers;

  const LayerDescription *findLayer(std::string_view name) const;
  const InputGroup *findInputGroup(std::string_view name) const;
  /// The layers of one input group, in description order.
  std::vector<const LayerDescription *>
  layersOfGroup(std::string_view group) const;
};

/// Reads and validates a description file. Every problem throws awq::Error
/// naming `path`, the JSON path (e.g. `layers[3].group_size`) and what was
/// expected: type, range, divisibility, unknown reference, duplicate name,
/// unknown field, unsupported version, inconsistent pairing, or a cycle.
ModelDescription parseModelDescription(const std::string &path);

/// The same validation on an in-memory document; `source` names it.
ModelDescription parseModelDescriptionJson(const nlohmann::json &document,
                                           const std::string &source);

nlohmann::json modelDescriptionToJson(const ModelDescription &description);

/// Validates `description` (the same rules as parsing) and writes it
/// atomically to `path`.
void writeModelDescription(const ModelDescription &description,
                           const std::string &path);

/// The checkpoint location resolved against the description file's
/// directory.
std::string resolveCheckpointPath(const ModelDescription &description,
                                  const std::string &descriptionPath);

/// Derives the description of a LLaMA-style Hugging Face checkpoint
/// (architectures LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM)
/// from `dir`/config.json and its quantization settings. Per block:
/// input_layernorm -> q, k, v; attention -> o (+ residual); post-attention
/// norm -> gate, up (silu_mul pair); SiLU(gate) * up -> down (+ residual).
/// When the directory holds weights, each layer's tensors must exist with
/// matching K and N, and `bias` follows the presence of `<layer>.bias`.
/// The checkpoint path is `dir` as given.
ModelDescription describeCheckpoint(const std::string &dir);

} // namespace awq

#endif // AWQ_COMPILER_FORMATS_MODELDESCRIPTION_H
