//===- QuantizationConfigFuzzer.cpp - Fuzz target: quantization settings --===//
//
// The first byte picks the file the rest is written to: config.json (its
// quantization_config), GPTQ's quantize_config.json or AutoAWQ's
// quant_config.json. Accepted settings must be usable: the AWQ form written
// back parses to the same settings, and paramsFor gives valid parameters
// for a K the group size divides.
//
//===----------------------------------------------------------------------===//
#include "compiler/formats/QuantizationConfig.h"
#include "runtime/support/Error.h"
#include "test/fuzz/FuzzSupport.h"

using namespace awq;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  static const char *const files[] = {"config.json", "quantize_config.json",
                                      "quant_config.json"};
  const std::string dir = fuzz::freshDirectory("quantization");
  fuzz::writeFile(dir + "/" + files[data[0] % 3], data + 1, size - 1);
  QuantizationConfig config;
  try {
    config = readQuantizationConfig(dir);
  } catch (const Error &error) {
    fuzz::rejected(error);
    return 0;
  }
  const int64_t k = config.groupSize > 0 ? config.groupSize * 4 : 4096;
  try {
    QuantParams params = config.paramsFor(k, "layer");
    if ((params.bits != 3 && params.bits != 4 && params.bits != 8) ||
        params.groupSize <= 0 || k % params.groupSize != 0)
      fuzz::fail("quantization-config",
                 "accepted settings give invalid parameters: bits " +
                     std::to_string(params.bits) + ", group " +
                     std::to_string(params.groupSize));
  } catch (const Error &error) {
    fuzz::fail("quantization-config",
               std::string("paramsFor refused a K the group divides: ") +
                   error.what());
  }
  if (config.method == QuantMethod::Awq) {
    try {
      QuantizationConfig again = parseQuantizationConfig(
          awqQuantizationConfigJson(config), "round trip", "", std::nullopt);
      if (again.bits != config.bits || again.groupSize != config.groupSize ||
          again.zeroPoint != config.zeroPoint)
        fuzz::fail("quantization-config", "the AWQ round trip changed the "
                                          "settings");
    } catch (const Error &error) {
      fuzz::fail("quantization-config",
                 std::string("accepted AWQ settings do not read back: ") +
                     error.what());
    }
  }
  return 0;
}
