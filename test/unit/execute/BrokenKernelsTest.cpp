//===- BrokenKernelsTest.cpp - The numerics suite catches real bugs -------===//
//
// Builds the emitted kernels of a few layers with deliberately broken device
// primitives (fault-injection macros of the device library) and shows that
// the same comparison the numerics matrix uses fails for each: a wrong
// nibble order in the 4-bit dequantization, a missing barrier in the GEMM's
// pipeline, and a wrong mma fragment index. Each fault is tried in the sm_80
// build (cp.async ring, m16n8k16) and the sm_75 build (register-staged
// tiles, m16n8k8 pairs), and with bf16 activations in the sm_80 and sm_90
// builds (the bf16 paths and their looser bound must still catch them). A
// fault is detected when some output leaves the bound or the emulator
// reports misuse.
//
//===----------------------------------------------------------------------===//
#include "ExecuteTestSupport.h"

#include "compiler/execute/WeightEvaluator.h"
#include "dialects/awq/AwqDialect.h"
#include "runtime/kernels/KernelPlan.h"
#include "runtime/support/Error.h"

#include <gtest/gtest.h>

#include <cmath>

namespace ir = mlir::awq;

namespace awq {
namespace {

const char *kLayers = R"mlir(
module attributes {awq.target = "TARGET"} {
func.func @wide(%x: tensor<?x384xELEMENT>) -> tensor<?x136xELEMENT> {
  %w = awq.external "broken.wide" : !awq.qweight<k = 384, n = 136, bits = 4, group = 128, zero_point, autoawq_gemm>
  %y = awq.linear %x, %w : tensor<?x384xELEMENT>, !awq.qweight<k = 384, n = 136, bits = 4, group = 128, zero_point, autoawq_gemm> -> tensor<?x136xELEMENT>
  return %y : tensor<?x136xELEMENT>
}
}
)mlir";

struct Fault {
  const char *macro;
  const char *family; // the family whose code the macro breaks
  const char *target;
  const char *element = "f16"; ///< The activation type: "f16" or "bf16".
};

class BrokenKernels : public ::testing::TestWithParam<Fault> {};

TEST_P(BrokenKernels, AreCaught) {
  const Fault fault = GetParam();
  const ArchInfo *arch = parseTarget(fault.target)->arch;
  std::string text = kLayers;
  text.replace(text.find("TARGET"), 6, fault.target);
  for (size_t at; (at = text.find("ELEMENT")) != std::string::npos;)
    text.replace(at, 7, fault.element);
  auto context = test::makeContext();
  auto module = test::parse(*context, text);
  ASSERT_TRUE(module);
  ASSERT_TRUE(test::lower(*module, fault.target));
  std::vector<KernelSpec> specs;
  for (const KernelSpec &spec : test::kernelSpecs(*module))
    if (familyName(spec.instance.family) == std::string(fault.family))
      specs.push_back(spec);
  ASSERT_EQ(specs.size(), 1u);

  const uint64_t seed = test::testSeed();
  std::unique_ptr<WeightSource> source = makeRandomWeightSource(seed);
  WeightEvaluator evaluator(*source);
  QuantizedLinear layer;
  KernelData data;
  module->walk([&](mlir::Operation *op) {
    if (auto name = op->getAttrOfType<mlir::StringAttr>("kernel_name"))
      if (name.str() == specs[0].name) {
        layer = evaluator.quantized(op->getOperand(1));
        data.weights = &evaluator.packed(op->getOperand(1));
      }
  });
  data.layer = &layer;

  // The healthy build passes at every M the faulty one is tried at.
  const std::vector<int64_t> rows = {1, 9, 33};
  HostKernelRunner healthy(specs, {}, arch->smVersion);
  for (int64_t m : rows)
    ASSERT_TRUE(healthy.run(specs[0].name, data, m, seed + m).ok())
        << "M = " << m;

  bool detected = false;
  std::string how;
  try {
    HostKernelRunner broken(specs, {fault.macro}, arch->smVersion);
    for (int64_t m : rows) {
      KernelRunResult result = broken.run(specs[0].name, data, m, seed + m);
      // A NaN or inf output must show in the error columns, not vanish.
      if (result.nonFinite > 0) {
        EXPECT_TRUE(std::isinf(result.maxAbsError));
        EXPECT_TRUE(std::isinf(result.relError));
      }
      if (!result.ok()) {
        detected = true;
        how = result.worst;
        break;
      }
    }
  } catch (const Error &error) {
    detected =
        true; // The emulator reported misuse (e.g. a race on shared memory).
    how = error.what();
  }
  EXPECT_TRUE(detected) << fault.macro << " went unnoticed";
  if (detected)
    std::printf("%s caught: %s\n", fault.macro, how.substr(0, 200).c_str());
}

INSTANTIATE_TEST_SUITE_P(
    Faults, BrokenKernels,
    ::testing::Values(
        Fault{"AWQ_FAULT_WRONG_NIBBLE_ORDER", "gemv", "sm_80"},
        Fault{"AWQ_FAULT_WRONG_NIBBLE_ORDER", "gemm", "sm_80"},
        Fault{"AWQ_FAULT_SKIP_BARRIER", "gemm", "sm_80"},
        Fault{"AWQ_FAULT_WRONG_FRAGMENT_INDEX", "gemm", "sm_80"},
        Fault{"AWQ_FAULT_WRONG_NIBBLE_ORDER", "gemv", "sm_75"},
        Fault{"AWQ_FAULT_WRONG_NIBBLE_ORDER", "gemm", "sm_75"},
        Fault{"AWQ_FAULT_SKIP_BARRIER", "gemm", "sm_75"},
        Fault{"AWQ_FAULT_WRONG_FRAGMENT_INDEX", "gemm", "sm_75"},
        // bf16: needs the bf16 kernels (branches bf16-gemv and
        // bf16-gemm).
        Fault{"AWQ_FAULT_WRONG_NIBBLE_ORDER", "gemv", "sm_80", "bf16"},
        Fault{"AWQ_FAULT_WRONG_NIBBLE_ORDER", "gemm", "sm_80", "bf16"},
        Fault{"AWQ_FAULT_SKIP_BARRIER", "gemm", "sm_80", "bf16"},
        Fault{"AWQ_FAULT_WRONG_FRAGMENT_INDEX", "gemm", "sm_80", "bf16"},
        Fault{"AWQ_FAULT_WRONG_NIBBLE_ORDER", "gemv", "sm_90", "bf16"},
        Fault{"AWQ_FAULT_WRONG_FRAGMENT_INDEX", "gemm", "sm_90", "bf16"}),
    [](const auto &info) {
      std::string name = std::string(info.param.macro).substr(10);
      return name + "_" + info.param.family + "_" + info.param.target +
             (std::string(info.param.element) == "bf16" ? "_bf16" : "");
    });

} // namespace
} // namespace awq
