//===- KernelDescription.h - A kernel instance as JSON, for manifests -----===//
//
// One spelling of what a kernel instance computes and how it launches, for
// every manifest that lists kernels (the bundle's, the directory output's):
// family, template instance, layer shape and epilogue, tiling, resources,
// and the launch as a function of M (KernelInstance::launchFormula). A
// template over the JSON type, so ordered and sorted documents share it.
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_RUNTIME_KERNELS_KERNELDESCRIPTION_H
#define AWQ_RUNTIME_KERNELS_KERNELDESCRIPTION_H

#include "runtime/kernels/KernelInstance.h"

#include <string>

namespace awq {

/// The layer shape and epilogue fields ("k", "n", "n_out", "bits", ...).
template <typename Json> Json describeShape(const LinearShape &s) {
  return Json{{"k", s.k},
              {"n", s.n},
              {"n_out", s.nOut()},
              {"activation", activationTypeName(s.activation)},
              {"bits", s.bits},
              {"group_size", s.group},
              {"zero_point", s.zeroPoint},
              {"act_scale", s.actScale},
              {"bias", s.bias},
              {"residual", s.residual},
              {"silu_mul", s.siluMul}};
}

/// The tiling: the GEMV launch shape or the GEMM tile parameters.
template <typename Json> Json describeTiling(const KernelInstance &instance) {
  if (instance.family == KernelFamily::Gemv) {
    const GemvParams &p = instance.gemv;
    return Json{{"threads", p.threads},
                {"cols_per_warp", p.colsPerWarp},
                {"k_split", p.kSplit},
                {"max_rows", p.maxRows}};
  }
  const GemmParams &p = instance.gemm;
  return Json{{"tile_m", p.tileM},   {"tile_n", p.tileN},
              {"tile_k", p.tileK},   {"warps_m", p.warpsM},
              {"warps_n", p.warpsN}, {"stages", p.stages},
              {"split_k", p.splitK}};
}

/// The launch as a function of M: the M-independent grid dimensions, the
/// divisor of M for the one that grows with it, and the split-K workspace.
template <typename Json> Json describeLaunch(const KernelInstance &instance) {
  const KernelInstance::LaunchFormula f = instance.launchFormula();
  const char *axes[3] = {"grid_x", "grid_y", "grid_z"};
  Json launch{{"block", f.threads},
              {"shared_bytes", f.sharedBytes},
              {"rows_per_block", f.rowsPerBlock},
              {"split_k", f.splitK}};
  for (int axis = 0; axis < 3; ++axis)
    launch[axes[axis]] = axis == f.rowAxis ? Json(f.rowText())
                         : axis == 2 && f.splitShrinksWithM
                             ? Json(f.splitText())
                             : Json(f.grid[axis]);
  launch["workspace_floats"] =
      f.splitK > 1 ? (f.splitShrinksWithM ? "M * N while grid_z > 1" : "M * N")
                   : "0";
  launch["counters"] = f.splitK > 1 ? "grid_x * " + std::string(axes[f.rowAxis])
                                    : std::string("0");
  return launch;
}

/// Everything above plus the family, the template instance and resources.
template <typename Json> Json describeInstance(const KernelInstance &instance) {
  Json entry{{"family", familyName(instance.family)},
             {"config", instance.configType()}};
  entry.update(describeShape<Json>(instance.shape));
  entry["tiling"] = describeTiling<Json>(instance);
  entry["threads"] = instance.threads();
  entry["shared_bytes"] = instance.sharedBytes();
  entry["weight_bytes"] = instance.weightBytes();
  entry["launch"] = describeLaunch<Json>(instance);
  return entry;
}

} // namespace awq

#endif // AWQ_RUNTIME_KERNELS_KERNELDESCRIPTION_H
