//===- AwqPipelineFuzzer.cpp - Fuzz target: awq IR parser, verifier, pipeline
//
// The input is MLIR text. It is parsed and verified with the awq, func and
// tensor dialects; a module the verifier accepts goes through
// --awq-pipeline (target sm_80 unless the module names one; a first line
// "// awq-pipeline: families=gemv gemm-min-m=4 ..." sets the options) and,
// when that succeeds, through the CUDA emitter. Nothing may crash or assert,
// every pass must leave IR that verifies (checked after each pass, naming
// it), and every failure must come with an error diagnostic.
//
//===----------------------------------------------------------------------===//
#include "compiler/codegen/CudaEmitter.h"
#include "dialects/awq/AwqDialect.h"
#include "passes/Passes.h"
#include "test/fuzz/FuzzSupport.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassInstrumentation.h"
#include "mlir/Pass/PassManager.h"

#include <string>

using namespace mlir;

namespace {

/// Collects the diagnostics of one input (printed when a check fails).
struct Diagnostics {
  std::string text;
  int errors = 0;
};

/// With the pass manager's own verifier off, verifies after every pass that
/// succeeded, so a pass that produces invalid IR is named.
struct VerifyAfterEachPass : public PassInstrumentation {
  explicit VerifyAfterEachPass(Diagnostics &diagnostics)
      : diagnostics(diagnostics) {}
  void runAfterPass(Pass *pass, Operation *op) override {
    const int before = diagnostics.errors;
    if (succeeded(verify(op)))
      return;
    ::awq::fuzz::fail(
        "awq-pipeline",
        "pass " + pass->getArgument().str() +
            " produced IR that does not verify:\n" +
            (diagnostics.errors > before ? diagnostics.text : std::string()));
  }
  Diagnostics &diagnostics;
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  DialectRegistry registry;
  registry.insert<mlir::awq::AwqDialect, func::FuncDialect,
                  tensor::TensorDialect>();
  MLIRContext context(registry, MLIRContext::Threading::DISABLED);
  Diagnostics diagnostics;
  ScopedDiagnosticHandler handler(&context, [&](Diagnostic &diagnostic) {
    if (diagnostic.getSeverity() == DiagnosticSeverity::Error)
      ++diagnostics.errors;
    diagnostics.text += diagnostic.str() + "\n";
    return success();
  });

  const std::string text(reinterpret_cast<const char *>(data), size);
  OwningOpRef<ModuleOp> module = parseSourceString<ModuleOp>(text, &context);
  if (!module) {
    // A parse or verification error, reported as a diagnostic.
    ::awq::fuzz::rejected(diagnostics.text);
    return 0;
  }

  const std::string input = text;
  auto requireError = [&](const char *step) {
    ::awq::fuzz::rejected(std::string(step) + ": " + diagnostics.text);
    if (diagnostics.errors == 0)
      ::awq::fuzz::fail("awq-pipeline", std::string(step) +
                                            " failed without an error "
                                            "diagnostic on:\n" +
                                            input);
  };

  if (!(*module)->hasAttr(mlir::awq::AwqDialect::getTargetAttrName()))
    (*module)->setAttr(mlir::awq::AwqDialect::getTargetAttrName(),
                       StringAttr::get(&context, "sm_80"));
  // A first line "// awq-pipeline: OPTIONS" sets the pipeline's options
  // (target=, sm-count=, families=, gemm-min-m=): they are fuzzed too.
  mlir::awq::AwqPipelineOptions options;
  constexpr llvm::StringLiteral optionsPrefix = "// awq-pipeline:";
  if (StringRef(text).starts_with(optionsPrefix)) {
    std::string errors;
    llvm::raw_string_ostream stream(errors);
    StringRef line =
        StringRef(text).drop_front(optionsPrefix.size()).split('\n').first;
    if (failed(options.parseFromString(line, stream))) {
      ::awq::fuzz::rejected(errors);
      return 0;
    }
  }
  PassManager pm(&context);
  pm.enableVerifier(false);
  pm.addInstrumentation(std::make_unique<VerifyAfterEachPass>(diagnostics));
  mlir::awq::buildAwqPipeline(pm, options);
  if (failed(pm.run(*module))) {
    requireError("--awq-pipeline");
    return 0;
  }

  // Derived values of every kernel the pipeline made or kept.
  (*module)->walk([](mlir::awq::KernelOpInterface kernel) {
    (void)kernel.getKLoop();
    (void)kernel.getSharedBytes();
    (void)kernel.getDequantKind();
  });
  if (failed(mlir::awq::verifyKernelLevel(*module))) {
    requireError("verifyKernelLevel");
    return 0;
  }
  std::vector<mlir::awq::EmittedKernel> kernels;
  if (failed(mlir::awq::emitKernels(*module, kernels)))
    requireError("emitKernels");
  return 0;
}
