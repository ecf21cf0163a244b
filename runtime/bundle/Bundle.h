//===- Bundle.h - model.awqb: a compiled model in one safetensors file ----===//
//
// A bundle is everything the runtime needs to run a model's linear layers,
// in one file that any safetensors reader opens (docs/bundle.md):
//  - `__metadata__` holds "format" = "awqc-bundle", "format_version", the
//    manifest (JSON text) and its SHA-256;
//  - tensors hold the device library's headers (include/awq/...), one CUDA
//    source per distinct kernel (kernels/NAME.cu), optional AOT CUBINs
//    (aot/ARCH/NAME.cubin) and each layer's repacked weights, scales, zero
//    terms, bias and activation scale (layers.I.FAMILY.qweight, ...);
//  - every tensor starts 256-byte aligned in the file (for direct upload
//    from the mapping), with `.pad.N` U8 tensors filling the gaps so that
//    strict readers see no holes; the manifest records every tensor's
//    SHA-256.
// This header owns the format: the writer (BundleWriter) and the reader
// (Bundle) share the manifest types below. MLIR-free.
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_RUNTIME_BUNDLE_BUNDLE_H
#define AWQ_RUNTIME_BUNDLE_BUNDLE_H

#include "runtime/formats/DType.h"
#include "runtime/kernels/KernelInstance.h"
#include "runtime/support/Error.h"

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace awq {

class SafeTensorsFile;
struct TensorView;

namespace bundle {

/// The format this code writes and reads; a reader refuses any other.
/// 2: the GEMV layout's scales and zero points are [groups, N padded to 32]
/// (were [N, groups]).
/// 3: a bf16 layer's GEMV layout stores its scales times 2^30.
/// 4: the GEMV layout pairs the units of layers whose units fill whole tile
/// pairs.
/// 5: it pairs every layer's whole tile pairs, the last one or two tiles
/// unpaired (gemvPairedUnits).
constexpr int kFormatVersion = 5;
constexpr const char *kFormatName = "awqc-bundle";
/// Alignment of every tensor's first byte in the file.
constexpr uint64_t kAlignment = 256;
/// The largest M a bundle may declare (the GEMM grid's y limit times its
/// smallest row tile keeps every launch within CUDA's limits).
constexpr int64_t kMaxRowsLimit = 1 << 20;

/// A kernel: an instance of a device-library template, its source tensor,
/// and the layers it serves.
struct Kernel {
  std::string name;
  KernelInstance instance;
  std::string source; ///< Tensor holding the CUDA source.
  std::vector<std::string> serves;
};

/// A kernel a layer runs for M in [minM, maxM].
struct KernelUse {
  std::string kernel;
  KernelFamily family = KernelFamily::Gemv;
  int64_t minM = 1, maxM = 1;
};

/// The tensors holding one family's weight layout of a layer.
struct LayoutBuffers {
  std::string qweight, scales, zeros; ///< zeros empty when symmetric.
};

struct Layer {
  std::string name; ///< The checkpoint tensors it computes, ", "-joined.
  std::vector<std::string> sources; ///< Those tensors one by one.
  std::string function;             ///< The IR function it belongs to.
  LinearShape shape;                ///< The layer with its epilogue.
  std::vector<KernelUse> kernels;   ///< Disjoint M ranges, ascending.
  std::map<KernelFamily, LayoutBuffers> layouts;
  std::string bias, actScale; ///< Tensors; empty when absent.
  /// The kernel use serving `m`, or nullptr.
  const KernelUse *useFor(int64_t m) const;
};

/// An embedded CUBIN compiled ahead of time.
struct AotImage {
  std::string kernel, target, tensor;
};

struct Manifest {
  std::string compiler;    ///< "awqc 0.1.0".
  std::string inputPath;   ///< What awqc compile read.
  std::string inputSha256; ///< Its hash (files in name order).
  std::string target;      ///< The compile target, "sm_90".
  int64_t targetSms = 0;   ///< The SM count the plan assumed.
  int64_t maxM = 0;        ///< Largest M a run accepts.
  bool hasWeights = true;  ///< False: written with --no-weights.
  std::map<std::string, std::string> headers; ///< Include name -> tensor.
  std::vector<Kernel> kernels;                ///< In order of first use.
  std::vector<Layer> layers;                  ///< In program order.
  std::vector<AotImage> aot;
  /// Tensor -> SHA-256 (hex) of its bytes, for every tensor but padding.
  std::map<std::string, std::string> tensorSha256;

  const Kernel *findKernel(const std::string &name) const;
};

/// The manifest as JSON text, and back. fromJson checks every field and
/// throws awq::Error naming `what` and the field.
std::string toJson(const Manifest &manifest);
Manifest manifestFromJson(const std::string &text, const std::string &what);

/// Checks what JSON cannot: kernels satisfy the contract and serve layers of
/// their shape, M ranges are ordered and cover 1..maxM, every referenced
/// tensor is declared with a hash. Throws awq::Error naming `what`.
void checkManifest(const Manifest &manifest, const std::string &what);

/// The tensor names a layer's buffers use.
std::string layerTensor(size_t layer, const std::string &part);

/// A tensor to write, produced when the writer reaches it so that only one
/// layer's buffers are in memory at a time.
struct PendingTensor {
  std::string name;
  DType dtype = DType::U8;
  std::vector<int64_t> shape;
  /// Appends exactly dtype x shape bytes to `out` (which arrives empty).
  std::function<void(std::vector<uint8_t> &out)> produce;
};

/// Statistics of a written bundle.
struct WriteStats {
  uint64_t fileBytes = 0, tensorBytes = 0, paddingBytes = 0;
  size_t tensors = 0;
};

/// Writes `manifest` and `tensors` to `path` atomically (a temporary file
/// renamed at the end): the header is laid out first from the declared
/// shapes, the tensors are produced and streamed in order, then the header
/// is completed with their hashes (manifest.tensorSha256 is filled in).
/// `progress(i, n)` is called after each tensor. Throws awq::Error.
WriteStats
writeBundle(const std::string &path, Manifest &manifest,
            const std::vector<PendingTensor> &tensors,
            const std::function<void(size_t, size_t)> &progress = {});

/// An opened bundle: the mapped file, its checked manifest, and its tensors.
class Bundle {
public:
  /// Maps and checks `path`: the safetensors structure, the format name and
  /// version, the manifest and its hash, tensor alignment, and the hashes of
  /// the headers and sources (weights are checked on demand: verify()).
  /// Throws awq::Error; formatVersion() tells a version mismatch apart.
  static std::unique_ptr<Bundle> open(const std::string &path);
  ~Bundle();

  const std::string &path() const;
  const Manifest &manifest() const { return manifest_; }
  /// The tensor `name`; throws awq::Error naming the bundle when absent.
  const TensorView &tensor(const std::string &name) const;
  /// The tensor's bytes as text (sources, headers).
  std::string text(const std::string &name) const;
  /// Checks `name`'s bytes against the manifest's hash; throws awq::Error.
  void verify(const std::string &name) const;
  /// Headers as (include name, contents) pairs, sorted by name.
  std::vector<std::pair<std::string, std::string>> headerFiles() const;
  uint64_t fileBytes() const;

private:
  Bundle() = default;
  std::unique_ptr<SafeTensorsFile> file;
  Manifest manifest_;
};

/// Errors from Bundle::open carry the kind of failure.
class BundleError : public Error {
public:
  enum Kind { Io, Corrupt, Version };
  BundleError(Kind kind, const std::string &message)
      : Error(message), kind(kind) {}
  Kind kind;
};

/// Whether the file at `path` starts like a bundle (a safetensors header
/// whose metadata names the format). False for anything unreadable.
bool looksLikeBundle(const std::string &path);

} // namespace bundle
} // namespace awq

#endif // AWQ_RUNTIME_BUNDLE_BUNDLE_H
