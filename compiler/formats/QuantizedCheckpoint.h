//===- QuantizedCheckpoint.h - AutoAWQ/GPTQ checkpoints <-> QuantizedLinear
//===//
//
// Import and export of whole quantized checkpoints: a set of named quantized
// linears (AutoAWQ "gemm" tensors, awqc's 3/8-bit extension, or GPTQ on
// import), named unquantized tensors (norms, embeddings, lm_head), and
// config.json. Export followed by import returns exactly the same integers,
// zeros and scales.
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_COMPILER_FORMATS_QUANTIZEDCHECKPOINT_H
#define AWQ_COMPILER_FORMATS_QUANTIZEDCHECKPOINT_H

#include "compiler/formats/QuantizationConfig.h"
#include "runtime/formats/SafeTensors.h"
#include "runtime/formats/SafeTensorsWriter.h"
#include "runtime/support/QuantizedLinear.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace awq {

/// An owned tensor (any dtype), e.g. an fp16 norm weight.
struct HostTensor {
  DType dtype = DType::F16;
  std::vector<int64_t> shape;
  std::vector<uint8_t> data; ///< Little-endian, row-major.

  /// Copies a view's bytes.
  static HostTensor fromView(const TensorView &view);
};

/// The safetensors dtype of `activation`'s bits: F16 or BF16.
inline DType activationDType(ActivationType activation) {
  return activation == ActivationType::BF16 ? DType::BF16 : DType::F16;
}

/// One layer packed in the AutoAWQ gemm tensor naming:
/// qweight I32 [K, W], qzeros I32 [K/G, W], scales F16 or BF16 [K/G, N] and
/// optional bias [N] of the scales' dtype, where W = awqPackedWords(N, bits).
struct AwqLayerTensors {
  int64_t k = 0;
  int64_t n = 0;
  int64_t groups = 0;
  int64_t words = 0;
  std::vector<int32_t> qweight;
  std::vector<int32_t> qzeros;
  std::vector<uint16_t> scales;
  std::vector<uint16_t> bias;
  /// The dtype of scales and bias.
  ActivationType activation = ActivationType::F16;

  /// Appends `<prefix>.qweight`, `.qzeros`, `.scales` (and `.bias`) views of
  /// this object's buffers, which must outlive `out`.
  void appendRefs(const std::string &prefix, std::vector<TensorRef> &out) const;
};

/// The tensors AwqLayerTensors::appendRefs writes for a layer of these
/// dimensions, without data: names, dtypes and shapes, so a checkpoint can be
/// laid out before its layers are quantized.
std::vector<TensorRef>
awqLayerTensorLayout(const std::string &prefix, int64_t k, int64_t n,
                     const QuantParams &params, bool hasBias,
                     ActivationType activation = ActivationType::F16);

/// Packs `layer` (validated first; errors name `name`). A symmetric layer
/// stores the implicit zero 2^(bits-1) explicitly, as AutoAWQ always stores
/// zeros.
AwqLayerTensors packAwqLayer(const QuantizedLinear &layer,
                             const std::string &name);

/// Reads the AWQ layer `<prefix>.qweight/.qzeros/.scales[/.bias]` from
/// `checkpoint` with the bits, group size and zero_point of `config`. With
/// zero_point false the stored zeros must all be 2^(bits-1). Throws
/// awq::Error naming the file and tensor on a missing tensor, wrong dtype or
/// shape, or a group size that does not divide K.
QuantizedLinear unpackAwqLayer(const SafeTensorsCheckpoint &checkpoint,
                               const std::string &prefix,
                               const QuantizationConfig &config);

/// Reads the GPTQ layer `<prefix>.qweight/.qzeros/.scales[/.g_idx][/.bias]`
/// (desc_act false: g_idx must map row k to group k / G). Zeros are stored
/// minus one (checkpoint_format "gptq", read modulo 2^bits) or as is
/// ("gptq_v2"). With sym true the zeros must all be 2^(bits-1).
QuantizedLinear unpackGptqLayer(const SafeTensorsCheckpoint &checkpoint,
                                const std::string &prefix,
                                const QuantizationConfig &config);

/// A tensor a compiled model reads from its checkpoint: a quantized layer
/// (K x N with its quantization) or a vector of `length` elements, with the
/// activation type its scales (and bias) or elements are stored in.
struct ExpectedTensor {
  std::string name;
  bool quantized = false;
  int64_t k = 0, n = 0;
  QuantParams params;
  int64_t length = 0;
  ActivationType activation = ActivationType::F16;
};

/// Checks, from the safetensors headers alone (no weight data is read),
/// that `checkpoint` holds every tensor in `expected` with the dtype and
/// shape its format (`config`: AWQ or GPTQ) gives the expected layer, and
/// that config.json's quantization settings are the expected ones. Throws
/// awq::Error naming the file, tensor and shapes on the first mismatch.
void checkCheckpointTensors(const SafeTensorsCheckpoint &checkpoint,
                            const QuantizationConfig &config,
                            const std::vector<ExpectedTensor> &expected);

/// A whole quantized checkpoint.
struct QuantizedCheckpoint {
  /// Settings as read on import. On export, bits, group size, zero point and
  /// version are derived from the layers; only modulesToNotConvert is used.
  QuantizationConfig quantization;
  /// config.json without `quantization_config` (architecture, sizes...).
  nlohmann::json config = nlohmann::json::object();
  /// Quantized linears by module name (tensor prefix), e.g.
  /// "model.layers.0.self_attn.q_proj".
  std::map<std::string, QuantizedLinear> linears;
  /// Every other tensor by full name.
  std::map<std::string, HostTensor> tensors;
};

/// Imports an AutoAWQ (or awqc 3/8-bit) checkpoint directory, single-file or
/// sharded. Every `*.qweight` tensor starts a quantized linear.
QuantizedCheckpoint importAwqCheckpoint(const std::string &dir);

/// Imports a GPTQ checkpoint directory (4 or 8 bits, desc_act false).
QuantizedCheckpoint importGptqCheckpoint(const std::string &dir);

/// Imports either, as the directory's quant_method says.
QuantizedCheckpoint importQuantizedCheckpoint(const std::string &dir);

struct AwqExportOptions {
  /// 0: one model.safetensors; else shards of at most this many data bytes.
  uint64_t maxShardBytes = 0;
};

/// Writes `checkpoint` into `dir` (created if missing) as safetensors plus
/// config.json with an AWQ quantization_config: version "gemm" for 4 bits
/// (loadable by AutoAWQ, vLLM, transformers), "awqc-gemm" for 3 and 8 bits.
/// All layers must share bits and zero point, and either one group size or
/// all one group per column (written as -1). Every file is written to a
/// temporary name and renamed; config.json is written last.
void exportAwqCheckpoint(const QuantizedCheckpoint &checkpoint,
                         const std::string &dir,
                         const AwqExportOptions &options = {});

} // namespace awq

#endif // AWQ_COMPILER_FORMATS_QUANTIZEDCHECKPOINT_H
