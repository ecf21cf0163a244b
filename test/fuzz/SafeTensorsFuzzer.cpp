//===- SafeTensorsFuzzer.cpp - Fuzz target: the safetensors reader --------===//
//
// The input is a whole .safetensors file. It is opened both as one file and
// as a checkpoint; whatever the reader accepts must be fully readable: every
// tensor's bytes lie inside the mapping (ASan checks the copies) and its
// size is numel times the element size.
//
//===----------------------------------------------------------------------===//
#include "runtime/formats/SafeTensors.h"
#include "runtime/support/Error.h"
#include "test/fuzz/FuzzSupport.h"

#include <vector>

using namespace awq;

namespace {

void readEverything(const std::vector<TensorView> &tensors) {
  std::vector<uint8_t> buffer;
  for (const TensorView &view : tensors) {
    if (view.size != view.numel() * dtypeSize(view.dtype))
      fuzz::fail("safetensors", "tensor '" + view.name + "' holds " +
                                    std::to_string(view.size) +
                                    " bytes, not numel x element size");
    buffer.resize(view.size);
    view.copyTo(buffer.data());
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const std::string dir = fuzz::keptDirectory("safetensors");
  const std::string path = dir + "/model.safetensors";
  fuzz::writeFile(path, data, size);
  try {
    SafeTensorsFile file(path);
    readEverything(file.tensors());
    for (const TensorView &view : file.tensors())
      if (&file.get(view.name) != &view)
        fuzz::fail("safetensors", "get('" + view.name + "') finds another");
    (void)file.metadata().size();
  } catch (const Error &error) {
    fuzz::rejected(error);
  }
  try {
    SafeTensorsCheckpoint checkpoint = SafeTensorsCheckpoint::open(dir);
    for (const std::string &name : checkpoint.names())
      (void)checkpoint.get(name);
  } catch (const Error &error) {
    fuzz::rejected(error);
  }
  return 0;
}
