//===- FoldZeroPoints.cpp - Precompute z * s for one-FMA dequantization ---===//
//
// Implements --awq-fold-zero-points; tested by
// test/lit/passes/awq-fold-zero-points.mlir.
//
//===----------------------------------------------------------------------===//
#include "passes/Passes.h"

#include "mlir/IR/Builders.h"
#include "llvm/ADT/DenseMap.h"

namespace mlir::awq {
#define GEN_PASS_DEF_FOLDZEROPOINTSPASS
#include "passes/Passes.h.inc"
} // namespace mlir::awq

using namespace mlir;
using namespace mlir::awq;

namespace {

struct FoldZeroPointsPass
    : public mlir::awq::impl::FoldZeroPointsPassBase<FoldZeroPointsPass> {
  void runOnOperation() override {
    // One fold per weight value, however many linears read it.
    llvm::DenseMap<Value, Value> folded;
    getOperation().walk([&](LinearOp linear) {
      Value weight = linear.getWeight();
      QWeightType type = linear.getWeight().getType();
      if (type.getZeroMode() != ZeroMode::zero_point)
        return;
      Value &replacement = folded[weight];
      if (!replacement) {
        OpBuilder builder(linear);
        builder.setInsertionPointAfterValue(weight);
        replacement = FoldZeroPointsOp::create(
            builder, weight.getLoc(), type.withZeroMode(ZeroMode::scaled_zero),
            weight);
      }
      linear.getWeightMutable().assign(replacement);
    });
  }
};

} // namespace
