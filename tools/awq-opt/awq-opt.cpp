//===- awq-opt.cpp - mlir-opt with the awq dialect and passes -------------===//
#include "dialects/awq/AwqDialect.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "mlir/Transforms/Passes.h"
#include "llvm/Support/CommandLine.h"

namespace mlir::awq::test {
void registerTestPrintKernelInfoPass();
} // namespace mlir::awq::test

int main(int argc, char **argv) {
  // Options registered so far are LLVM's own (code generation, profiling,
  // ...); MlirOptMain registers the ones that matter here afterwards.
  // --help shows only those; --help-hidden still shows everything.
  static llvm::cl::OptionCategory awqOptCategory("awq-opt");
  llvm::cl::HideUnrelatedOptions(awqOptCategory);
  mlir::registerTransformsPasses();
  mlir::awq::test::registerTestPrintKernelInfoPass();
  mlir::awq::registerAwqPasses();
  mlir::awq::registerAwqPipelines();

  mlir::DialectRegistry registry;
  registry.insert<mlir::awq::AwqDialect, mlir::func::FuncDialect,
                  mlir::tensor::TensorDialect>();
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "awq optimizer driver\n", registry));
}
