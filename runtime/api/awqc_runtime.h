/*===- awqc_runtime.h - The awqc runtime's C API --------------------------===*
 *
 * Opens a kernel bundle (model.awqb, written by `awqc compile`), binds it to
 * a device (a CUDA GPU through the driver, or the host CPU), JIT-compiles its
 * kernels for that device (cached on disk), uploads its weights and runs its
 * linear layers on buffers and a stream the caller owns.
 *
 *   awqc_open_options options;
 *   awqc_open_options_init(&options);
 *   options.device = "host";
 *   awqc_model *model = NULL;
 *   if (awqc_model_open("model.awqb", &options, &model) != AWQC_OK)
 *     fprintf(stderr, "%s\n", awqc_last_error());
 *
 * Conventions:
 *  - Every function returns an awqc_status; on failure, awqc_last_error()
 *    returns a message naming what failed (file, layer, kernel, driver call).
 *    The message is per thread and valid until that thread's next call.
 *  - Handles are opaque. The model owns its device memory (weights and
 *    compiled kernels) and frees it in awqc_model_close. Activations,
 *    outputs, the workspace and the stream belong to the caller: the runtime
 *    never frees, keeps or synchronizes them.
 *  - Device pointers are CUdeviceptr values cast to void* on the cuda device
 *    and host pointers on the host device. Streams are CUstream on cuda and
 *    ignored on host (runs complete before the call returns).
 *  - A model may run layers from several threads at once, each with its own
 *    stream and workspace.
 *  - Activations are row-major [M, K], outputs and residuals [M, N_out],
 *    all of the layer's activation type (awqc_layer_info.activation): fp16
 *    or bf16 (bf16 bundles open only on sm_80 and newer).
 *  - Structs the runtime fills (awqc_model_info, awqc_layer_info) grow only
 *    at their end, and each growth bumps AWQC_RUNTIME_API_VERSION: a program
 *    must be rebuilt against the header of the runtime it loads.
 *
 *===----------------------------------------------------------------------===*/
#ifndef AWQC_RUNTIME_H
#define AWQC_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* 2: awqc_layer_info.activation (bf16 activations). */
#define AWQC_RUNTIME_API_VERSION 2

#if defined(__GNUC__)
#define AWQC_API __attribute__((visibility("default")))
#else
#define AWQC_API
#endif

typedef enum awqc_status {
  AWQC_OK = 0,
  /** A null handle or pointer, an unknown option value, a bad layer index. */
  AWQC_ERROR_INVALID_ARGUMENT = 1,
  /** A file could not be opened, read or written. */
  AWQC_ERROR_IO = 2,
  /** The bundle is truncated, malformed or fails a hash check. */
  AWQC_ERROR_BUNDLE_CORRUPT = 3,
  /** The bundle was written by an incompatible compiler version. */
  AWQC_ERROR_BUNDLE_VERSION = 4,
  /** No CUDA driver (libcuda.so.1 cannot be loaded or initialised). */
  AWQC_ERROR_NO_DRIVER = 5,
  /** The driver reports no GPU, or not the one asked for. */
  AWQC_ERROR_NO_DEVICE = 6,
  /** The GPU's architecture is older than any the kernels support, or one
   *  this NVRTC cannot target. */
  AWQC_ERROR_UNSUPPORTED_ARCH = 7,
  /** NVRTC (or the host compiler) failed; the message has its log. */
  AWQC_ERROR_JIT = 8,
  /** Device (or host) memory could not be allocated. */
  AWQC_ERROR_OUT_OF_MEMORY = 9,
  /** A buffer is too small or misaligned. */
  AWQC_ERROR_BUFFER = 10,
  /** M is below 1 or above the bundle's max_m. */
  AWQC_ERROR_BATCH_TOO_LARGE = 11,
  /** Any other CUDA driver failure; the message names the call. */
  AWQC_ERROR_DRIVER = 12,
  /** The model was opened compile-only and cannot run. */
  AWQC_ERROR_NOT_RUNNABLE = 13,
  /** A bug in awqc; please report the message. */
  AWQC_ERROR_INTERNAL = 14,
} awqc_status;

