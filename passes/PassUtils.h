//===- PassUtils.h - Helpers shared by the awq passes ---------------------===//
#ifndef AWQ_PASSES_PASSUTILS_H
#define AWQ_PASSES_PASSUTILS_H

#include "mlir/IR/Dominance.h"
#include "mlir/IR/Operation.h"
#include "mlir/IR/Value.h"

namespace mlir::awq {

/// Makes `value` usable right before `point` by moving the side-effect free
/// ops that compute it (typically `awq.external` and weight transforms) up
/// to just before `point`, recursively. Returns false, changing nothing that
/// matters, when that is impossible (a block argument of another block, an
/// op with side effects or regions, another block).
bool makeAvailableBefore(Value value, Operation *point,
                         DominanceInfo &dominance);

} // namespace mlir::awq

#endif // AWQ_PASSES_PASSUTILS_H
