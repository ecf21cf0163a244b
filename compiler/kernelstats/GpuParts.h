//===- GpuParts.h - Named GPUs for the kernel report's estimates ----------===//
//
// The public figures of the GPUs the static kernel report estimates
// bandwidth for: SMs, boost clock and DRAM bandwidth (vendor data sheets).
// Written once here; an architecture's limits (registers, warps, shared
// memory) stay in awq/contract.h's kArchTable, and where a part here is an
// architecture's representative part the SM counts must agree
// (test/unit/kernelstats/KernelStatsTest.cpp checks it).
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_COMPILER_KERNELSTATS_GPUPARTS_H
#define AWQ_COMPILER_KERNELSTATS_GPUPARTS_H

#include <cstdint>

namespace awq {

struct GpuPart {
  const char *name;
  int smVersion; ///< The architecture (90 for sm_90).
  int64_t smCount;
  double boostClockGHz;    ///< Sustained clocks under load are often lower.
  double dramBandwidthGBs; ///< Peak, 10^9 bytes per second.
};

inline constexpr GpuPart kGpuParts[] = {
    {"Tesla T4", 75, 40, 1.59, 320},   {"RTX 3090 Ti", 86, 84, 1.86, 1008},
    {"A100 SXM", 80, 108, 1.41, 2039}, {"H100 SXM", 90, 132, 1.98, 3350},
    {"H200 SXM", 90, 132, 1.98, 4800}, {"L40S", 89, 142, 2.52, 864},
    {"RTX 4090", 89, 128, 2.52, 1008}, {"RTX 5090", 120, 170, 2.41, 1792},
};

/// The DRAM latency the Little's-law bound assumes for every part: public
/// pointer-chase measurements of these GPUs give roughly 450-650 ns
/// unloaded, more under load. The bound scales with 1 / latency.
constexpr double kAssumedDramLatencyNs = 600;

} // namespace awq

#endif // AWQ_COMPILER_KERNELSTATS_GPUPARTS_H
