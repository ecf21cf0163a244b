//===- WeightEvaluator.cpp - Evaluate awq weight transforms on the CPU ----===//
#include "compiler/execute/WeightEvaluator.h"

#include "compiler/formats/QuantizationConfig.h"
#include "compiler/formats/QuantizedCheckpoint.h"
#include "dialects/awq/AwqDialect.h"
#include "runtime/formats/SafeTensors.h"
#include "runtime/kernels/GemmLayout.h"
#include "runtime/kernels/GemvLayout.h"
#include "runtime/kernels/MergeLayers.h"
#include "runtime/support/Error.h"
#include "runtime/support/Half.h"

#include <cstring>
#include <random>

namespace ir = mlir::awq;

namespace awq {
namespace {

uint64_t nameSeed(uint64_t seed, const std::string &name) {
  uint64_t hash = 1469598103934665603ull ^ seed;
  for (unsigned char c : name)
    hash = (hash ^ c) * 1099511628211ull;
  return hash;
}

class RandomWeightSource : public WeightSource {
public:
  explicit RandomWeightSource(uint64_t seed) : seed(seed) {}

  QuantizedLinear quantized(const std::string &tensor, int64_t k, int64_t n,
                            const QuantParams &params,
                            ActivationType activation) override {
    std::mt19937_64 rng(nameSeed(seed, tensor));
    QuantizedLinear layer;
    layer.k = k;
    layer.n = n;
    layer.params = params;
    layer.activation = activation;
    const int levels = 1 << params.bits;
    std::uniform_int_distribution<int> value(0, levels - 1);
    std::uniform_real_distribution<float> scale(0.5f, 1.5f);
    layer.q.resize(static_cast<size_t>(k * n));
    for (uint8_t &q : layer.q)
      q = static_cast<uint8_t>(value(rng));
    const int64_t groups = layer.numGroups() * n;
    // Scales shrink with the width so outputs stay O(1) for O(1) inputs.
    const float unit = std::ldexp(1.0f, -(params.bits + 2));
    layer.scales.resize(static_cast<size_t>(groups));
    for (uint16_t &s : layer.scales)
      s = floatToElement(scale(rng) * unit, activation);
    if (params.zeroPoint) {
      layer.zeros.resize(static_cast<size_t>(groups));
      for (uint8_t &z : layer.zeros)
        z = static_cast<uint8_t>(value(rng));
    }
    return layer;
  }

  std::vector<uint16_t> vector(const std::string &tensor, int64_t length,
                               ActivationType activation) override {
    std::mt19937_64 rng(nameSeed(seed, tensor));
    bool bias =
        tensor.size() >= 4 && tensor.compare(tensor.size() - 4, 4, "bias") == 0;
    std::uniform_real_distribution<float> dist(bias ? -1.0f : 0.5f,
                                               bias ? 1.0f : 1.5f);
    std::vector<uint16_t> result(static_cast<size_t>(length));
    for (uint16_t &v : result)
      v = floatToElement(dist(rng), activation);
    return result;
  }

private:
  uint64_t seed;
};

class CheckpointWeightSource : public WeightSource {
public:
  explicit CheckpointWeightSource(const std::string &path)
      : path(path), checkpoint(SafeTensorsCheckpoint::open(path)),
        config(readQuantizationConfig(path)) {}

  QuantizedLinear quantized(const std::string &tensor, int64_t k, int64_t n,
                            const QuantParams &params,
                            ActivationType activation) override {
    QuantizedLinear layer = config.method == QuantMethod::Gptq
                                ? unpackGptqLayer(checkpoint, tensor, config)
                                : unpackAwqLayer(checkpoint, tensor, config);
    if (layer.k != k || layer.n != n || layer.params.bits != params.bits ||
        layer.params.groupSize != params.groupSize ||
        layer.params.zeroPoint != params.zeroPoint)
      throw Error(path + ": tensor '" + tensor + "' is " +
                  std::to_string(layer.k) + "x" + std::to_string(layer.n) +
                  ", " + std::to_string(layer.params.bits) + "-bit, group " +
                  std::to_string(layer.params.groupSize) +
                  " but the IR expects " + std::to_string(k) + "x" +
                  std::to_string(n) + ", " + std::to_string(params.bits) +
                  "-bit, group " + std::to_string(params.groupSize));
    if (layer.activation != activation)
      throw Error(path + ": tensor '" + tensor + ".scales' is " +
                  dtypeName(activationDType(layer.activation)) +
                  " but the IR's layer is " + activationTypeName(activation));
    // Biases are separate awq.external values in the IR.
    layer.bias.clear();
    return layer;
  }

