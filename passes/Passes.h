//===- Passes.h - Declarations of the awq passes --------------------------===//
#ifndef AWQ_PASSES_PASSES_H
#define AWQ_PASSES_PASSES_H

#include "dialects/awq/AwqDialect.h"
#include "runtime/kernels/KernelPlan.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassOptions.h"

namespace mlir::awq {

#define GEN_PASS_DECL
#include "passes/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "passes/Passes.h.inc"

/// Options of the whole pipeline (--awq-pipeline="target=sm_90 ...").
struct AwqPipelineOptions : public PassPipelineOptions<AwqPipelineOptions> {
  Option<std::string> target{*this, "target",
                             llvm::cl::desc("GPU architecture (sm_80, sm_86, "
                                            "sm_89, sm_90); default: the "
                                            "module's awq.target"),
                             llvm::cl::init("")};
  Option<int64_t> smCount{*this, "sm-count",
                          llvm::cl::desc("SMs to fill (default: per target)"),
                          llvm::cl::init(0)};
  Option<std::string> families{*this, "families",
                               llvm::cl::desc("Kernel families: both, gemv "
                                              "or gemm"),
                               llvm::cl::init("both")};
  Option<int64_t> gemmMinM{*this, "gemm-min-m",
                           llvm::cl::desc("Rows from which the tensor-core "
                                          "kernel runs"),
                           llvm::cl::init(::awq::kDefaultGemmMinM)};
};

/// Adds the passes that take graph-level IR to kernel level.
void buildAwqPipeline(OpPassManager &pm, const AwqPipelineOptions &options);

/// Registers --awq-pipeline.
void registerAwqPipelines();

} // namespace mlir::awq

#endif // AWQ_PASSES_PASSES_H
