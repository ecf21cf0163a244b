//===- NvrtcCompiler.h - CUDA C++ source to CUBIN with NVRTC, no driver ---===//
//
// Compiles one generated kernel source for one real GPU architecture (sm_XX
// or sm_XXa) to a CUBIN image, with the device library and the CUDA headers
// on the include path, and reads ptxas' resource report (registers, spills,
// static shared memory) out of the program log. Needs libnvrtc only: no GPU
// and no driver, so it runs in CI and in the compiler.
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_RUNTIME_NVRTC_NVRTCCOMPILER_H
#define AWQ_RUNTIME_NVRTC_NVRTCCOMPILER_H

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace awq {

/// What ptxas -v reported for one function of one compilation.
struct KernelResources {
  std::string name;            ///< Symbol (mangled unless extern "C").
  std::string arch;            ///< e.g. "sm_80"; empty if not reported.
  bool isEntry = false;        ///< A __global__ entry (vs a device function).
  int registers = -1;          ///< -1 when ptxas did not report it.
  int barriers = 0;            ///< Named barriers used.
  int64_t stackBytes = 0;      ///< Stack frame.
  int64_t spillStoreBytes = 0; ///< Bytes stored to local memory by spills.
  int64_t spillLoadBytes = 0;  ///< Bytes loaded back from spills.
  int64_t sharedBytes = 0;     ///< Static shared memory (not dynamic).
  int64_t constantBytes = 0;   ///< cmem[0]: kernel parameters and constants.
};

/// How to compile. The CUDA include directory (cudaIncludeDir(), or
/// cudaIncludeDirOverride) is always added; the device library include
/// directory (deviceIncludeDir()) only when no headers are given in memory.
struct NvrtcOptions {
  /// A real architecture ("sm_80", "sm_90a", ...) for a CUBIN, or a virtual
  /// one ("compute_90") for PTX.
  std::string arch = "sm_80";
  /// Extra include directories, searched before the device library.
  std::vector<std::string> includeDirs;
  /// Headers in memory, by include name ("awq/gemv.cuh") and contents
  /// (nvrtcCreateProgram's headers). When not empty, deviceIncludeDir() is
  /// left off the include path, so these copies (a bundle's) are the ones
  /// used, never a source tree's.
  std::vector<std::pair<std::string, std::string>> headers;
  /// The CUDA toolkit's include directory; empty: cudaIncludeDir().
  std::string cudaIncludeDirOverride;
  /// Preprocessor definitions, "NAME" or "NAME=VALUE".
  std::vector<std::string> defines;
  /// Any further NVRTC options, passed through verbatim.
  std::vector<std::string> extraOptions;
  /// C++ names of template kernels to instantiate and resolve (jitify's
  /// name expressions); their mangled names land in CompileResult.
  std::vector<std::string> nameExpressions;
  /// Ask ptxas for its resource report (--ptxas-options=-v).
  bool ptxasVerbose = true;
  /// Emit line information for profilers (-lineinfo).
  bool lineInfo = false;
};

/// A successful compilation.
struct CompileResult {
  std::string arch;        ///< The architecture compiled for.
  std::vector<char> cubin; ///< The ELF image for cuModuleLoadData.
  /// For a virtual architecture ("compute_90"): the PTX text instead (cubin
  /// stays empty); the driver compiles it for the GPU it loads on.
  std::string ptx;
  std::string log;         ///< NVRTC's program log (warnings, ptxas).
  std::vector<KernelResources> kernels; ///< Parsed from `log`.
  /// Name expression -> mangled symbol, for options.nameExpressions.
  std::map<std::string, std::string> loweredNames;
  double seconds = 0; ///< Wall time of nvrtcCompileProgram.

  /// The resources of the function named `name`, or nullptr.
  const KernelResources *find(const std::string &name) const;
};

/// Compiles `source` (named `sourceName` in diagnostics) for options.arch.
/// Throws awq::Error when the architecture is malformed or not supported by
/// this NVRTC, or when compilation fails; the message carries NVRTC's log and
/// the source with numbered lines.
CompileResult compileToCubin(const std::string &source,
                             const std::string &sourceName,
                             const NvrtcOptions &options);

/// Parses ptxas' -v report from an NVRTC log: one entry per "Function
/// properties for" / "Compiling entry function" block, in log order. Lines
/// that are not part of the report are ignored.
std::vector<KernelResources> parsePtxasReport(const std::string &log);

/// The device library's include directory (the one holding awq/*.cuh): the
/// environment variable AWQ_DEVICE_INCLUDE_DIR if set, else the source tree
/// path compiled into this library.
std::string deviceIncludeDir();

/// The CUDA toolkit's include directory (cuda_fp16.h): AWQ_CUDA_INCLUDE_DIR
/// if set, else $CUDA_HOME/include if that exists, else the toolkit found at
/// configure time.
std::string cudaIncludeDir();

/// "major.minor" of the loaded NVRTC (part of any kernel cache key).
std::string nvrtcVersionString();

/// The architectures this NVRTC can compile for, as "sm_XX".
std::vector<std::string> nvrtcSupportedArchs();

/// `source` with each line prefixed by its 1-based number, for error messages.
std::string numberSourceLines(const std::string &source);

} // namespace awq

#endif // AWQ_RUNTIME_NVRTC_NVRTCCOMPILER_H
