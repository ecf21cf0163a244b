//===- KernelSchedules.h - Kernel-level attributes derived from a shape ---===//
#ifndef AWQ_DIALECTS_AWQ_KERNELSCHEDULES_H
#define AWQ_DIALECTS_AWQ_KERNELSCHEDULES_H

#include "dialects/awq/AwqDialect.h"
#include "awq/contract.h"
#include "runtime/kernels/KernelPlan.h"

namespace mlir::awq {

/// The problem a linear-like op solves, for the kernel geometry helpers.
::awq::LinearShape linearShapeOf(QWeightType weight, bool actScale, bool bias,
                                 bool residual, Epilogue epilogue);

::awq::GemvParams gemvParamsOf(GemvConfigAttr config);
::awq::GemmParams gemmParamsOf(GemmConfigAttr config);

/// The K loop each kernel family runs for `shape` with its configuration.
KLoopAttr gemvKLoop(MLIRContext *context, const ::awq::LinearShape &shape,
                    const ::awq::GemvParams &params);
KLoopAttr gemmKLoop(MLIRContext *context, const ::awq::LinearShape &shape,
                    const ::awq::GemmParams &params);

/// The operands of an awq.gemv_kernel or awq.gemm_kernel, whichever `op`
/// is (absent optional operands are null).
struct KernelOperands {
  Value input, weight, bias, actScale, residual;
  Epilogue epilogue = Epilogue::none;
  StringRef kernelName;
};
KernelOperands getKernelOperands(Operation *op);

/// How the GEMM kernel decodes `bits`-bit weights.
DequantKind gemmDequantKind(unsigned bits);

} // namespace mlir::awq

#endif // AWQ_DIALECTS_AWQ_KERNELSCHEDULES_H