  std::vector<uint16_t> vector(const std::string &tensor, int64_t length,
                               ActivationType activation) override {
    const TensorView &view = checkpoint.get(tensor);
    const DType dtype = activationDType(activation);
    if (view.dtype != dtype || view.shape.size() != 1 ||
        view.shape[0] != length)
      throw Error(path + ": tensor '" + tensor + "' must be an " +
                  dtypeName(dtype) + " vector of " + std::to_string(length) +
                  " elements, got " + dtypeName(view.dtype) + " " +
                  formatShape(view.shape));
    std::vector<uint16_t> result(static_cast<size_t>(length));
    std::memcpy(result.data(), view.data, result.size() * 2);
    return result;
  }

private:
  std::string path;
  SafeTensorsCheckpoint checkpoint;
  QuantizationConfig config;
};

std::string describeOp(mlir::Operation *op) {
  return "'" + op->getName().getStringRef().str() + "'";
}

/// Weight transforms compute in the layer's type: a factor of another type
/// would be rounded twice (the verifiers cannot see the scales' type).
void requireVectorType(mlir::Value vector, ActivationType type,
                       const char *what) {
  mlir::Type element =
      mlir::cast<mlir::RankedTensorType>(vector.getType()).getElementType();
  if (!(element.isF16() || element.isBF16()) ||
      ir::activationTypeOf(element) != type)
    throw Error(std::string(what) + ": the factors must be " +
                activationTypeName(type) +
                " like the scales of the weight they multiply");
}

} // namespace

std::unique_ptr<WeightSource> makeRandomWeightSource(uint64_t seed) {
  return std::make_unique<RandomWeightSource>(seed);
}

std::unique_ptr<WeightSource>
makeCheckpointWeightSource(const std::string &path) {
  return std::make_unique<CheckpointWeightSource>(path);
}

const QuantizedLinear &WeightEvaluator::quantized(mlir::Value weight) {
  auto it = layers.find(weight);
  if (it != layers.end())
    return *it->second;
  auto type = mlir::cast<ir::QWeightType>(weight.getType());
  auto result = std::make_shared<QuantizedLinear>();
  mlir::Operation *def = weight.getDefiningOp();
  if (!def)
    throw Error("a quantized weight is a function argument: the IR must name "
                "its weights with awq.external to run it");
  if (auto external = mlir::dyn_cast<ir::ExternalOp>(def)) {
    QuantParams params;
    params.bits = static_cast<int>(type.getBits());
    params.groupSize = type.getGroup();
    params.zeroPoint = type.getZeroMode() != ir::ZeroMode::symmetric;
    ActivationType activation = ActivationType::F16;
    std::string why = ir::getWeightActivationType(weight, activation);
    if (!why.empty())
      throw Error("tensor '" + external.getTensor().str() + "': " + why);
    *result = source.quantized(external.getTensor().str(), type.getK(),
                               type.getN(), params, activation);
  } else if (auto scale = mlir::dyn_cast<ir::ScaleOutputChannelsOp>(def)) {
    *result = quantized(scale.getWeight());
    const ActivationType t = result->activation;
    requireVectorType(scale.getScale(), t, "awq.scale_output_channels");
    const std::vector<uint16_t> &factors = vector(scale.getScale());
    for (int64_t g = 0; g < result->numGroups(); ++g)
      for (int64_t n = 0; n < result->n; ++n) {
        uint16_t &s = result->scales[static_cast<size_t>(g * result->n + n)];
        s = floatToElement(elementToFloat(s, t) * elementToFloat(factors[n], t),
                           t);
      }
  } else if (mlir::isa<ir::FoldZeroPointsOp, ir::RepackOp>(def)) {
    // The logical layer is unchanged: share it rather than copy it (a
    // merged layer holds one byte per weight).
    quantized(def->getOperand(0));
    result = layers[def->getOperand(0)];
  } else if (auto concat = mlir::dyn_cast<ir::ConcatWeightsOp>(def)) {
    std::vector<const QuantizedLinear *> parts;
    for (mlir::Value input : concat.getInputs())
      parts.push_back(&quantized(input));
    *result = concat.getInterleave()
                  ? interleaveGateUp(*parts[0], *parts[1], "awq.concat_weights")
                  : concatColumns(parts, "awq.concat_weights");
    // Streaming: parts nothing else reads are dropped now, not with the
    // next clear().
    if (dropMergedParts)
      for (mlir::Value input : concat.getInputs())
        if (input.hasOneUse())
          layers.erase(input);
  } else {
    throw Error("cannot evaluate a quantized weight produced by " +
                describeOp(def));
  }
  layers[weight] = result;
  return *result;
}

const std::vector<uint16_t> &WeightEvaluator::zeroTerms(mlir::Value weight) {
  auto it = zeroTermsOf.find(weight);
  if (it != zeroTermsOf.end())
    return *it->second;
  auto type = mlir::cast<ir::QWeightType>(weight.getType());
  mlir::Operation *def = weight.getDefiningOp();
  if (type.getZeroMode() != ir::ZeroMode::scaled_zero || !def)
    throw Error("zero terms (z * s, or z for bf16) exist only for a "
                "scaled_zero weight computed by awq.fold_zero_points");
  auto result = std::make_shared<std::vector<uint16_t>>();
  if (auto fold = mlir::dyn_cast<ir::FoldZeroPointsOp>(def)) {
    *result =
        foldZeroPoints(quantized(fold.getWeight()), "awq.fold_zero_points");
  } else if (auto scale = mlir::dyn_cast<ir::ScaleOutputChannelsOp>(def)) {
    // The op scales every term of the column: fp16's z * s with s. A bf16
    // layer's zero terms are z itself (foldZeroPoints, GemmLayout.h), which
    // scaling a column leaves as it is.
    *result = zeroTerms(scale.getWeight());
    const ActivationType t = quantized(weight).activation;
    requireVectorType(scale.getScale(), t, "awq.scale_output_channels");
    const std::vector<uint16_t> &factors = vector(scale.getScale());
    const size_t n = static_cast<size_t>(type.getN());
    if (t == ActivationType::F16)
      for (size_t i = 0; i < result->size(); ++i)
        (*result)[i] = floatToElement(elementToFloat((*result)[i], t) *
                                          elementToFloat(factors[i % n], t),
                                      t);
  } else if (mlir::isa<ir::RepackOp>(def)) {
    *result = zeroTerms(def->getOperand(0));
  } else {
    throw Error("cannot evaluate the zero terms of a weight produced by " +
                describeOp(def));
  }
  zeroTermsOf[weight] = result;
  return *result;
}

const KernelWeights &WeightEvaluator::packed(mlir::Value weight) {
  auto it = packedOf.find(weight);
  if (it != packedOf.end())
    return *it->second;
  auto repack = weight.getDefiningOp<ir::RepackOp>();
  if (!repack)
    throw Error("a kernel's weight must be produced by awq.repack");
  mlir::Value source = repack.getWeight();
  auto sourceType = mlir::cast<ir::QWeightType>(source.getType());
  auto type = mlir::cast<ir::QWeightType>(weight.getType());
  auto result = std::make_shared<KernelWeights>();
  const QuantizedLinear &layer = quantized(source);
  if (type.getLayout() == ir::Layout::gemv_interleaved) {
    if (sourceType.getZeroMode() == ir::ZeroMode::scaled_zero)
      throw Error("awq.repack to gemv_interleaved needs the stored zero "
                  "points, but its source only has z * s");
    GemvWeights gemv = repackGemv(layer, "awq.repack");
    result->layout = KernelFamily::Gemv;
    result->qweight.resize(gemv.qweight.size() * sizeof(uint32_t));
    std::memcpy(result->qweight.data(), gemv.qweight.data(),
                result->qweight.size());
    result->scales = std::move(gemv.scales);
    result->zeros = std::move(gemv.zeros);
  } else if (type.getLayout() == ir::Layout::mma_fragment) {
    if (sourceType.getZeroMode() == ir::ZeroMode::zero_point)
      throw Error("awq.repack to mma_fragment needs the zero terms z * s: "
                  "fold the zero points (awq.fold_zero_points) first");
    static const std::vector<uint16_t> none;
    GemmWeights gemm =
        repackGemm(layer,
                   sourceType.getZeroMode() == ir::ZeroMode::scaled_zero
                       ? zeroTerms(source)
                       : none,
                   "awq.repack");
    result->layout = KernelFamily::Gemm;
    result->qweight = std::move(gemm.qweight);
    result->scales = std::move(gemm.scales);
    result->zeros = std::move(gemm.zeroScales);
  } else {
    throw Error("awq.repack produces no kernel layout here");
  }
  packedOf[weight] = result;
  return *result;
}

const std::vector<uint16_t> &WeightEvaluator::vector(mlir::Value value) {
  auto it = vectors.find(value);
  if (it != vectors.end())
    return *it->second;
  auto type = mlir::cast<mlir::RankedTensorType>(value.getType());
  if (type.getRank() != 1 ||
      !(type.getElementType().isF16() || type.getElementType().isBF16()))
    throw Error("only 1-D f16 or bf16 parameter tensors can be evaluated");
  const ActivationType t = ir::activationTypeOf(type.getElementType());
  auto result = std::make_shared<std::vector<uint16_t>>();
  mlir::Operation *def = value.getDefiningOp();
  if (!def)
    throw Error("a parameter vector is a function argument: the IR must name "
                "it with awq.external to run it");
  if (auto external = mlir::dyn_cast<ir::ExternalOp>(def)) {
    *result = source.vector(external.getTensor().str(), type.getDimSize(0), t);
  } else if (auto mul = mlir::dyn_cast<ir::VectorMulOp>(def)) {
    const std::vector<uint16_t> &a = vector(mul.getLhs());
    const std::vector<uint16_t> &b = vector(mul.getRhs());
    result->resize(a.size());
    for (size_t i = 0; i < a.size(); ++i)
      (*result)[i] =
          floatToElement(elementToFloat(a[i], t) * elementToFloat(b[i], t), t);
  } else if (auto concat = mlir::dyn_cast<ir::ConcatVectorsOp>(def)) {
    if (concat.getInterleave()) {
      const std::vector<uint16_t> &a = vector(concat.getInputs()[0]);
      const std::vector<uint16_t> &b = vector(concat.getInputs()[1]);
      for (size_t i = 0; i < a.size(); ++i) {
        result->push_back(a[i]);
        result->push_back(b[i]);
      }
    } else {
      for (mlir::Value input : concat.getInputs()) {
        const std::vector<uint16_t> &part = vector(input);
        result->insert(result->end(), part.begin(), part.end());
      }
    }
  } else {
    throw Error("cannot evaluate a parameter vector produced by " +
                describeOp(def));
  }
  vectors[value] = result;
  return *result;
}

std::shared_ptr<KernelWeights> WeightEvaluator::takePacked(mlir::Value weight) {
  packed(weight);
  auto it = packedOf.find(weight);
  std::shared_ptr<KernelWeights> result = std::move(it->second);
  packedOf.erase(it);
  return result;
}

void WeightEvaluator::clear() {
  layers.clear();
  vectors.clear();
  zeroTermsOf.clear();
  packedOf.clear();
}

} // namespace awq
