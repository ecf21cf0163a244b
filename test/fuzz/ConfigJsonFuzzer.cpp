//===- ConfigJsonFuzzer.cpp - Fuzz target: a checkpoint's config.json -----===//
//
// The input is the config.json of a Hugging Face checkpoint directory that
// holds no weights. describeCheckpoint reads the LLaMA block structure and
// the quantization_config from it; a description it derives must pass the
// description validator (written out and parsed back).
//
//===----------------------------------------------------------------------===//
#include "compiler/formats/ModelDescription.h"
#include "runtime/support/Error.h"
#include "test/fuzz/FuzzSupport.h"

using namespace awq;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const std::string dir = fuzz::keptDirectory("config");
  fuzz::writeFile(dir + "/config.json", data, size);
  ModelDescription description;
  try {
    description = describeCheckpoint(dir);
  } catch (const Error &error) {
    fuzz::rejected(error);
    return 0;
  }
  try {
    (void)parseModelDescriptionJson(modelDescriptionToJson(description),
                                    "derived description");
  } catch (const Error &error) {
    fuzz::fail("config-json",
               std::string("a derived description is invalid: ") +
                   error.what());
  }
  return 0;
}
