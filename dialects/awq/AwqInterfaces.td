//===- AwqInterfaces.td - Interfaces of the awq operations ---------------===//
//
// What awq.linear and the kernel ops share: the linear problem they solve, and
// for kernel instances the values derived from it and the configuration. The
// derived values are computed by these methods, never stored in the IR.
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_INTERFACES_TD
#define AWQ_INTERFACES_TD

include "mlir/IR/OpBase.td"

def Awq_LinearLikeOpInterface : OpInterface<"LinearLikeOpInterface"> {
  let cppNamespace = "::mlir::awq";
  let description = [{
    An op computing a grouped quantized linear layer: an f16 or bf16
    activation [M x K] times a `!awq.qweight` [K x N], with an optional activation scale,
    bias, residual and epilogue (`awq.linear`, `awq.gemv_kernel`,
    `awq.gemm_kernel`). The interface verifies the operand and result shapes
    once for all of them.
  }];
  let methods = [
    InterfaceMethod<"The f16 or bf16 activation [M x K].",
      "::mlir::TypedValue<::mlir::RankedTensorType>", "getInput">,
    InterfaceMethod<"The quantized weight [K x N].",
      "::mlir::TypedValue<::mlir::awq::QWeightType>", "getWeight">,
    InterfaceMethod<"The bias [N], or null.",
      "::mlir::TypedValue<::mlir::RankedTensorType>", "getBias">,
    InterfaceMethod<"The per-input-channel activation scale [K], or null.",
      "::mlir::TypedValue<::mlir::RankedTensorType>", "getActScale">,
    InterfaceMethod<"The residual added to the output, or null.",
      "::mlir::TypedValue<::mlir::RankedTensorType>", "getResidual">,
    InterfaceMethod<"What is applied to the output columns.",
      "::mlir::awq::Epilogue", "getEpilogue">,
  ];
  let extraSharedClassDeclaration = [{
    /// Number of output columns after the epilogue.
    int64_t getOutputColumns() {
      int64_t n = $_op.getWeight().getType().getN();
      bool halved = $_op.getEpilogue() == ::mlir::awq::Epilogue::silu_mul;
      return halved ? n / 2 : n;
    }

    /// The problem this op solves, for the kernel geometry helpers
    /// (awq/contract.h).
    ::awq::LinearShape getLinearShape() {
      ::mlir::awq::QWeightType weight = $_op.getWeight().getType();
      ::awq::LinearShape shape;
      shape.k = weight.getK();
      shape.n = weight.getN();
      shape.bits = static_cast<int>(weight.getBits());
      shape.group = weight.getGroup();
      shape.zeroPoint = weight.getZeroMode() != ::mlir::awq::ZeroMode::symmetric;
      shape.actScale = static_cast<bool>($_op.getActScale());
      shape.bias = static_cast<bool>($_op.getBias());
      shape.residual = static_cast<bool>($_op.getResidual());
      shape.siluMul = $_op.getEpilogue() == ::mlir::awq::Epilogue::silu_mul;
      shape.activation =
          $_op.getInput().getType().getElementType().isBF16()
              ? ::awq::ActivationType::BF16
              : ::awq::ActivationType::F16;
      return shape;
    }
  }];
  let verify = [{
    return ::mlir::awq::detail::verifyLinearLikeOp($_op);
  }];
}

def Awq_KernelOpInterface
    : OpInterface<"KernelOpInterface", [Awq_LinearLikeOpInterface]> {
  let cppNamespace = "::mlir::awq";
  let description = [{
    One instance of a generated kernel (`awq.gemv_kernel`, `awq.gemm_kernel`).
    It stores only its name and configuration; the K loop, the dequantization
    scheme and the dynamic shared memory follow from the shape and the
    configuration and are computed by these methods.
  }];
  let methods = [
    InterfaceMethod<"The C identifier of the emitted kernel.",
      "::llvm::StringRef", "getKernelName">,
    StaticInterfaceMethod<"The kernel family this op instantiates.",
      "::mlir::awq::KernelFamily", "getKernelFamily">,
    InterfaceMethod<[{
        The K loop the kernel runs. Only meaningful for a configuration that
        fits the layer (the op verifies).
      }],
      "::mlir::awq::KLoopAttr", "getKLoop">,
    InterfaceMethod<"How the kernel turns packed integers into values.",
      "::mlir::awq::DequantKind", "getDequantKind">,
    InterfaceMethod<"Bytes of dynamic shared memory one block needs.",
      "int64_t", "getSharedBytes">,
  ];
}

#endif // AWQ_INTERFACES_TD
