//===- PipelineNumericsTest.cpp - Passes and kernels keep the function ----===//
//
// A small LLaMA-shaped model (examples/tiny-llama: 2 blocks, hidden 256,
// intermediate 768, GQA) with AWQ activation scales on every input group is
// interpreted on random activations at three levels:
//   A. the graph-level module as built from the description;
//   B. after the graph passes (scale folding into norms and the up
//      projection, merged q/k/v, fused SiLU and residual epilogues, folded
//      zero points);
//   C. after the whole pipeline, kernel ops by their reference semantics;
//   D. after the whole pipeline, every kernel's emitted CUDA run on the host.
// B, C and D must equal A up to fp16 rounding; a module whose scales were
// dropped instead of folded must not.
//
// Tolerance: relative L2 error 1e-2. Every op rounds its output to fp16
// (relative 2^-11), folding rounds s * g and s * scales once more, and the
// errors compound over the ~10 ops of a block; measured: ~1e-3. The same
// model with "dtype": "bfloat16" (every rounding to bf16, relative 2^-8,
// eight times coarser; measured: ~6e-3) is held to 5e-2.
//
//===----------------------------------------------------------------------===//
#include "ExecuteTestSupport.h"

#include "compiler/builder/ModelBuilder.h"
#include "compiler/execute/ReferenceInterpreter.h"
#include "compiler/execute/WeightEvaluator.h"
#include "compiler/formats/ModelDescription.h"
#include "dialects/awq/AwqDialect.h"
#include "passes/Passes.h"
#include "runtime/support/Half.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Pass/PassManager.h"

#include <gtest/gtest.h>

#include <random>

namespace ir = mlir::awq;

namespace awq {
namespace {

constexpr double kTolerance = 1e-2;
constexpr double kBf16Tolerance = 5e-2;

ModelDescription
tinyLlamaWithScales(ActivationType activation = ActivationType::F16) {
  ModelDescription description =
      parseModelDescription(AWQC_SOURCE_DIR "/examples/tiny-llama/model.json");
  description.activation = activation;
  for (InputGroup &group : description.inputGroups)
    group.activationScale = group.name + ".act_scale";
  return description;
}

std::vector<Activation> randomArguments(mlir::func::FuncOp function,
                                        int64_t rows, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<Activation> arguments;
  for (mlir::Type type : function.getArgumentTypes()) {
    auto tensor = mlir::cast<mlir::RankedTensorType>(type);
    Activation value;
    value.rows = rows;
    value.cols = tensor.getDimSize(1);
    const ActivationType element =
        ir::activationTypeOf(tensor.getElementType());
    for (int64_t i = 0; i < rows * value.cols; ++i)
      value.data.push_back(
          elementToFloat(floatToElement(dist(rng), element), element));
    arguments.push_back(std::move(value));
  }
  return arguments;
}

mlir::func::FuncOp forward(mlir::ModuleOp module) {
  return module.lookupSymbol<mlir::func::FuncOp>("forward");
}

class PipelineNumerics : public ::testing::Test {
protected:
  virtual ActivationType activation() const { return ActivationType::F16; }
  void SetUp() override {
    context = test::makeContext();
    BuildOptions options;
    options.target = "sm_80";
    graph = buildModule(*context, tinyLlamaWithScales(activation()), options);
    ASSERT_TRUE(graph);
    seed = test::testSeed();
    source = makeRandomWeightSource(seed);
  }

  std::vector<Activation> interpret(mlir::ModuleOp module, int64_t rows,
                                    const HostKernelRunner *runner = nullptr) {
    WeightEvaluator evaluator(*source);
    ReferenceInterpreter interpreter(evaluator, runner);
    mlir::func::FuncOp function = forward(module);
    return interpreter.run(function,
                           randomArguments(function, rows, seed + rows));
  }

