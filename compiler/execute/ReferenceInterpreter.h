//===- ReferenceInterpreter.h - Execute awq IR functions on the CPU -------===//
//
// Evaluates an awq function at any level (graph, explicit, kernel) on given
// activations, in fp64 with every op's result rounded to fp16 as the GPU
// stores it. Weights come from a WeightEvaluator. Kernel ops either follow
// their reference semantics (the same function as awq.linear) or, given a
// HostKernelRunner, run their emitted CUDA on the host emulation. Comparing
// a module before and after a pass on the same inputs shows that the pass
// did not change the function.
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_COMPILER_EXECUTE_REFERENCEINTERPRETER_H
#define AWQ_COMPILER_EXECUTE_REFERENCEINTERPRETER_H

#include "compiler/execute/HostKernelRunner.h"
#include "compiler/execute/WeightEvaluator.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

#include <cstdint>
#include <vector>

namespace awq {

/// A row-major [rows x cols] activation holding fp16-representable values.
struct Activation {
  int64_t rows = 0, cols = 0;
  std::vector<double> data;
};

class ReferenceInterpreter {
public:
  /// `runner` (optional) executes gemv_kernel / gemm_kernel ops on the host.
  explicit ReferenceInterpreter(WeightEvaluator &weights,
                                const HostKernelRunner *runner = nullptr)
      : weights(weights), runner(runner) {}

  /// Runs `function` on `arguments` (one per function argument, all with
  /// the same row count); returns the values it returns.
  std::vector<Activation> run(mlir::func::FuncOp function,
                              const std::vector<Activation> &arguments);

private:
  WeightEvaluator &weights;
  const HostKernelRunner *runner;
};

/// ||got - want||_2 / ||want||_2 over all outputs.
double relativeError(const std::vector<Activation> &got,
                     const std::vector<Activation> &want);

} // namespace awq

#endif // AWQ_COMPILER_EXECUTE_REFERENCEINTERPRETER_H
