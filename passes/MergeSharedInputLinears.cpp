//===- MergeSharedInputLinears.cpp - One linear for q/k/v-style groups ----===//
//
// Implements --awq-merge-shared-input-linears; tested by
// test/lit/passes/awq-merge-shared-input-linears.mlir.
//
//===----------------------------------------------------------------------===//
#include "passes/PassUtils.h"
#include "passes/Passes.h"

#include "mlir/IR/Builders.h"

namespace mlir::awq {
#define GEN_PASS_DEF_MERGESHAREDINPUTLINEARSPASS
#include "passes/Passes.h.inc"
} // namespace mlir::awq

using namespace mlir;
using namespace mlir::awq;

namespace {

/// Linears that may become one: same input, block, quantization, activation
/// scale and bias presence; nothing after the product.
bool canMerge(LinearOp a, LinearOp b) {
  QWeightType ta = a.getWeight().getType(), tb = b.getWeight().getType();
  // Field by field: withN(1) is not a valid type for every layout.
  return a.getInput() == b.getInput() && a->getBlock() == b->getBlock() &&
         ta.getK() == tb.getK() && ta.getBits() == tb.getBits() &&
         ta.getGroup() == tb.getGroup() &&
         ta.getZeroMode() == tb.getZeroMode() &&
         ta.getLayout() == tb.getLayout() &&
         a.getActScale() == b.getActScale() &&
         static_cast<bool>(a.getBias()) == static_cast<bool>(b.getBias()) &&
         (!a.getBias() ||
          cast<RankedTensorType>(a.getBias().getType()).getElementType() ==
              cast<RankedTensorType>(b.getBias().getType()).getElementType());
}

bool isMergeable(LinearOp linear) {
  return !linear.getResidual() && linear.getEpilogue() == Epilogue::none &&
         !linear.getGemv() && !linear.getGemm();
}

void mergeGroup(ArrayRef<LinearOp> group, DominanceInfo &dominance) {
  LinearOp first = group.front();
  // Weights and biases of later linears may be defined after the first one.
  for (LinearOp linear : group)
    for (Value operand : {Value(linear.getWeight()), Value(linear.getBias())})
      if (operand && !makeAvailableBefore(operand, first, dominance))
        return;

  OpBuilder builder(first);
  Location loc = first.getLoc();
  SmallVector<Value> weights, biases;
  SmallVector<Type> resultTypes;
  int64_t totalN = 0;
  for (LinearOp linear : group) {
    weights.push_back(linear.getWeight());
    if (linear.getBias())
      biases.push_back(linear.getBias());
    resultTypes.push_back(linear.getType());
    totalN += linear.getWeight().getType().getN();
  }
  QWeightType mergedType = first.getWeight().getType().withN(totalN);
  Value weight = ConcatWeightsOp::create(builder, loc, mergedType, weights,
                                         /*interleave=*/false);
  Value bias;
  if (!biases.empty()) {
    Type element =
        cast<RankedTensorType>(biases.front().getType()).getElementType();
    bias = ConcatVectorsOp::create(builder, loc,
                                   RankedTensorType::get({totalN}, element),
                                   biases, /*interleave=*/false);
  }
  auto inputType = cast<RankedTensorType>(first.getInput().getType());
  auto resultType = RankedTensorType::get({inputType.getDimSize(0), totalN},
                                          inputType.getElementType());
  auto merged = LinearOp::create(builder, loc, resultType, first.getInput(),
                                 weight, bias, first.getActScale(),
                                 /*residual=*/Value(), Epilogue::none,
                                 /*gemv=*/nullptr, /*gemm=*/nullptr,
                                 /*gemm_min_m=*/nullptr);
  auto split = SplitOp::create(builder, loc, resultTypes, merged.getResult());
  for (auto [index, linear] : llvm::enumerate(group)) {
    LinearOp op = linear;
    op.getResult().replaceAllUsesWith(split.getResult(index));
    op.erase();
  }
}

struct MergeSharedInputLinearsPass
    : public mlir::awq::impl::MergeSharedInputLinearsPassBase<
          MergeSharedInputLinearsPass> {
  void runOnOperation() override {
    SmallVector<SmallVector<LinearOp>> groups;
    getOperation().walk([&](LinearOp linear) {
      if (!isMergeable(linear))
        return;
      for (auto &group : groups) {
        // A merged weight must stay within the contract's 2^30 columns.
        int64_t n = linear.getWeight().getType().getN();
        for (LinearOp member : group)
          n += member.getWeight().getType().getN();
        if (canMerge(group.front(), linear) && n <= ::awq::kMaxFeatures) {
          group.push_back(linear);
          return;
        }
      }
      groups.push_back({linear});
    });
    DominanceInfo &dominance = getAnalysis<DominanceInfo>();
    for (auto &group : groups)
      if (group.size() > 1)
        mergeGroup(group, dominance);
  }
};

} // namespace
