//===- ModelDescriptionFuzzer.cpp - Fuzz target: model description reader -===//
//
// The input is a model description file (model.json). Whatever the reader
// accepts must survive a round trip: written back with
// modelDescriptionToJson, it parses again to the same JSON.
//
//===----------------------------------------------------------------------===//
#include "compiler/formats/ModelDescription.h"
#include "runtime/support/Error.h"
#include "test/fuzz/FuzzSupport.h"

using namespace awq;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const std::string path = fuzz::keptDirectory("description") + "/model.json";
  fuzz::writeFile(path, data, size);
  ModelDescription description;
  try {
    description = parseModelDescription(path);
  } catch (const Error &error) {
    fuzz::rejected(error);
    return 0;
  }
  const nlohmann::json written = modelDescriptionToJson(description);
  try {
    ModelDescription again = parseModelDescriptionJson(written, "round trip");
    if (modelDescriptionToJson(again) != written)
      fuzz::fail("model-description",
                 "the round trip changed the description:\n" + written.dump());
  } catch (const Error &error) {
    fuzz::fail("model-description",
               std::string("an accepted description does not read back: ") +
                   error.what() + "\n" + written.dump());
  }
  return 0;
}
