//===- awqc_runtime.hpp - A thin C++ wrapper over the runtime's C API -----===//
//
// Header-only: RAII for the model handle, exceptions instead of status
// codes, std::string and std::vector instead of out-parameters. Everything
// goes through the C API, so a program using this links only
// libawqc_runtime.so.
//
//   awqc::Model model("model.awqb", awqc::OpenOptions().device("host"));
//   for (int64_t i = 0; i < model.numLayers(); ++i)
//     std::cout << model.layer(i).name << "\n";
//   model.runLayer(0, m, {x, nullptr, y}, workspace, bytes, stream);
//
//===----------------------------------------------------------------------===//
#ifndef AWQC_RUNTIME_HPP
#define AWQC_RUNTIME_HPP

#include "awqc_runtime.h"

#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>

namespace awqc {

/// A failed call: its status and the runtime's message.
class Error : public std::runtime_error {
public:
  Error(awqc_status status, const std::string &message)
      : std::runtime_error(std::string(awqc_status_name(status)) + ": " +
                           message),
        code(status) {}
  awqc_status status() const { return code; }

private:
  awqc_status code;
};

/// The element type of a layer's x, residual and y ("f16" or "bf16"): what
/// awqc_layer_info::activation says, in the manifests' spelling.
inline const char *activationName(awqc_activation_type type) {
  return type == AWQC_ACTIVATION_BF16 ? "bf16" : "f16";
}

/// Bytes of one element of a layer's activations (both types have 2).
inline size_t activationBytes(awqc_activation_type) { return 2; }

/// Throws awqc::Error for anything but AWQC_OK.
inline void check(awqc_status status) {
  if (status != AWQC_OK)
    throw Error(status, awqc_last_error());
}

/// awqc_open_options with chainable setters; strings are kept alive here.
class OpenOptions {
public:
  OpenOptions() { awqc_open_options_init(&raw); }
  OpenOptions &device(std::string value) {
    deviceText = std::move(value);
    return *this;
  }
  OpenOptions &compileOnly(std::string target) {
    targetText = std::move(target);
    return *this;
  }
  OpenOptions &cacheDir(std::string dir) {
    cacheText = std::move(dir);
    return *this;
  }
  OpenOptions &lazy(bool value = true) {
    raw.jit_mode = value ? AWQC_JIT_LAZY : AWQC_JIT_EAGER;
    return *this;
  }
  OpenOptions &replan(bool value) {
    raw.replan = value;
    return *this;
  }
  OpenOptions &randomWeights(uint64_t seed) {
    raw.random_weights = 1;
    raw.random_seed = seed;
    return *this;
  }
  OpenOptions &jitThreads(int threads) {
    raw.jit_threads = threads;
    return *this;
  }
  OpenOptions &verbose(bool value = true) {
    raw.verbose = value;
    return *this;
  }
  /// The C struct, pointing into this object's strings.
  const awqc_open_options *get() {
    raw.device = deviceText.empty() ? nullptr : deviceText.c_str();
    raw.compile_only_target = targetText.empty() ? nullptr : targetText.c_str();
    raw.cache_dir = cacheText.empty() ? nullptr : cacheText.c_str();
    return &raw;
  }

private:
  awqc_open_options raw;
  std::string deviceText, targetText, cacheText;
};

/// An open model; closed when destroyed. Movable, not copyable.
class Model {
public:
  Model(const std::string &path, OpenOptions options = OpenOptions()) {
    check(awqc_model_open(path.c_str(), options.get(), &handle));
  }
  ~Model() { awqc_model_close(handle); }
  Model(Model &&other) noexcept
      : handle(std::exchange(other.handle, nullptr)) {}
  Model &operator=(Model &&other) noexcept {
    std::swap(handle, other.handle);
    return *this;
  }
  Model(const Model &) = delete;
  Model &operator=(const Model &) = delete;

  awqc_model *get() const { return handle; }

  awqc_model_info info() const {
    awqc_model_info out;
    check(awqc_model_get_info(handle, &out));
    return out;
  }
  int64_t numLayers() const { return info().num_layers; }
  awqc_layer_info layer(int64_t index) const {
    awqc_layer_info out;
    check(awqc_model_get_layer(handle, index, &out));
    return out;
  }
  int64_t findLayer(const std::string &name) const {
    int64_t index = -1;
    check(awqc_model_find_layer(handle, name.c_str(), &index));
    return index;
  }
  size_t workspaceBytes(int64_t maxM) const {
    size_t bytes = 0;
    check(awqc_model_workspace_bytes(handle, maxM, &bytes));
    return bytes;
  }
  void zeroWorkspace(void *workspace, size_t bytes, void *stream = nullptr) {
    check(awqc_model_zero_workspace(handle, workspace, bytes, stream));
  }
  void runLayer(int64_t index, int64_t m, const awqc_layer_io &io,
                void *workspace, size_t workspaceBytes,
                void *stream = nullptr) {
    check(awqc_model_run_layer(handle, index, m, &io, workspace, workspaceBytes,
                               stream));
  }
  void runLayers(int64_t first, int64_t count, int64_t m,
                 const awqc_layer_io *io, void *workspace,
                 size_t workspaceBytes, void *stream = nullptr) {
    check(awqc_model_run_layers(handle, first, count, m, io, workspace,
                                workspaceBytes, stream));
  }
  void synchronize(void *stream = nullptr) {
    check(awqc_model_synchronize(handle, stream));
  }

  /// Device memory owned by this object, freed through the model.
  class Buffer {
  public:
    Buffer(Model &model, size_t bytes) : model(&model) {
      check(awqc_model_alloc(model.handle, bytes, &pointer));
      size = bytes;
    }
    ~Buffer() {
      if (model)
        awqc_model_free(model->handle, pointer);
    }
    Buffer(Buffer &&other) noexcept
        : model(std::exchange(other.model, nullptr)),
          pointer(std::exchange(other.pointer, nullptr)), size(other.size) {}
    Buffer(const Buffer &) = delete;
    Buffer &operator=(const Buffer &) = delete;
    Buffer &operator=(Buffer &&) = delete;
    void *get() const { return pointer; }
    size_t bytes() const { return size; }
    void upload(const void *host) {
      check(awqc_model_copy_to_device(model->handle, pointer, host, size));
    }
    void download(void *host) const {
      check(awqc_model_copy_to_host(model->handle, host, pointer, size));
    }

  private:
    Model *model;
    void *pointer = nullptr;
    size_t size = 0;
  };
  Buffer allocate(size_t bytes) { return Buffer(*this, bytes); }

private:
  awqc_model *handle = nullptr;
};

} // namespace awqc

#endif // AWQC_RUNTIME_HPP
