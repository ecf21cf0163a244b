//===- HostCompiler.h - Build kernel modules with the host C++ compiler ---===//
//
// Turns a CUDA source into a kernel module (a shared object holding the
// kernels and the emulation) and keeps it in a disk cache. An entry is keyed
// by the SHA-256 of the source, the full compiler command and the compiler's
// identity; its manifest records the digest of the shared object and of every
// non-system header the build read, so a corrupt library or a changed device
// header makes the entry stale and it is rebuilt. Files are written to a
// temporary name and renamed into place.
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_RUNTIME_HOST_HOSTCOMPILER_H
#define AWQ_RUNTIME_HOST_HOSTCOMPILER_H

#include "runtime/host/HostModule.h"

#include <string>

namespace awq {
namespace host {

struct HostBuild {
  std::string libraryPath;
  bool fromCache = false;
};

/// Returns a build of `source`: the cached one when it is valid (and
/// `forceRebuild` is false), else a fresh compile. Throws awq::Error with the
/// compiler output and the numbered source when compilation fails.
HostBuild buildHostModule(const std::string &source,
                          const HostCompileOptions &options, bool forceRebuild);

/// The cache directory `options` resolves to.
std::string resolveCacheDir(const HostCompileOptions &options);

} // namespace host
} // namespace awq

#endif // AWQ_RUNTIME_HOST_HOSTCOMPILER_H
