//===- CudaEmitter.h - Kernel-level awq IR to CUDA C++ --------------------===//
//
// Every awq.gemv_kernel and awq.gemm_kernel becomes one small, self-contained
// CUDA source that instantiates a device-library template (awq/gemv.cuh,
// awq/gemm.cuh) with all shape, group and tile parameters as constants, and
// names the layer it serves. The same source compiles with NVRTC for the GPU
// and with the host compiler against the emulation layer.
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_COMPILER_CODEGEN_CUDAEMITTER_H
#define AWQ_COMPILER_CODEGEN_CUDAEMITTER_H

#include "runtime/support/KernelGeometry.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Support/LLVM.h"
#include "llvm/Support/raw_ostream.h"

#include <string>
#include <vector>

namespace mlir::awq {

/// One emitted kernel and what it takes to launch it.
struct EmittedKernel {
  std::string name;   ///< extern "C" entry point.
  std::string family; ///< "gemv" or "gemm".
  std::string layer;  ///< The layer(s) it serves, for people.
  std::string source; ///< Self-contained CUDA C++.
  ::awq::LinearShape shape;
  ::awq::GemvParams gemv; ///< Valid when family == "gemv".
  ::awq::GemmParams gemm; ///< Valid when family == "gemm".
  int64_t threads = 0;
  int64_t sharedBytes = 0;
};

/// Emits every kernel op of `module`, in program order. Fails (with a
/// diagnostic on the op) if a linear was not lowered to kernels yet.
LogicalResult emitKernels(ModuleOp module, std::vector<EmittedKernel> &kernels);

/// Prints all kernels of `module` as one CUDA translation unit: each
/// kernel's source after a `// ===== kernel <name> =====` line.
LogicalResult translateToCuda(ModuleOp module, llvm::raw_ostream &os);

} // namespace mlir::awq

#endif // AWQ_COMPILER_CODEGEN_CUDAEMITTER_H
