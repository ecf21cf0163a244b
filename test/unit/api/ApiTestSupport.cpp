//===- ApiTestSupport.cpp - Bundles, buffers and references for C API tests
//===//

#include "ApiTestSupport.h"

#include "../jit/TempDir.h"

#include "runtime/formats/SafeTensors.h"
#include "runtime/kernels/GemmLayout.h"
#include "runtime/kernels/GemvLayout.h"
#include "runtime/support/Half.h"

#include <nlohmann/json.hpp>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#ifndef AWQ_API_TEST_AWQC
#error "AWQ_API_TEST_AWQC (the awqc binary) must be defined by the build"
#endif

namespace awq {
namespace test {
namespace fs = std::filesystem;

namespace {

TempDir &processDir() {
  static TempDir dir;
  return dir;
}

std::vector<uint16_t> tensorHalfs(const bundle::Bundle &b,
                                  const std::string &name) {
  const TensorView &view = b.tensor(name);
  std::vector<uint16_t> out(view.size / 2);
  std::memcpy(out.data(), view.data, out.size() * 2);
  return out;
}

} // namespace

void runAwqc(const std::string &arguments) {
  const std::string command =
      std::string("'") + AWQ_API_TEST_AWQC + "' " + arguments + " >/dev/null";
  if (std::system(command.c_str()) != 0)
    throw std::runtime_error("failed: " + command);
}

const TestBundles &testBundles() {
  static const TestBundles bundles = [] {
#ifdef AWQ_API_TEST_HOST_CACHE_DIR
    setenv("AWQ_HOST_CACHE_DIR", AWQ_API_TEST_HOST_CACHE_DIR, 0);
#endif
    TestBundles b;
    b.dir = processDir().path();
    b.llama = b.dir + "/llama-block.awqb";
    b.weightless = b.dir + "/llama-block-no-weights.awqb";
    const std::string input = std::string("'") + AWQ_API_TEST_SOURCE_DIR +
                              "/examples/llama-block.mlir'";
    runAwqc("compile " + input + " -o '" + b.llama +
            "' --random-weights 1 --target sm_80");
    runAwqc("compile " + input + " -o '" + b.weightless +
            "' --no-weights --target sm_80");
    return b;
  }();
  return bundles;
}

std::string freshDir(const std::string &label) {
  static std::atomic<int> counter{0};
  const std::string dir =
      testBundles().dir + "/" + label + "-" + std::to_string(counter++);
  fs::create_directories(dir);
  return dir;
}

std::vector<uint8_t> readBytes(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw std::runtime_error("cannot read " + path);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

void writeBytes(const std::string &path, const std::vector<uint8_t> &bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char *>(bytes.data()),
            std::streamsize(bytes.size()));
  if (!out)
    throw std::runtime_error("cannot write " + path);
}

std::pair<size_t, size_t> tensorRange(const std::vector<uint8_t> &bytes,
                                      const std::string &name) {
  uint64_t headerSize = 0;
  for (int i = 0; i < 8; ++i)
    headerSize |= uint64_t(bytes.at(size_t(i))) << (8 * i);
  const nlohmann::json header = nlohmann::json::parse(
      bytes.begin() + 8, bytes.begin() + 8 + std::ptrdiff_t(headerSize));
  const auto &offsets = header.at(name).at("data_offsets");
  const size_t base = 8 + size_t(headerSize);
  return {base + offsets.at(0).get<size_t>(),
          base + offsets.at(1).get<size_t>()};
}

awqc_open_options openOptions(const char *device) {
  static const std::string cacheDir = freshDir("kernel-cache");
  awqc_open_options options;
  awqc_open_options_init(&options);
  options.device = device;
  options.cache_dir = cacheDir.c_str();
  return options;
}

OpenResult openModel(const std::string &path,
                     const awqc_open_options &options) {
  OpenResult result;
  awqc_model *raw = nullptr;
  result.status = awqc_model_open(path.c_str(), &options, &raw);
  result.message = awqc_last_error();
  result.model.reset(raw);
  if (result.status != AWQC_OK && raw)
    throw std::runtime_error("awqc_model_open failed but returned a model");
  return result;
}

awqc_model *hostModel() {
  static const ModelPtr model = [] {
    OpenResult opened = openModel(testBundles().llama, openOptions("host"));
    if (opened.status != AWQC_OK)
      throw std::runtime_error("opening the llama-block bundle on host: " +
                               std::string(awqc_status_name(opened.status)) +
                               ": " + opened.message);
    return std::move(opened.model);
  }();
  return model.get();
}

const bundle::Bundle &llamaBundle() {
  static const std::unique_ptr<bundle::Bundle> b =
      bundle::Bundle::open(testBundles().llama);
  return *b;
}

DeviceBuffer::DeviceBuffer(awqc_model *model, size_t bytes)
    : model(model), bytes(bytes) {
  if (bytes && awqc_model_alloc(model, bytes, &pointer) != AWQC_OK)
    throw std::runtime_error(std::string("awqc_model_alloc: ") +
                             awqc_last_error());
}

DeviceBuffer::~DeviceBuffer() {
  if (pointer)
    awqc_model_free(model, pointer);
}

void DeviceBuffer::upload(const void *host, size_t count) {
  if (awqc_model_copy_to_device(model, pointer, host, count) != AWQC_OK)
    throw std::runtime_error(std::string("awqc_model_copy_to_device: ") +
                             awqc_last_error());
}

void DeviceBuffer::downloadTo(void *host, size_t count) const {
  if (awqc_model_copy_to_host(model, host, pointer, count) != AWQC_OK)
    throw std::runtime_error(std::string("awqc_model_copy_to_host: ") +
                             awqc_last_error());
}

std::vector<uint16_t> randomHalfs(std::mt19937_64 &rng, size_t count) {
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<uint16_t> out(count);
  for (uint16_t &value : out)
    value = floatToHalf(dist(rng));
  return out;
}

std::vector<uint16_t> randomElements(std::mt19937_64 &rng, size_t count,
                                     ActivationType type) {
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<uint16_t> out(count);
  for (uint16_t &value : out)
    value = floatToElement(dist(rng), type);
  return out;
}

LayerReference::LayerReference(const bundle::Bundle &b, size_t index)
    : layer_(&b.manifest().layers.at(index)) {
  const bundle::Layer &layer = *layer_;
  const LinearShape &s = layer.shape;
  QuantParams params;
  params.bits = s.bits;
  params.groupSize = s.group;
  params.zeroPoint = s.zeroPoint;
  // The GEMV layout when the layer has one (zero points stored exactly).
  auto gemv = layer.layouts.find(KernelFamily::Gemv);
  const bundle::LayoutBuffers &buffers =
      gemv != layer.layouts.end() ? gemv->second
                                  : layer.layouts.at(KernelFamily::Gemm);
  const TensorView &q = b.tensor(buffers.qweight);
  const std::vector<uint16_t> scales = tensorHalfs(b, buffers.scales);
  std::vector<uint16_t> zeros;
  if (s.zeroPoint)
    zeros = tensorHalfs(b, buffers.zeros);
  if (gemv != layer.layouts.end()) {
    std::vector<uint32_t> words(q.size / 4);
    std::memcpy(words.data(), q.data, words.size() * 4);
    logical = unpackGemv(s.k, s.n, params, words.data(), scales.data(),
                         s.zeroPoint ? zeros.data() : nullptr, layer.name,
                         s.activation);
  } else {
    logical = unpackGemm(s.k, s.n, params, q.data, scales.data(),
                         s.zeroPoint ? zeros.data() : nullptr, layer.name,
                         s.activation);
  }
  logical.activation = s.activation;
  if (s.bias)
    logical.bias = tensorHalfs(b, layer.bias);
  if (s.actScale)
    actScale = tensorHalfs(b, layer.actScale);
}

KernelRunResult LayerReference::check(const std::vector<uint16_t> &x,
                                      const std::vector<uint16_t> &residual,
                                      int64_t m,
                                      const std::vector<uint16_t> &y) const {
  return checkLinearOutput(layer_->name, layer_->shape, logical, actScale, x,
                           residual, m, y);
}

LayerRun::LayerRun(awqc_model *model, const bundle::Layer &layer, int64_t m,
                   std::mt19937_64 &rng)
    : m(m),
      x(randomElements(rng, size_t(m * layer.shape.k), layer.shape.activation)),
      residual(layer.shape.residual
                   ? randomElements(rng, size_t(m * layer.shape.nOut()),
                                    layer.shape.activation)
                   : std::vector<uint16_t>()),
      dx(model, x.size() * 2), dr(model, residual.size() * 2),
      dy(model, size_t(m * layer.shape.nOut()) * 2) {
  dx.upload(x);
  if (!residual.empty())
    dr.upload(residual);
  dy.upload(std::vector<uint16_t>(dy.size() / 2,
                                  layer.shape.activation == ActivationType::BF16
                                      ? kBfloat16NaN
                                      : kHalfNaN));
}

awqc_layer_io LayerRun::io() const { return {dx.get(), dr.get(), dy.get()}; }

std::vector<uint16_t> LayerRun::output() const {
  return dy.download<uint16_t>(dy.size() / 2);
}

std::string lastError(awqc_status status) {
  return std::string(awqc_status_name(status)) + ": " + awqc_last_error();
}

} // namespace test
} // namespace awq
