//===- WeightEvaluatorTest.cpp - Weight transforms executed as the IR says ===//
#include "compiler/execute/WeightEvaluator.h"

#include "ExecuteTestSupport.h"
#include "dialects/awq/AwqDialect.h"
#include "runtime/support/Error.h"
#include "runtime/support/Half.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

#include <gtest/gtest.h>

#include <cmath>

namespace awq {
namespace {

namespace ir = mlir::awq;

/// The value returned by the function `name` of `module`.
mlir::Value returned(mlir::ModuleOp module, llvm::StringRef name) {
  mlir::Value value;
  module.walk([&](mlir::func::ReturnOp ret) {
    if (ret->getParentOfType<mlir::func::FuncOp>().getName() == name)
      value = ret.getOperand(0);
  });
  return value;
}

constexpr const char *kModule = R"(
!zp = !awq.qweight<k = 256, n = 96, bits = 4, group = 64, zero_point, autoawq_gemm>
!zs = !awq.qweight<k = 256, n = 96, bits = 4, group = 64, scaled_zero, autoawq_gemm>
func.func @folded() -> !awq.qweight<k = 256, n = 96, bits = 4, group = 64, scaled_zero, mma_fragment> {
  %w = awq.external "w" : !zp
  %f = awq.fold_zero_points %w : !zp -> !zs
  %r = awq.repack %f : !zs -> !awq.qweight<k = 256, n = 96, bits = 4, group = 64, scaled_zero, mma_fragment>
  return %r : !awq.qweight<k = 256, n = 96, bits = 4, group = 64, scaled_zero, mma_fragment>
}
func.func @gemv_from_folded() -> !awq.qweight<k = 256, n = 96, bits = 4, group = 64, scaled_zero, gemv_interleaved> {
  %w = awq.external "w" : !zp
  %f = awq.fold_zero_points %w : !zp -> !zs
  %r = awq.repack %f : !zs -> !awq.qweight<k = 256, n = 96, bits = 4, group = 64, scaled_zero, gemv_interleaved>
  return %r : !awq.qweight<k = 256, n = 96, bits = 4, group = 64, scaled_zero, gemv_interleaved>
}
func.func @gemm_unfolded() -> !awq.qweight<k = 256, n = 96, bits = 4, group = 64, zero_point, mma_fragment> {
  %w = awq.external "w" : !zp
  %r = awq.repack %w : !zp -> !awq.qweight<k = 256, n = 96, bits = 4, group = 64, zero_point, mma_fragment>
  return %r : !awq.qweight<k = 256, n = 96, bits = 4, group = 64, zero_point, mma_fragment>
}
func.func @not_repacked() -> !zp {
  %w = awq.external "w" : !zp
  return %w : !zp
}
)";

class WeightEvaluatorTest : public ::testing::Test {
protected:
  void SetUp() override {
    context = test::makeContext();
    module = test::parse(*context, kModule);
    ASSERT_TRUE(module);
    source = makeRandomWeightSource(test::testSeed());
    evaluator = std::make_unique<WeightEvaluator>(*source);
  }
  std::string errorOf(llvm::StringRef function) {
    try {
      evaluator->packed(returned(*module, function));
    } catch (const Error &error) {
      return error.what();
    }
    return {};
  }
  std::unique_ptr<mlir::MLIRContext> context;
  mlir::OwningOpRef<mlir::ModuleOp> module;
  std::unique_ptr<WeightSource> source;
  std::unique_ptr<WeightEvaluator> evaluator;
};

// fold_zero_points computes fp16(z * s) per group and column, and the repack
// to mma_fragment stores exactly those terms, at the GEMM layout's scale
// index (GemmLayout.h: column 64 b + 8 j + g sits at 64 b + 8 g + j).
TEST_F(WeightEvaluatorTest, RepackStoresTheFoldedZeroTerms) {
  mlir::Value packedValue = returned(*module, "folded");
  const KernelWeights &packed = evaluator->packed(packedValue);
  EXPECT_EQ(packed.layout, KernelFamily::Gemm);
  mlir::Value fold = packedValue.getDefiningOp()->getOperand(0);
  const QuantizedLinear &layer = evaluator->quantized(fold);
  const std::vector<uint16_t> &terms = evaluator->zeroTerms(fold);
  const int64_t n = layer.n, groups = layer.numGroups(), nPadded = 128;
  ASSERT_EQ(terms.size(), static_cast<size_t>(groups * n));
  ASSERT_EQ(packed.zeros.size(), static_cast<size_t>(4 * nPadded))
      << "K = 256 padded to 256: four group rows of 128 padded columns";
  int nonzero = 0;
  for (int64_t g = 0; g < groups; ++g)
    for (int64_t c = 0; c < n; ++c) {
      const float z = static_cast<float>(layer.zeros[g * n + c]);
      const float s = halfToFloat(layer.scales[g * n + c]);
      const uint16_t want = floatToHalf(z * s);
      EXPECT_EQ(terms[g * n + c], want) << "group " << g << ", column " << c;
      const int64_t b = c / 64, j = c % 64 % 8, lane = c % 64 / 8;
      EXPECT_EQ(packed.zeros[g * nPadded + 64 * b + 8 * j + lane], want)
          << "group " << g << ", column " << c;
      nonzero += want != 0;
    }
  EXPECT_GT(nonzero, groups * n / 2) << "random zeros must not be all zero";
}

TEST_F(WeightEvaluatorTest, RefusesRepacksTheKernelsCannotRead) {
  EXPECT_NE(errorOf("gemv_from_folded")
                .find("awq.repack to gemv_interleaved needs the stored zero "
                      "points, but its source only has z * s"),
            std::string::npos);
  EXPECT_NE(errorOf("gemm_unfolded")
                .find("awq.repack to mma_fragment needs the zero terms z * s: "
                      "fold the zero points (awq.fold_zero_points) first"),
            std::string::npos);
  EXPECT_NE(errorOf("not_repacked")
                .find("a kernel's weight must be produced by awq.repack"),
            std::string::npos);
}

constexpr const char *kBf16Module = R"(
!w = !awq.qweight<k = 128, n = 64, bits = 4, group = 64, zero_point, autoawq_gemm>
!zs = !awq.qweight<k = 128, n = 64, bits = 4, group = 64, scaled_zero, autoawq_gemm>
func.func @bf16(%x: tensor<?x128xbf16>) -> tensor<?x64xbf16> {
  %w = awq.external "w" : !w
  %s = awq.external "s" : tensor<64xbf16>
  %b = awq.external "b" : tensor<64xbf16>
  %f = awq.fold_zero_points %w : !w -> !zs
  %ws = awq.scale_output_channels %f, %s : !zs, tensor<64xbf16>
  %bs = awq.vector_mul %b, %s : tensor<64xbf16>
  %y = awq.linear %x, %ws bias(%bs : tensor<64xbf16>) : tensor<?x128xbf16>, !zs -> tensor<?x64xbf16>
  return %y : tensor<?x64xbf16>
}
)";

