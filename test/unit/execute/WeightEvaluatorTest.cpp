//===- WeightEvaluatorTest.cpp - Weight transforms executed as the IR says ===//
#include "compiler/execute/WeightEvaluator.h"

#include "ExecuteTestSupport.h"
#include "dialects/awq/AwqDialect.h"
#include "runtime/support/Error.h"
#include "runtime/support/Half.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

#include <gtest/gtest.h>

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

} // namespace
} // namespace awq
