//===- IndexJsonFuzzer.cpp - Fuzz target: model.safetensors.index.json ----===//
//
// The input is the index of a sharded checkpoint whose directory holds two
// valid shards (model-00001-of-00002.safetensors with tensors a and b,
// model-00002-of-00002.safetensors with c). An index the reader accepts
// must account for every tensor of the shards it names.
//
//===----------------------------------------------------------------------===//
#include "runtime/formats/SafeTensors.h"
#include "runtime/formats/SafeTensorsWriter.h"
#include "runtime/support/Error.h"
#include "test/fuzz/FuzzSupport.h"

using namespace awq;

namespace {

const std::string &shardDirectory() {
  static const std::string dir = [] {
    std::string dir = fuzz::freshDirectory("index");
    static const uint16_t a[2] = {0x3c00, 0xc000};
    static const int32_t b[2] = {7, -7};
    static const uint8_t c[3] = {1, 2, 3};
    writeSafeTensors(dir + "/model-00001-of-00002.safetensors",
                     {{"a", DType::F16, {2}, a, sizeof(a)},
                      {"b", DType::I32, {1, 2}, b, sizeof(b)}});
    writeSafeTensors(dir + "/model-00002-of-00002.safetensors",
                     {{"c", DType::U8, {3}, c, sizeof(c)}}, {{"format", "pt"}});
    return dir;
  }();
  return dir;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const std::string index = shardDirectory() + "/model.safetensors.index.json";
  fuzz::writeFile(index, data, size);
  try {
    SafeTensorsCheckpoint checkpoint = SafeTensorsCheckpoint::open(index);
    size_t tensors = 0;
    for (const auto &shard : checkpoint.shards())
      tensors += shard->tensors().size();
    if (tensors != checkpoint.size())
      fuzz::fail("index-json",
                 "the checkpoint lists " + std::to_string(checkpoint.size()) +
                     " tensors, its shards hold " + std::to_string(tensors));
    for (const std::string &name : checkpoint.names())
      (void)checkpoint.get(name);
  } catch (const Error &error) {
    fuzz::rejected(error);
  }
  return 0;
}
