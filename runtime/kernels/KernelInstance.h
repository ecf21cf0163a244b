//===- KernelInstance.h - One instance of a device-library kernel ---------===//
//
// A kernel instance is a kernel family with all of its template parameters:
// the layer shape it serves and its tiling. It is the unit the compiler
// emits once (layers with the same instance share it), the runtime compiles
// and caches, and every launch is computed from. This is the one place that
// turns an instance into CUDA source and into launch geometry; the compiler's
// emitter, the manifest writer, the host runner and the runtime all call it.
// MLIR-free.
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_RUNTIME_KERNELS_KERNELINSTANCE_H
#define AWQ_RUNTIME_KERNELS_KERNELINSTANCE_H

#include "awq/contract.h"

#include <cstdint>
#include <string>
#include <vector>

namespace awq {

enum class KernelFamily { Gemv, Gemm };

/// "gemv" or "gemm".
const char *familyName(KernelFamily family);

/// Reads activationTypeName's spelling ("f16", "bf16") into `type`; false
/// for anything else.
bool parseActivationType(const std::string &name, ActivationType &type);

/// Whether `name` can name a kernel: a C identifier that is not reserved
/// (no leading "__" or "_" and a capital, which the implementation owns).
bool isKernelName(const std::string &name);

/// How to launch an instance for M rows, and what the launch needs.
struct KernelLaunch {
  int64_t gridX = 1, gridY = 1, gridZ = 1;
  int64_t threads = 0;
  int64_t sharedBytes = 0;     ///< Dynamic; opt in above 48 KB.
  int64_t workspaceFloats = 0; ///< Zeroed fp32 split-K workspace.
  int64_t counters = 0;        ///< Zeroed 32-bit split-K counters.
};

/// The weight buffers a kernel reads, in its family's layout: what
/// awq.repack computes (runtime/kernels/GemvLayout.h, GemmLayout.h).
struct KernelWeights {
  KernelFamily layout = KernelFamily::Gemv;
  std::vector<uint8_t> qweight; ///< Packed weights.
  /// Bits of the layer's activation type (fp16 or bf16), as are the zeros.
  std::vector<uint16_t> scales;
  /// z (GEMV) or z * s (GEMM); empty for a symmetric layer.
  std::vector<uint16_t> zeros;
};

/// The buffers `family`'s weight layout stores for a layer of `shape`.
WeightBuffers weightBuffers(KernelFamily family, const LinearShape &shape);

struct KernelInstance {
  KernelFamily family = KernelFamily::Gemv;
  LinearShape shape;
  GemvParams gemv; ///< Valid when family == Gemv.
  GemmParams gemm; ///< Valid when family == Gemm.

  static KernelInstance makeGemv(const LinearShape &shape,
                                 const GemvParams &params);
  static KernelInstance makeGemm(const LinearShape &shape,
                                 const GemmParams &params);

  /// Why the instance violates the kernel contract, or "".
  std::string check() const;

  /// The template instance, `awq::GemvConfig<...>` or `awq::GemmConfig<...>`:
  /// equal keys are the same kernel.
  std::string configType() const;
  /// A readable C identifier naming the instance ("gemv_k4096_n4096_b4_g128"
  /// and the tiling and epilogue), unique per configType().
  std::string suggestedName() const;

  int64_t threads() const;
  int64_t sharedBytes() const;
  /// Bytes of weights, scales and zero terms one launch streams.
  int64_t weightBytes() const;
  /// The geometry for `m` >= 1 rows. Throws awq::Error for m < 1 or a grid
  /// beyond CUDA's limits.
  KernelLaunch launch(int64_t m) const;
  /// The launch as a function of M, for manifests and people.
  struct LaunchFormula {
    int64_t grid[3] = {1, 1, 1}; ///< grid[rowAxis] is ceil(M / rowsPerBlock).
    int rowAxis = 2;             ///< 1 (y) for the GEMM, 2 (z) for the GEMV.
    int64_t rowsPerBlock = 1;
    int64_t splitK = 1; ///< > 1: zeroed workspace M x N floats and one
                        ///< counter per block of the x and row axes.
    /// The GEMM's K splits shrink as M tiles grow: grid z is
    /// max(1, splitK / grid[rowAxis]) (GemmGeometry::gridZ), and the
    /// workspace is needed only while it is above 1.
    bool splitShrinksWithM = false;
    /// The row axis for people: "ceil(M / r)", or "M" for one row per
    /// block.
    std::string rowText() const;
    /// The split axis for people: "max(1, floor(S / ceil(M / r)))" or the
    /// fixed count.
    std::string splitText() const;
    /// grid z for M rows.
    int64_t splits(int64_t m) const;
    int64_t threads = 0, sharedBytes = 0;
  };
  LaunchFormula launchFormula() const;
  /// The launch for people: "grid (x, y, ceil(M / r)), block t, ...".
  std::string describeLaunch() const;

  /// The self-contained CUDA source defining extern "C" kernel `name` (a C
  /// identifier, checked), for NVRTC and for the host emulation alike. It
  /// names no layer, so the same instance has the same source in every
  /// model (and one cache entry). Throws awq::Error when the instance
  /// violates the contract.
  std::string source(const std::string &name) const;
};

} // namespace awq

#endif // AWQ_RUNTIME_KERNELS_KERNELINSTANCE_H
