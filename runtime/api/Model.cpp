//===- Model.cpp - A bundle bound to a device: kernels, weights and runs --===//

#include "runtime/api/Model.h"

// Only the argument struct: no emulation, Boost or CUDA headers (a
// runtime-only build has none of them).
#define AWQ_HOST_ARGS_ONLY
#include "awq/linear_args.cuh"
#include "runtime/formats/AtomicFile.h"
#include "runtime/formats/SafeTensors.h"
#include "runtime/host/HostCompiler.h"
#include "runtime/host/Sha256.h"
#include "runtime/jit/JitCompiler.h"
#include "runtime/kernels/KernelPlan.h"
#include "runtime/nvrtc/NvrtcCompiler.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <random>
#include <thread>
#include <unistd.h>

namespace fs = std::filesystem;

namespace awq {
namespace rt {
namespace {

/// What every pointer the kernels read or write must be aligned to: rows are
/// moved in 16-byte vectors.
constexpr int64_t kBufferAlignment = 16;
/// Where the split-K counters start inside a workspace.
constexpr size_t kWorkspaceAlignment = 256;

size_t alignUp(size_t value, size_t alignment) {
  return (value + alignment - 1) / alignment * alignment;
}

RuntimeError fromBundleError(const bundle::BundleError &e) {
  switch (e.kind) {
  case bundle::BundleError::Io:
    return RuntimeError(AWQC_ERROR_IO, e.what());
  case bundle::BundleError::Version:
    return RuntimeError(AWQC_ERROR_BUNDLE_VERSION, e.what());
  default:
    return RuntimeError(AWQC_ERROR_BUNDLE_CORRUPT, e.what());
  }
}

/// The bundle's headers written once to disk for the host compiler, under a
/// directory named by their digest (written aside, then renamed).
std::string materializeHeaders(
    const std::vector<std::pair<std::string, std::string>> &headers) {
  host::Sha256 digest;
  for (const auto &[name, text] : headers) {
    digest.field(name);
    digest.field(text);
  }
  const fs::path root =
      fs::path(host::resolveCacheDir(host::HostCompileOptions{})) / "headers";
  const fs::path dir = root / digest.hexDigest();
  if (fs::is_directory(dir))
    return dir.string();
  const fs::path temp = root / (".tmp-" + std::to_string(::getpid()) + "-" +
                                std::to_string(std::hash<std::thread::id>()(
                                    std::this_thread::get_id())));
  try {
    fs::remove_all(temp);
    for (const auto &[name, text] : headers) {
      const fs::path file = temp / name;
      if (file.lexically_normal().string().find("..") != std::string::npos)
        throw Error("header name '" + name + "' leaves its directory");
      fs::create_directories(file.parent_path());
      writeFileAtomically(file.string(), text);
    }
    std::error_code ec;
    fs::rename(temp, dir, ec);
    if (ec) // Another process won the race: its copy is identical.
      fs::remove_all(temp);
  } catch (const std::exception &e) {
    std::error_code ignored;
    fs::remove_all(temp, ignored);
    throw RuntimeError(AWQC_ERROR_IO,
                       "cannot write the bundle's headers under " +
                           root.string() + ": " + e.what());
  }
  return dir.string();
}

/// Seeded values a benchmark can run on: any packed bits, scales in
/// [2^-10, 2^-9], zero terms small (a bundle without weights runs no check).
std::vector<uint8_t> randomBytes(size_t bytes, bool fp16,
                                 std::mt19937_64 &rng) {
  std::vector<uint8_t> out(bytes);
  if (!fp16) {
    for (size_t i = 0; i < bytes; ++i)
      out[i] = static_cast<uint8_t>(rng());
    return out;
  }
  for (size_t i = 0; i + 1 < bytes; i += 2) {
    // fp16 with exponent 5 (2^-10) and a random mantissa.
    const uint16_t bits = static_cast<uint16_t>((5u << 10) | (rng() & 0x3ff));
    std::memcpy(&out[i], &bits, 2);
  }
  return out;
}

/// An embedded image as cuModuleLoadData takes it: a CUBIN as stored, PTX
/// (a virtual architecture's image) NUL-terminated, since the driver reads
/// PTX text up to its terminator.
std::vector<char> driverImage(bundle::Bundle &bundle,
                              const bundle::AotImage &image) {
  bundle.verify(image.tensor);
  const TensorView &view = bundle.tensor(image.tensor);
  std::vector<char> bytes(view.data, view.data + view.size);
  if (image.target.rfind("compute_", 0) == 0)
    bytes.push_back('\0');
  return bytes;
}

/// The highest virtual architecture compute_N (N <= the GPU's sm number)
/// for which the bundle holds PTX of every kernel, or "".
std::string bestPtxTarget(const bundle::Manifest &manifest,
                          const std::string &arch) {
  const int device =
      arch.rfind("sm_", 0) == 0 ? std::atoi(arch.c_str() + 3) : 0;
  std::map<std::string, size_t> kernelsWithPtx;
  for (const bundle::AotImage &image : manifest.aot)
    if (image.target.rfind("compute_", 0) == 0)
      ++kernelsWithPtx[image.target];
  std::string best;
  int bestNumber = 0;
  for (const auto &[target, count] : kernelsWithPtx) {
    const int number = std::atoi(target.c_str() + 8);
    if (count >= manifest.kernels.size() && number <= device &&
        number > bestNumber) {
      best = target;
      bestNumber = number;
    }
  }
  return best;
}

} // namespace

OpenOptions OpenOptions::from(const awqc_open_options *o) {
  OpenOptions out;
  if (!o)
    return out;
  if (o->struct_size < sizeof(awqc_open_options))
    throw RuntimeError(AWQC_ERROR_INVALID_ARGUMENT,
                       "awqc_open_options.struct_size is " +
                           std::to_string(o->struct_size) + ", expected " +
                           std::to_string(sizeof(awqc_open_options)) +
                           " (call awqc_open_options_init)");
  if (o->device)
    out.device = o->device;
  if (o->compile_only_target)
    out.compileOnlyTarget = o->compile_only_target;
  if (o->cache_dir)
    out.cacheDir = o->cache_dir;
  out.cacheMaxBytes = o->cache_max_bytes;
  if (o->jit_threads < 0)
    throw RuntimeError(AWQC_ERROR_INVALID_ARGUMENT,
                       "awqc_open_options.jit_threads must be >= 0");
  out.jitThreads = o->jit_threads;
  // A C caller may store any int in the enum field; reading a value outside
  // the enumerators through the C++ enum type is undefined, so read the int.
  static_assert(sizeof(o->jit_mode) == sizeof(int), "C enums are ints here");
  int jitMode = 0;
  std::memcpy(&jitMode, &o->jit_mode, sizeof(jitMode));
  if (jitMode != AWQC_JIT_EAGER && jitMode != AWQC_JIT_LAZY)
    throw RuntimeError(AWQC_ERROR_INVALID_ARGUMENT,
                       "awqc_open_options.jit_mode must be AWQC_JIT_EAGER or "
                       "AWQC_JIT_LAZY");
  out.lazy = jitMode == AWQC_JIT_LAZY;
  out.replan = o->replan != 0;
  out.verifyWeights = o->verify_weights != 0;
  out.randomWeights = o->random_weights != 0;
  out.randomSeed = o->random_seed;
  if (o->cuda_include_dir)
    out.cudaIncludeDir = o->cuda_include_dir;
  out.verbose = o->verbose != 0;
  return out;
}

Model::~Model() {
  kernels_.clear();
  if (backend && weightMemory)
    backend->release(weightMemory);
}

std::unique_ptr<Model> Model::open(const std::string &path,
                                   const OpenOptions &options) {
  std::unique_ptr<Model> model(new Model());
  model->options = options;
  try {
    model->bundle = bundle::Bundle::open(path);
  } catch (const bundle::BundleError &e) {
    throw fromBundleError(e);
  }
  const bundle::Manifest &manifest = model->bundle->manifest();
  if (!manifest.hasWeights && !options.randomWeights &&
      options.compileOnlyTarget.empty())
    throw RuntimeError(AWQC_ERROR_INVALID_ARGUMENT,
                       path + " has no weights (written with --no-weights); "
                              "only benchmarks open it, with random_weights");

  // The device, and the target its kernels are compiled for.
  if (!options.compileOnlyTarget.empty()) {
    std::optional<Target> target = parseTarget(options.compileOnlyTarget);
    if (!target)
      throw RuntimeError(AWQC_ERROR_UNSUPPORTED_ARCH,
                         "unknown compile-only target '" +
                             options.compileOnlyTarget +
                             "' (known: " + knownTargets() +
                             ", each also with an 'a' suffix where the "
                             "architecture has one)");
    if (const char *why = archViolation(*target->arch))
      throw RuntimeError(AWQC_ERROR_UNSUPPORTED_ARCH,
                         "compile-only target " + options.compileOnlyTarget +
                             ": " + why);
    model->target = target->name();
    model->deviceName = "none (compile only for " + model->target + ")";
  } else if (options.device == "host") {
    model->backend = makeHostBackend();
    model->target = manifest.target;
    model->deviceName = "host";
  } else if (options.device.rfind("cuda", 0) == 0) {
    int ordinal = 0;
    const std::string rest = options.device.substr(4);
    if (!rest.empty()) {
      char *end = nullptr;
      const long value =
          rest[0] == ':' ? std::strtol(rest.c_str() + 1, &end, 10) : -1;
      if (rest.size() < 2 || !end || *end || value < 0 || value > 1024)
        throw RuntimeError(AWQC_ERROR_INVALID_ARGUMENT,
                           "device '" + options.device +
                               "': expected cuda, cuda:N or host");
      ordinal = static_cast<int>(value);
    }
    model->backend = makeCudaBackend(ordinal);
    const DeviceProperties &props = model->backend->properties();
    std::optional<Target> target = parseTarget(props.arch);
    model->ptxTarget = bestPtxTarget(manifest, props.arch);
    if (!target && model->ptxTarget.empty())
      throw RuntimeError(
          AWQC_ERROR_UNSUPPORTED_ARCH,
          props.name + " is " + props.arch +
              ", which awqc's kernels do not know (known: " + knownTargets() +
              "); a bundle compiled with --aot compute_XY "
              "(PTX) runs on newer GPUs through the driver");
    if (target)
      if (const char *why = archViolation(*target->arch))
        throw RuntimeError(AWQC_ERROR_UNSUPPORTED_ARCH,
                           props.name + " is " + props.arch + ": " + why);
    // A GPU newer than awqc's table runs the bundle's PTX as it is.
    model->target = target ? target->name() : model->ptxTarget;
    model->smCount = props.smCount;
    model->deviceName = props.name + " (" + props.arch + ", " +
                        std::to_string(props.smCount) + " SMs)";
  } else {
    throw RuntimeError(AWQC_ERROR_INVALID_ARGUMENT,
                       "device '" + options.device +
                           "': expected cuda, cuda:N or host");
  }

  // bf16 layers need the bf16 arithmetic of sm_80 and newer: the contract's
  // rule, checked before anything is compiled or uploaded. (A GPU newer than
  // the table runs PTX and has it.)
  if (std::optional<Target> target = parseTarget(model->target))
    for (const bundle::Layer &layer : manifest.layers)
      if (const char *why = activationViolation(layer.shape, *target->arch))
        throw RuntimeError(AWQC_ERROR_UNSUPPORTED_ARCH,
                           "layer '" + layer.name + "' cannot run on " +
                               model->deviceName + " (" + model->target +
                               "): " + why);

  KernelCacheOptions cacheOptions;
  cacheOptions.directory = options.cacheDir;
  cacheOptions.maxBytes = options.cacheMaxBytes;
  cacheOptions.verbose = options.verbose;
  model->cache = std::make_unique<KernelCache>(cacheOptions);

  model->plan();
  // The host builds every kernel (now, or lazily on its first run) against
  // the bundle's own headers.
  if (model->backend && model->backend->isHost())
    model->hostIncludeDir = materializeHeaders(model->bundle->headerFiles());
  if (!options.lazy || !model->backend)
    model->compile();
  if (model->backend)
    model->upload();
  return model;
}

void Model::plan() {
  const bundle::Manifest &manifest = bundle->manifest();
  const bool gpu = !backend || !backend->isHost();
  const std::optional<Target> parsed = parseTarget(target);
  std::map<std::string, ModelKernel *> byConfig;
  layers.resize(manifest.layers.size());
  for (size_t i = 0; i < manifest.layers.size(); ++i) {
    const bundle::Layer &layer = manifest.layers[i];
    ModelLayer &out = layers[i];
    out.layer = &layer;
    out.name = layer.name;
    for (const bundle::KernelUse &use : layer.kernels) {
      const bundle::Kernel *original = manifest.findKernel(use.kernel);
      KernelInstance instance = original->instance;
      bool fromBundle = true;
      // Re-plan for the device found: its SM count and shared memory.
      if (options.replan && gpu && parsed) {
        PlanOptions planOptions;
        planOptions.smCount = smCount;
        // The rows the bundle gives this kernel (the compiler planned the
        // GEMV's row bodies for them).
        planOptions.gemvRows = use.maxM;
        if (use.family == KernelFamily::Gemv) {
          if (auto p = planGemv(layer.shape, *parsed->arch, planOptions))
            instance = KernelInstance::makeGemv(layer.shape, *p);
        } else if (auto p = planGemm(layer.shape, *parsed->arch, planOptions)) {
          instance = KernelInstance::makeGemm(layer.shape, *p);
        }
        fromBundle = instance.configType() == original->instance.configType();
      }
      if (use.family == KernelFamily::Gemm && parsed &&
          !checkGemmOnArch(layer.shape, instance.gemm, *parsed->arch).empty())
        throw RuntimeError(
            AWQC_ERROR_UNSUPPORTED_ARCH,
            "layer " + layer.name + ": kernel " + original->name +
                " does not fit " + target + ": " +
                checkGemmOnArch(layer.shape, instance.gemm, *parsed->arch));
      const std::string config = instance.configType();
      auto it = byConfig.find(config);
      if (it == byConfig.end()) {
        auto kernel = std::make_unique<ModelKernel>();
        kernel->instance = instance;
        kernel->fromBundle = fromBundle;
        kernel->name = fromBundle ? original->name : instance.suggestedName();
        kernel->source = fromBundle ? bundle->text(original->source)
                                    : instance.source(kernel->name);
        it = byConfig.emplace(config, kernel.get()).first;
        kernels_.push_back(std::move(kernel));
      }
      out.kernels.push_back(it->second);
    }
  }
}

void Model::compile() {
  const auto start = std::chrono::steady_clock::now();
  if (backend && backend->isHost()) {
    // Each kernel is its own host build; builds run in parallel.
    std::vector<std::thread> workers;
    std::exception_ptr failure;
    std::mutex failureMutex;
    std::atomic<size_t> next{0};
    const unsigned threads = std::max(
        1u, std::min<unsigned>(options.jitThreads > 0
                                   ? unsigned(options.jitThreads)
                                   : std::thread::hardware_concurrency(),
                               unsigned(kernels_.size())));
    for (unsigned t = 0; t < threads; ++t)
      workers.emplace_back([&] {
        for (size_t i; (i = next++) < kernels_.size();) {
          try {
            load(*kernels_[i]);
          } catch (...) {
            std::lock_guard<std::mutex> lock(failureMutex);
            if (!failure)
              failure = std::current_exception();
          }
        }
      });
    for (std::thread &worker : workers)
      worker.join();
    if (failure)
      std::rethrow_exception(failure);
    for (const auto &kernel : kernels_)
      ++(kernel->module->fromCache() ? cached : compiled);
    jitSeconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
    return;
  }
  // GPU targets: embedded CUBINs where they match, NVRTC for the rest.
  const bundle::Manifest &manifest = bundle->manifest();
  std::vector<JitKernel> pending;
  std::vector<ModelKernel *> pendingKernels;
  for (const auto &kernel : kernels_) {
    bool found = false;
    for (const bundle::AotImage &image : manifest.aot)
      // An sm_XYa image runs on exactly the sm_XY parts our target names.
      if (!found && kernel->fromBundle && image.kernel == kernel->name &&
          (image.target == target || image.target == target + "a")) {
        kernel->cubin = driverImage(*bundle, image);
        ++embedded;
        found = true;
      }
    if (!found) {
      pending.push_back({kernel->name, kernel->source});
      pendingKernels.push_back(kernel.get());
    }
  }
  // The bundle's PTX for a kernel (NUL-terminated for the driver), when it
  // has some for the best virtual architecture the GPU runs.
  auto ptxFor =
      [&](const ModelKernel &kernel) -> std::optional<std::vector<char>> {
    if (ptxTarget.empty() || !kernel.fromBundle)
      return std::nullopt;
    for (const bundle::AotImage &image : manifest.aot)
      if (image.kernel == kernel.name && image.target == ptxTarget)
        return driverImage(*bundle, image);
    return std::nullopt;
  };
  if (!pending.empty() && target == ptxTarget) {
    // NVRTC cannot target this GPU: the driver compiles the PTX.
    for (ModelKernel *kernel : pendingKernels) {
      std::optional<std::vector<char>> ptx = ptxFor(*kernel);
      if (!ptx)
        throw RuntimeError(AWQC_ERROR_UNSUPPORTED_ARCH,
                           "kernel " + kernel->name + " has no " + ptxTarget +
                               " PTX in " + bundle->path() +
                               " for a GPU awqc's kernels do not know");
      kernel->cubin = std::move(*ptx);
      ++embedded;
    }
    pending.clear();
  }
  if (!pending.empty()) {
    JitOptions jit;
    jit.target = target;
    jit.headers = bundle->headerFiles();
    jit.cudaIncludeDir = options.cudaIncludeDir;
    jit.threads = static_cast<unsigned>(options.jitThreads);
    jit.cache = cache.get();
    try {
      JitSummary summary = jitCompile(pending, jit);
      for (size_t i = 0; i < pending.size(); ++i)
        pendingKernels[i]->cubin = std::move(summary.kernels[i].cubin);
      cached += summary.cached;
      compiled += summary.compiled;
    } catch (const RuntimeError &e) {
      // This NVRTC cannot target the GPU: the bundle's PTX, if it has it.
      if (e.status() != AWQC_ERROR_UNSUPPORTED_ARCH)
        throw;
      for (ModelKernel *kernel : pendingKernels) {
        std::optional<std::vector<char>> ptx = ptxFor(*kernel);
        if (!ptx)
          throw;
        kernel->cubin = std::move(*ptx);
        ++embedded;
      }
      if (options.verbose)
        std::cerr << "awqc runtime: " << e.what() << "; using the bundle's "
                  << ptxTarget << " PTX\n";
    }
  }
  if (backend)
    for (const auto &kernel : kernels_)
      load(*kernel);
  jitSeconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
}

void Model::load(ModelKernel &kernel) {
  std::call_once(kernel.loaded, [&] {
    ModuleImage image;
    image.sourceName = kernel.name + ".cu";
    image.kernels = {kernel.name};
    if (backend->isHost()) {
      image.source = kernel.source;
      image.deviceIncludeDir = hostIncludeDir;
      // The bundle's architecture paths, as its GPU would run them.
      if (const std::optional<Target> parsed = parseTarget(target))
        image.smVersion = parsed->arch->smVersion;
    } else {
      if (kernel.cubin.empty()) { // Lazy JIT: this kernel alone.
        JitOptions jit;
        jit.target = target;
        jit.headers = bundle->headerFiles();
        jit.cudaIncludeDir = options.cudaIncludeDir;
        jit.cache = cache.get();
        JitSummary summary = jitCompile({{kernel.name, kernel.source}}, jit);
        kernel.cubin = std::move(summary.kernels[0].cubin);
      }
      image.cubin = kernel.cubin;
    }
    kernel.module = backend->load(image);
  });
  if (!kernel.module)
    throw RuntimeError(AWQC_ERROR_INTERNAL,
                       "kernel " + kernel.name + " failed to load earlier");
}

void Model::upload() {
  const bundle::Manifest &manifest = bundle->manifest();
  // One allocation for every buffer, each 256-byte aligned within it.
  struct Piece {
    void **slot;
    std::string tensor;
    size_t bytes;
    bool fp16;
  };
  std::vector<Piece> pieces;
  for (size_t i = 0; i < manifest.layers.size(); ++i) {
    const bundle::Layer &layer = manifest.layers[i];
    ModelLayer &out = layers[i];
    for (const auto &[family, buffers] : layer.layouts) {
      const WeightBuffers sizes = weightBuffers(family, layer.shape);
      DeviceLayout &d = out.layouts[static_cast<int>(family)];
      pieces.push_back(
          {&d.qweight, buffers.qweight, size_t(sizes.qweightBytes), false});
      pieces.push_back(
          {&d.scales, buffers.scales, size_t(sizes.scaleBytes()), true});
      if (sizes.zeros)
        pieces.push_back(
            {&d.zeros, buffers.zeros, size_t(sizes.scaleBytes()), true});
    }
    if (layer.shape.bias)
      pieces.push_back(
          {&out.bias, layer.bias, size_t(layer.shape.n) * 2, true});
    if (layer.shape.actScale)
      pieces.push_back(
          {&out.actScale, layer.actScale, size_t(layer.shape.k) * 2, true});
  }
  size_t total = 0;
  for (const Piece &piece : pieces)
    total = alignUp(total, bundle::kAlignment) + piece.bytes;
  weightMemory = backend->allocate(std::max<size_t>(total, 1),
                                   "the weights of " + bundle->path());
  weightBytes = total;
  std::mt19937_64 rng(options.randomSeed);
  size_t offset = 0;
  for (const Piece &piece : pieces) {
    offset = alignUp(offset, bundle::kAlignment);
    void *dst = static_cast<char *>(weightMemory) + offset;
    if (manifest.hasWeights) {
      const TensorView &view = bundle->tensor(piece.tensor);
      if (view.size != piece.bytes)
        throw RuntimeError(AWQC_ERROR_BUNDLE_CORRUPT,
                           bundle->path() + ": tensor '" + piece.tensor +
                               "' holds " + std::to_string(view.size) +
                               " bytes, its layer needs " +
                               std::to_string(piece.bytes));
      if (options.verifyWeights) {
        try {
          bundle->verify(piece.tensor);
        } catch (const bundle::BundleError &e) {
          throw fromBundleError(e);
        }
      }
      backend->copyToDevice(dst, view.data, view.size);
    } else {
      const std::vector<uint8_t> bytes =
          randomBytes(piece.bytes, piece.fp16, rng);
      backend->copyToDevice(dst, bytes.data(), bytes.size());
    }
    *piece.slot = dst;
    offset += piece.bytes;
  }
}

const ModelLayer &Model::layerAt(int64_t index) const {
  if (index < 0 || index >= int64_t(layers.size()))
    throw RuntimeError(AWQC_ERROR_INVALID_ARGUMENT,
                       "layer index " + std::to_string(index) +
                           " is out of range (the model has " +
                           std::to_string(layers.size()) + " layers)");
  return layers[size_t(index)];
}

awqc_model_info Model::info() const {
  awqc_model_info info{};
  info.num_layers = int64_t(layers.size());
  info.num_kernels = int64_t(kernels_.size());
  info.max_m = manifest().maxM;
  info.alignment = kBufferAlignment;
  info.device = deviceName.c_str();
  info.target = target.c_str();
  info.kernels_cached = cached;
  info.kernels_compiled = compiled;
  info.kernels_embedded = embedded;
  info.jit_seconds = jitSeconds;
  info.weight_bytes = weightBytes;
  return info;
}

awqc_layer_info Model::layerInfo(int64_t index) const {
  const ModelLayer &l = layerAt(index);
  const LinearShape &s = l.layer->shape;
  awqc_layer_info info{};
  info.name = l.name.c_str();
  info.k = s.k;
  info.n_out = s.nOut();
  info.bits = s.bits;
  info.group_size = int(s.group);
  info.zero_point = s.zeroPoint;
  info.has_residual = s.residual;
  info.silu_mul = s.siluMul;
  info.has_bias = s.bias;
  info.has_act_scale = s.actScale;
  info.activation = s.activation == ActivationType::BF16 ? AWQC_ACTIVATION_BF16
                                                         : AWQC_ACTIVATION_F16;
  return info;
}

int64_t Model::findLayer(const std::string &name) const {
  for (size_t i = 0; i < layers.size(); ++i) {
    if (layers[i].name == name)
      return int64_t(i);
    for (const std::string &tensor : layers[i].layer->sources)
      if (tensor == name)
        return int64_t(i);
  }
  throw RuntimeError(AWQC_ERROR_INVALID_ARGUMENT,
                     "no layer named '" + name + "' in " + bundle->path());
}

size_t Model::workspaceBytes(int64_t maxM) const {
  if (maxM < 1 || maxM > manifest().maxM)
    throw RuntimeError(AWQC_ERROR_BATCH_TOO_LARGE,
                       "M = " + std::to_string(maxM) + " is outside [1, " +
                           std::to_string(manifest().maxM) + "] of " +
                           bundle->path());
  size_t most = 0;
  for (const ModelLayer &layer : layers)
    for (size_t u = 0; u < layer.kernels.size(); ++u) {
      const bundle::KernelUse &use = layer.layer->kernels[u];
      if (use.minM > maxM)
        continue;
      // Workspace and counters grow with M: the largest M the use serves.
      const KernelLaunch launch =
          layer.kernels[u]->instance.launch(std::min(maxM, use.maxM));
      if (launch.workspaceFloats == 0 && launch.counters == 0)
        continue;
      most = std::max(most, alignUp(size_t(launch.workspaceFloats) * 4,
                                    kWorkspaceAlignment) +
                                size_t(launch.counters) * 4);
    }
  return most;
}

void Model::zeroWorkspace(void *workspace, size_t bytes, void *stream) {
  device();
  if (bytes == 0)
    return;
  if (!workspace)
    throw RuntimeError(AWQC_ERROR_INVALID_ARGUMENT, "the workspace is NULL");
  backend->memsetAsync(workspace, 0, bytes, stream);
}

void Model::runLayer(int64_t index, int64_t m, const awqc_layer_io &io,
                     void *workspace, size_t workspaceSize, void *stream) {
  device();
  const ModelLayer &layer = layerAt(index);
  const std::string &name = layer.name;
  if (m < 1 || m > manifest().maxM)
    throw RuntimeError(AWQC_ERROR_BATCH_TOO_LARGE,
                       "layer " + name + ": M = " + std::to_string(m) +
                           " is outside [1, " +
                           std::to_string(manifest().maxM) +
                           "] (the bundle's max_m; recompile with a larger "
                           "--max-m)");
  auto checkPointer = [&](const void *pointer, const char *what) {
    if (!pointer)
      throw RuntimeError(AWQC_ERROR_INVALID_ARGUMENT,
                         "layer " + name + ": " + what + " is NULL");
    if (reinterpret_cast<uintptr_t>(pointer) % kBufferAlignment != 0)
      throw RuntimeError(AWQC_ERROR_BUFFER,
                         "layer " + name + ": " + what + " is not " +
                             std::to_string(kBufferAlignment) +
                             "-byte aligned");
  };
  checkPointer(io.x, "x");
  checkPointer(io.y, "y");
  const LinearShape &shape = layer.layer->shape;
  if (shape.residual)
    checkPointer(io.residual, "residual");
  else if (io.residual)
    throw RuntimeError(AWQC_ERROR_INVALID_ARGUMENT,
                       "layer " + name +
                           " takes no residual, but one was "
                           "given");
  size_t use = 0;
  while (use < layer.kernels.size() && !(m >= layer.layer->kernels[use].minM &&
                                         m <= layer.layer->kernels[use].maxM))
    ++use;
  if (use == layer.kernels.size())
    throw RuntimeError(AWQC_ERROR_INTERNAL,
                       "layer " + name +
                           " has no kernel for M = " + std::to_string(m));
  ModelKernel &kernel = *layer.kernels[use];
  load(kernel);
  const KernelLaunch launch = kernel.instance.launch(m);
  const size_t floatsBytes =
      alignUp(size_t(launch.workspaceFloats) * 4, kWorkspaceAlignment);
  const size_t needed = launch.workspaceFloats || launch.counters
                            ? floatsBytes + size_t(launch.counters) * 4
                            : 0;
  if (needed > 0) {
    checkPointer(workspace, "the workspace");
    if (workspaceSize < needed)
      throw RuntimeError(
          AWQC_ERROR_BUFFER,
          "layer " + name + ": M = " + std::to_string(m) + " needs " +
              std::to_string(needed) + " workspace bytes, got " +
              std::to_string(workspaceSize) + " (awqc_model_workspace_bytes)");
  }
  const DeviceLayout &weights =
      layer.layouts[static_cast<int>(kernel.instance.family)];
  LinearArgs args{};
  args.x = static_cast<const half *>(io.x);
  args.qweight = static_cast<const uint32_t *>(weights.qweight);
  args.scales = static_cast<const half *>(weights.scales);
  args.zeros = static_cast<const half *>(weights.zeros);
  args.actScale = static_cast<const half *>(layer.actScale);
  args.bias = static_cast<const half *>(layer.bias);
  args.residual = static_cast<const half *>(io.residual);
  args.y = static_cast<half *>(io.y);
  args.workspace =
      launch.workspaceFloats ? static_cast<float *>(workspace) : nullptr;
  args.counters = launch.counters
                      ? reinterpret_cast<unsigned int *>(
                            static_cast<char *>(workspace) + floatsBytes)
                      : nullptr;
  args.M = static_cast<int>(m);
  backend->launch(*kernel.module, kernel.name, launch, &args, sizeof(args),
                  stream);
}

Backend &Model::device() {
  if (!backend)
    throw RuntimeError(AWQC_ERROR_NOT_RUNNABLE,
                       bundle->path() + " was opened compile-only (for " +
                           target + "); open it on a device to run it");
  return *backend;
}

const KernelCacheStats Model::cacheStats() const { return cache->stats(); }

} // namespace rt
} // namespace awq
