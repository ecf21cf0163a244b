//===- LaunchLimits.h - CUDA's launch limits, checked by every backend ----===//
//
// Both backends refuse the same launches (the host executor would otherwise
// see a grid dimension truncated to 32 bits), with a message naming the
// kernel. A bad geometry reaching a backend is a bug upstream: the planner
// and KernelInstance::launch keep grids within these limits.
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_RUNTIME_BACKENDS_LAUNCHLIMITS_H
#define AWQ_RUNTIME_BACKENDS_LAUNCHLIMITS_H

#include "runtime/backends/Backend.h"

#include <cstdint>
#include <string>

namespace awq {
namespace rt {

constexpr int64_t kMaxGridX = (int64_t(1) << 31) - 1;
constexpr int64_t kMaxGridYZ = 65535;
constexpr int64_t kMaxBlockThreads = 1024;

/// "grid (x, y, z), block t, s bytes of dynamic shared memory".
inline std::string describeGeometry(const KernelLaunch &launch) {
  return "grid (" + std::to_string(launch.gridX) + ", " +
         std::to_string(launch.gridY) + ", " + std::to_string(launch.gridZ) +
         "), block " + std::to_string(launch.threads) + ", " +
         std::to_string(launch.sharedBytes) + " bytes of dynamic shared memory";
}

/// Throws RuntimeError(AWQC_ERROR_INTERNAL) naming `kernel` when `launch`
/// is outside CUDA's grid and block limits or asks for negative shared
/// memory. (The device's shared memory limit is the CUDA backend's check.)
inline void checkLaunchGeometry(const std::string &kernel,
                                const KernelLaunch &launch) {
  const char *violation = nullptr;
  if (launch.gridX < 1 || launch.gridX > kMaxGridX || launch.gridY < 1 ||
      launch.gridY > kMaxGridYZ || launch.gridZ < 1 ||
      launch.gridZ > kMaxGridYZ)
    violation = "the grid is outside CUDA's limits (x in [1, 2^31 - 1], y and "
                "z in [1, 65535])";
  else if (launch.threads < 1 || launch.threads > kMaxBlockThreads)
    violation = "the block is outside CUDA's limit of 1 to 1024 threads";
  else if (launch.sharedBytes < 0)
    violation = "negative dynamic shared memory";
  if (violation)
    throw RuntimeError(AWQC_ERROR_INTERNAL, "kernel " + kernel + " (" +
                                                describeGeometry(launch) +
                                                "): " + violation);
}

} // namespace rt
} // namespace awq

#endif // AWQ_RUNTIME_BACKENDS_LAUNCHLIMITS_H
