//===- FuseEpilogues.cpp - Fuse SiLU-and-multiply and residual adds -------===//
//
// Implements --awq-fuse-epilogues; tested by
// test/lit/passes/awq-fuse-epilogues.mlir.
//
//===----------------------------------------------------------------------===//
#include "passes/PassUtils.h"
#include "passes/Passes.h"

#include "mlir/IR/Builders.h"

namespace mlir::awq {
#define GEN_PASS_DEF_FUSEEPILOGUESPASS
#include "passes/Passes.h.inc"
} // namespace mlir::awq

using namespace mlir;
using namespace mlir::awq;

namespace {

/// A linear whose result nothing else reads and that adds nothing after its
/// matrix product yet, so an epilogue can be attached to it.
bool isPlainLinear(LinearOp linear) {
  return linear && linear->hasOneUse() && !linear.getResidual() &&
         linear.getEpilogue() == Epilogue::none;
}

/// silu_mul(linear(h, Wg), linear(h, Wu)) -> linear(h, interleave(Wg, Wu))
/// with the silu_mul epilogue.
bool fuseSiluMul(SiluMulOp siluMul) {
  auto gate = siluMul.getGate().getDefiningOp<LinearOp>();
  auto up = siluMul.getUp().getDefiningOp<LinearOp>();
  if (!isPlainLinear(gate) || !isPlainLinear(up) || gate == up)
    return false;
  if (gate.getInput() != up.getInput() ||
      gate.getWeight().getType() != up.getWeight().getType() ||
      gate.getActScale() != up.getActScale() ||
      static_cast<bool>(gate.getBias()) != static_cast<bool>(up.getBias()))
    return false;
  if (gate.getBias() && gate.getBias().getType() != up.getBias().getType())
    return false;

  OpBuilder builder(siluMul);
  Location loc = siluMul.getLoc();
  QWeightType single = gate.getWeight().getType();
  Value weight = ConcatWeightsOp::create(
      builder, loc, single.withN(2 * single.getN()),
      ValueRange{gate.getWeight(), up.getWeight()}, /*interleave=*/true);
  Value bias;
  if (gate.getBias()) {
    auto biasType = cast<RankedTensorType>(gate.getBias().getType());
    bias = ConcatVectorsOp::create(
        builder, loc,
        RankedTensorType::get({2 * biasType.getDimSize(0)},
                              biasType.getElementType()),
        ValueRange{gate.getBias(), up.getBias()}, /*interleave=*/true);
  }
  auto fused = LinearOp::create(
      builder, loc, siluMul.getType(), gate.getInput(), weight, bias,
      gate.getActScale(), /*residual=*/Value(), Epilogue::silu_mul,
      /*gemv=*/nullptr, /*gemm=*/nullptr, /*gemm_min_m=*/nullptr);
  siluMul.replaceAllUsesWith(fused.getResult());
  siluMul.erase();
  gate.erase();
  up.erase();
  return true;
}

/// add(linear(x), r) -> linear(x) residual(r).
bool fuseResidual(AddOp add, DominanceInfo &dominance) {
  for (auto [candidate, other] : {std::pair(add.getLhs(), add.getRhs()),
                                  std::pair(add.getRhs(), add.getLhs())}) {
    auto linear = candidate.getDefiningOp<LinearOp>();
    // Any epilogue is fine: the residual is added after it.
    if (!linear || !linear->hasOneUse() || linear.getResidual())
      continue;
    if (candidate == other || !dominance.properlyDominates(other, linear))
      continue;
    linear.getResidualMutable().assign(other);
    add.replaceAllUsesWith(linear.getResult());
    add.erase();
    return true;
  }
  return false;
}

struct FuseEpiloguesPass
    : public mlir::awq::impl::FuseEpiloguesPassBase<FuseEpiloguesPass> {
  void runOnOperation() override {
    SmallVector<SiluMulOp> siluMuls;
    getOperation().walk([&](SiluMulOp op) { siluMuls.push_back(op); });
    for (SiluMulOp op : siluMuls)
      fuseSiluMul(op);

    DominanceInfo &dominance = getAnalysis<DominanceInfo>();
    SmallVector<AddOp> adds;
    getOperation().walk([&](AddOp op) { adds.push_back(op); });
    for (AddOp op : adds)
      fuseResidual(op, dominance);
  }
};

} // namespace
