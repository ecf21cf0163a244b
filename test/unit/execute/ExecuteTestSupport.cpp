//===- ExecuteTestSupport.cpp - Shared helpers of the execution tests -----===//
#include "ExecuteTestSupport.h"

#include "dialects/awq/AwqDialect.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <random>

namespace awq::test {

std::unique_ptr<mlir::MLIRContext> makeContext() {
  mlir::DialectRegistry registry;
  registry.insert<mlir::awq::AwqDialect, mlir::func::FuncDialect>();
  auto context = std::make_unique<mlir::MLIRContext>(registry);
  context->loadAllAvailableDialects();
  return context;
}

mlir::OwningOpRef<mlir::ModuleOp> parse(mlir::MLIRContext &context,
                                        const std::string &text) {
  auto module = mlir::parseSourceString<mlir::ModuleOp>(text, &context);
  EXPECT_TRUE(module) << text;
  return module;
}

bool lower(mlir::ModuleOp module, const std::string &target) {
  mlir::PassManager pm(module.getContext());
  mlir::awq::AwqPipelineOptions options;
  options.target = target;
  mlir::awq::buildAwqPipeline(pm, options);
  return mlir::succeeded(pm.run(module));
}

std::vector<KernelSpec> kernelSpecs(mlir::ModuleOp module) {
  std::vector<mlir::awq::EmittedKernel> emitted;
  EXPECT_TRUE(mlir::succeeded(mlir::awq::emitKernels(module, emitted)));
  std::vector<KernelSpec> specs;
  for (const auto &kernel : emitted)
    specs.push_back({kernel.name, kernel.instance, kernel.source});
  return specs;
}

uint64_t testSeed() {
  static const uint64_t seed = [] {
    if (const char *text = std::getenv("AWQC_TEST_SEED"))
      return static_cast<uint64_t>(std::strtoull(text, nullptr, 10));
    return static_cast<uint64_t>(std::random_device()());
  }();
  static bool printed = false;
  if (!printed) {
    printed = true;
    std::printf("AWQC_TEST_SEED=%llu\n", static_cast<unsigned long long>(seed));
  }
  return seed;
}

} // namespace awq::test
