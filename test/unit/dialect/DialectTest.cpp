//===- DialectTest.cpp - Building awq IR through the C++ API --------------===//
#include "dialects/awq/AwqDialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Parser/Parser.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

using namespace mlir;
using namespace mlir::awq;

namespace {

class AwqDialectTest : public ::testing::Test {
protected:
  AwqDialectTest() { context.loadDialect<AwqDialect, func::FuncDialect>(); }

  /// Builds `func @f(%x: tensor<?xKxf16>) -> tensor<?xNxf16>` holding one
  /// external weight and one linear; returns the linear.
  LinearOp buildLinear(ModuleOp module, QWeightType weightType,
                       Epilogue epilogue, int64_t resultCols) {
    OpBuilder builder(module.getBodyRegion());
    Location loc = builder.getUnknownLoc();
    auto f16 = builder.getF16Type();
    auto inputType =
        RankedTensorType::get({ShapedType::kDynamic, weightType.getK()}, f16);
    auto resultType =
        RankedTensorType::get({ShapedType::kDynamic, resultCols}, f16);
    auto func = func::FuncOp::create(
        builder, loc, "f", builder.getFunctionType({inputType}, {resultType}));
    Block *entry = func.addEntryBlock();
    builder.setInsertionPointToStart(entry);
    auto weight = ExternalOp::create(
        builder, loc, weightType, builder.getStringAttr("layer.weight"),
        builder.getStringAttr("model.safetensors"));
    auto linear =
        LinearOp::create(builder, loc, resultType, entry->getArgument(0),
                         weight, /*bias=*/Value(), /*act_scale=*/Value(),
                         /*residual=*/Value(), epilogue,
                         /*gemv=*/nullptr, /*gemm=*/nullptr,
                         /*gemm_min_m=*/nullptr);
    func::ReturnOp::create(builder, loc, linear.getResult());
    return linear;
  }

