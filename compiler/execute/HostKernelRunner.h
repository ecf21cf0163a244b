//===- HostKernelRunner.h - Run emitted kernels on the CPU and check them -===//
//
// Compiles a set of emitted kernels into one host module (the exact CUDA the
// compiler emits, against the emulation layer), runs a kernel on its weight
// buffers (as the IR's awq.repack computed them: WeightEvaluator::packed)
// and random fp16 activations, launched as KernelInstance::launch says, and
// compares the output with the fp64 CPU reference of the logical layer under
// a documented error bound (docs/numerics.md).
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_COMPILER_EXECUTE_HOSTKERNELRUNNER_H
#define AWQ_COMPILER_EXECUTE_HOSTKERNELRUNNER_H

#include "runtime/kernels/KernelInstance.h"
#include "runtime/support/QuantizedLinear.h"

#include <cmath>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace awq {
namespace host {
class HostModule;
}

/// What the host runner needs of one emitted kernel (what
/// mlir::awq::EmittedKernel holds, without depending on MLIR).
struct KernelSpec {
  std::string name;
  KernelInstance instance;
  std::string source;
};

/// The data one kernel computes with: the logical layer (with its bias, if
/// the kernel takes one) for the reference, the kernel's weight buffers, and
/// the activation scale (empty when none).
struct KernelData {
  const QuantizedLinear *layer = nullptr;
  const KernelWeights *weights = nullptr;
  std::vector<uint16_t> actScale;
};

/// The outcome of one run.
struct KernelRunResult {
  int64_t m = 0;
  int64_t count = 0;    ///< Output elements.
  int64_t failures = 0; ///< Elements outside the bound (NaN included).
  int64_t nonFinite = 0;
  /// max |got - ref|; infinite when any output is not finite.
  double maxAbsError = 0;
  /// max |got - ref| / max |ref|: the error relative to the output's scale
  /// (an element-wise ratio explodes on outputs near zero); infinite when any
  /// output is not finite.
  double relError = 0;
  double worstBoundRatio = 0; ///< max |got - ref| / bound.
  std::string worst;          ///< The worst element, for messages.
  double seconds = 0;         ///< Host execution time of the launch.
  bool ok() const { return failures == 0; }
};

/// The per-element error bound of a kernel output against the fp64
/// reference, documented in docs/numerics.md:
///   |got - ref| <= 2^-10 |ref| + 2^-9 S + 2^-24,
/// S = sum_k |x a| (|W| + |z s|) (the magnitude the fp16 rounding of weights,
/// zero terms and scaled activations acts on), propagated through SiLU.
/// For bf16 layers (8 significant bits instead of 11) the same bound with
/// the unit roundoff 2^-8 in place of 2^-11:
///   |got - ref| <= 2^-7 |ref| + 2^-6 S + 2^-24.
struct ErrorBound {
  double relative = std::ldexp(1.0, -10);
  double sumFactor = std::ldexp(1.0, -9);
  double absolute = std::ldexp(1.0, -24);

  /// The documented bound of a layer whose activations are `type`.
  static ErrorBound forActivation(ActivationType type) {
    ErrorBound bound;
    if (type == ActivationType::BF16) {
      bound.relative = std::ldexp(1.0, -7);
      bound.sumFactor = std::ldexp(1.0, -6);
    }
    return bound;
  }
};

/// Without `bound`, ErrorBound::forActivation(shape.activation).
/// Compares `y`, a kernel's fp16 or bf16 output [m, Nout] for x [m, K] (and the
/// residual [m, Nout] when the layer takes one), with the fp64 reference of
/// `layer` (its bias included) under `bound`. `name` labels messages. Throws
/// awq::Error when the layer, the activation scale or the buffers do not
/// fit `shape`; with `shapeOnly`, checks only that (y is ignored).
KernelRunResult checkLinearOutput(
    const std::string &name, const LinearShape &shape,
    const QuantizedLinear &layer, const std::vector<uint16_t> &actScale,
    const std::vector<uint16_t> &x, const std::vector<uint16_t> &residual,
    int64_t m, const std::vector<uint16_t> &y,
    const std::optional<ErrorBound> &bound = std::nullopt,
    bool shapeOnly = false);

class HostKernelRunner {
public:
  /// Compiles every kernel of `kernels` into one host module (cached on disk
  /// by the executor). `defines` are passed to the host compiler (e.g. the
  /// fault-injection macros); `smVersion` (compute capability x 10, 0 for
  /// the default) is the architecture whose code paths the build takes.
  HostKernelRunner(std::vector<KernelSpec> kernels,
                   std::vector<std::string> defines = {}, int smVersion = 0);
  ~HostKernelRunner();

  const std::vector<KernelSpec> &kernels() const { return specs; }
  const KernelSpec &kernel(const std::string &name) const;

  /// Runs `name` on M = `m` rows of random activations (and a random
  /// residual when the kernel has one), seeded by `seed`, with the output
  /// poisoned first, and compares it with the reference.
  KernelRunResult
  run(const std::string &name, const KernelData &data, int64_t m, uint64_t seed,
      const std::optional<ErrorBound> &bound = std::nullopt) const;

  /// Runs `name` on the given fp16 activations x [m, K] (and residual
  /// [m, Nout] when the kernel takes one) and returns its fp16 output
  /// [m, Nout] (poisoned with NaN before the launch).
  std::vector<uint16_t> execute(const std::string &name, const KernelData &data,
                                const std::vector<uint16_t> &x,
                                const std::vector<uint16_t> &residual,
                                int64_t m, double *seconds = nullptr) const;

private:
  std::vector<KernelSpec> specs;
  std::shared_ptr<const host::HostModule> module;
};

} // namespace awq

#endif // AWQ_COMPILER_EXECUTE_HOSTKERNELRUNNER_H
