//===- KernelPlan.h - Targets, kernel checks and the kernel planner -------===//
//
// The host side of the kernel contract (awq/contract.h): targets by name,
// the contract's checks worded for users, and the one planner that picks a
// GEMV launch shape and a GEMM tiling for a layer on a GPU. The compiler's
// kernel selection pass calls it with the target's representative SM count;
// the runtime can call it again with the SM count of the device it finds.
// MLIR-free.
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_RUNTIME_KERNELS_KERNELPLAN_H
#define AWQ_RUNTIME_KERNELS_KERNELPLAN_H

#include "awq/contract.h"

#include <optional>
#include <string>

namespace awq {

/// A compilation target: an architecture of the table, and whether its
/// arch-specific (`a`) features are used ("sm_90a").
struct Target {
  const ArchInfo *arch = nullptr;
  bool archSpecific = false;
  /// "sm_90" or "sm_90a".
  std::string name() const;
};

/// Parses "sm_XY" or "sm_XYa". Returns std::nullopt for a name the table
/// does not know (or an `a` suffix on an architecture that has none).
std::optional<Target> parseTarget(const std::string &name);

/// "sm_75, sm_80, ..., sm_121": every target parseTarget accepts without a
/// suffix, for error messages.
std::string knownTargets();

/// Why `shape` with `params` is not a valid kernel configuration (the
/// contract's rule, with the values involved), or an empty string.
std::string checkGemv(const LinearShape &shape, const GemvParams &params);
std::string checkGemm(const LinearShape &shape, const GemmParams &params);
/// Why a GEMM configuration does not fit `arch`'s shared memory, or "".
std::string checkGemmOnArch(const LinearShape &shape, const GemmParams &params,
                            const ArchInfo &arch);

/// What the planner may use (the selection pass's options).
struct PlanOptions {
  /// SMs to fill; 0 means the architecture's representative part.
  int64_t smCount = 0;
  /// The most rows the GEMV is launched with (the layer's GEMM takes the
  /// rest): its row bodies stop at the power of two that covers them, at
  /// most 4 (more rows take several chunks of 4). Fewer bodies mean fewer
  /// registers, more resident warps and a shorter compile.
  int64_t gemvRows = 4;
};

/// The row count from which a layer that has both kernels runs the GEMM:
/// the GEMM's small-M body (M <= 16) issues 2.6-2.7 instructions per weight
/// on the 7B shapes where the GEMV needs 4.7-4.8 at M = 2 and 7.1-7.2 at
/// M = 4 (docs/performance.md), so the GEMV serves decode of one row only.
constexpr int64_t kDefaultGemmMinM = 2;

/// Warps per SM a planned GEMV grid holds (split-K adds blocks up to it):
/// with the 8-16 warps per SM the registers allow, about one wave.
constexpr int64_t kGemvPlannedWarpsPerSm = 8;

/// The GEMV launch for `shape` on `arch`: 8 columns per warp (4 for 8-bit
/// weights in bodies of several rows, whose twice-as-wide units would
/// spill), row bodies up to `options.gemvRows` (at most 4) rows per block,
/// 256 threads where the register budget leaves room for two such blocks
/// per SM (else 128), and split-K until the grid holds
/// kGemvPlannedWarpsPerSm warps per SM, raised to the next split count
/// whose one-row body pays z and s once per pair of units where the layout
/// pairs them (gemvPairsRuns). nullopt when the contract allows no GEMV for
/// the layer.
std::optional<GemvParams> planGemv(const LinearShape &shape,
                                   const ArchInfo &arch,
                                   const PlanOptions &options = {});

/// The most K splits planGemm gives a layer.
constexpr int64_t kGemmMaxPlannedSplits = 8;

/// The fewest resident blocks per SM a planned GEMM tiling leaves room for
/// in shared memory.
constexpr int64_t kGemmMinBlocksPerSm = 2;

/// The GEMM tiling for `shape` on `arch`: 64 x 128 x 128 tiles with 2 x 2
/// warps (64 x 64 with one warp column for N <= 64), 3 stages when the
/// architecture's shared memory holds them for kGemmMinBlocksPerSm blocks
/// per SM (then 4, 2; then K tiles of 64 and 32; without cp.async 2 stages
/// only), and the most K splits (at most kGemmMaxPlannedSplits) whose
/// launch of one M tile fits the blocks the SMs hold at once
/// (blocksPerSmBeforeRegisters): one wave, no partial second one. nullopt
/// when the contract allows no GEMM for the layer.
std::optional<GemmParams> planGemm(const LinearShape &shape,
                                   const ArchInfo &arch,
                                   const PlanOptions &options = {});

} // namespace awq

#endif // AWQ_RUNTIME_KERNELS_KERNELPLAN_H
