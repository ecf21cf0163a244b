//===- AwqDialect.h - The awq dialect: dialect, enums, types, attrs, ops --===//
#ifndef AWQ_DIALECTS_AWQ_AWQDIALECT_H
#define AWQ_DIALECTS_AWQ_AWQDIALECT_H

#include "awq/contract.h"

#include <string>

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "dialects/awq/AwqDialect.h.inc"
#include "dialects/awq/AwqEnums.h.inc"

#define GET_TYPEDEF_CLASSES
#include "dialects/awq/AwqTypes.h.inc"

#define GET_ATTRDEF_CLASSES
#include "dialects/awq/AwqAttrs.h.inc"

namespace mlir::awq::detail {
/// The operand and result shape checks of every LinearLikeOpInterface op.
LogicalResult verifyLinearLikeOp(Operation *op);
} // namespace mlir::awq::detail

#include "dialects/awq/AwqInterfaces.h.inc"

#define GET_OP_CLASSES
#include "dialects/awq/AwqOps.h.inc"

namespace mlir::awq {

/// The checkpoint tensors (awq.external names) a quantized weight value is
/// computed from, following its weight transforms, in operand order.
SmallVector<std::string> getSourceTensors(Value weight);

/// The activation type an element type stands for: bf16 for BF16, else f16
/// (the verifiers admit only f16 and bf16 activations).
::awq::ActivationType activationTypeOf(Type elementType);

/// The activation type of the linears that read a quantized weight value
/// (through its weight transforms, and of the 16-bit factors that scale it):
/// the type of its scales and zero terms; f16 when nothing says (a weight no
/// linear reads). Returns why there is none (both types read it), or an empty
/// string with `type` set.
std::string getWeightActivationType(Value weight, ::awq::ActivationType &type);

} // namespace mlir::awq

#endif // AWQ_DIALECTS_AWQ_AWQDIALECT_H
