//===- Model.h - A bundle bound to a device: kernels, weights and runs ----===//
//
// What an awqc_model handle is: the opened bundle, the backend, each layer's
// kernels planned for the device found (the bundle's tiling as the default
// and the fallback), the compiled modules (JIT through the kernel cache,
// embedded CUBINs when they match, host builds on the CPU) and the weights
// uploaded into one device allocation. The C API (Runtime.cpp) wraps it;
// every failure is a RuntimeError carrying the C status.
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_RUNTIME_API_MODEL_H
#define AWQ_RUNTIME_API_MODEL_H

#include "awqc_runtime.h"
#include "runtime/backends/Backend.h"
#include "runtime/bundle/Bundle.h"
#include "runtime/jit/KernelCache.h"

#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace awq {
namespace rt {

/// awqc_open_options with its defaults resolved.
struct OpenOptions {
  std::string device = "cuda";
  std::string compileOnlyTarget;
  std::string cacheDir;
  uint64_t cacheMaxBytes = 0;
  int jitThreads = 0;
  bool lazy = false;
  bool replan = true;
  bool verifyWeights = true;
  bool randomWeights = false;
  uint64_t randomSeed = 0;
  std::string cudaIncludeDir;
  bool verbose = false;
  static OpenOptions from(const awqc_open_options *options);
};

/// One kernel the model runs: an instance, its entry name and module.
struct ModelKernel {
  std::string name;
  KernelInstance instance;
  std::string source;
  bool fromBundle = false; ///< The bundle's own tiling (not re-planned).
  std::vector<char> cubin; ///< Compiled or embedded image (GPU targets).
  std::unique_ptr<LoadedModule> module;
  std::once_flag loaded;
};

/// A layer's device buffers for one family.
struct DeviceLayout {
  void *qweight = nullptr, *scales = nullptr, *zeros = nullptr;
};

struct ModelLayer {
  const bundle::Layer *layer = nullptr;
  /// Per use of layer->kernels: the kernel that serves it.
  std::vector<ModelKernel *> kernels;
  DeviceLayout layouts[2]; ///< Indexed by KernelFamily.
  void *bias = nullptr, *actScale = nullptr;
  std::string name; ///< Stable storage for awqc_layer_info.
};

class Model {
public:
  static std::unique_ptr<Model> open(const std::string &path,
                                     const OpenOptions &options);
  ~Model();

  const bundle::Manifest &manifest() const { return bundle->manifest(); }
  awqc_model_info info() const;
  awqc_layer_info layerInfo(int64_t index) const;
  int64_t findLayer(const std::string &name) const;
  size_t workspaceBytes(int64_t maxM) const;
  void zeroWorkspace(void *workspace, size_t bytes, void *stream);
  void runLayer(int64_t index, int64_t m, const awqc_layer_io &io,
                void *workspace, size_t workspaceBytes, void *stream);

  /// The device behind the model; throws NOT_RUNNABLE when compile-only.
  Backend &device();

  /// The kernels the model compiled, in order of first use.
  const std::vector<std::unique_ptr<ModelKernel>> &kernels() const {
    return kernels_;
  }
  const std::string &targetName() const { return target; }
  bool runnable() const { return backend != nullptr; }
  const KernelCacheStats cacheStats() const;

private:
  Model() = default;
  void plan();
  void compile();
  void load(ModelKernel &kernel);
  void upload();
  const ModelLayer &layerAt(int64_t index) const;

  OpenOptions options;
  std::unique_ptr<bundle::Bundle> bundle;
  std::unique_ptr<Backend> backend; ///< nullptr when compile-only.
  std::unique_ptr<KernelCache> cache;
  std::string target; ///< What kernels are compiled for ("sm_90").
  /// The bundle's PTX the GPU can run ("compute_90"), or "": the fallback
  /// for a GPU that awqc's table or this NVRTC does not know.
  std::string ptxTarget;
  std::string deviceName; ///< For awqc_model_info.
  int64_t smCount = 0;
  std::vector<std::unique_ptr<ModelKernel>> kernels_;
  std::vector<ModelLayer> layers;
  std::string hostIncludeDir; ///< The bundle's headers on disk (host).
  void *weightMemory = nullptr;
  uint64_t weightBytes = 0;
  int64_t cached = 0, compiled = 0, embedded = 0;
  double jitSeconds = 0;
};

} // namespace rt
} // namespace awq

#endif // AWQ_RUNTIME_API_MODEL_H
