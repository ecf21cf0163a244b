//===- GroupSizeRuleTest.cpp - One group-size rule at every layer ---------===//
//
// The model description, the IR type and the kernels must accept exactly the
// same group sizes: K (one group per column), or a multiple of 32 dividing
// K. The rule is restated here plainly, independent of awq/contract.h, and
// each layer is asked on its own.
//
//===----------------------------------------------------------------------===//
#include "compiler/formats/ModelDescription.h"
#include "dialects/awq/AwqDialect.h"
#include "runtime/kernels/KernelPlan.h"

#include "mlir/IR/MLIRContext.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace {

bool expectedRule(int64_t k, int64_t group) {
  if (group == k)
    return true;
  return group > 0 && group % 32 == 0 && k % group == 0;
}

bool descriptionAccepts(int64_t k, int64_t group) {
  nlohmann::json document = {
      {"awqc_model_description", 1},
      {"name", "rule"},
      {"checkpoint", {{"path", "ckpt"}, {"format", "awq"}}},
      {"input_groups",
       {{{"name", "in"},
         {"producer",
          {{"kind", "rms_norm"},
           {"name", "norm"},
           {"weight", "norm.weight"},
           {"epsilon", 1e-5}}}}}},
      {"layers",
       {{{"name", "proj"},
         {"k", k},
         {"n", 64},
         {"bits", 4},
         {"group_size", group},
         {"zero_point", true},
         {"input_group", "in"}}}}};
  try {
    awq::parseModelDescriptionJson(document, "rule.json");
    return true;
  } catch (const awq::Error &) {
    return false;
  }
}

bool irAccepts(mlir::MLIRContext &context, int64_t k, int64_t group) {
  auto quiet = [&] { return mlir::emitError(mlir::UnknownLoc::get(&context)); };
  return static_cast<bool>(mlir::awq::QWeightType::getChecked(
      quiet, &context, k, int64_t(64), 4u, group,
      mlir::awq::ZeroMode::zero_point, mlir::awq::Layout::autoawq_gemm));
}

bool kernelsAccept(int64_t k, int64_t group) {
  awq::LinearShape shape;
  shape.k = k;
  shape.n = 64;
  shape.bits = 4;
  shape.group = group;
  const awq::ArchInfo &arch = *awq::findArch(90);
  const bool gemv = awq::planGemv(shape, arch).has_value();
  const bool gemm = awq::planGemm(shape, arch).has_value();
  EXPECT_EQ(gemv, gemm) << "K = " << k << ", group " << group
                        << ": the two kernel families disagree";
  EXPECT_EQ(gemv, awq::isSupportedGroupSize(k, group));
  return gemv;
}

TEST(GroupSizeRule, DescriptionIrAndKernelsAcceptTheSameSet) {
  mlir::MLIRContext context;
  context.loadDialect<mlir::awq::AwqDialect>();
  // Diagnostics of rejected types are expected; keep them off stderr.
  mlir::ScopedDiagnosticHandler silence(
      &context, [](mlir::Diagnostic &) { return mlir::success(); });
  int accepted = 0, rejected = 0;
  for (int64_t k : {64, 96, 256, 768, 4096, 11008}) {
    for (int64_t group : {-5, 0, 8, 16, 32, 48, 64, 96, 100, 128, 192, 256, 344,
                          512, 1024, 4096, 8192, 11008}) {
      const bool expected = expectedRule(k, group);
      EXPECT_EQ(descriptionAccepts(k, group), expected)
          << "description, K = " << k << ", group " << group;
      EXPECT_EQ(irAccepts(context, k, group), expected)
          << "IR type, K = " << k << ", group " << group;
      EXPECT_EQ(kernelsAccept(k, group), expected)
          << "kernels, K = " << k << ", group " << group;
      (expected ? accepted : rejected)++;
    }
    // One group per column: the description spells it -1, the IR and the
    // kernels K.
    EXPECT_TRUE(descriptionAccepts(k, -1));
    EXPECT_TRUE(irAccepts(context, k, k));
    EXPECT_TRUE(kernelsAccept(k, k));
  }
  // The table must exercise both outcomes, 256 among the accepted.
  EXPECT_GT(accepted, 20);
  EXPECT_GT(rejected, 40);
  EXPECT_TRUE(expectedRule(4096, 256));
}

} // namespace
