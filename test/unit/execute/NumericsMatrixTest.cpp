//===- NumericsMatrixTest.cpp - Every emitted kernel against the reference ===//
//
// The matrix: both kernel families x bits {3, 4, 8} x group {32, 64, 128,
// one per column} x zero point / symmetric x M in {1, 2, 3, 7, 8, 9, 16, 17,
// 33, 64}, with N and K tails (N not a multiple of the 64-column GEMM packet
// or of the GEMV block, K not a multiple of the GEMM K tile or the GEMV
// 1024-value tile), plus split-K layers with bias, activation scale and
// residual. Each configuration goes through the real pipeline and emitter;
// the emitted CUDA runs on the host emulation on fresh random activations
// with the output poisoned, and every element must lie within the bound of
// docs/numerics.md. Every bit width runs for sm_80 (cp.async, m16n8k16) and
// sm_75 (register-staged GEMM tiles, m16n8k8 pairs: the emulation builds
// the kernels as sm_75), and 4 bits also for sm_86 (the tiling the planner
// picks for 100 KB of shared memory per SM). bf16 activations (scales, bias,
// activation scale and residual in bf16, under the bf16 bound) run every bit
// width on sm_80 and 4 bits on sm_90; sm_75 refuses them. One test per bit
// width, target and activation type, so ctest runs them in parallel.
//
//===----------------------------------------------------------------------===//
#include "ExecuteTestSupport.h"

#include "compiler/execute/WeightEvaluator.h"
#include "dialects/awq/AwqDialect.h"
#include "dialects/awq/KernelSchedules.h"
#include "runtime/kernels/KernelPlan.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

#include <gtest/gtest.h>

#include <sstream>

namespace ir = mlir::awq;

