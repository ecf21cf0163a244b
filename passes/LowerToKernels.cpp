//===- LowerToKernels.cpp - Linears become kernel instances ---------------===//
//
// Implements --awq-lower-to-kernels; tested by
// test/lit/passes/awq-lower-to-kernels.mlir.
//
//===----------------------------------------------------------------------===//
#include "dialects/awq/AwqDialect.h"
#include "passes/Passes.h"

#include "mlir/IR/Builders.h"
#include "llvm/ADT/StringSet.h"

#include <cctype>

namespace mlir::awq {
#define GEN_PASS_DEF_LOWERTOKERNELSPASS
#include "passes/Passes.h.inc"
} // namespace mlir::awq

using namespace mlir;
using namespace mlir::awq;

namespace {

/// A C identifier from a layer name: "model.layers.0.mlp" ->
/// "model_layers_0_mlp".
std::string identifierFrom(StringRef name) {
  std::string result;
  for (char c : name)
    result += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  if (result.empty() || std::isdigit(static_cast<unsigned char>(result[0])))
    result = "layer_" + result;
  return result;
}

/// "a.b.q_proj", "a.b.k_proj" -> "a.b.q_proj_k_proj": the shared dotted
/// prefix once, then each distinct tail.
std::string describeTensors(ArrayRef<std::string> names) {
  if (names.empty())
    return {};
  size_t prefix = names.front().rfind('.') + 1;
  for (const std::string &name : names)
    while (prefix > 0 && name.compare(0, prefix, names.front(), 0, prefix) != 0)
      prefix = names.front().rfind('.', prefix - 2) + 1;
  std::string result = names.front().substr(0, prefix);
  for (auto [i, name] : llvm::enumerate(names))
    result += (i ? "_" : "") + name.substr(prefix);
  return result;
}

struct LowerToKernelsPass
    : public mlir::awq::impl::LowerToKernelsPassBase<LowerToKernelsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    llvm::StringSet<> usedNames;
    int64_t index = 0;
    SmallVector<LinearOp> linears;
    module.walk([&](LinearOp linear) {
      if (linear.getGemv() || linear.getGemm())
        linears.push_back(linear);
    });
    for (LinearOp linear : linears) {
      std::string base = "linear_" + std::to_string(index++);
      SmallVector<std::string> tensors = getSourceTensors(linear.getWeight());
      if (auto name =
              linear->getAttrOfType<StringAttr>(AwqDialect::getNameAttrName()))
        base = identifierFrom(name.getValue());
      else if (!tensors.empty())
        base = identifierFrom(describeTensors(tensors));
      std::string unique = base;
      for (int suffix = 1; usedNames.contains(unique); ++suffix)
        unique = base + "_" + std::to_string(suffix);
      usedNames.insert(unique);
      if (failed(lower(linear, unique)))
        return signalPassFailure();
    }
  }

  LogicalResult lower(LinearOp linear, const std::string &name) {
    OpBuilder builder(linear);
    Location loc = linear.getLoc();
    MLIRContext *context = &getContext();
    Value weight = linear.getWeight();
    QWeightType type = linear.getWeight().getType();
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
          name + "_gemv", config, linear.getEpilogue());
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
          name + "_gemm", config, linear.getEpilogue());
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
