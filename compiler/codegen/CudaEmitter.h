//===- CudaEmitter.h - Kernel-level awq IR to CUDA C++ --------------------===//
//
// Every distinct kernel instance of a kernel-level module becomes one small,
// self-contained CUDA source that instantiates a device-library template
// (awq/gemv.cuh, awq/gemm.cuh) with all shape, group and tile parameters as
// constants. Kernel ops that name the same kernel share it: the compiler
// names kernels after their template instance (awq-lower-to-kernels), so
// identical layers reference one kernel. The same source compiles with
// NVRTC for the GPU and with the host compiler against the emulation layer.
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_COMPILER_CODEGEN_CUDAEMITTER_H
#define AWQ_COMPILER_CODEGEN_CUDAEMITTER_H

#include "runtime/kernels/KernelInstance.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Support/LLVM.h"
#include "llvm/Support/raw_ostream.h"

#include <string>
#include <vector>

namespace mlir::awq {

/// One emitted kernel: its instance (from which its launch for any M
/// follows: KernelInstance::launch), its source, and the layers it serves.
struct EmittedKernel {
  std::string name; ///< extern "C" entry point; the kernel ops' kernel_name.
  ::awq::KernelInstance instance;
  std::string source; ///< Self-contained CUDA C++.
  /// The layers served, in program order: checkpoint tensors of each kernel
  /// op's weight (or its awq.name).
  std::vector<std::string> layers;
};

/// The kernel instance an awq.gemv_kernel or awq.gemm_kernel op launches.
::awq::KernelInstance getKernelInstance(Operation *kernelOp);

/// Checks that `module` is at the kernel level: every op that computes on
/// activations is a kernel op or one the caller's framework runs (norms,
/// elementwise ops, split, select_by_rows); no awq.linear, dequantize,
/// matmul or scale_activation is left. Emits an error on the first op that
/// is not.
LogicalResult verifyKernelLevel(ModuleOp module);

/// Emits each distinct kernel of `module` once, in order of first use.
/// Fails with a diagnostic when the module is not at the kernel level, when
/// two kernel ops share a name but not an instance, or when an instance
/// breaks the kernel contract.
LogicalResult emitKernels(ModuleOp module, std::vector<EmittedKernel> &kernels);

/// Prints all kernels of `module` as one CUDA translation unit: each
/// kernel's source after a `// ===== kernel <name> =====` line.
LogicalResult translateToCuda(ModuleOp module, llvm::raw_ostream &os);

} // namespace mlir::awq

#endif // AWQ_COMPILER_CODEGEN_CUDAEMITTER_H
