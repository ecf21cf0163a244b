//===- Runtime.cpp - The C API over awq::rt::Model ------------------------===//
//
// Every entry point catches everything: a C caller sees a status and a
// per-thread message, never an exception.
//
//===----------------------------------------------------------------------===//

#include "awqc_runtime.h"

#include "runtime/api/Model.h"
#include "runtime/bundle/Bundle.h"

#include <new>
#include <string>

struct awqc_model {
  std::unique_ptr<awq::rt::Model> model;
};

namespace {

thread_local std::string lastError;

template <typename Body> awqc_status guarded(Body &&body) {
  try {
    body();
    lastError.clear();
    return AWQC_OK;
  } catch (const awq::rt::RuntimeError &e) {
    lastError = e.what();
    return e.status();
  } catch (const awq::bundle::BundleError &e) {
    lastError = e.what();
    return e.kind == awq::bundle::BundleError::Io ? AWQC_ERROR_IO
           : e.kind == awq::bundle::BundleError::Version
               ? AWQC_ERROR_BUNDLE_VERSION
               : AWQC_ERROR_BUNDLE_CORRUPT;
  } catch (const std::bad_alloc &) {
    lastError = "out of host memory";
    return AWQC_ERROR_OUT_OF_MEMORY;
  } catch (const std::exception &e) {
    lastError = e.what();
    return AWQC_ERROR_INTERNAL;
  } catch (...) {
    lastError = "an unknown exception";
    return AWQC_ERROR_INTERNAL;
  }
}

void require(const void *pointer, const char *what) {
  if (!pointer)
    throw awq::rt::RuntimeError(AWQC_ERROR_INVALID_ARGUMENT,
                                std::string(what) + " is NULL");
}

} // namespace

