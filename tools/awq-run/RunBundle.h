//===- RunBundle.h - awq-run on a model.awqb through the runtime's C API --===//
#ifndef AWQ_TOOLS_AWQ_RUN_RUNBUNDLE_H
#define AWQ_TOOLS_AWQ_RUN_RUNBUNDLE_H

#include <cstdint>
#include <string>
#include <vector>

namespace awq {

struct BundleRunOptions {
  std::string path;
  std::string device; ///< "", "host", "cuda", "cuda:N".
  std::string cacheDir;
  std::vector<int64_t> batches;
  uint64_t seed = 1;
  bool bench = false;
  bool replan = true;
  /// Non-empty: only JIT-compile for these targets.
  std::vector<std::string> compileOnly;
};

/// Opens the bundle on the device, runs every layer at every M on fresh
/// random activations with the output poisoned first, compares each output
/// with the fp64 reference of the layer the bundle's weights hold, and
/// prints a table. Returns the exit code.
int runBundle(const BundleRunOptions &options);

} // namespace awq

#endif // AWQ_TOOLS_AWQ_RUN_RUNBUNDLE_H