/** A short name of `status` ("AWQC_ERROR_JIT"); never NULL. */
AWQC_API const char *awqc_status_name(awqc_status status);

/** The message of this thread's last failed call ("" when none). */
AWQC_API const char *awqc_last_error(void);

/** "awqc-runtime 0.1.0 (bundle format 2)". */
AWQC_API const char *awqc_runtime_version(void);

typedef struct awqc_model awqc_model;

/** When kernels are compiled. */
typedef enum awqc_jit_mode {
  /** Every kernel at awqc_model_open, in parallel (the default). */
  AWQC_JIT_EAGER = 0,
  /** Each kernel on its first run. */
  AWQC_JIT_LAZY = 1,
} awqc_jit_mode;

typedef struct awqc_open_options {
  /** sizeof(awqc_open_options), set by awqc_open_options_init. */
  size_t struct_size;
  /** "cuda", "cuda:N" (device ordinal N), "host", or NULL for "cuda". */
  const char *device;
  /** Compile only: JIT every kernel for this target ("sm_80", "sm_90a")
   *  without a device; the model cannot run. NULL for a runnable model. */
  const char *compile_only_target;
  /** The kernel cache directory; NULL for $AWQC_CACHE_DIR, else
   *  $XDG_CACHE_HOME/awqc/kernels, else ~/.cache/awqc/kernels. */
  const char *cache_dir;
  /** Largest cache size in bytes before least recently used entries are
   *  evicted; 0 for the default (2 GiB). */
  uint64_t cache_max_bytes;
  /** Compiler threads; 0 for one per core. */
  int jit_threads;
  awqc_jit_mode jit_mode;
  /** Nonzero: re-plan each layer's tiling for the device found (SM count,
   *  shared memory, architecture); zero: use the bundle's tiling. Default 1. */
  int replan;
  /** Nonzero: check each weight tensor's SHA-256 before upload. Default 1. */
  int verify_weights;
  /** For a bundle written without weights (awqc compile --no-weights):
   *  nonzero fills every weight buffer with seeded random values on the
   *  device, for benchmarks. A weightless bundle is refused otherwise. */
  int random_weights;
  uint64_t random_seed;
  /** The CUDA toolkit's include directory (cuda_fp16.h) for NVRTC; NULL for
   *  $AWQC_CUDA_INCLUDE_DIR, $CUDA_HOME/include or the build's toolkit. */
  const char *cuda_include_dir;
  /** 0 quiet; 1 notes (cache misses, rebuilt entries) on stderr. */
  int verbose;
} awqc_open_options;

/** Fills `options` with the defaults. */
AWQC_API void awqc_open_options_init(awqc_open_options *options);

/** Opens `path`, checks its version and hashes, binds it to the device,
 *  compiles (or loads from the cache) its kernels and uploads its weights. */
AWQC_API awqc_status awqc_model_open(const char *path,
                                     const awqc_open_options *options,
                                     awqc_model **model);

/** Frees the model's device memory and kernels. NULL is a no-op. */
AWQC_API void awqc_model_close(awqc_model *model);

typedef struct awqc_model_info {
  int64_t num_layers;
  int64_t num_kernels; /**< Distinct kernels compiled for the device. */
  int64_t max_m;       /**< Largest M any run accepts. */
  /** Required alignment in bytes of x, residual, y and the workspace. */
  int64_t alignment;
  const char *device; /**< "NVIDIA H200 (sm_90, 132 SMs)" or "host". */
  const char *target; /**< What the kernels were compiled for: "sm_90a". */
  /** JIT statistics of the open: kernels from the cache, compiled now,
   *  embedded CUBINs used, and the wall seconds compilation took. */
  int64_t kernels_cached, kernels_compiled, kernels_embedded;
  double jit_seconds;
  uint64_t weight_bytes; /**< Device bytes of the uploaded weights. */
} awqc_model_info;