extern "C" {

const char *awqc_status_name(awqc_status status) {
  switch (status) {
#define AWQC_NAME(s)                                                           \
  case s:                                                                      \
    return #s;
    AWQC_NAME(AWQC_OK)
    AWQC_NAME(AWQC_ERROR_INVALID_ARGUMENT)
    AWQC_NAME(AWQC_ERROR_IO)
    AWQC_NAME(AWQC_ERROR_BUNDLE_CORRUPT)
    AWQC_NAME(AWQC_ERROR_BUNDLE_VERSION)
    AWQC_NAME(AWQC_ERROR_NO_DRIVER)
    AWQC_NAME(AWQC_ERROR_NO_DEVICE)
    AWQC_NAME(AWQC_ERROR_UNSUPPORTED_ARCH)
    AWQC_NAME(AWQC_ERROR_JIT)
    AWQC_NAME(AWQC_ERROR_OUT_OF_MEMORY)
    AWQC_NAME(AWQC_ERROR_BUFFER)
    AWQC_NAME(AWQC_ERROR_BATCH_TOO_LARGE)
    AWQC_NAME(AWQC_ERROR_DRIVER)
    AWQC_NAME(AWQC_ERROR_NOT_RUNNABLE)
    AWQC_NAME(AWQC_ERROR_INTERNAL)
#undef AWQC_NAME
  }
  return "AWQC_ERROR_UNKNOWN";
}

const char *awqc_last_error(void) { return lastError.c_str(); }

const char *awqc_runtime_version(void) {
  static const std::string version =
      std::string("awqc-runtime ") + AWQC_VERSION + " (bundle format " +
      std::to_string(awq::bundle::kFormatVersion) + ")";
  return version.c_str();
}

void awqc_open_options_init(awqc_open_options *options) {
  if (!options)
    return;
  *options = awqc_open_options{};
  options->struct_size = sizeof(awqc_open_options);
  options->jit_mode = AWQC_JIT_EAGER;
  options->replan = 1;
  options->verify_weights = 1;
}

awqc_status awqc_model_open(const char *path, const awqc_open_options *options,
                            awqc_model **model) {
  return guarded([&] {
    require(path, "the bundle path");
    require(model, "the model output pointer");
    *model = nullptr;
    auto handle = std::make_unique<awqc_model>();
    handle->model =
        awq::rt::Model::open(path, awq::rt::OpenOptions::from(options));
    *model = handle.release();
  });
}

void awqc_model_close(awqc_model *model) { delete model; }

awqc_status awqc_model_get_info(const awqc_model *model,
                                awqc_model_info *info) {
  return guarded([&] {
    require(model, "the model");
    require(info, "the info pointer");
    *info = model->model->info();
  });
}

awqc_status awqc_model_get_layer(const awqc_model *model, int64_t index,
                                 awqc_layer_info *info) {
  return guarded([&] {
    require(model, "the model");
    require(info, "the info pointer");
    *info = model->model->layerInfo(index);
  });
}

awqc_status awqc_model_find_layer(const awqc_model *model, const char *name,
                                  int64_t *index) {
  return guarded([&] {
    require(model, "the model");
    require(name, "the layer name");
    require(index, "the index pointer");
    *index = model->model->findLayer(name);
  });
}

awqc_status awqc_model_workspace_bytes(const awqc_model *model, int64_t max_m,
                                       size_t *bytes) {
  return guarded([&] {
    require(model, "the model");
    require(bytes, "the bytes pointer");
    *bytes = model->model->workspaceBytes(max_m);
  });
}

awqc_status awqc_model_zero_workspace(awqc_model *model, void *workspace,
                                      size_t bytes, void *stream) {
  return guarded([&] {
    require(model, "the model");
    model->model->zeroWorkspace(workspace, bytes, stream);
  });
}

awqc_status awqc_model_run_layer(awqc_model *model, int64_t index, int64_t m,
                                 const awqc_layer_io *io, void *workspace,
                                 size_t workspace_bytes, void *stream) {
  return guarded([&] {
    require(model, "the model");
    require(io, "the layer buffers");
    model->model->runLayer(index, m, *io, workspace, workspace_bytes, stream);
  });
}

awqc_status awqc_model_run_layers(awqc_model *model, int64_t first,
                                  int64_t count, int64_t m,
                                  const awqc_layer_io *io, void *workspace,
                                  size_t workspace_bytes, void *stream) {
  return guarded([&] {
    require(model, "the model");
    require(io, "the layer buffers");
    if (count < 0)
      throw awq::rt::RuntimeError(AWQC_ERROR_INVALID_ARGUMENT,
                                  "the layer count is negative");
    for (int64_t i = 0; i < count; ++i)
      model->model->runLayer(first + i, m, io[i], workspace, workspace_bytes,
                             stream);
  });
}

awqc_status awqc_model_alloc(awqc_model *model, size_t bytes, void **pointer) {
  return guarded([&] {
    require(model, "the model");
    require(pointer, "the pointer output");
    *pointer = nullptr;
    *pointer = model->model->device().allocate(
        bytes, std::to_string(bytes) + " bytes for the caller");
  });
}

awqc_status awqc_model_free(awqc_model *model, void *pointer) {
  return guarded([&] {
    require(model, "the model");
    if (pointer)
      model->model->device().release(pointer);
  });
}

awqc_status awqc_model_copy_to_device(awqc_model *model, void *device,
                                      const void *host, size_t bytes) {
  return guarded([&] {
    require(model, "the model");
    if (bytes == 0)
      return;
    require(device, "the device pointer");
    require(host, "the host pointer");
    model->model->device().copyToDevice(device, host, bytes);
  });
}

awqc_status awqc_model_copy_to_host(awqc_model *model, void *host,
                                    const void *device, size_t bytes) {
  return guarded([&] {
    require(model, "the model");
    if (bytes == 0)
      return;
    require(device, "the device pointer");
    require(host, "the host pointer");
    model->model->device().copyToHost(host, device, bytes);
  });
}

awqc_status awqc_model_synchronize(awqc_model *model, void *stream) {
  return guarded([&] {
    require(model, "the model");
    model->model->device().synchronize(stream);
  });
}

} // extern "C"
