//===- KernelPlan.cpp - Targets, kernel checks and the kernel planner -----===//
#include "runtime/kernels/KernelPlan.h"

#include <algorithm>
#include <vector>

namespace awq {
namespace {

std::string describe(const LinearShape &s) {
  return "K = " + std::to_string(s.k) + ", N = " + std::to_string(s.n) + ", " +
         std::to_string(s.bits) + "-bit, group " +
         (s.group == s.k ? std::string("K") : std::to_string(s.group)) +
         (s.siluMul ? ", silu_mul" : "") +
         (s.activation != ActivationType::F16
              ? std::string(", ") + activationTypeName(s.activation)
              : std::string());
}

} // namespace

std::string Target::name() const {
  return arch ? "sm_" + std::to_string(arch->smVersion) +
                    (archSpecific ? "a" : "")
              : std::string("(none)");
}

std::optional<Target> parseTarget(const std::string &name) {
  if (name.size() < 5 || name.compare(0, 3, "sm_") != 0)
    return std::nullopt;
  std::string digits = name.substr(3);
  bool archSpecific = !digits.empty() && digits.back() == 'a';
  if (archSpecific)
    digits.pop_back();
  if (digits.empty() || digits.size() > 3 ||
      !std::all_of(digits.begin(), digits.end(),
                   [](char c) { return c >= '0' && c <= '9'; }) ||
      digits[0] == '0')
    return std::nullopt;
  const ArchInfo *arch = findArch(std::stoi(digits));
  if (!arch || (archSpecific && !arch->archSpecificFeatures))
    return std::nullopt;
  return Target{arch, archSpecific};
}

std::string knownTargets() {
  std::string result;
  for (const ArchInfo &arch : kArchTable)
    result +=
        (result.empty() ? "sm_" : ", sm_") + std::to_string(arch.smVersion);
  return result;
}

std::string checkGemv(const LinearShape &shape, const GemvParams &p) {
  if (const char *why = gemvViolation(shape, p))
    return std::string(why) + " (" + describe(shape) + "; threads " +
           std::to_string(p.threads) + ", cols_per_warp " +
           std::to_string(p.colsPerWarp) + ", k_split " +
           std::to_string(p.kSplit) + ", max_rows " +
           std::to_string(p.maxRows) + ")";
  return {};
}

std::string checkGemm(const LinearShape &shape, const GemmParams &p) {
  if (const char *why = gemmViolation(shape, p))
    return std::string(why) + " (" + describe(shape) + "; tiles " +
           std::to_string(p.tileM) + " x " + std::to_string(p.tileN) + " x " +
           std::to_string(p.tileK) + ", warps " + std::to_string(p.warpsM) +
           " x " + std::to_string(p.warpsN) + ", " + std::to_string(p.stages) +
           " stages, split_k " + std::to_string(p.splitK) + ")";
  return {};
}

std::string checkGemmOnArch(const LinearShape &shape, const GemmParams &p,
                            const ArchInfo &arch) {
  if (const char *why = activationViolation(shape, arch))
    return why;
  const char *why = gemmArchViolation(shape, p, arch);
  if (!why)
    return {};
  const int64_t shared = gemmGeometry(shape, p).sharedBytes;
  if (shared > arch.maxSharedBytes)
    return "the tiles need " + std::to_string(shared) +
           " bytes of shared memory, more than the " +
           std::to_string(arch.maxSharedBytes) + " a block may use on sm_" +
           std::to_string(arch.smVersion);
  return std::string(why) + " (sm_" + std::to_string(arch.smVersion) + ": " +
         std::to_string(gemmStagedChunks(shape, p)) + " chunks)";
}

namespace {

/// The SMs a plan for `shape` on `arch` fills, or nullopt when the contract
/// lets no kernel serve the layer or the architecture at all.
std::optional<int64_t> smsToFill(const LinearShape &shape, const ArchInfo &arch,
                                 const PlanOptions &options) {
  if (archViolation(arch) || linearViolation(shape) ||
      activationViolation(shape, arch))
    return std::nullopt;
  return options.smCount > 0 ? options.smCount : arch.smCount;
}

} // namespace

std::optional<GemvParams> planGemv(const LinearShape &shape,
                                   const ArchInfo &arch,
                                   const PlanOptions &options) {
  const std::optional<int64_t> smCount = smsToFill(shape, arch, options);
  if (!smCount)
    return std::nullopt;
  GemvParams params;
  params.maxRows = 1;
  while (params.maxRows < std::min<int64_t>(options.gemvRows, 4))
    params.maxRows *= 2;
  // An 8-bit unit is twice the words of a 4-bit one. One row body holds 8
  // columns' double-buffered tiles in ~190 registers (2 blocks, 8 warps per
  // SM, the same 64 KB in flight as 4 columns at 16 warps) and shares the
  // x staging and per-tile work among twice the weights (docs/performance.md:
  // 3.15-3.26 -> 2.68-2.76 instructions per weight); bodies of several rows
  // would spill with 8, so they keep 4.
  params.colsPerWarp = shape.bits == 8 && params.maxRows > 1 ? 4 : 8;
  // Blocks of 8 warps share one x staging among twice the columns of 4
  // warps (the staging's cost per weight halves: docs/performance.md), but
  // need registers for two of them per SM: one resident block would stall
  // every warp at each of its barriers. The budget assumes the register
  // prefetch of multi-tile blocks.
  params.kSplit = 1;
  params.threads = 256;
  if (gemvBlocksForBudget(shape, params) < 2)
    params.threads = 128;
  const GemvGeometry geometry = gemvGeometry(shape, params);
  // A memory-bound kernel needs many loads in flight: split K until the
  // grid holds 8 warps per SM.
  const int64_t wanted =
      ceilDiv(ceilDiv(kGemvPlannedWarpsPerSm * *smCount, geometry.warps),
              geometry.gridX);
  params.kSplit = std::clamp<int64_t>(wanted, 1, geometry.tiles);
  // Every split needs at least one tile.
  while (params.kSplit > 1 && gemvViolation(shape, params))
    --params.kSplit;
  if (gemvViolation(shape, params))
    return std::nullopt;
  // Where the layout pairs units, the one-row body pays z and s once per
  // pair only if its blocks start at even tiles: take the next larger split
  // count that keeps them there, if any (fewer warps would cost more).
  for (GemvParams candidate = params;
       gemvGeometry(shape, params).pairedUnits > 0 &&
       !gemvPairsRuns(shape, params) && candidate.kSplit < geometry.tiles;) {
    ++candidate.kSplit;
    if (!gemvViolation(shape, candidate) && gemvPairsRuns(shape, candidate))
      params = candidate;
  }
  return params;
}

std::optional<GemmParams> planGemm(const LinearShape &shape,
                                   const ArchInfo &arch,
                                   const PlanOptions &options) {
  const std::optional<int64_t> smCount = smsToFill(shape, arch, options);
  if (!smCount)
    return std::nullopt;
  GemmParams params;
  params.tileM = 64;
  params.warpsM = 2;
  if (shape.n <= kGemmPacketN) {
    params.tileN = 64;
    params.warpsN = 1;
  } else {
    params.tileN = 128;
    params.warpsN = 2;
  }
  // K tiles of 128 halve the per-tile cost (copies, barrier, ring
  // bookkeeping) per weight against 64 and give the small-M body two
  // packets per warp; 3 stages keep 3 blocks per SM on sm_90 (the static
  // counts are in docs/performance.md). A tiling must leave room for
  // kGemmMinBlocksPerSm blocks in the SM's shared memory: one block of 4
  // warps cannot hide the latencies of its own barriers and shared loads,
  // so the parts with less shared memory per SM (sm_75, sm_86, sm_89,
  // sm_120) trade the K tile of 128 for a second block. Without cp.async
  // one tile is in flight whatever the ring's depth: two stages only.
  const std::vector<int64_t> stageChoices =
      arch.asyncCopy ? std::vector<int64_t>{3, 4, 2} : std::vector<int64_t>{2};
  // Should no tiling leave room for two blocks, one block will do.
  for (int64_t minBlocks : {kGemmMinBlocksPerSm, int64_t(1)}) {
    for (int64_t tileK : {128, 64, 32}) {
      params.tileK = tileK;
      for (int64_t stages : stageChoices) {
        params.stages = stages;
        params.splitK = 1;
        if (gemmViolation(shape, params))
          continue;
        const GemmGeometry geometry = gemmGeometry(shape, params);
        if (gemmArchViolation(shape, params, arch) ||
            blocksPerSmByShared(arch, geometry.sharedBytes) < minBlocks)
          continue;
        // A memory-bound launch of one M tile needs many loads in flight:
        // split K until the grid fills the blocks the SMs hold at once, but
        // no further (at most 8 ways). A grid that spills into a second
        // wave runs that partial wave at the bound of its few blocks in
        // flight (awq-kernel-stats' estimate, docs/kernels.md). Launches of
        // more M tiles split less (GemmGeometry::gridZ).
        const int64_t slots =
            *smCount * blocksPerSmBeforeRegisters(arch, geometry.threads,
                                                  geometry.sharedBytes);
        params.splitK = std::clamp<int64_t>(
            slots / geometry.gridX, 1,
            std::min<int64_t>(kGemmMaxPlannedSplits, geometry.kTiles));
        return params;
      }
    }
  }
  return std::nullopt;
}

} // namespace awq
