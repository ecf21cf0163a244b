//===- BundleBuilder.h - Kernel-level awq IR to a model.awqb bundle -------===//
//
// Collects the layers of a kernel-level module in program order (a layer is
// one kernel op, or the GEMV/GEMM pair an awq.select_by_rows picks between,
// with the M range each serves), the distinct kernels (from the emitter),
// the device library's headers, and the weight buffers each layer's kernels
// read, evaluated as the IR states (awq.fold_zero_points, awq.repack) one
// layer at a time, and writes them as a bundle (runtime/bundle/Bundle.h).
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_COMPILER_BUNDLE_BUNDLEBUILDER_H
#define AWQ_COMPILER_BUNDLE_BUNDLEBUILDER_H

#include "compiler/codegen/CudaEmitter.h"
#include "runtime/bundle/Bundle.h"

#include "mlir/IR/BuiltinOps.h"

#include <functional>
#include <string>
#include <vector>

namespace awq {

class WeightSource;

struct BundleOptions {
  int64_t maxM = 4096;
  std::string compiler;    ///< "awqc 0.1.0".
  std::string inputPath;   ///< For the manifest.
  std::string inputSha256; ///< For the manifest.
  /// Where the weights come from; nullptr writes a bundle without weights.
  WeightSource *weights = nullptr;
  /// The device library's include directory (holding awq/).
  std::string deviceIncludeDir;
  /// CUBINs compiled ahead of time, embedded as aot/TARGET/KERNEL.cubin.
  struct AotCubin {
    std::string kernel, target;
    std::vector<char> cubin;
  };
  std::vector<AotCubin> aot;
  /// Called after each tensor written: (done, total).
  std::function<void(size_t, size_t)> progress;
};

/// A layer of a kernel-level module and the kernels it runs, each with the
/// M range it serves up to a maximum M (a manifest's bundle::Layer::kernels).
struct LayerKernels {
  std::string name; ///< The checkpoint tensors it computes, ", "-joined.
  LinearShape shape;
  std::vector<bundle::KernelUse> kernels;
};

/// `module`'s layers in program order with their kernels up to `maxM`.
std::vector<LayerKernels> layerKernels(mlir::ModuleOp module, int64_t maxM);

/// The manifest of `module`'s layers and kernels (hashes still empty).
/// Throws awq::Error when a layer cannot run up to options.maxM.
bundle::Manifest
describeBundle(mlir::ModuleOp module,
               const std::vector<mlir::awq::EmittedKernel> &kernels,
               const BundleOptions &options);

/// Writes the bundle of `module` to `path` (atomically).
bundle::WriteStats
writeModuleBundle(mlir::ModuleOp module,
                  const std::vector<mlir::awq::EmittedKernel> &kernels,
                  const std::string &path, const BundleOptions &options,
                  bundle::Manifest *written = nullptr);

/// The device library's headers under `includeDir` as (include name,
/// contents), what a bundle embeds and NVRTC compiles against.
std::vector<std::pair<std::string, std::string>>
readDeviceHeaders(const std::string &includeDir);

/// SHA-256 of a file, or of every regular file under a directory (names and
/// contents, in name order; hidden files skipped).
std::string hashInput(const std::string &path);

} // namespace awq

#endif // AWQ_COMPILER_BUNDLE_BUNDLEBUILDER_H
