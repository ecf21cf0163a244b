//===- ApiTestSupport.h - Bundles, buffers and references for C API tests -===//
//
// The C API tests open bundles written by the awqc binary at test time (into
// a fresh temporary directory per process) and check what the runtime
// computes against an independent fp64 reference built from the bundle's own
// weight tensors (unpackGemv / unpackGemm, then checkLinearOutput), as
// awq-run does.
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_TEST_UNIT_API_APITESTSUPPORT_H
#define AWQ_TEST_UNIT_API_APITESTSUPPORT_H

#include "awqc_runtime.h"
#include "compiler/execute/HostKernelRunner.h"
#include "runtime/bundle/Bundle.h"

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace awq {
namespace test {

/// Bundles compiled once per test process from examples/llama-block.mlir
/// (4 layers, 8 kernels, sm_80, max M 4096), in a temporary directory that
/// is removed at exit. Also points the host kernel cache at the build's
/// test cache (unless AWQ_HOST_CACHE_DIR is set).
struct TestBundles {
  std::string dir;        ///< The temporary directory.
  std::string llama;      ///< With seeded random weights.
  std::string weightless; ///< Written with --no-weights.
};
const TestBundles &testBundles();

/// A fresh temporary directory under the process's one.
std::string freshDir(const std::string &label);

/// Runs the awqc binary with `arguments`; throws on a nonzero exit.
void runAwqc(const std::string &arguments);

/// The whole file, and back.
std::vector<uint8_t> readBytes(const std::string &path);
void writeBytes(const std::string &path, const std::vector<uint8_t> &bytes);

/// The byte range [begin, end) of tensor `name` in the safetensors file
/// `bytes` (from the header's data_offsets).
std::pair<size_t, size_t> tensorRange(const std::vector<uint8_t> &bytes,
                                      const std::string &name);

/// Options with the defaults, on `device`, caching kernels under the
/// process's temporary directory.
awqc_open_options openOptions(const char *device);

/// awqc_model_open; returns the status and fills `model` (closed by the
/// deleter) and `message`.
struct ModelCloser {
  void operator()(awqc_model *model) const { awqc_model_close(model); }
};
using ModelPtr = std::unique_ptr<awqc_model, ModelCloser>;
struct OpenResult {
  awqc_status status = AWQC_OK;
  std::string message;
  ModelPtr model;
};
OpenResult openModel(const std::string &path, const awqc_open_options &options);

/// The host model of testBundles().llama, opened once per process.
awqc_model *hostModel();
/// testBundles().llama read directly (for references), once per process.
const bundle::Bundle &llamaBundle();

/// Memory from awqc_model_alloc, freed on destruction.
class DeviceBuffer {
public:
  DeviceBuffer(awqc_model *model, size_t bytes);
  ~DeviceBuffer();
  DeviceBuffer(const DeviceBuffer &) = delete;
  DeviceBuffer &operator=(const DeviceBuffer &) = delete;
  void *get() const { return pointer; }
  size_t size() const { return bytes; }
  void upload(const void *host, size_t count);
  template <typename T> void upload(const std::vector<T> &host) {
    upload(host.data(), host.size() * sizeof(T));
  }
  template <typename T> std::vector<T> download(size_t count) const {
    std::vector<T> out(count);
    downloadTo(out.data(), count * sizeof(T));
    return out;
  }

private:
  void downloadTo(void *host, size_t count) const;
  awqc_model *model;
  void *pointer = nullptr;
  size_t bytes;
};

/// fp16 bits of uniform values in [-1, 1).
std::vector<uint16_t> randomHalfs(std::mt19937_64 &rng, size_t count);
/// The same values as bits of `type` (fp16 or bf16).
std::vector<uint16_t> randomElements(std::mt19937_64 &rng, size_t count,
                                     ActivationType type);
/// fp16 quiet NaN: what outputs are poisoned with before a run.
constexpr uint16_t kHalfNaN = 0x7e00;
/// bf16 quiet NaN, for bf16 layers.
constexpr uint16_t kBfloat16NaN = 0x7fc0;

/// The fp64 reference of one layer of a bundle: its logical weights read
/// back from the bundle's own buffers.
class LayerReference {
public:
  LayerReference(const bundle::Bundle &bundle, size_t index);
  const bundle::Layer &layer() const { return *layer_; }
  /// checkLinearOutput of `y` for `x` (and `residual`) on `m` rows.
  KernelRunResult check(const std::vector<uint16_t> &x,
                        const std::vector<uint16_t> &residual, int64_t m,
                        const std::vector<uint16_t> &y) const;

private:
  const bundle::Layer *layer_;
  QuantizedLinear logical;
  std::vector<uint16_t> actScale;
};

/// One layer's inputs on fresh random values and a NaN-poisoned output, on
/// the model's device.
struct LayerRun {
  LayerRun(awqc_model *model, const bundle::Layer &layer, int64_t m,
           std::mt19937_64 &rng);
  int64_t m;
  std::vector<uint16_t> x, residual;
  DeviceBuffer dx, dr, dy;
  awqc_layer_io io() const;
  std::vector<uint16_t> output() const;
};

/// "STATUS: message" of the last call, for assertion messages.
std::string lastError(awqc_status status);

} // namespace test
} // namespace awq

#endif // AWQ_TEST_UNIT_API_APITESTSUPPORT_H
