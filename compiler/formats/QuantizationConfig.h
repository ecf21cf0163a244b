//===- QuantizationConfig.h - quantization_config of AWQ/GPTQ checkpoints -===//
//
// Reads the quantization settings of a Hugging Face checkpoint directory from
// config.json's `quantization_config`, GPTQ's `quantize_config.json` or
// older AutoAWQ's `quant_config.json`, and writes the AWQ form back.
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_COMPILER_FORMATS_QUANTIZATIONCONFIG_H
#define AWQ_COMPILER_FORMATS_QUANTIZATIONCONFIG_H

#include "runtime/support/QuantizedLinear.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace awq {

enum class QuantMethod { Awq, Gptq };

/// The `version` of AutoAWQ's gemm layout (4 bits only).
constexpr const char *kAwqGemmVersion = "gemm";
/// awqc's extension of the gemm layout to 3 and 8 bits (docs/formats.md).
constexpr const char *kAwqcGemmVersion = "awqc-gemm";

/// A layer's bits and group size where they differ from the checkpoint's
/// (a mixed-precision checkpoint of awqc quantize).
struct LayerQuantization {
  int bits = 4;
  int64_t groupSize = 128; ///< -1: one group per output column.
  bool operator==(const LayerQuantization &other) const {
    return bits == other.bits && groupSize == other.groupSize;
  }
};

struct QuantizationConfig {
  QuantMethod method = QuantMethod::Awq;
  int bits = 4;
  /// -1: one group per output column (G = K of each layer).
  int64_t groupSize = 128;
  /// AWQ `zero_point`; GPTQ `!sym`.
  bool zeroPoint = true;
  /// AWQ: "gemm" or "awqc-gemm" (lower case). GPTQ: checkpoint_format,
  /// "gptq" (zeros stored minus one) or "gptq_v2" (zeros stored as is).
  std::string version = kAwqGemmVersion;
  /// GPTQ act-order; only the trivial g_idx is supported.
  bool descAct = false;
  /// Module names (or name fragments) left unquantized.
  std::vector<std::string> modulesToNotConvert;
  /// AWQ `awqc_layers`: tensor prefix -> the layer's own bits and group size
  /// (only with version "awqc-gemm"; the other layers use bits, group_size).
  std::map<std::string, LayerQuantization> layers;
  /// The file the settings came from, for messages.
  std::string source;

  /// The QuantParams of a layer with `k` input features (its `layers`
  /// entry, else the checkpoint's settings). Throws awq::Error naming
  /// `layer` when the group size does not divide k.
  QuantParams paramsFor(int64_t k, const std::string &layer) const;
};

/// Reads the settings of the checkpoint in `dir`: config.json's
/// `quantization_config` when present, else `quantize_config.json` (GPTQ),
/// else `quant_config.json` (older AutoAWQ). Validates bits, group size and
/// version per method; throws awq::Error naming the file and field.
QuantizationConfig readQuantizationConfig(const std::string &dir);

/// Parses a quantization_config object. `path` is its JSON path in `file`
/// (empty for a top-level object); `impliedMethod` is used when the object
/// has no `quant_method` (quantize_config.json / quant_config.json).
QuantizationConfig
parseQuantizationConfig(const nlohmann::json &object, const std::string &file,
                        const std::string &path,
                        std::optional<QuantMethod> impliedMethod);

/// The config.json `quantization_config` object for an AWQ checkpoint.
nlohmann::json awqQuantizationConfigJson(const QuantizationConfig &config);

} // namespace awq

#endif // AWQ_COMPILER_FORMATS_QUANTIZATIONCONFIG_H
