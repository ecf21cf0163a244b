//===- CheckpointFuzzer.cpp - Fuzz target: AutoAWQ and GPTQ unpackers -----===//
//
// The first byte chooses the checkpoint's quantization settings (method,
// bits, group size, zero point, layout version), written as config.json's
// quantization_config; the rest is the checkpoint's model.safetensors. The
// checkpoint is imported as a whole (every `*.qweight` unpacked by the AWQ
// or GPTQ reader). Every layer the importer accepts must be valid, must
// pass the header-only check the compiler runs before compiling
// (checkCheckpointTensors), and, for AWQ, must pack again.
//
//===----------------------------------------------------------------------===//
#include "compiler/formats/QuantizedCheckpoint.h"
#include "runtime/support/Error.h"
#include "test/fuzz/FuzzSupport.h"

using namespace awq;

namespace {

/// The quantization_config the settings byte stands for: bit 0 the method,
/// bits 1-2 the bit width, bits 3-4 the group size, bit 5 zero point (AWQ)
/// or symmetric (GPTQ), bits 6-7 the layout version and desc_act.
nlohmann::json settingsOf(uint8_t byte) {
  const bool gptq = byte & 1;
  static const int awqBits[] = {4, 3, 8, 4}, gptqBits[] = {4, 8, 4, 3};
  static const int groups[] = {128, 64, 32, -1};
  const int bits = (gptq ? gptqBits : awqBits)[(byte >> 1) & 3];
  nlohmann::json settings = {{"bits", bits},
                             {"group_size", groups[(byte >> 3) & 3]}};
  if (gptq) {
    settings["quant_method"] = "gptq";
    settings["sym"] = bool(byte & 32);
    settings["checkpoint_format"] = byte & 64 ? "gptq_v2" : "gptq";
    settings["desc_act"] = bool(byte & 128);
  } else {
    settings["quant_method"] = "awq";
    settings["zero_point"] = bool(byte & 32);
    settings["version"] = bits == 4 && !(byte & 64) ? "gemm" : "awqc-gemm";
  }
  return settings;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  const std::string dir = fuzz::keptDirectory("checkpoint");
  nlohmann::json config = {{"quantization_config", settingsOf(data[0])}};
  fuzz::writeFile(dir + "/config.json", config.dump());
  fuzz::writeFile(dir + "/model.safetensors", data + 1, size - 1);

  QuantizedCheckpoint imported;
  try {
    imported = importQuantizedCheckpoint(dir);
  } catch (const Error &error) {
    fuzz::rejected(error);
    return 0;
  }
  std::vector<ExpectedTensor> expected;
  for (const auto &[prefix, layer] : imported.linears) {
    try {
      validate(layer, prefix);
      if (imported.quantization.method == QuantMethod::Awq)
        (void)packAwqLayer(layer, prefix);
    } catch (const Error &error) {
      fuzz::fail("checkpoint", "imported layer '" + prefix +
                                   "' is not usable: " + error.what());
    }
    ExpectedTensor tensor;
    tensor.name = prefix;
    tensor.quantized = true;
    tensor.k = layer.k;
    tensor.n = layer.n;
    tensor.params = layer.params;
    expected.push_back(tensor);
  }
  // The header check also wants every activation scale read as an F16
  // vector; the importer keeps any tensor, so others end the comparison.
  for (const auto &[name, tensor] : imported.tensors) {
    if (name.size() < 17 ||
        name.compare(name.size() - 17, 17, ".activation_scale") != 0)
      continue;
    if (tensor.dtype != DType::F16 || tensor.shape.size() != 1)
      return 0;
    ExpectedTensor scale;
    scale.name = name;
    scale.length = tensor.shape[0];
    expected.push_back(scale);
  }
  try {
    SafeTensorsCheckpoint checkpoint = SafeTensorsCheckpoint::open(dir);
    checkCheckpointTensors(checkpoint, imported.quantization, expected);
  } catch (const Error &error) {
    fuzz::fail("checkpoint",
               std::string("the header check refuses a checkpoint the "
                           "importer read: ") +
                   error.what());
  }
  return 0;
}