/** Strings in `info` stay valid until awqc_model_close. */
AWQC_API awqc_status awqc_model_get_info(const awqc_model *model,
                                         awqc_model_info *info);

/** The element type of a layer's activations, outputs and residual. */
typedef enum awqc_activation_type {
  AWQC_ACTIVATION_F16 = 0,  /**< IEEE binary16 */
  AWQC_ACTIVATION_BF16 = 1, /**< bfloat16 (sm_80 and newer) */
} awqc_activation_type;

typedef struct awqc_layer_info {
  const char *name; /**< The checkpoint tensors it computes, joined by ", ". */
  int64_t k;        /**< Columns of x. */
  int64_t n_out;    /**< Columns of y (and residual). */
  int bits, group_size, zero_point;
  int has_residual; /**< y = f(x W + b) + residual. */
  int silu_mul;     /**< y = silu(gate) * up over interleaved columns. */
  int has_bias, has_act_scale;
  /** The type of x, residual and y (API version 2). */
  awqc_activation_type activation;
} awqc_layer_info;

/** Layer `index` in program order, 0 <= index < num_layers. */
AWQC_API awqc_status awqc_model_get_layer(const awqc_model *model,
                                          int64_t index, awqc_layer_info *info);

/** The index of the layer named `name` (a whole name from get_layer, or one
 *  of its tensors). */
AWQC_API awqc_status awqc_model_find_layer(const awqc_model *model,
                                           const char *name, int64_t *index);

/** Bytes of workspace a run of any layer with up to `max_m` rows needs (0
 *  when none). The caller allocates it, zeroes it once (for example with
 *  awqc_model_zero_workspace) and may reuse it for every run on one stream:
 *  kernels leave it zeroed. Runs in flight at once need their own. */
AWQC_API awqc_status awqc_model_workspace_bytes(const awqc_model *model,
                                                int64_t max_m, size_t *bytes);

/** Zeroes `bytes` of `workspace` on `stream`. */
AWQC_API awqc_status awqc_model_zero_workspace(awqc_model *model,
                                               void *workspace, size_t bytes,
                                               void *stream);

/** One layer's buffers. `residual` is required exactly when the layer has
 *  one; NULL otherwise. */
typedef struct awqc_layer_io {
  const void *x;        /**< [m, k] of the layer's activation type */
  const void *residual; /**< [m, n_out] or NULL, of that type */
  void *y;              /**< [m, n_out], of that type */
} awqc_layer_io;

/** Runs layer `index` on `m` rows, enqueued on `stream`. */
AWQC_API awqc_status awqc_model_run_layer(awqc_model *model, int64_t index,
                                          int64_t m, const awqc_layer_io *io,
                                          void *workspace,
                                          size_t workspace_bytes, void *stream);

/** Runs layers first .. first + count - 1 in order on `stream`, layer
 *  first + i on io[i] (a block's linears, or any range; later layers may
 *  read earlier outputs). */
AWQC_API awqc_status awqc_model_run_layers(awqc_model *model, int64_t first,
                                           int64_t count, int64_t m,
                                           const awqc_layer_io *io,
                                           void *workspace,
                                           size_t workspace_bytes,
                                           void *stream);

/** Device memory on the model's device, for callers without a CUDA runtime
 *  of their own (C programs, tools, tests): 256-byte aligned, freed with
 *  awqc_model_free before the model is closed. */
AWQC_API awqc_status awqc_model_alloc(awqc_model *model, size_t bytes,
                                      void **pointer);
AWQC_API awqc_status awqc_model_free(awqc_model *model, void *pointer);
/** Synchronous copies between host memory and the model's device. */
AWQC_API awqc_status awqc_model_copy_to_device(awqc_model *model, void *device,
                                               const void *host, size_t bytes);
AWQC_API awqc_status awqc_model_copy_to_host(awqc_model *model, void *host,
                                             const void *device, size_t bytes);
/** Waits for `stream` (NULL: everything on the device) to finish. */
AWQC_API awqc_status awqc_model_synchronize(awqc_model *model, void *stream);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* AWQC_RUNTIME_H */
