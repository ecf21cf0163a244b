//===- QuantizedCheckpoint.cpp - AutoAWQ/GPTQ checkpoints <-> layers ------===//

#include "compiler/formats/QuantizedCheckpoint.h"

#include "compiler/formats/AwqPacking.h"
#include "compiler/formats/JsonFields.h"
#include "runtime/formats/AtomicFile.h"
#include "runtime/support/Error.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <set>

namespace awq {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string describeTensor(const TensorView &view) {
  return std::string(dtypeName(view.dtype)) + " " + formatShape(view.shape);
}

std::string tensorWhere(const TensorView &view) {
  return std::string(view.file) + ": tensor '" + view.name + "'";
}

/// Looks up a tensor that a quantized layer needs; the message says which
/// layer needed it.
const TensorView &requireTensor(const SafeTensorsCheckpoint &checkpoint,
                                const std::string &name,
                                const std::string &layer, DType dtype) {
  const TensorView *view = checkpoint.find(name);
  if (!view)
    throw Error(checkpoint.source() + ": missing tensor '" + name +
                "' of quantized layer '" + layer + "'");
  if (view->dtype != dtype)
    throw Error(tensorWhere(*view) + ": expected dtype " + dtypeName(dtype) +
                ", got " + dtypeName(view->dtype));
  return *view;
}

/// The `<prefix>.scales` tensor: F16 or BF16, which is the layer's
/// activation type.
const TensorView &requireScales(const SafeTensorsCheckpoint &checkpoint,
                                const std::string &prefix) {
  const std::string name = prefix + ".scales";
  const TensorView *view = checkpoint.find(name);
  if (!view)
    throw Error(checkpoint.source() + ": missing tensor '" + name +
                "' of quantized layer '" + prefix + "'");
  if (view->dtype != DType::F16 && view->dtype != DType::BF16)
    throw Error(tensorWhere(*view) + ": expected dtype F16 or BF16, got " +
                dtypeName(view->dtype));
  return *view;
}

ActivationType activationOfScales(const TensorView &scales) {
  return scales.dtype == DType::BF16 ? ActivationType::BF16
                                     : ActivationType::F16;
}

void requireRank(const TensorView &view, size_t rank, const std::string &what) {
  if (view.shape.size() != rank)
    throw Error(tensorWhere(view) + ": expected a rank-" +
                std::to_string(rank) + " tensor " + what + ", got " +
                describeTensor(view));
}

void requireShape(const TensorView &view, const std::vector<int64_t> &shape,
                  const std::string &meaning) {
  if (view.shape != shape)
    throw Error(tensorWhere(view) + ": expected shape " + meaning + " = " +
                formatShape(shape) + ", got " + describeTensor(view));
}

template <typename T> std::vector<T> copyElements(const TensorView &view) {
  std::vector<T> out(view.size / sizeof(T));
  view.copyTo(out.data());
  return out;
}

/// Reads the optional `<prefix>.bias` [N], of the scales' dtype (a layer's
/// scales and bias share its activation type).
std::vector<uint16_t> readBias(const SafeTensorsCheckpoint &checkpoint,
                               const std::string &prefix, int64_t n,
                               ActivationType activation) {
  const TensorView *view = checkpoint.find(prefix + ".bias");
  if (!view)
    return {};
  if (view->dtype != activationDType(activation))
    throw Error(tensorWhere(*view) + ": expected dtype " +
                dtypeName(activationDType(activation)) +
                " (the dtype of the layer's scales), got " +
                dtypeName(view->dtype));
  requireShape(*view, {n}, "[N]");
  return copyElements<uint16_t>(*view);
}

/// A symmetric layer has no zeros of its own: the stored ones must be the
/// implicit 2^(bits-1), else the file disagrees with its config.
void checkSymmetricZeros(const std::vector<uint8_t> &zeros, int64_t n, int bits,
                         const TensorView &source, const std::string &setting) {
  const int implicitZero = 1 << (bits - 1);
  for (size_t i = 0; i < zeros.size(); ++i)
    if (zeros[i] != implicitZero)
      throw Error(tensorWhere(source) + ": " + setting +
                  " says the layer is symmetric, so every zero must be " +
                  std::to_string(implicitZero) + ", but the zero at [" +
                  std::to_string(static_cast<int64_t>(i) / n) + ", " +
                  std::to_string(static_cast<int64_t>(i) % n) + "] is " +
                  std::to_string(zeros[i]));
}

bool endsWith(const std::string &text, const std::string &suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

/// config.json minus quantization_config, or an empty object.
json readModelConfig(const std::string &dir) {
  const fs::path path = fs::path(dir) / "config.json";
  if (!fs::exists(path))
    return json::object();
  json config = readJsonFile(path.string());
  JsonField(config, path.string(), "").requireObject();
  config.erase("quantization_config");
  return config;
}

using LayerReader = QuantizedLinear (*)(const SafeTensorsCheckpoint &,
                                        const std::string &,
                                        const QuantizationConfig &);

/// Splits a checkpoint into quantized layers (one per `*.qweight`) and
/// plain tensors.
QuantizedCheckpoint importWith(const std::string &dir,
                               const QuantizationConfig &quantization,
                               LayerReader readLayer,
                               std::initializer_list<const char *> parts) {
  QuantizedCheckpoint result;
  result.quantization = quantization;
  result.config = readModelConfig(dir);
  SafeTensorsCheckpoint checkpoint = SafeTensorsCheckpoint::open(dir);

  std::set<std::string> consumed;
  const std::vector<std::string> names = checkpoint.names();
  for (const std::string &name : names) {
    if (!endsWith(name, ".qweight"))
      continue;
    const std::string prefix = name.substr(0, name.size() - 8);
    QuantizedLinear layer = readLayer(checkpoint, prefix, quantization);
    // One model, one activation type: bf16 scales next to fp16 ones are a
    // damaged or mixed checkpoint.
    if (!result.linears.empty() &&
        layer.activation != result.linears.begin()->second.activation)
      throw Error(tensorWhere(checkpoint.get(prefix + ".scales")) + ": dtype " +
                  dtypeName(activationDType(layer.activation)) +
                  " differs from the scales of layer '" +
                  result.linears.begin()->first + "' (" +
                  dtypeName(activationDType(
                      result.linears.begin()->second.activation)) +
                  "): a model has one activation type");
    result.linears.emplace(prefix, std::move(layer));
    for (const char *part : parts)
      consumed.insert(prefix + part);
  }
  for (const std::string &name : names) {
    if (consumed.count(name))
      continue;
    if (endsWith(name, ".qzeros"))
      throw Error(std::string(checkpoint.get(name).file) + ": tensor '" + name +
                  "' has no matching '" + name.substr(0, name.size() - 7) +
                  ".qweight'");
    result.tensors.emplace(name, HostTensor::fromView(checkpoint.get(name)));
  }
  if (result.linears.empty())
    throw Error(checkpoint.source() +
                ": no quantized layer (no tensor named '*.qweight')");
  return result;
}

} // namespace

HostTensor HostTensor::fromView(const TensorView &view) {
  HostTensor tensor;
  tensor.dtype = view.dtype;
  tensor.shape = view.shape;
  tensor.data.resize(view.size);
  view.copyTo(tensor.data.data());
  return tensor;
}

namespace {
/// The one spelling of an AWQ layer's tensors: names, dtypes, shapes.
std::vector<TensorRef> awqLayout(const std::string &prefix, int64_t k,
                                 int64_t n, int64_t groups, int64_t words,
                                 bool hasBias, ActivationType activation) {
  const DType scalesType = activationDType(activation);
  std::vector<TensorRef> layout = {
      {prefix + ".qweight", DType::I32, {k, words}},
      {prefix + ".qzeros", DType::I32, {groups, words}},
      {prefix + ".scales", scalesType, {groups, n}}};
  if (hasBias)
    layout.push_back({prefix + ".bias", scalesType, {n}});
  return layout;
}
} // namespace

std::vector<TensorRef> awqLayerTensorLayout(const std::string &prefix,
                                            int64_t k, int64_t n,
                                            const QuantParams &params,
                                            bool hasBias,
                                            ActivationType activation) {
  return awqLayout(prefix, k, n,
                   params.groupSize == k ? 1 : k / params.groupSize,
                   awqPackedWords(n, params.bits, prefix), hasBias, activation);
}

void AwqLayerTensors::appendRefs(const std::string &prefix,
                                 std::vector<TensorRef> &out) const {
  const void *data[] = {qweight.data(), qzeros.data(), scales.data(),
                        bias.data()};
  const size_t sizes[] = {
      qweight.size() * sizeof(int32_t), qzeros.size() * sizeof(int32_t),
      scales.size() * sizeof(uint16_t), bias.size() * sizeof(uint16_t)};
  std::vector<TensorRef> layout =
      awqLayout(prefix, k, n, groups, words, !bias.empty(), activation);
  for (size_t i = 0; i < layout.size(); ++i) {
    layout[i].data = data[i];
    layout[i].size = sizes[i];
    out.push_back(std::move(layout[i]));
  }
}

AwqLayerTensors packAwqLayer(const QuantizedLinear &layer,
                             const std::string &name) {
  validate(layer, name);
  const int bits = layer.params.bits;
  AwqLayerTensors packed;
  packed.k = layer.k;
  packed.n = layer.n;
  packed.groups = layer.numGroups();
  packed.words = awqPackedWords(layer.n, bits, name);
  packed.qweight =
      packAwqRows(layer.q.data(), layer.k, layer.n, bits, name + " weights");
  if (layer.params.zeroPoint) {
    packed.qzeros = packAwqRows(layer.zeros.data(), packed.groups, layer.n,
                                bits, name + " zeros");
  } else {
    std::vector<uint8_t> implicit(static_cast<size_t>(packed.groups * layer.n),
                                  static_cast<uint8_t>(1 << (bits - 1)));
    packed.qzeros =
        packAwqRows(implicit.data(), packed.groups, layer.n, bits, name);
  }
  packed.scales = layer.scales;
  packed.bias = layer.bias;
  packed.activation = layer.activation;
  return packed;
}

void checkCheckpointTensors(const SafeTensorsCheckpoint &checkpoint,
                            const QuantizationConfig &config,
                            const std::vector<ExpectedTensor> &expected) {
  for (const ExpectedTensor &tensor : expected) {
    const std::string &prefix = tensor.name;
    if (!tensor.quantized) {
      const TensorView *view = checkpoint.find(prefix);
      if (!view)
        throw Error(checkpoint.source() + ": missing tensor '" + prefix + "'");
      if (view->dtype != activationDType(tensor.activation))
        throw Error(tensorWhere(*view) + ": expected dtype " +
                    dtypeName(activationDType(tensor.activation)) +
                    " (the model's activation type is " +
                    activationTypeName(tensor.activation) + "), got " +
                    dtypeName(view->dtype));
      requireShape(*view, {tensor.length}, "[length]");
      continue;
    }
    const QuantParams params = config.paramsFor(tensor.k, prefix);
    const QuantParams &want = tensor.params;
    if (params.bits != want.bits || params.groupSize != want.groupSize ||
        params.zeroPoint != want.zeroPoint)
      throw Error(config.source + ": layer '" + prefix + "' is " +
                  std::to_string(params.bits) + "-bit, group " +
                  std::to_string(params.groupSize) +
                  (params.zeroPoint ? ", zero point" : ", symmetric") +
                  " here, but the model expects " + std::to_string(want.bits) +
                  "-bit, group " + std::to_string(want.groupSize) +
                  (want.zeroPoint ? ", zero point" : ", symmetric"));
    const int bits = params.bits;
    const int64_t k = tensor.k, n = tensor.n;
    const int64_t groups = params.groupSize == k ? 1 : k / params.groupSize;
    const TensorView &qweight =
        requireTensor(checkpoint, prefix + ".qweight", prefix, DType::I32);
    const TensorView &qzeros =
        requireTensor(checkpoint, prefix + ".qzeros", prefix, DType::I32);
    const TensorView &scales = requireScales(checkpoint, prefix);
    if (activationOfScales(scales) != tensor.activation)
      throw Error(tensorWhere(scales) + ": expected dtype " +
                  dtypeName(activationDType(tensor.activation)) +
                  " (the model's activation type is " +
                  activationTypeName(tensor.activation) + "), got " +
                  dtypeName(scales.dtype));
    requireShape(scales, {groups, n}, "[K/G, N]");
    if (const TensorView *bias = checkpoint.find(prefix + ".bias"))
      if (bias->dtype != scales.dtype)
        throw Error(tensorWhere(*bias) + ": expected dtype " +
                    dtypeName(scales.dtype) +
                    " (the dtype of the layer's scales), got " +
                    dtypeName(bias->dtype));
    if (config.method == QuantMethod::Gptq) {
      const int64_t perWord = 32 / bits;
      requireShape(qweight, {k / perWord, n}, "[K*bits/32, N]");
      requireShape(qzeros, {groups, n / perWord}, "[K/G, N*bits/32]");
    } else {
      const int64_t words = awqPackedWords(n, bits, tensorWhere(scales));
      requireShape(qweight, {k, words}, "[K, packed N]");
      requireShape(qzeros, {groups, words}, "[K/G, packed N]");
    }
  }
  // An activation scale the model does not read would be dropped silently:
  // the outputs would be off by the scale (awqc quantize writes them as
  // "<input group>.activation_scale" when it cannot fold them).
  std::set<std::string> read;
  for (const ExpectedTensor &tensor : expected)
    read.insert(tensor.name);
  for (const std::string &name : checkpoint.names())
    if (endsWith(name, ".activation_scale") && !read.count(name))
      throw Error(checkpoint.source() + ": tensor '" + name +
                  "' is an activation scale the model does not apply; name "
                  "it as its input group's activation_scale in the model "
                  "description (awqc quantize writes one in model.json)");
}

QuantizedLinear unpackAwqLayer(const SafeTensorsCheckpoint &checkpoint,
                               const std::string &prefix,
                               const QuantizationConfig &config) {
  const TensorView &qweight =
      requireTensor(checkpoint, prefix + ".qweight", prefix, DType::I32);
  const TensorView &qzeros =
      requireTensor(checkpoint, prefix + ".qzeros", prefix, DType::I32);
  const TensorView &scales = requireScales(checkpoint, prefix);
  requireRank(qweight, 2, "[K, packed N]");
  requireRank(scales, 2, "[K/G, N]");

  QuantizedLinear layer;
  layer.k = qweight.shape[0];
  layer.n = scales.shape[1];
  if (layer.k == 0 || layer.n == 0)
    throw Error(tensorWhere(qweight) + ": K and N must be positive, got " +
                describeTensor(qweight) + " with scales " +
                describeTensor(scales));
  layer.params = config.paramsFor(layer.k, prefix);
  const int bits = layer.params.bits;
  const int64_t groups = layer.numGroups();
  const int64_t words = awqPackedWords(layer.n, bits, tensorWhere(scales));
  const std::string packedN = bits == 4 ? "N/8" : bits == 8 ? "N/4" : "3*N/32";
  requireShape(qweight, {layer.k, words}, "[K, " + packedN + "]");
  requireShape(scales, {groups, layer.n}, "[K/G, N]");
  requireShape(qzeros, {groups, words}, "[K/G, " + packedN + "]");

  layer.q.resize(static_cast<size_t>(layer.k * layer.n));
  unpackAwqRows(copyElements<int32_t>(qweight).data(), layer.k, layer.n, bits,
                layer.q.data());
  std::vector<uint8_t> zeros(static_cast<size_t>(groups * layer.n));
  unpackAwqRows(copyElements<int32_t>(qzeros).data(), groups, layer.n, bits,
                zeros.data());
  if (layer.params.zeroPoint)
    layer.zeros = std::move(zeros);
  else
    checkSymmetricZeros(zeros, layer.n, bits, qzeros,
                        config.source + " (zero_point false)");
  layer.activation = activationOfScales(scales);
  layer.scales = copyElements<uint16_t>(scales);
  layer.bias = readBias(checkpoint, prefix, layer.n, layer.activation);
  validate(layer, prefix);
  return layer;
}

QuantizedLinear unpackGptqLayer(const SafeTensorsCheckpoint &checkpoint,
                                const std::string &prefix,
                                const QuantizationConfig &config) {
  const TensorView &qweight =
      requireTensor(checkpoint, prefix + ".qweight", prefix, DType::I32);
  const TensorView &qzeros =
      requireTensor(checkpoint, prefix + ".qzeros", prefix, DType::I32);
  const TensorView &scales = requireScales(checkpoint, prefix);
  requireRank(qweight, 2, "[K*bits/32, N]");
  requireRank(scales, 2, "[K/G, N]");
  if (config.bits != 4 && config.bits != 8)
    throw Error(config.source + ": GPTQ import supports 4 and 8 bits, got " +
                std::to_string(config.bits));

  const int bits = config.bits;
  const int perWord = 32 / bits;
  QuantizedLinear layer;
  layer.k = qweight.shape[0] * perWord;
  layer.n = qweight.shape[1];
  if (layer.k == 0 || layer.n == 0)
    throw Error(tensorWhere(qweight) + ": K and N must be positive, got " +
                describeTensor(qweight));
  if (layer.n % perWord != 0)
    throw Error(tensorWhere(qweight) + ": N = " + std::to_string(layer.n) +
                " must be a multiple of " + std::to_string(perWord) +
                " to pack the " + std::to_string(bits) + "-bit zeros");
  layer.params = config.paramsFor(layer.k, prefix);
  const int64_t groups = layer.numGroups();
  const std::string packed = bits == 4 ? "/8" : "/4";
  requireShape(scales, {groups, layer.n}, "[K/G, N]");
  requireShape(qzeros, {groups, layer.n / perWord}, "[K/G, N" + packed + "]");

  const std::string gIdxName = prefix + ".g_idx";
  if (const TensorView *gIdx = checkpoint.find(gIdxName)) {
    if (gIdx->dtype != DType::I32 && gIdx->dtype != DType::I64)
      throw Error(tensorWhere(*gIdx) + ": expected dtype I32, got " +
                  dtypeName(gIdx->dtype));
    requireShape(*gIdx, {layer.k}, "[K]");
    for (int64_t row = 0; row < layer.k; ++row) {
      int64_t group;
      if (gIdx->dtype == DType::I32) {
        int32_t value;
        std::memcpy(&value, gIdx->data + 4 * row, 4);
        group = value;
      } else {
        std::memcpy(&group, gIdx->data + 8 * row, 8);
      }
      if (group != row / layer.params.groupSize)
        throw Error(tensorWhere(*gIdx) + ": g_idx[" + std::to_string(row) +
                    "] = " + std::to_string(group) +
                    " but sequential groups "
                    "need " +
                    std::to_string(row / layer.params.groupSize) +
                    "; act-order (desc_act) checkpoints are not supported");
    }
  } else if (config.descAct) {
    throw Error(checkpoint.source() + ": missing tensor '" + gIdxName +
                "': desc_act is true and act-order needs g_idx (and is not "
                "supported unless g_idx is sequential)");
  }

  layer.q.resize(static_cast<size_t>(layer.k * layer.n));
  unpackGptqQweight(copyElements<int32_t>(qweight).data(), layer.k, layer.n,
                    bits, layer.q.data());
  std::vector<uint8_t> zeros(static_cast<size_t>(groups * layer.n));
  unpackGptqRows(copyElements<int32_t>(qzeros).data(), groups, layer.n, bits,
                 zeros.data());
  if (config.version != "gptq_v2") {
    // GPTQ v1 stores zero - 1; a zero of 0 wrapped to 2^bits - 1 on save.
    const int mask = (1 << bits) - 1;
    for (uint8_t &zero : zeros)
      zero = static_cast<uint8_t>((zero + 1) & mask);
  }
  if (layer.params.zeroPoint)
    layer.zeros = std::move(zeros);
  else
    checkSymmetricZeros(zeros, layer.n, bits, qzeros,
                        config.source + " (sym true)");
  layer.activation = activationOfScales(scales);
  layer.scales = copyElements<uint16_t>(scales);
  layer.bias = readBias(checkpoint, prefix, layer.n, layer.activation);
  validate(layer, prefix);
  return layer;
}

QuantizedCheckpoint importAwqCheckpoint(const std::string &dir) {
  QuantizationConfig quantization = readQuantizationConfig(dir);
  if (quantization.method != QuantMethod::Awq)
    throw Error(quantization.source +
                ": quant_method is gptq, expected awq; use the GPTQ importer");
  return importWith(dir, quantization, &unpackAwqLayer,
                    {".qweight", ".qzeros", ".scales", ".bias"});
}

QuantizedCheckpoint importGptqCheckpoint(const std::string &dir) {
  QuantizationConfig quantization = readQuantizationConfig(dir);
  if (quantization.method != QuantMethod::Gptq)
    throw Error(quantization.source +
                ": quant_method is awq, expected gptq; use the AWQ importer");
  return importWith(dir, quantization, &unpackGptqLayer,
                    {".qweight", ".qzeros", ".scales", ".g_idx", ".bias"});
}

QuantizedCheckpoint importQuantizedCheckpoint(const std::string &dir) {
  QuantizationConfig quantization = readQuantizationConfig(dir);
  return quantization.method == QuantMethod::Awq ? importAwqCheckpoint(dir)
                                                 : importGptqCheckpoint(dir);
}

void exportAwqCheckpoint(const QuantizedCheckpoint &checkpoint,
                         const std::string &dir,
                         const AwqExportOptions &options) {
  if (checkpoint.linears.empty())
    throw Error(dir + ": nothing to export: the checkpoint has no quantized "
                      "layer");
  if (!checkpoint.config.is_object())
    throw Error(dir + ": the model config to write into config.json must be "
                      "a JSON object");

  // One quantization_config describes every layer, so they must agree.
  QuantizationConfig quantization;
  quantization.method = QuantMethod::Awq;
  quantization.modulesToNotConvert =
      checkpoint.quantization.modulesToNotConvert;
  const auto &[firstName, first] = *checkpoint.linears.begin();
  quantization.bits = first.params.bits;
  quantization.zeroPoint = first.params.zeroPoint;
  bool sameGroup = true;
  bool perColumn = true;
  for (const auto &[name, layer] : checkpoint.linears) {
    validate(layer, name);
    if (layer.params.bits != quantization.bits)
      throw Error(dir + ": layer '" + name + "' has " +
                  std::to_string(layer.params.bits) + " bits but '" +
                  firstName + "' has " + std::to_string(quantization.bits) +
                  "; one checkpoint holds one bit width");
    if (layer.params.zeroPoint != quantization.zeroPoint)
      throw Error(dir + ": layer '" + name + "' and '" + firstName +
                  "' differ in zero point (symmetric vs asymmetric); one "
                  "checkpoint holds one kind");
    sameGroup = sameGroup && layer.params.groupSize == first.params.groupSize;
    perColumn = perColumn && layer.params.groupSize == layer.k;
  }
  if (sameGroup)
    quantization.groupSize = first.params.groupSize;
  else if (perColumn)
    quantization.groupSize = -1;
  else
    throw Error(dir + ": the layers use different group sizes; a checkpoint "
                      "holds one group size (or one group per column)");
  quantization.version =
      quantization.bits == 4 ? kAwqGemmVersion : kAwqcGemmVersion;

  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec || !fs::is_directory(dir))
    throw Error(dir + ": cannot create the checkpoint directory" +
                (ec ? ": " + ec.message() : std::string()));

  // Packed buffers must stay alive while the refs are written.
  std::vector<AwqLayerTensors> packed;
  packed.reserve(checkpoint.linears.size());
  std::vector<TensorRef> refs;
  for (const auto &[name, layer] : checkpoint.linears) {
    packed.push_back(packAwqLayer(layer, name));
    packed.back().appendRefs(name, refs);
  }
  for (const auto &[name, tensor] : checkpoint.tensors)
    refs.push_back({name, tensor.dtype, tensor.shape, tensor.data.data(),
                    tensor.data.size()});
  std::sort(
      refs.begin(), refs.end(),
      [](const TensorRef &a, const TensorRef &b) { return a.name < b.name; });
  // transformers checks the "format" entry when it loads safetensors.
  writeSafeTensorsCheckpoint(dir, refs, {{"format", "pt"}},
                             options.maxShardBytes);

  json config = checkpoint.config;
  config["quantization_config"] = awqQuantizationConfigJson(quantization);
  writeFileAtomically((fs::path(dir) / "config.json").string(),
                      config.dump(2) + "\n");
}

} // namespace awq
