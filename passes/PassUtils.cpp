//===- PassUtils.cpp - Helpers shared by the awq passes -------------------===//
#include "passes/PassUtils.h"

#include "mlir/Interfaces/SideEffectInterfaces.h"

namespace mlir::awq {

bool makeAvailableBefore(Value value, Operation *point,
                         DominanceInfo &dominance) {
  if (dominance.properlyDominates(value, point))
    return true;
  Operation *def = value.getDefiningOp();
  if (!def || def->getBlock() != point->getBlock() ||
      def->getNumRegions() != 0 || !isPure(def))
    return false;
  for (Value operand : def->getOperands())
    if (!makeAvailableBefore(operand, point, dominance))
      return false;
  def->moveBefore(point);
  return true;
}

} // namespace mlir::awq
