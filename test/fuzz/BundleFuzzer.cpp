//===- BundleFuzzer.cpp - Fuzz target: the bundle reader (model.awqb) -----===//
//
// The first byte picks what the rest is:
//  - even: a whole bundle file, opened with Bundle::open; an opened bundle
//    must hand out every tensor its manifest names;
//  - odd: the manifest's JSON text (inside a file it sits behind a SHA-256,
//    which mutations of whole files rarely get past). A manifest that
//    manifestFromJson and checkManifest accept must survive toJson and back,
//    and a bundle written around it must open again.
//
//===----------------------------------------------------------------------===//
#include "runtime/bundle/Bundle.h"
#include "runtime/formats/SafeTensors.h"
#include "runtime/support/Error.h"
#include "test/fuzz/FuzzSupport.h"

using namespace awq;

namespace {

void openBundleFile(const std::string &path) {
  (void)bundle::looksLikeBundle(path);
  std::unique_ptr<bundle::Bundle> opened;
  try {
    opened = bundle::Bundle::open(path);
  } catch (const Error &error) {
    fuzz::rejected(error);
    return;
  }
  const bundle::Manifest &manifest = opened->manifest();
  for (const auto &[tensor, hash] : manifest.tensorSha256)
    (void)opened->tensor(tensor);
  (void)opened->headerFiles();
  for (const bundle::Kernel &kernel : manifest.kernels)
    (void)opened->text(kernel.source);
  for (const auto &[tensor, hash] : manifest.tensorSha256) {
    try {
      opened->verify(tensor);
    } catch (const Error &error) {
      fuzz::rejected(error);
    }
  }
  (void)opened->fileBytes();
}

void readManifest(const std::string &text) {
  bundle::Manifest manifest;
  try {
    manifest = bundle::manifestFromJson(text, "manifest");
    bundle::checkManifest(manifest, "manifest");
  } catch (const Error &error) {
    fuzz::rejected(error);
    return;
  }
  try {
    bundle::Manifest again =
        bundle::manifestFromJson(bundle::toJson(manifest), "round trip");
    bundle::checkManifest(again, "round trip");
    if (bundle::toJson(again) != bundle::toJson(manifest))
      fuzz::fail("bundle", "the manifest round trip changed it");
  } catch (const Error &error) {
    fuzz::fail("bundle",
               std::string("an accepted manifest does not read back: ") +
                   error.what());
  }

  // Write a bundle around it: one small U8 tensor per name it hashes.
  std::vector<bundle::PendingTensor> tensors;
  for (const auto &[name, hash] : manifest.tensorSha256) {
    bundle::PendingTensor tensor;
    tensor.name = name;
    tensor.shape = {int64_t(name.size())};
    tensor.produce = [name = name](std::vector<uint8_t> &out) {
      out.assign(name.begin(), name.end());
    };
    tensors.push_back(std::move(tensor));
  }
  const std::string path =
      fuzz::keptDirectory("bundle-written") + "/written.awqb";
  try {
    bundle::writeBundle(path, manifest, tensors);
  } catch (const Error &error) {
    fuzz::rejected(error);
    return; // Names a safetensors file cannot hold (e.g. "__metadata__").
  }
  try {
    std::unique_ptr<bundle::Bundle> opened = bundle::Bundle::open(path);
    for (const auto &[name, hash] : manifest.tensorSha256)
      opened->verify(name);
  } catch (const Error &error) {
    fuzz::fail("bundle",
               std::string("a bundle written from an accepted manifest "
                           "does not open: ") +
                   error.what());
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  if (data[0] % 2 == 0) {
    const std::string path = fuzz::keptDirectory("bundle") + "/model.awqb";
    fuzz::writeFile(path, data + 1, size - 1);
    openBundleFile(path);
  } else {
    readManifest(
        std::string(reinterpret_cast<const char *>(data + 1), size - 1));
  }
  return 0;
}
