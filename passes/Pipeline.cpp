//===- Pipeline.cpp - The whole awq lowering pipeline ---------------------===//
//
// Registers --awq-pipeline; tested by test/lit/passes/awq-pipeline.mlir.
//
//===----------------------------------------------------------------------===//
#include "passes/Passes.h"

#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"

namespace mlir::awq {

void buildAwqPipeline(OpPassManager &pm, const AwqPipelineOptions &options) {
  pm.addPass(createFoldActivationScalesPass());
  pm.addPass(createFuseEpiloguesPass());
  pm.addPass(createMergeSharedInputLinearsPass());
  pm.addPass(createFoldZeroPointsPass());
  SelectKernelsPassOptions select;
  select.target = options.target;
  select.smCount = options.smCount;
  select.families = options.families;
  select.gemmMinM = options.gemmMinM;
  pm.addPass(createSelectKernelsPass(select));
  pm.addPass(createLowerToKernelsPass());
}

void registerAwqPipelines() {
  PassPipelineRegistration<AwqPipelineOptions>(
      "awq-pipeline",
      "Graph-level awq IR to kernel level: fold scales, fuse epilogues, merge "
      "shared-input linears, fold zero points, select and lower kernels",
      buildAwqPipeline);
}

} // namespace mlir::awq