// A bf16 layer's weights are drawn, scaled and folded in bf16: every product
// is rounded to bf16 (as the plain definition below computes it), never to
// fp16.
TEST(WeightEvaluatorBf16, TransformsRoundToTheLayersType) {
  auto context = test::makeContext();
  auto module = test::parse(*context, kBf16Module);
  ASSERT_TRUE(module);
  std::unique_ptr<WeightSource> source =
      makeRandomWeightSource(test::testSeed());
  WeightEvaluator evaluator(*source);
  ir::LinearOp linear;
  module->walk([&](ir::LinearOp op) { linear = op; });
  auto scaled = linear.getWeight().getDefiningOp<ir::ScaleOutputChannelsOp>();
  auto fold = scaled.getWeight().getDefiningOp<ir::FoldZeroPointsOp>();
  auto mul = linear.getBias().getDefiningOp<ir::VectorMulOp>();

  const QuantizedLinear original = evaluator.quantized(fold.getWeight());
  EXPECT_EQ(original.activation, ActivationType::BF16);
  const std::vector<uint16_t> factors = evaluator.vector(scaled.getScale());
  const std::vector<uint16_t> bias = evaluator.vector(mul.getLhs());
  const QuantizedLinear &result = evaluator.quantized(linear.getWeight());
  const std::vector<uint16_t> &resultBias = evaluator.vector(linear.getBias());
  EXPECT_EQ(result.activation, ActivationType::BF16);

  auto product = [](uint16_t a, uint16_t b) {
    return floatToBfloat16(bfloat16ToFloat(a) * bfloat16ToFloat(b));
  };
  const int64_t n = 64;
  int differsFromFp16 = 0;
  for (int64_t g = 0; g < original.numGroups(); ++g)
    for (int64_t c = 0; c < n; ++c) {
      const size_t i = static_cast<size_t>(g * n + c);
      const float s = bfloat16ToFloat(original.scales[i]);
      ASSERT_TRUE(s > 0 && std::isfinite(s)) << "scales are bf16 values";
      EXPECT_EQ(result.scales[i], product(original.scales[i], factors[c]));
      differsFromFp16 +=
          result.scales[i] != floatToHalf(halfToFloat(original.scales[i]) *
                                          halfToFloat(factors[c]));
    }
  EXPECT_GT(differsFromFp16, 0);
  for (int64_t c = 0; c < n; ++c)
    EXPECT_EQ(resultBias[c], product(bias[c], factors[c])) << "column " << c;
}

// The zero terms z * s of a bf16 layer are bf16, and scaling them rounds to
// bf16. Needs foldZeroPoints in the layer's type (runtime/kernels/
// GemmLayout.cpp, branch bf16-gemm).
// A bf16 layer's zero terms are z itself (bf16(z * s) would be off by up
// to a quantization step for 8-bit z), so a column scale leaves them alone.
TEST(WeightEvaluatorBf16, ZeroTermsAreTheZeroPoints) {
  auto context = test::makeContext();
  auto module = test::parse(*context, kBf16Module);
  ASSERT_TRUE(module);
  std::unique_ptr<WeightSource> source =
      makeRandomWeightSource(test::testSeed());
  WeightEvaluator evaluator(*source);
  ir::LinearOp linear;
  module->walk([&](ir::LinearOp op) { linear = op; });
  auto scaled = linear.getWeight().getDefiningOp<ir::ScaleOutputChannelsOp>();
  auto fold = scaled.getWeight().getDefiningOp<ir::FoldZeroPointsOp>();
  const QuantizedLinear original = evaluator.quantized(fold.getWeight());
  const std::vector<uint16_t> factors = evaluator.vector(scaled.getScale());
  const std::vector<uint16_t> terms = evaluator.zeroTerms(fold.getResult());
  const std::vector<uint16_t> &resultTerms =
      evaluator.zeroTerms(linear.getWeight());
  const int64_t n = 64;
  for (int64_t g = 0; g < original.numGroups(); ++g)
    for (int64_t c = 0; c < n; ++c) {
      const size_t i = static_cast<size_t>(g * n + c);
      EXPECT_EQ(bfloat16ToFloat(terms[i]),
                static_cast<float>(original.zeros[i]))
          << "z at group " << g << ", column " << c;
      EXPECT_EQ(resultTerms[i], terms[i])
          << "scaled by " << bfloat16ToFloat(factors[c]) << " at group " << g
          << ", column " << c;
    }
}

} // namespace
} // namespace awq
