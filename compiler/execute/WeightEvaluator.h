//===- WeightEvaluator.h - Evaluate awq weight transforms on the CPU ------===//
//
// The weight-transform ops of the awq dialect (awq.external, vector_mul,
// scale_output_channels, fold_zero_points, concat_weights, concat_vectors,
// repack) describe computations on checkpoint data. This executes them as the
// IR states: logical awq::QuantizedLinear values, the zero terms
// fold_zero_points computes, the kernel buffers repack computes, and fp16
// vectors, reading the external tensors through a WeightSource: a
// checkpoint, or seeded random data for testing IR without weights.
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_COMPILER_EXECUTE_WEIGHTEVALUATOR_H
#define AWQ_COMPILER_EXECUTE_WEIGHTEVALUATOR_H

#include "runtime/kernels/KernelInstance.h"
#include "runtime/support/QuantizedLinear.h"

#include "mlir/IR/Value.h"
#include "llvm/ADT/DenseMap.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace awq {

/// Where the tensors named by awq.external come from.
class WeightSource {
public:
  virtual ~WeightSource() = default;
  /// The quantized layer stored under `tensor` (a name prefix) with the
  /// given shape and parameters, its scales in `activation`'s type.
  virtual QuantizedLinear quantized(const std::string &tensor, int64_t k,
                                    int64_t n, const QuantParams &params,
                                    ActivationType activation) = 0;
  /// The vector `tensor` of `length` elements, bits of `activation`'s type.
  virtual std::vector<uint16_t> vector(const std::string &tensor,
                                       int64_t length,
                                       ActivationType activation) = 0;
};

/// Reproducible random tensors: integers uniform in range, scales in
/// [0.5, 1.5] / 2^(bits+2), zeros uniform, vectors in [0.5, 1.5] (scales) or
/// [-1, 1] (names ending in "bias"); each tensor seeded by (seed, name).
std::unique_ptr<WeightSource> makeRandomWeightSource(uint64_t seed);

/// The tensors of an AutoAWQ / GPTQ / awqc checkpoint directory (or a model
/// description's checkpoint), read through the formats library.
std::unique_ptr<WeightSource>
makeCheckpointWeightSource(const std::string &path);

/// Evaluates weight values, memoising shared subexpressions.
class WeightEvaluator {
public:
  explicit WeightEvaluator(WeightSource &source) : source(source) {}

  /// The logical layer a value of type !awq.qweight stands for, with its
  /// stored zero points (the fp64 reference's view: repack and
  /// fold_zero_points change how the weight is stored, not its value).
  const QuantizedLinear &quantized(mlir::Value weight);
  /// The zero terms z * s (rounded to the layer's type) of a scaled_zero
  /// weight, [groups, n], as awq.fold_zero_points computed them (and later
  /// weight transforms changed them).
  const std::vector<uint16_t> &zeroTerms(mlir::Value weight);
  /// The kernel buffers of a weight in a kernel layout: executes the
  /// awq.repack that produced it on the evaluated source weight.
  const KernelWeights &packed(mlir::Value weight);
  /// packed(weight), handed over: the evaluator forgets it, so a streaming
  /// caller can move its buffers out instead of copying them.
  std::shared_ptr<KernelWeights> takePacked(mlir::Value weight);
  /// The bits (f16 or bf16, the value's element type) of a 1-D parameter
  /// tensor value.
  const std::vector<uint16_t> &vector(mlir::Value value);
  /// Forgets every evaluated value, so that a caller walking layers in
  /// order holds one layer's data at a time.
  void clear();
  /// Streaming callers (the bundle writer): once awq.concat_weights merged
  /// its inputs, forget those nothing else reads, so a merged layer is held
  /// once. References to them obtained earlier become invalid.
  void setDropMergedParts(bool drop) { dropMergedParts = drop; }

private:
  WeightSource &source;
  bool dropMergedParts = false;
  llvm::DenseMap<mlir::Value, std::shared_ptr<QuantizedLinear>> layers;
  llvm::DenseMap<mlir::Value, std::shared_ptr<std::vector<uint16_t>>> vectors;
  llvm::DenseMap<mlir::Value, std::shared_ptr<std::vector<uint16_t>>>
      zeroTermsOf;
  llvm::DenseMap<mlir::Value, std::shared_ptr<KernelWeights>> packedOf;
};

} // namespace awq

#endif // AWQ_COMPILER_EXECUTE_WEIGHTEVALUATOR_H