namespace awq {
namespace {

struct MatrixLayer {
  int64_t k, n, group; // group == k: one group per column
  bool zeroPoint, bias, actScale, residual;
};

/// The layers of one bit width.
std::vector<MatrixLayer> layersFor(int bits) {
  // 3-bit checkpoints pack 32 columns per three words: N stays a multiple
  // of 32 but not of 64.
  const int64_t n = bits == 3 ? 96 : 72;
  std::vector<MatrixLayer> layers;
  for (bool zeroPoint : {true, false}) {
    layers.push_back({160, n, 32, zeroPoint, zeroPoint, !zeroPoint, false});
    layers.push_back({192, n, 64, zeroPoint, !zeroPoint, zeroPoint, false});
    layers.push_back({384, n, 128, zeroPoint, zeroPoint, false, true});
    layers.push_back({200, n, 200, zeroPoint, false, zeroPoint, !zeroPoint});
  }
  // Split-K in both families (K spans three GEMV tiles).
  layers.push_back({3072, bits == 3 ? 64 : 40, 128, true, true, true, true});
  return layers;
}

std::string moduleFor(int bits, const std::string &target,
                      const std::vector<MatrixLayer> &layers,
                      const std::string &element = "f16") {
  std::ostringstream os;
  os << "module attributes {awq.target = \"" << target << "\"} {\n";
  for (size_t i = 0; i < layers.size(); ++i) {
    const MatrixLayer &l = layers[i];
    std::string w =
        "!awq.qweight<k = " + std::to_string(l.k) +
        ", n = " + std::to_string(l.n) + ", bits = " + std::to_string(bits) +
        ", group = " + std::to_string(l.group) + ", " +
        (l.zeroPoint ? "zero_point" : "symmetric") + ", autoawq_gemm>";
    std::string x = "tensor<?x" + std::to_string(l.k) + "x" + element + ">";
    std::string y = "tensor<?x" + std::to_string(l.n) + "x" + element + ">";
    os << "func.func @layer" << i << "(%x: " << x << ", %r: " << y << ") -> "
       << y << " {\n  %w = awq.external \"matrix." << i << "\" : " << w << "\n";
    std::string operands;
    if (l.bias) {
      os << "  %b = awq.external \"matrix." << i << ".bias\" : tensor<" << l.n
         << "x" << element << ">\n";
      operands +=
          " bias(%b : tensor<" + std::to_string(l.n) + "x" + element + ">)";
    }
    if (l.actScale) {
      os << "  %s = awq.external \"matrix." << i << ".scale\" : tensor<" << l.k
         << "x" << element << ">\n";
      operands += " act_scale(%s : tensor<" + std::to_string(l.k) + "x" +
                  element + ">)";
    }
    if (l.residual)
      operands += " residual(%r : " + y + ")";
    os << "  %y = awq.linear %x, %w" << operands << " : " << x << ", " << w
       << " -> " << y << "\n  return %y : " << y << "\n}\n";
  }
  os << "}\n";
  return os.str();
}

struct MatrixCase {
  int bits;
  const char *target;
  const char *element = "f16"; ///< The activation type: "f16" or "bf16".
};

class NumericsMatrix : public ::testing::TestWithParam<MatrixCase> {};

TEST_P(NumericsMatrix, EveryKernelMatchesTheReference) {
  const int bits = GetParam().bits;
  const std::string target = GetParam().target;
  const std::string element = GetParam().element;
  const ActivationType activation =
      element == "bf16" ? ActivationType::BF16 : ActivationType::F16;
  const ArchInfo *arch = parseTarget(target)->arch;
  const std::vector<MatrixLayer> layers = layersFor(bits);
  auto context = test::makeContext();
  auto module = test::parse(*context, moduleFor(bits, target, layers, element));
  ASSERT_TRUE(module);
  ASSERT_TRUE(test::lower(*module, target));
  std::vector<KernelSpec> specs = test::kernelSpecs(*module);
  ASSERT_EQ(specs.size(), 2 * layers.size()) << "both families for every layer";
  for (const KernelSpec &spec : specs)
    EXPECT_EQ(spec.instance.shape.activation, activation)
        << spec.name << ": the kernel must read the layer's " << element;
  for (const KernelSpec &spec : specs)
    if (spec.instance.family == KernelFamily::Gemm && !arch->asyncCopy) {
      EXPECT_EQ(spec.instance.gemm.stages, 2)
          << spec.name << ": register staging holds one tile in flight";
    }
  HostKernelRunner runner(specs, {}, arch->smVersion);

  const uint64_t seed = test::testSeed();
  std::unique_ptr<WeightSource> source = makeRandomWeightSource(seed);
  WeightEvaluator evaluator(*source);
  int splitGemv = 0, splitGemm = 0;
  module->walk([&](mlir::Operation *op) {
    if (!mlir::isa<ir::GemvKernelOp, ir::GemmKernelOp>(op))
      return;
    ir::KernelOperands operands = ir::getKernelOperands(op);
    std::string name = operands.kernelName.str();
    const KernelSpec &spec = runner.kernel(name);
    splitGemv += spec.instance.family == KernelFamily::Gemv &&
                 spec.instance.gemv.kSplit > 1;
    splitGemm += spec.instance.family == KernelFamily::Gemm &&
                 spec.instance.gemm.splitK > 1;
    QuantizedLinear layer = evaluator.quantized(operands.weight);
    EXPECT_EQ(layer.activation, activation) << name << ": scales' type";
    KernelData data;
    if (operands.bias)
      layer.bias = evaluator.vector(operands.bias);
    if (operands.actScale)
      data.actScale = evaluator.vector(operands.actScale);
    data.layer = &layer;
    data.weights = &evaluator.packed(operands.weight);
    for (int64_t m : {1, 2, 3, 7, 8, 9, 16, 17, 33, 64}) {
      KernelRunResult result = runner.run(name, data, m, seed * 131 + m);
      EXPECT_TRUE(result.ok())
          << name << " M = " << m << ": " << result.failures << " of "
          << result.count << " outside the bound (" << result.nonFinite
          << " not finite); worst " << result.worst;
    }
  });
  EXPECT_GT(splitGemv, 0) << "the matrix must exercise GEMV split-K";
  EXPECT_GT(splitGemm, 0) << "the matrix must exercise GEMM split-K";
}

INSTANTIATE_TEST_SUITE_P(
    Bits, NumericsMatrix,
    ::testing::Values(
        MatrixCase{3, "sm_80"}, MatrixCase{4, "sm_80"}, MatrixCase{8, "sm_80"},
        MatrixCase{3, "sm_75"}, MatrixCase{4, "sm_75"}, MatrixCase{8, "sm_75"},
        MatrixCase{4, "sm_86"},
        // bf16: needs the bf16 kernels (branches bf16-gemv and
        // bf16-gemm).
        MatrixCase{3, "sm_80", "bf16"}, MatrixCase{4, "sm_80", "bf16"},
        MatrixCase{8, "sm_80", "bf16"}, MatrixCase{4, "sm_90", "bf16"}),
    [](const auto &info) {
      return "Bits" + std::to_string(info.param.bits) + "_" +
             info.param.target +
             (std::string(info.param.element) == "bf16" ? "_bf16" : "");
    });

/// sm_75 has no bf16 arithmetic: kernel selection refuses a bf16 layer,
/// naming the op and the target, before any kernel exists.
TEST(NumericsMatrixBf16, RefusedOnSm75) {
  auto context = test::makeContext();
  auto module = test::parse(
      *context, moduleFor(4, "sm_75", {layersFor(4).front()}, "bf16"));
  ASSERT_TRUE(module);
  std::string diagnostics;
  {
    mlir::ScopedDiagnosticHandler handler(
        context.get(), [&](mlir::Diagnostic &diagnostic) {
          diagnostics += diagnostic.str() + "\n";
          return mlir::success();
        });
    EXPECT_FALSE(test::lower(*module, "sm_75"));
  }
  EXPECT_NE(diagnostics.find("cannot run on target sm_75"), std::string::npos)
      << diagnostics;
  EXPECT_NE(diagnostics.find("bf16 activations need sm_80 or newer"),
            std::string::npos)
      << diagnostics;
}

} // namespace
} // namespace awq
