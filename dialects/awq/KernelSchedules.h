//===- KernelSchedules.h - Kernel configurations as geometry parameters ---===//
#ifndef AWQ_DIALECTS_AWQ_KERNELSCHEDULES_H
#define AWQ_DIALECTS_AWQ_KERNELSCHEDULES_H

#include "awq/contract.h"
#include "dialects/awq/AwqDialect.h"
#include "runtime/kernels/KernelPlan.h"

namespace mlir::awq {

/// A kernel configuration attribute as the geometry helpers' parameters.
::awq::GemvParams gemvParamsOf(GemvConfigAttr config);
::awq::GemmParams gemmParamsOf(GemmConfigAttr config);

/// The operands of a KernelOpInterface op (awq.gemv_kernel or
/// awq.gemm_kernel), absent optional operands null.
struct KernelOperands {
  Value input, weight, bias, actScale, residual;
  Epilogue epilogue = Epilogue::none;
  StringRef kernelName;
};
KernelOperands getKernelOperands(Operation *op);

} // namespace mlir::awq

#endif // AWQ_DIALECTS_AWQ_KERNELSCHEDULES_H