  std::unique_ptr<mlir::MLIRContext> context;
  mlir::OwningOpRef<mlir::ModuleOp> graph;
  uint64_t seed = 0;
  std::unique_ptr<WeightSource> source;
};

TEST_F(PipelineNumerics, GraphPassesKeepTheFunction) {
  // The description's scales all start on the linears.
  int scaled = 0;
  graph->walk([&](ir::LinearOp op) { scaled += op.getActScale() ? 1 : 0; });
  ASSERT_EQ(scaled, 14);

  mlir::OwningOpRef<mlir::ModuleOp> folded = graph->clone();
  mlir::PassManager pm(context.get());
  pm.addPass(ir::createFoldActivationScalesPass());
  pm.addPass(ir::createFuseEpiloguesPass());
  pm.addPass(ir::createMergeSharedInputLinearsPass());
  pm.addPass(ir::createFoldZeroPointsPass());
  ASSERT_TRUE(mlir::succeeded(pm.run(*folded)));
  // Norm groups and the SiLU group fold; the attention output group (a
  // function argument) keeps its scale for the kernel: one linear per block.
  int kept = 0;
  folded->walk([&](ir::LinearOp op) { kept += op.getActScale() ? 1 : 0; });
  EXPECT_EQ(kept, 2);

  for (int64_t rows : {1, 7, 33}) {
    SCOPED_TRACE("M = " + std::to_string(rows));
    double error =
        relativeError(interpret(*folded, rows), interpret(*graph, rows));
    std::printf("graph passes, M = %lld: relative error %.2e\n",
                static_cast<long long>(rows), error);
    EXPECT_LT(error, kTolerance);
  }
}

TEST_F(PipelineNumerics, DroppingScalesIsDetected) {
  // A pass that forgot to fold (dropped the scales) must fail the check.
  mlir::OwningOpRef<mlir::ModuleOp> broken = graph->clone();
  broken->walk([](ir::LinearOp op) { op.getActScaleMutable().clear(); });
  double error = relativeError(interpret(*broken, 7), interpret(*graph, 7));
  std::printf("scales dropped: relative error %.2e\n", error);
  EXPECT_GT(error, 10 * kTolerance);
}

TEST_F(PipelineNumerics, KernelsComputeTheModel) {
  mlir::OwningOpRef<mlir::ModuleOp> lowered = graph->clone();
  ASSERT_TRUE(test::lower(*lowered));
  HostKernelRunner runner(test::kernelSpecs(*lowered));
  for (int64_t rows : {1, 7, 33}) {
    SCOPED_TRACE("M = " + std::to_string(rows));
    std::vector<Activation> want = interpret(*graph, rows);
    double semantic = relativeError(interpret(*lowered, rows), want);
    double executed = relativeError(interpret(*lowered, rows, &runner), want);
    std::printf("M = %lld: kernel level %.2e, host-executed kernels %.2e\n",
                static_cast<long long>(rows), semantic, executed);
    EXPECT_LT(semantic, kTolerance)
        << "kernel ops by their reference semantics";
    EXPECT_LT(executed, kTolerance) << "kernels run on the host emulation";
  }
}

/// The model in bf16: built, folded and interpreted in bf16.
class PipelineNumericsBf16 : public PipelineNumerics {
protected:
  ActivationType activation() const override { return ActivationType::BF16; }
};

/// Whether any value of `module` is an f16 tensor.
bool hasF16(mlir::ModuleOp module) {
  bool found = false;
  module.walk([&](mlir::Operation *op) {
    for (mlir::Value value : op->getResults())
      if (auto tensor = mlir::dyn_cast<mlir::RankedTensorType>(value.getType()))
        found = found || tensor.getElementType().isF16();
  });
  return found;
}

TEST_F(PipelineNumericsBf16, GraphPassesKeepTheFunction) {
  ASSERT_FALSE(hasF16(*graph));
  mlir::OwningOpRef<mlir::ModuleOp> folded = graph->clone();
  mlir::PassManager pm(context.get());
  pm.addPass(ir::createFoldActivationScalesPass());
  pm.addPass(ir::createFuseEpiloguesPass());
  pm.addPass(ir::createMergeSharedInputLinearsPass());
  pm.addPass(ir::createFoldZeroPointsPass());
  ASSERT_TRUE(mlir::succeeded(pm.run(*folded)));
  EXPECT_FALSE(hasF16(*folded)) << "a pass created an f16 tensor";
  int kept = 0;
  folded->walk([&](ir::LinearOp op) { kept += op.getActScale() ? 1 : 0; });
  EXPECT_EQ(kept, 2);
  for (int64_t rows : {1, 7, 33}) {
    SCOPED_TRACE("M = " + std::to_string(rows));
    double error =
        relativeError(interpret(*folded, rows), interpret(*graph, rows));
    std::printf("bf16 graph passes, M = %lld: relative error %.2e\n",
                static_cast<long long>(rows), error);
    EXPECT_LT(error, kBf16Tolerance);
  }
}

TEST_F(PipelineNumericsBf16, DroppingScalesIsDetected) {
  mlir::OwningOpRef<mlir::ModuleOp> broken = graph->clone();
  broken->walk([](ir::LinearOp op) { op.getActScaleMutable().clear(); });
  double error = relativeError(interpret(*broken, 7), interpret(*graph, 7));
  std::printf("bf16 scales dropped: relative error %.2e\n", error);
  EXPECT_GT(error, 5 * kBf16Tolerance);
}

/// Needs the bf16 kernels (branches bf16-gemv and bf16-gemm).
TEST_F(PipelineNumericsBf16, KernelsComputeTheModel) {
  mlir::OwningOpRef<mlir::ModuleOp> lowered = graph->clone();
  ASSERT_TRUE(test::lower(*lowered));
  EXPECT_FALSE(hasF16(*lowered)) << "lowering created an f16 tensor";
  HostKernelRunner runner(test::kernelSpecs(*lowered));
  for (int64_t rows : {1, 7, 33}) {
    SCOPED_TRACE("M = " + std::to_string(rows));
    std::vector<Activation> want = interpret(*graph, rows);
    double semantic = relativeError(interpret(*lowered, rows), want);
    double executed = relativeError(interpret(*lowered, rows, &runner), want);
    std::printf("bf16 M = %lld: kernel level %.2e, host-executed kernels "
                "%.2e\n",
                static_cast<long long>(rows), semantic, executed);
    EXPECT_LT(semantic, kBf16Tolerance);
    EXPECT_LT(executed, kBf16Tolerance);
  }
}

} // namespace
} // namespace awq
