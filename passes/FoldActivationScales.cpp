//===- FoldActivationScales.cpp - Move AWQ scales into producing ops ------===//
//
// Implements --awq-fold-activation-scales; tested by
// test/lit/passes/awq-fold-activation-scales.mlir.
//
//===----------------------------------------------------------------------===//
#include "passes/PassUtils.h"
#include "passes/Passes.h"

#include "mlir/IR/Builders.h"
#include "llvm/ADT/SetVector.h"

namespace mlir::awq {
#define GEN_PASS_DEF_FOLDACTIVATIONSCALESPASS
#include "passes/Passes.h.inc"
} // namespace mlir::awq

using namespace mlir;
using namespace mlir::awq;

namespace {

/// Returns the activation scale shared by every user of `activation` if all
/// of them are linears reading it as their input with that same scale.
Value sharedScaleOfUsers(Value activation) {
  Value scale;
  for (OpOperand &use : activation.getUses()) {
    auto linear = dyn_cast<LinearOp>(use.getOwner());
    // Operand 0 is the input; a residual use of the same value disqualifies.
    if (!linear || use.getOperandNumber() != 0 || !linear.getActScale())
      return {};
    if (scale && scale != linear.getActScale())
      return {};
    scale = linear.getActScale();
  }
  return scale;
}

/// `a` times `b` elementwise, built before `point`; null when the types
/// differ (e.g. an f32 norm weight and an f16 scale).
Value multiplyVectors(OpBuilder &builder, Location loc, Value a, Value b) {
  if (a.getType() != b.getType())
    return {};
  return VectorMulOp::create(builder, loc, a.getType(), a, b);
}

/// Scales the output columns of `producer` by `scale`; legal only when the
/// output is an affine function of the weights with nothing added after.
bool foldIntoLinear(LinearOp producer, Value scale, DominanceInfo &dominance) {
  if (producer.getResidual() || producer.getEpilogue() != Epilogue::none)
    return false;
  if (producer.getBias() && producer.getBias().getType() != scale.getType())
    return false;
  if (!makeAvailableBefore(scale, producer, dominance))
    return false;
  OpBuilder builder(producer);
  Location loc = producer.getLoc();
  Value weight = ScaleOutputChannelsOp::create(builder, loc,
                                               producer.getWeight().getType(),
                                               producer.getWeight(), scale);
  producer.getWeightMutable().assign(weight);
  if (Value bias = producer.getBias())
    producer.getBiasMutable().assign(
        multiplyVectors(builder, loc, bias, scale));
  return true;
}

bool foldInto(Value activation, Value scale, DominanceInfo &dominance) {
  Operation *producer = activation.getDefiningOp();
  if (!producer)
    return false;
  if (auto norm = dyn_cast<RMSNormOp>(producer)) {
    if (norm.getWeight().getType() != scale.getType() ||
        !makeAvailableBefore(scale, norm, dominance))
      return false;
    OpBuilder builder(norm);
    norm.getWeightMutable().assign(
        multiplyVectors(builder, norm.getLoc(), norm.getWeight(), scale));
    return true;
  }
  if (auto norm = dyn_cast<LayerNormOp>(producer)) {
    if (norm.getWeight().getType() != scale.getType() ||
        (norm.getBias() && norm.getBias().getType() != scale.getType()) ||
        !makeAvailableBefore(scale, norm, dominance))
      return false;
    OpBuilder builder(norm);
    norm.getWeightMutable().assign(
        multiplyVectors(builder, norm.getLoc(), norm.getWeight(), scale));
    if (Value bias = norm.getBias())
      norm.getBiasMutable().assign(
          multiplyVectors(builder, norm.getLoc(), bias, scale));
    return true;
  }
  if (auto linear = dyn_cast<LinearOp>(producer))
    return scale.getType() ==
               RankedTensorType::get(
                   {linear.getOutputColumns()},
                   cast<RankedTensorType>(scale.getType()).getElementType()) &&
           foldIntoLinear(linear, scale, dominance);
  if (auto siluMul = dyn_cast<SiluMulOp>(producer)) {
    // silu(g) * (u .* a) == (silu(g) * u) .* a: the up projection absorbs it.
    auto up = siluMul.getUp().getDefiningOp<LinearOp>();
    if (!up || !up->hasOneUse() || siluMul.getGate() == siluMul.getUp())
      return false;
    if (cast<RankedTensorType>(scale.getType()).getDimSize(0) !=
        up.getOutputColumns())
      return false;
    return foldIntoLinear(up, scale, dominance);
  }
  return false;
}

struct FoldActivationScalesPass
    : public mlir::awq::impl::FoldActivationScalesPassBase<
          FoldActivationScalesPass> {
  void runOnOperation() override {
    llvm::SetVector<Value> activations;
    getOperation().walk([&](LinearOp linear) {
      if (linear.getActScale())
        activations.insert(linear.getInput());
    });
    DominanceInfo &dominance = getAnalysis<DominanceInfo>();
    for (Value activation : activations) {
      Value scale = sharedScaleOfUsers(activation);
      if (!scale || !foldInto(activation, scale, dominance))
        continue; // The kernel scales the activation tile as it loads it.
      for (Operation *user : llvm::to_vector(activation.getUsers()))
        cast<LinearOp>(user).getActScaleMutable().clear();
    }
  }
};

} // namespace
