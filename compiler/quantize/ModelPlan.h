//===- ModelPlan.h - What awqc quantize will do, decided before doing it --===//
//
// Reads the FP16 model and the calibration file, checks everything that can
// be checked up front, and decides per input group: which layers and
// activations it has, whether its scales are searched, where its 1/s goes
// (a norm weight, the producing linear's output rows, or an explicit
// activation scale), and the order to process groups in (a group whose 1/s
// goes into a linear's rows runs before that linear's own group).
//
// The plan exposes only plain types: the model description stays inside
// ModelPlan.cpp.
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_COMPILER_QUANTIZE_MODELPLAN_H
#define AWQ_COMPILER_QUANTIZE_MODELPLAN_H

#include "runtime/formats/SafeTensors.h"
#include "runtime/support/QuantizedLinear.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace awq {

struct Fp16Model;
class CalibrationSet;

/// Quantization settings requested on the command line; unset fields keep
/// the description's (or, for a Hugging Face directory, 4 bits, group 128,
/// zero point).
struct QuantSettingsOverride {
  std::optional<int> bits;
  std::optional<int64_t> groupSize; ///< -1: one group per output column.
  std::optional<bool> zeroPoint;
};

/// The settings shared by every layer (one AWQ checkpoint holds one).
struct UniformQuantSettings {
  int bits = 4;
  int64_t groupSize = 128; ///< As written: -1 or a positive group size.
  bool zeroPoint = true;

  /// The parameters of a layer with `k` input features (-1 becomes k).
  QuantParams paramsFor(int64_t k) const {
    return QuantParams{bits, groupSize == -1 ? k : groupSize, zeroPoint};
  }
};

/// How each input group is quantized (`awqc quantize --method`).
enum class QuantizeMethod {
  Awq,     ///< AWQ scale and clip search, then round-to-nearest.
  Rtn,     ///< Round-to-nearest alone.
  Gptq,    ///< GPTQ error compensation, no scales.
  AwqGptq, ///< AWQ scale search, then GPTQ on the scaled weights.
};

/// "awq", "rtn", "gptq", "awq-gptq".
const char *methodName(QuantizeMethod method);
/// The method named `name` (as methodName spells it), if any.
std::optional<QuantizeMethod> parseQuantizeMethod(const std::string &name);
/// Whether the method searches AWQ scales (and so folds 1/s somewhere).
bool searchesScales(QuantizeMethod method);
/// Whether the method quantizes with GPTQ rather than round-to-nearest.
bool usesGptq(QuantizeMethod method);

/// Where a group's 1/s goes.
enum class ScaleDestination {
  None,            ///< No scale (RTN, or --fold-only on an unfoldable group).
  NormWeight,      ///< Divided into an rms_norm/layer_norm weight (and bias).
  LinearRows,      ///< Divided into the output rows of the producing linear.
  ActivationScale, ///< Kept as an explicit tensor fp16(1/s) [K].
};

/// "none", "norm", "linear_rows", "activation_scale".
const char *scaleDestinationName(ScaleDestination destination);

struct PlannedLayer {
  std::string name;
  /// Tensor prefix: reads `<weights>.weight`, writes `<weights>.qweight`...
  std::string weights;
  int64_t n = 0, k = 0;
  const TensorView *weight = nullptr; ///< [N, K], F16/BF16/F32.
  const TensorView *bias = nullptr;   ///< [N] or nullptr.
  /// q and k skip the clip search: their outputs only meet in the
  /// attention scores, where a per-layer loss is a poor proxy.
  bool skipClip = false;
};

struct PlannedGroup {
  size_t index = 0; ///< Position in the model description.
  std::string name;
  /// This group's bits and group size (every layer of a group shares them:
  /// the group is quantized together and merged into kernels).
  UniformQuantSettings settings;
  /// Its method: a "quantize" override of its layers, else --method.
  QuantizeMethod method = QuantizeMethod::Awq;
  /// Its bits were given (a layer's "quantize".bits, or --bits): --target-bits
  /// does not choose them.
  bool bitsPinned = false;
  std::vector<PlannedLayer> layers;
  int64_t k = 0;
  const TensorView *activations = nullptr; ///< [tokens, K].
  ScaleDestination destination = ScaleDestination::None;
  /// NormWeight: the weight tensor; LinearRows: the producing layer;
  /// ActivationScale: the tensor to create.
  std::string target;
  std::string normBias; ///< layer_norm bias tensor, when present.
  bool searchScales = false;
  uint64_t work = 0; ///< Weights in the group, for overall progress.
};

struct ModelPlanOptions {
  std::string model;
  std::string calibration;
  QuantSettingsOverride settings;
  QuantizeMethod method = QuantizeMethod::Awq;
  bool foldOnly = false;
  /// A model description's checkpoint: also pass through the tensors the
  /// description does not name (a Hugging Face directory always does).
  bool copyUnlisted = false;
};

struct ModelPlan {
  /// The settings of most weights (config.json's quantization_config; the
  /// groups that differ are listed in its awqc_layers).
  UniformQuantSettings settings;
  /// config.json of the model (empty object when there is none).
  nlohmann::json config = nlohmann::json::object();
  std::vector<PlannedGroup> groups; ///< Description order.
  std::vector<size_t> order;        ///< Processing order (indices).
  std::vector<std::string> layers;  ///< Description order.
  /// Tensors that are not layer weights or biases, in name order: they pass
  /// through (norms with 1/s folded in). For a model description only those
  /// it names (producer weights and biases) unless copyUnlisted.
  std::vector<std::string> passThrough;
  const SafeTensorsCheckpoint *weights = nullptr;
  /// Owners of the mappings the views above point into.
  std::shared_ptr<const Fp16Model> model;
  std::shared_ptr<const CalibrationSet> calibration;
};

/// Opens the model and calibration and plans the run. Throws awq::Error
/// naming the file, tensor, group or field on any problem.
ModelPlan planModelQuantization(const ModelPlanOptions &options);

/// The settings covering the most weights over the plan's groups (ties: the
/// earliest group's); what config.json's quantization_config states.
UniformQuantSettings dominantSettings(const ModelPlan &plan);

/// Whether some group's bits or group size differ from `plan.settings`.
bool isMixedPrecision(const ModelPlan &plan);

/// Writes the model description of the quantized checkpoint (checkpoint path
/// ".", format awq) to `path`, with each layer's final bits and group size
/// and `activationScales` (input group -> tensor) recorded on their groups.
void writeQuantizedDescription(
    const ModelPlan &plan,
    const std::map<std::string, std::string> &activationScales,
    const std::string &path);

} // namespace awq

#endif // AWQ_COMPILER_QUANTIZE_MODELPLAN_H
