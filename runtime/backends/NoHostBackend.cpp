//===- NoHostBackend.cpp - makeHostBackend of a runtime-only build --------===//
//
// AWQC_RUNTIME_ONLY builds have no Boost.Context, which the host executor's
// kernel modules need, so they have no host device: asking for one fails
// with a RuntimeError the C API reports like any other.
//
//===----------------------------------------------------------------------===//

#include "runtime/backends/Backend.h"

namespace awq {
namespace rt {

std::unique_ptr<Backend> makeHostBackend() {
  throw RuntimeError(AWQC_ERROR_NO_DEVICE,
                     "the host device is not built in this runtime "
                     "(AWQC_RUNTIME_ONLY): build without it to run on the CPU");
}

} // namespace rt
} // namespace awq