  MLIRContext context;
};

TEST_F(AwqDialectTest, TypeAccessorsAndDerivedTypes) {
  auto type = QWeightType::get(&context, 4096, 11008, 4, 128,
                               ZeroMode::zero_point, Layout::autoawq_gemm);
  EXPECT_EQ(type.getNumGroups(), 32);
  EXPECT_EQ(type.withN(22016).getN(), 22016);
  EXPECT_EQ(type.withZeroMode(ZeroMode::scaled_zero).getZeroMode(),
            ZeroMode::scaled_zero);
  EXPECT_EQ(type.withLayout(Layout::mma_fragment).getLayout(),
            Layout::mma_fragment);
  EXPECT_NE(type, type.withN(22016));
}

TEST_F(AwqDialectTest, InvalidTypeIsRejectedWithMessage) {
  std::string message;
  ScopedDiagnosticHandler handler(&context, [&](Diagnostic &diag) {
    message = diag.str();
    return success();
  });
  auto type = QWeightType::getChecked(
      [&] { return emitError(UnknownLoc::get(&context)); }, &context,
      int64_t(320), int64_t(128), 4u, int64_t(128), ZeroMode::zero_point,
      Layout::autoawq_gemm);
  EXPECT_FALSE(type);
  EXPECT_EQ(message, "group size must be k (320) for one group per column or a "
                     "multiple of 32 that divides k, got 128");
}

TEST_F(AwqDialectTest, BuiltLinearVerifiesAndPrints) {
  OwningOpRef<ModuleOp> module = ModuleOp::create(UnknownLoc::get(&context));
  auto type = QWeightType::get(&context, 256, 128, 4, 64, ZeroMode::zero_point,
                               Layout::autoawq_gemm);
  LinearOp linear = buildLinear(*module, type, Epilogue::none, 128);
  ASSERT_TRUE(succeeded(verify(*module)));
  EXPECT_EQ(linear.getOutputColumns(), 128);

  std::string text;
  llvm::raw_string_ostream os(text);
  module->print(os);
  EXPECT_NE(text.find("awq.linear"), std::string::npos);

  // What is printed parses back into an equivalent module.
  OwningOpRef<ModuleOp> reparsed = parseSourceString<ModuleOp>(text, &context);
  ASSERT_TRUE(reparsed);
  std::string again;
  llvm::raw_string_ostream os2(again);
  reparsed->print(os2);
  EXPECT_EQ(text, again);
}

TEST_F(AwqDialectTest, SiluMulHalvesTheOutput) {
  OwningOpRef<ModuleOp> module = ModuleOp::create(UnknownLoc::get(&context));
  auto type = QWeightType::get(&context, 256, 128, 4, 128, ZeroMode::symmetric,
                               Layout::autoawq_gemm);
  LinearOp linear = buildLinear(*module, type, Epilogue::silu_mul, 64);
  ASSERT_TRUE(succeeded(verify(*module)));
  EXPECT_EQ(linear.getOutputColumns(), 64);
}

TEST_F(AwqDialectTest, VerifierRejectsWrongResultWidth) {
  OwningOpRef<ModuleOp> module = ModuleOp::create(UnknownLoc::get(&context));
  auto type = QWeightType::get(&context, 256, 128, 4, 128, ZeroMode::symmetric,
                               Layout::autoawq_gemm);
  buildLinear(*module, type, Epilogue::silu_mul, 128);
  std::string message;
  ScopedDiagnosticHandler handler(&context, [&](Diagnostic &diag) {
    message = diag.str();
    return success();
  });
  EXPECT_TRUE(failed(verify(*module)));
  EXPECT_EQ(message, "'awq.linear' op result must have 64 columns, got 128");
}

TEST_F(AwqDialectTest, DiscardableAttributesAreDeclaredOnTheDialect) {
  EXPECT_EQ(AwqDialect::getNameAttrName(), "awq.name");
  EXPECT_EQ(AwqDialect::getTargetAttrName(), "awq.target");
  EXPECT_EQ(AwqDialect::getModelAttrName(), "awq.model");

  OwningOpRef<ModuleOp> module = ModuleOp::create(UnknownLoc::get(&context));
  auto *dialect = context.getLoadedDialect<AwqDialect>();
  auto target = dialect->getTargetAttrHelper();
  EXPECT_FALSE(target.isAttrPresent(*module));
  target.setAttr(*module, TargetAttr::get(&context, "sm_90", 132));
  EXPECT_EQ((*module)->getAttrOfType<TargetAttr>("awq.target").getName(),
            "sm_90");
  EXPECT_EQ(cast<TargetAttr>(target.getAttr(*module)).getSmCount(), 132);
}

TEST_F(AwqDialectTest, KernelOpsDeriveWhatTheyDoNotStore) {
  OwningOpRef<ModuleOp> module = ModuleOp::create(UnknownLoc::get(&context));
  auto type = QWeightType::get(&context, 256, 128, 8, 128, ZeroMode::symmetric,
                               Layout::autoawq_gemm);
  LinearOp linear = buildLinear(*module, type, Epilogue::none, 128);
  OpBuilder builder(linear);
  auto config = GemmConfigAttr::get(&context, 64, 128, 64, 2, 2, 3, 1);
  auto packed = RepackOp::create(builder, linear.getLoc(),
                                 type.withLayout(Layout::mma_fragment),
                                 linear.getWeight());
  // No result type: it is inferred from the input, weight and epilogue.
  auto gemm = GemmKernelOp::create(
      builder, linear.getLoc(), linear.getInput(), packed,
      /*bias=*/Value(), /*act_scale=*/Value(), /*residual=*/Value(), "l_gemm",
      config, Epilogue::none);
  EXPECT_EQ(gemm.getType(), linear.getType());
  linear.replaceAllUsesWith(gemm.getResult());
  linear.erase();
  ASSERT_TRUE(succeeded(verify(*module)));

  auto kernel = cast<KernelOpInterface>(gemm.getOperation());
  EXPECT_EQ(kernel.getKernelName(), "l_gemm");
  EXPECT_EQ(kernel.getKernelFamily(), KernelFamily::gemm);
  EXPECT_EQ(kernel.getDequantKind(), DequantKind::fp16_magic_prmt);
  // 3 stages x (A 64*64*2 + B 2*2*(256*8) + scales 1*128*2) + 16.
  EXPECT_EQ(kernel.getSharedBytes(), 3 * (8192 + 8192 + 256) + 16);
  EXPECT_EQ(kernel.getKLoop().getTiles(), 4);
  EXPECT_EQ(kernel.getKLoop().getTilesPerGroup(), 2);
  ::awq::LinearShape shape = kernel.getLinearShape();
  EXPECT_EQ(shape.k, 256);
  EXPECT_EQ(shape.bits, 8);
  EXPECT_FALSE(shape.zeroPoint);
}

TEST_F(AwqDialectTest, KernelResultTypeFollowsInputRowsAndEpilogue) {
  OwningOpRef<ModuleOp> module = ModuleOp::create(UnknownLoc::get(&context));
  OpBuilder builder(module->getBodyRegion());
  Location loc = builder.getUnknownLoc();
  auto type = QWeightType::get(&context, 256, 128, 4, 128, ZeroMode::zero_point,
                               Layout::gemv_interleaved);
  auto input = RankedTensorType::get({4, 256}, builder.getF16Type());
  auto func = func::FuncOp::create(builder, loc, "f",
                                   builder.getFunctionType({input, type}, {}));
  Block *entry = func.addEntryBlock();
  builder.setInsertionPointToStart(entry);
  auto config = GemvConfigAttr::get(&context, 128, 8, 1, 4);
  auto gemv = GemvKernelOp::create(
      builder, loc, entry->getArgument(0), entry->getArgument(1),
      /*bias=*/Value(), /*act_scale=*/Value(), /*residual=*/Value(), "l_gemv",
      config, Epilogue::silu_mul);
  func::ReturnOp::create(builder, loc);
  EXPECT_EQ(gemv.getType(),
            RankedTensorType::get({4, 64}, builder.getF16Type()));
  EXPECT_TRUE(succeeded(verify(*module)));
}

// A bf16 input makes a bf16 kernel: the inferred result and the linear
// shape follow the input's element type.
TEST_F(AwqDialectTest, KernelResultAndShapeFollowABf16Input) {
  OpBuilder builder(&context);
  OwningOpRef<ModuleOp> module = ModuleOp::create(builder.getUnknownLoc());
  builder.setInsertionPointToEnd(module->getBody());
  Location loc = builder.getUnknownLoc();
  auto type = QWeightType::get(&context, 256, 128, 4, 128, ZeroMode::zero_point,
                               Layout::gemv_interleaved);
  auto input = RankedTensorType::get({4, 256}, builder.getBF16Type());
  auto func = func::FuncOp::create(builder, loc, "f",
                                   builder.getFunctionType({input, type}, {}));
  Block *entry = func.addEntryBlock();
  builder.setInsertionPointToStart(entry);
  auto gemv = GemvKernelOp::create(
      builder, loc, entry->getArgument(0), entry->getArgument(1),
      /*bias=*/Value(), /*act_scale=*/Value(), /*residual=*/Value(), "l_gemv",
      GemvConfigAttr::get(&context, 128, 8, 1, 4), Epilogue::none);
  EXPECT_EQ(gemv.getType(),
            RankedTensorType::get({4, 128}, builder.getBF16Type()));
  EXPECT_EQ(gemv.getLinearShape().activation, ::awq::ActivationType::BF16);
  auto f16 = RankedTensorType::get({4, 256}, builder.getF16Type());
  auto f16Func = func::FuncOp::create(builder, loc, "g",
                                      builder.getFunctionType({f16, type}, {}));
  Block *f16Entry = f16Func.addEntryBlock();
  builder.setInsertionPointToStart(f16Entry);
  auto f16Gemv = GemvKernelOp::create(
      builder, loc, f16Entry->getArgument(0), f16Entry->getArgument(1), Value(),
      Value(), Value(), "l_gemv", GemvConfigAttr::get(&context, 128, 8, 1, 4),
      Epilogue::none);
  EXPECT_EQ(f16Gemv.getLinearShape().activation, ::awq::ActivationType::F16);
}

// The scales' type of a weight is that of the linears reading it, through
// its transforms; both types at once is an error; nothing says: f16.
TEST_F(AwqDialectTest, WeightActivationTypeFromItsReaders) {
  const char *text = R"(
!w = !awq.qweight<k = 256, n = 128, bits = 4, group = 128, zero_point, autoawq_gemm>
!zs = !awq.qweight<k = 256, n = 128, bits = 4, group = 128, scaled_zero, autoawq_gemm>
func.func @f(%x: tensor<?x256xbf16>, %y: tensor<?x256xf16>, %s: tensor<128xbf16>) {
  %a = awq.external "a" : !w
  %af = awq.fold_zero_points %a : !w -> !zs
  %0 = awq.linear %x, %af : tensor<?x256xbf16>, !zs -> tensor<?x128xbf16>
  %b = awq.external "b" : !w
  %1 = awq.linear %x, %b : tensor<?x256xbf16>, !w -> tensor<?x128xbf16>
  %2 = awq.linear %y, %b : tensor<?x256xf16>, !w -> tensor<?x128xf16>
  %c = awq.external "c" : !w
  %cs = awq.scale_output_channels %c, %s : !w, tensor<128xbf16>
  %d = awq.external "d" : !w
  return
}
)";
  OwningOpRef<ModuleOp> module = parseSourceString<ModuleOp>(text, &context);
  ASSERT_TRUE(module);
  std::map<std::string, Value> externals;
  module->walk(
      [&](ExternalOp op) { externals[op.getTensor().str()] = op.getResult(); });
  ::awq::ActivationType type = ::awq::ActivationType::F16;
  EXPECT_EQ(getWeightActivationType(externals["a"], type), "");
  EXPECT_EQ(type, ::awq::ActivationType::BF16);
  EXPECT_NE(getWeightActivationType(externals["b"], type)
                .find("read by both f16 and bf16 linears"),
            std::string::npos);
  type = ::awq::ActivationType::F16;
  EXPECT_EQ(getWeightActivationType(externals["c"], type), "");
  EXPECT_EQ(type, ::awq::ActivationType::BF16);
  EXPECT_EQ(getWeightActivationType(externals["d"], type), "");
  EXPECT_EQ(type, ::awq::ActivationType::F16);
}

} // namespace
