//===- ExecuteTestSupport.h - Shared helpers of the execution tests -------===//
#ifndef AWQ_TEST_UNIT_EXECUTE_EXECUTETESTSUPPORT_H
#define AWQ_TEST_UNIT_EXECUTE_EXECUTETESTSUPPORT_H

#include "compiler/codegen/CudaEmitter.h"
#include "compiler/execute/HostKernelRunner.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OwningOpRef.h"

#include <string>
#include <vector>

namespace awq::test {

/// A context with the awq and func dialects loaded.
std::unique_ptr<mlir::MLIRContext> makeContext();

/// Parses `text`; fails the test (and returns null) if it does not parse.
mlir::OwningOpRef<mlir::ModuleOp> parse(mlir::MLIRContext &context,
                                        const std::string &text);

/// Runs the whole awq pipeline (--awq-pipeline with `options`) in place.
bool lower(mlir::ModuleOp module, const std::string &target = "sm_80");

/// The kernels of a lowered module as host-runner specs.
std::vector<KernelSpec> kernelSpecs(mlir::ModuleOp module);

/// The seed of this test run: $AWQC_TEST_SEED, else a fresh random one
/// (printed, so a failure can be replayed).
uint64_t testSeed();

} // namespace awq::test

#endif // AWQ_TEST_UNIT_EXECUTE_EXECUTETESTSUPPORT_H
