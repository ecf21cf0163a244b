//===- awq-translate.cpp - mlir-translate with awq's CUDA emission --------===//
#include "compiler/codegen/CudaEmitter.h"
#include "dialects/awq/AwqDialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Tools/mlir-translate/MlirTranslateMain.h"
#include "mlir/Tools/mlir-translate/Translation.h"
#include "llvm/Support/CommandLine.h"

int main(int argc, char **argv) {
  // Options registered so far are LLVM's own (code generation, profiling,
  // ...); mlirTranslateMain registers the ones that matter here afterwards.
  // --help shows only those; --help-hidden still shows everything.
  static llvm::cl::OptionCategory awqTranslateCategory("awq-translate");
  llvm::cl::HideUnrelatedOptions(awqTranslateCategory);
  mlir::TranslateFromMLIRRegistration cuda(
      "awq-to-cuda", "print the CUDA C++ of every awq kernel",
      [](mlir::Operation *op, llvm::raw_ostream &os) -> llvm::LogicalResult {
        auto module = llvm::dyn_cast<mlir::ModuleOp>(op);
        if (!module)
          return op->emitError("expected a builtin.module");
        return mlir::awq::translateToCuda(module, os);
      },
      [](mlir::DialectRegistry &registry) {
        registry.insert<mlir::awq::AwqDialect, mlir::func::FuncDialect>();
      });
  return mlir::failed(
      mlir::mlirTranslateMain(argc, argv, "awq translation driver\n"));
}
