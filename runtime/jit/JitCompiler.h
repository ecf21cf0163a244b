//===- JitCompiler.h - Kernels to CUBINs with NVRTC, cached, in parallel --===//
//
// Compiles a model's distinct kernels for one target with NVRTC on a thread
// pool, with the device library's headers given in memory (the bundle
// carries them, so no source tree is needed) and the CUDA toolkit's headers
// from disk. Each result comes from the kernel cache when a valid entry
// exists and is stored there after a fresh compile. MLIR-free.
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_RUNTIME_JIT_JITCOMPILER_H
#define AWQ_RUNTIME_JIT_JITCOMPILER_H

#include "runtime/jit/KernelCache.h"

#include <string>
#include <utility>
#include <vector>

namespace awq {
namespace rt {

/// One kernel to compile: its extern "C" entry and its source.
struct JitKernel {
  std::string name;
  std::string source;
};

struct JitOptions {
  /// The target: "sm_80", "sm_90a", ...
  std::string target;
  /// Headers by include name ("awq/gemv.cuh") and contents.
  std::vector<std::pair<std::string, std::string>> headers;
  /// The CUDA toolkit's include directory; empty: awq::cudaIncludeDir().
  std::string cudaIncludeDir;
  /// Threads; 0: one per core.
  unsigned threads = 0;
  /// The cache, or nullptr for none.
  KernelCache *cache = nullptr;
  /// Extra NVRTC options (part of the key).
  std::vector<std::string> extraOptions;
};

struct JitResult {
  std::string name;
  std::vector<char> cubin;
  bool fromCache = false;
  double seconds = 0; ///< Compile (or cache load) wall time.
};

struct JitSummary {
  std::vector<JitResult> kernels; ///< In input order.
  int64_t cached = 0, compiled = 0;
  double seconds = 0; ///< Wall time of the whole call.
};

/// Compiles every kernel. Throws RuntimeError: AWQC_ERROR_UNSUPPORTED_ARCH
/// when this NVRTC cannot target options.target (naming its version and the
/// targets it has), AWQC_ERROR_JIT with NVRTC's log and the numbered source
/// of the first kernel that fails.
JitSummary jitCompile(const std::vector<JitKernel> &kernels,
                      const JitOptions &options);

} // namespace rt
} // namespace awq

#endif // AWQ_RUNTIME_JIT_JITCOMPILER_H
