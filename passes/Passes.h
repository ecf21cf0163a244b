//===- Passes.h - Declarations of the awq passes --------------------------===//
#ifndef AWQ_PASSES_PASSES_H
#define AWQ_PASSES_PASSES_H

#include "dialects/awq/AwqDialect.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Pass/Pass.h"

namespace mlir::awq {

#define GEN_PASS_DECL
#include "passes/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "passes/Passes.h.inc"

} // namespace mlir::awq

#endif // AWQ_PASSES_PASSES_H
