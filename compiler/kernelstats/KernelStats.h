//===- KernelStats.h - The static report of one compiled kernel -----------===//
//
// For one kernel instance and one architecture: NVRTC compile time, ptxas'
// resources, resident warps per SM and what limits them, the main loop of
// each row body found in the SASS with its instructions per weight by class
// and by pipe, the global loads in it, the weight bytes in flight per SM,
// and a roofline / Little's-law estimate of the bandwidth on named GPUs.
// The model and its limits: docs/kernels.md, "Reading the machine code".
// MLIR-free.
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_COMPILER_KERNELSTATS_KERNELSTATS_H
#define AWQ_COMPILER_KERNELSTATS_KERNELSTATS_H

#include "compiler/kernelstats/Disassembler.h"
#include "compiler/kernelstats/Sass.h"
#include "runtime/bundle/Bundle.h"
#include "runtime/kernels/KernelInstance.h"
#include "runtime/kernels/KernelPlan.h"

#include <array>
#include <optional>
#include <string>
#include <vector>

namespace awq {

/// Resident blocks and warps of a kernel on one SM.
struct Occupancy {
  int64_t blocks = 0, warps = 0;
  /// What caps `blocks`: some of "registers", "shared memory", "warps",
  /// "blocks" joined by '+' when several give the same cap.
  std::string limitedBy;
};

/// Blocks of `threads` threads using `registers` per thread and
/// `sharedBytes` (static + dynamic) per block that one SM of `arch` holds,
/// by the occupancy calculator's rules (awq/contract.h's per-SM facts).
Occupancy computeOccupancy(const ArchInfo &arch, int64_t threads,
                           int64_t registers, int64_t sharedBytes);

/// Thread-instructions per clock one SM of `arch` completes on `pipe`; 0 for
/// pipes the estimate does not bound (uniform, adu, control, fp64, unknown).
double pipeRate(sass::Pipe pipe, const ArchInfo &arch);
/// Thread-instructions one SM issues per clock: four schedulers, one warp
/// instruction each.
constexpr double kIssueRatePerSm = 128;

/// One kind of global load in a main loop.
struct GlobalLoad {
  std::string opcode; ///< With its width and cache modifiers.
  int count = 0;      ///< Per iteration (static).
  int bytesPerLane = 0;
};

/// The bandwidth estimate on one GPU.
struct BandwidthEstimate {
  std::string gpu;
  double peakGBs = 0;
  double estimateGBs = 0;
  /// "dram", "latency" (Little's law), "issue" or a pipe name: what bounds
  /// the first wave (every wave but the last, or the only one).
  std::string limitedBy;
  double issueBoundGBs = 0, latencyBoundGBs = 0;
  /// Blocks of the launch over the blocks the GPU holds at once (SMs x
  /// resident blocks per SM).
  double waves = 0;
  /// Where full waves are followed by a partial one: its bound and its
  /// bandwidth (else "" and 0).
  std::string tailLimitedBy;
  double tailGBs = 0;
};

/// The main loop of one row body (GEMV: M = 1, 2, 4, 8 rows per block;
/// GEMM: the K loop, one body for every M up to TileM).
struct RowBody {
  int64_t rows = 0;
  bool loopFound = false;
  uint64_t firstAddress = 0, lastAddress = 0;
  size_t instructions = 0; ///< Static count in the loop, nested loops once.
  int nestedLoops = 0;
  /// FFMA (GEMV) or HMMA (GEMM) in the loop, and what the configuration
  /// implies per iteration: equal unless ptxas restructured the loop.
  int64_t mathFound = 0, mathExpected = 0;
  /// Weights one block consumes per iteration (from the configuration).
  int64_t weightsPerIteration = 0;
  double instructionsPerWeight = 0;
  std::array<double, sass::kPipeCount> perPipe{};
  std::array<double, sass::kClassCount> perClass{};
  std::vector<GlobalLoad> globalLoads;
  /// Opcodes the classification table does not know (pipe "unknown").
  std::vector<std::string> unknownOpcodes;
  std::vector<BandwidthEstimate> estimates;
};

/// The report of one kernel on one architecture.
struct KernelStats {
  std::string name;
  KernelInstance instance;
  std::string target;
  double nvrtcSeconds = 0;
  int registers = 0;
  int64_t spillStoreBytes = 0, spillLoadBytes = 0, stackBytes = 0;
  int64_t staticSharedBytes = 0, dynamicSharedBytes = 0;
  Occupancy occupancy;
  /// Packed weight bytes a warp has requested ahead of use: GEMV, one K tile
  /// of its columns (the register prefetch); GEMM, its share of the
  /// Stages - 1 tiles the cp.async ring holds in flight.
  int64_t bytesInFlightPerWarp = 0;
  int64_t bytesInFlightPerSm = 0; ///< Per warp x resident warps.
  /// Weight, scale and zero bytes per weight one launch streams.
  double bytesPerWeight = 0;
  std::vector<RowBody> bodies;
};

/// What a launch of M rows costs a layer: the kernel its plan runs for M
/// (the bundle::KernelUse serving M) and the row body of each pass that
/// launch makes over the layer's weights: GEMV, one per chunk of maxRows
/// rows (gemvChunkRows, gemvBodyRows); GEMM, one per M tile, the
/// small-M body or the row split (gemmRunsSmallBody). Instructions per
/// weight of the layer, summed over the passes.
struct RowsCost {
  int64_t m = 0;
  std::string kernel;
  KernelFamily family = KernelFamily::Gemv;
  std::vector<int64_t> passes; ///< The row body of each pass.
  /// False where a pass's body has no loop (one tile per block): no count.
  bool counted = true;
  double instructionsPerWeight = 0;
};

/// One layer's costs by rows on one target.
struct LayerRowsCost {
  std::string layer, target;
  std::vector<RowsCost> costs;
  /// (I(M) - I(1)) / (M - 1) for the cost of M: what each row beyond the
  /// first adds; nullopt for M = 1, or without a counted M = 1.
  std::optional<double> perExtraRow(const RowsCost &cost) const;
};

/// The cost of each M of `ms` that `uses` (one layer's kernels) serve, from
/// `reports` (the kernels' reports for one target; a kernel missing there
/// is an awq::Error).
std::vector<RowsCost> costByRows(const std::vector<bundle::KernelUse> &uses,
                                 const std::vector<KernelStats> &reports,
                                 const std::string &target,
                                 const std::vector<int64_t> &ms);

/// Finds the row bodies' main loops in `function` (the kernel's SASS) and
/// counts them; fills stats.bodies. Needs stats.instance, target and the
/// occupancy fields. Throws awq::Error when the loops found do not match
/// the row bodies the configuration has.
void analyzeSass(const sass::Function &function, KernelStats &stats);

/// Compiles `instance` as kernel `name` for `target` with NVRTC (the
/// project's compile path, plus `extraNvrtcOptions` after its own),
/// disassembles it with `tool` and analyzes it.
KernelStats
analyzeKernel(const std::string &name, const KernelInstance &instance,
              const std::string &target, const Disassembler &tool,
              const std::vector<std::string> &extraNvrtcOptions = {});

} // namespace awq

#endif // AWQ_COMPILER_KERNELSTATS_KERNELSTATS_H
