//===- LlamaConfig.h - The block structure of a LLaMA-style config.json ---===//
//
// Hugging Face config.json fields of LLaMA, Mistral and Qwen2 models that
// fix the shapes of one decoder block, validated with errors naming the
// file and field. Shared by describeCheckpoint (quantized checkpoints) and
// awqc quantize (FP16 models).
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_COMPILER_FORMATS_LLAMACONFIG_H
#define AWQ_COMPILER_FORMATS_LLAMACONFIG_H

#include "compiler/formats/ModelDescription.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

namespace awq {

/// The sizes and bias flags of one LLaMA-style block.
struct LlamaConfig {
  std::string architecture;
  int64_t hidden = 0;
  int64_t intermediate = 0;
  int64_t heads = 0;
  int64_t kvHeads = 0;
  int64_t headDim = 0;
  int64_t blocks = 0;
  double epsilon = 0;
  bool attentionBias = false; ///< q, k, v (and o unless Qwen2).
  bool outputBias = false;    ///< o_proj.
  bool mlpBias = false;
};

/// Reads `config` (the parsed config.json at `file`). Throws awq::Error on a
/// missing or ill-typed field, an unsupported architecture, heads that do
/// not divide, or a non-positive epsilon.
LlamaConfig readLlamaConfig(const nlohmann::json &config,
                            const std::string &file);

/// Appends the input groups and layers of `config`'s blocks to
/// `description`, named as Hugging Face names the tensors: per block
/// input_layernorm -> q, k, v; attention -> o (+ residual); post-attention
/// norm -> gate, up (a silu_mul pair); SiLU(gate) * up -> down (+ residual).
/// Layers take bits, group size and zero point from `quantization`, and
/// their bias flags from the config.
void appendLlamaBlocks(const LlamaConfig &config,
                       const LayerDescription &quantization,
                       ModelDescription &description);

} // namespace awq

#endif // AWQ_COMPILER_FORMATS_LLAMACONFIG_H
