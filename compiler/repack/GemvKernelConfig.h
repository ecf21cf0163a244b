//===- GemvKernelConfig.h - Plan, check and emit one GEMV kernel ----------===//
//
// The host-side mirror of awq::GemvConfig (awq/gemv.cuh): the compiler fills
// the layer's shape, quantization and epilogue, planGemvTiling() picks the
// tiling for a GPU, validate() checks every constraint the device template
// static_asserts (so a bad plan is an awq::Error naming the field, not an
// NVRTC failure), and kernelSource() emits the CUDA source that instantiates
// it. The launch geometry and buffer sizes computed here match the device
// template's constants.
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_COMPILER_REPACK_GEMVKERNELCONFIG_H
#define AWQ_COMPILER_REPACK_GEMVKERNELCONFIG_H

#include "runtime/support/QuantizedLinear.h"

#include <cstdint>
#include <string>

namespace awq {

/// Template arguments of awq::GemvConfig, plus the geometry they imply.
struct GemvKernelConfig {
  // Layer.
  int64_t k = 0;           ///< Input features.
  int64_t n = 0;           ///< Weight columns (merged gate/up count both).
  int bits = 4;            ///< 3, 4 or 8.
  int64_t groupSize = 128; ///< Multiple of 32 dividing k, or k.
  bool zeroPoint = true;   ///< false: symmetric.
  // Epilogue.
  bool actScale = false; ///< x is multiplied by a per-channel scale.
  bool bias = false;     ///< Add bias[n].
  bool residual = false; ///< Add residual[m, j] last.
  bool siluMul = false;  ///< y[m, j] = silu(v[2j]) * v[2j+1].
  // Tiling.
  int threadsPerBlock = 256; ///< Multiple of 32, <= 1024.
  int colsPerWarp = 4;       ///< Power of two; even with siluMul.
  int kSplit = 1;            ///< Blocks along K per column tile.
  int maxRows = 1;           ///< 1, 2, 4 or 8 rows per block.

  /// Throws awq::Error naming `what` and the offending field when the config
  /// violates a constraint of awq::GemvConfig.
  void validate(const std::string &what) const;

  int64_t nOut() const { return siluMul ? n / 2 : n; }
  int64_t units() const { return (k + 31) / 32; }
  int64_t tiles() const { return (units() + 31) / 32; }
  int64_t tilesPerSplit() const { return (tiles() + kSplit - 1) / kSplit; }
  int64_t colsPerBlock() const {
    return static_cast<int64_t>(threadsPerBlock / 32) * colsPerWarp;
  }
  int64_t gridX() const { return (n + colsPerBlock() - 1) / colsPerBlock(); }
  int64_t gridY() const { return kSplit; }
  int64_t gridZ(int64_t m) const { return (m + maxRows - 1) / maxRows; }
  /// Dynamic shared memory per block, bytes.
  int64_t sharedBytes() const {
    return (static_cast<int64_t>(maxRows) * (1024 + 32) + 4) * 4;
  }
  /// fp32 split-K workspace elements for m rows (0 without split-K).
  int64_t workspaceFloats(int64_t m) const { return kSplit > 1 ? m * n : 0; }
  /// Split-K arrival counters for m rows (0 without split-K).
  int64_t counterCount(int64_t m) const {
    return kSplit > 1 ? gridX() * gridZ(m) : 0;
  }
  /// Bytes of weights, scales and zeros one launch reads.
  int64_t weightBytes() const;

  /// "awq::GemvConfig<...>" with every argument spelled out.
  std::string typeName() const;
  /// A complete CUDA source defining extern "C" kernel `kernelName` (a C
  /// identifier) for this config. Validates first.
  std::string kernelSource(const std::string &kernelName) const;
};

/// Fills the tiling fields of `layer` (shape, quantization and epilogue set
/// by the caller) for a GPU with `smCount` SMs and launches of up to
/// `maxRows` rows per block: 4 columns per warp (2 for 4 or 8 rows, or 2
/// rows of 8-bit weights, which need the registers), 8 warps per block unless
/// the layer is too small to give every SM two blocks even with the finest
/// split (then 4 or 2 warps), and split-K until there are about four blocks per
/// SM or every split has one 1024-wide tile. Returns the validated config.
GemvKernelConfig planGemvTiling(GemvKernelConfig layer, int maxRows,
                                int smCount);

} // namespace awq

#endif // AWQ_COMPILER_REPACK_GEMVKERNELCONFIG_H
