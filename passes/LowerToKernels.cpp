//===- LowerToKernels.cpp - Linears become kernel instances ---------------===//
//
// Implements --awq-lower-to-kernels; tested by
// test/lit/passes/awq-lower-to-kernels.mlir.
//
//===----------------------------------------------------------------------===//
#include "dialects/awq/AwqDialect.h"
#include "dialects/awq/KernelSchedules.h"
#include "passes/Passes.h"
#include "runtime/kernels/KernelInstance.h"

#include "mlir/IR/Builders.h"

namespace mlir::awq {
#define GEN_PASS_DEF_LOWERTOKERNELSPASS
#include "passes/Passes.h.inc"
} // namespace mlir::awq

using namespace mlir;
using namespace mlir::awq;

namespace {

struct LowerToKernelsPass
    : public mlir::awq::impl::LowerToKernelsPassBase<LowerToKernelsPass> {
  void runOnOperation() override {
    SmallVector<LinearOp> linears;
    getOperation().walk([&](LinearOp linear) {
      if (linear.getGemv() || linear.getGemm())
        linears.push_back(linear);
    });
    for (LinearOp linear : linears)
      if (failed(lower(linear)))
        return signalPassFailure();
  }

  /// Kernels are named after their template instance, so layers with the
  /// same instance share one kernel.
  LogicalResult lower(LinearOp linear) {
    OpBuilder builder(linear);
    Location loc = linear.getLoc();
    MLIRContext *context = &getContext();
    Value weight = linear.getWeight();
    QWeightType type = linear.getWeight().getType();
    const ::awq::LinearShape shape = linear.getLinearShape();
    auto i64 = [&](int64_t value) {
      return IntegerAttr::get(IntegerType::get(context, 64), value);
    };
    Value small, large;
    if (GemvConfigAttr config = linear.getGemvAttr()) {
      // The GEMV kernel wants z itself: look through a zero-point fold.
      Value source = weight;
      if (auto fold = weight.getDefiningOp<FoldZeroPointsOp>())
        source = fold.getWeight();
      auto sourceType = cast<QWeightType>(source.getType());
      if (sourceType.getZeroMode() == ZeroMode::scaled_zero)
        return linear.emitOpError(
            "the gemv kernel needs the stored zero points, but the weight "
            "only provides z * s");
      Value packed = RepackOp::create(
          builder, loc, sourceType.withLayout(Layout::gemv_interleaved),
          source);
      small = GemvKernelOp::create(
          builder, loc, linear.getType(), linear.getInput(), packed,
          linear.getBias(), linear.getActScale(), linear.getResidual(),
          ::awq::KernelInstance::makeGemv(shape, gemvParamsOf(config))
              .suggestedName(),
          config, linear.getEpilogue());
    }
    if (GemmConfigAttr config = linear.getGemmAttr()) {
      Value source = weight;
      if (type.getZeroMode() == ZeroMode::zero_point)
        source = FoldZeroPointsOp::create(
            builder, loc, type.withZeroMode(ZeroMode::scaled_zero), weight);
      auto sourceType = cast<QWeightType>(source.getType());
      Value packed = RepackOp::create(
          builder, loc, sourceType.withLayout(Layout::mma_fragment), source);
      large = GemmKernelOp::create(
          builder, loc, linear.getType(), linear.getInput(), packed,
          linear.getBias(), linear.getActScale(), linear.getResidual(),
          ::awq::KernelInstance::makeGemm(shape, gemmParamsOf(config))
              .suggestedName(),
          config, linear.getEpilogue());
    }
    Value result = small ? small : large;
    if (small && large) {
      int64_t minM = linear.getGemmMinM().value_or(2);
      result =
          SelectByRowsOp::create(builder, loc, linear.getType(),
                                 linear.getInput(), small, large, i64(minM));
    }
    if (auto name =
            linear->getAttrOfType<StringAttr>(AwqDialect::getNameAttrName()))
      result.getDefiningOp()->setAttr(AwqDialect::getNameAttrName(), name);
    linear.replaceAllUsesWith(result);
    linear.erase();
    return success();
  }
};

} // namespace
