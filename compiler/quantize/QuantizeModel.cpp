//===- QuantizeModel.cpp - Quantize a whole model into an AWQ checkpoint --===//

#include "compiler/quantize/QuantizeModel.h"

#include "compiler/formats/AwqPacking.h"
#include "compiler/formats/QuantizationConfig.h"
#include "compiler/formats/QuantizedCheckpoint.h"
#include "compiler/frontend/OutputStaging.h"
#include "compiler/quantize/Cancellation.h"
#include "compiler/quantize/MixedPrecision.h"
#include "compiler/quantize/OutputLoss.h"
#include "compiler/quantize/QuantizeJournal.h"
#include "compiler/quantize/Quantizer.h"
#include "runtime/formats/AtomicFile.h"
#include "runtime/formats/SafeTensorsWriter.h"
#include "runtime/support/Error.h"
#include "runtime/support/Half.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/SHA256.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <memory>
#include <new>
#include <set>
#include <type_traits>

// OpenBLAS keeps its own thread pool; --threads should bound it too. Weak, so
// that linking against another BLAS still works (the call is then skipped).
extern "C" void openblas_set_num_threads(int) __attribute__((weak));

namespace awq {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

ElementType elementTypeOf(const TensorView &view) {
  switch (view.dtype) {
  case DType::F16:
    return ElementType::F16;
  case DType::BF16:
    return ElementType::BF16;
  case DType::F32:
    return ElementType::F32;
  default:
    throw Error(std::string(view.file) + ": tensor '" + view.name +
                "': expected dtype F16, BF16 or F32, got " +
                dtypeName(view.dtype));
  }
}

/// Element i of a float tensor. memcpy: safetensors data carries no
/// alignment guarantee.
float floatAt(const TensorView &view, uint64_t i) {
  switch (view.dtype) {
  case DType::F16: {
    uint16_t bits;
    std::memcpy(&bits, view.data + 2 * i, 2);
    return halfToFloat(bits);
  }
  case DType::BF16: {
    uint16_t high;
    std::memcpy(&high, view.data + 2 * i, 2);
    const uint32_t bits = uint32_t(high) << 16;
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
  }
  case DType::F32: {
    float f;
    std::memcpy(&f, view.data + 4 * i, 4);
    return f;
  }
  default:
    elementTypeOf(view); // Throws naming the tensor.
    return 0.0f;
  }
}

std::vector<float> toFloats(const TensorView &view) {
  std::vector<float> out(view.numel());
  for (uint64_t i = 0; i < out.size(); ++i)
    out[i] = floatAt(view, i);
  return out;
}

/// fp16 bits of `values`; throws naming `what` at the first value that is
/// not finite in fp16.
std::vector<uint16_t> toHalfsChecked(const std::vector<float> &values,
                                     const std::string &what) {
  std::vector<uint16_t> out(values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    out[i] = floatToHalf(values[i]);
    if (!std::isfinite(halfToFloat(out[i])))
      throw Error(what + ": element [" + std::to_string(i) +
                  "] = " + std::to_string(values[i]) +
                  " does not fit in fp16 (the checkpoint stores floating "
                  "tensors as F16)");
  }
  return out;
}

/// A matrix the quantizer reads with typed loads: the mapped bytes when they
/// are aligned for the element type, else an aligned copy.
struct MatrixInput {
  std::vector<uint8_t> copy;
  MatrixView view;

  MatrixInput(const TensorView &tensor, int64_t rows, int64_t cols) {
    view.type = elementTypeOf(tensor);
    view.rows = rows;
    view.cols = cols;
    if (reinterpret_cast<uintptr_t>(tensor.data) % dtypeSize(tensor.dtype) ==
        0) {
      view.data = tensor.data;
    } else {
      copy.resize(tensor.size); // operator new aligns to 16 bytes.
      tensor.copyTo(copy.data());
      view.data = copy.data();
    }
  }
};

/// Errors of a layer whose rows were divided by `rowDivisor`, measured on
/// its original output: W_eff[n, c] = rowDivisor[n] * deq[c, n] / s[c]
/// against the original W, and RTN of the original W.
void measureOriginalOutput(const std::vector<float> &x, int64_t tokens,
                           const std::vector<float> &w,
                           const std::vector<float> &rowDivisor,
                           const std::vector<float> &s,
                           const QuantizedLinear &layer, int threads,
                           const std::atomic<bool> *cancel,
                           LayerQuantReport &report) {
  const int64_t n = layer.n, k = layer.k, g = layer.params.groupSize;
  OutputLoss loss(x.data(), tokens, k, 3 * n, OutputLoss::Method::Auto, threads,
                  cancel);
  const double denom = static_cast<double>(tokens) * static_cast<double>(n);
  report.outputMeanSquare = loss.sumSquares(w.data(), n) / denom;
  std::vector<float> delta(static_cast<size_t>(n * k));
  bool fits = true;
  for (int64_t row = 0; row < n && fits; ++row)
    fits = fakeQuantizeRow(w.data() + row * k, k, layer.params,
                           delta.data() + row * k);
  if (fits) {
    for (size_t i = 0; i < delta.size(); ++i)
      delta[i] -= w[i];
    report.rtnError = loss.sumSquares(delta.data(), n) / denom;
  } else {
    report.rtnError = std::numeric_limits<double>::infinity();
  }
  for (int64_t c = 0; c < k; ++c) {
    const int64_t grp = c / g;
    for (int64_t col = 0; col < n; ++col) {
      const float deq = static_cast<float>(int(layer.q[c * n + col]) -
                                           layer.zeroAt(grp, col)) *
                        halfToFloat(layer.scales[grp * n + col]);
      delta[col * k + c] = rowDivisor[col] * deq / s[c] - w[col * k + c];
    }
  }
  report.awqError = loss.sumSquares(delta.data(), n) / denom;
}

/// What quantizeInputGroup is asked to do for one planned group.
QuantizeOptions groupQuantizeOptions(const ModelQuantizeOptions &options,
                                     const PlannedGroup &plan) {
  QuantizeOptions qo = QuantizeOptions::rtn(QuantParams{});
  if (searchesScales(plan.method)) {
    qo.searchScales = plan.searchScales;
    qo.formula = options.formula;
  }
  // AWQ+GPTQ clips too (the clamped weights are what GPTQ then rounds): on
  // the synthetic models it lowers the error at 3 and 4 bits
  // (docs/quantization.md).
  qo.searchClip = searchesScales(plan.method) && options.clip;
  const ClipSearchKind clipSearch =
      resolvedClipSearch(plan.method, options.clipSearch);
  if (clipSearch != ClipSearchKind::AutoAwq) {
    qo.clipShape = ClipShape::Asymmetric;
    qo.clipGridStride = clipSearch == ClipSearchKind::Exhaustive ? 1 : 2;
    qo.clipRefine = 4;
  }
  qo.scaleScreenRows = options.scaleScreenRows;
  qo.gptq = usesGptq(plan.method);
  // GPTQ does part of what the scales do: on real weights choosing the
  // ratio after GPTQ lowers the held-out error (docs/quantization.md).
  if (plan.method == QuantizeMethod::AwqGptq && options.gptqAwareScales)
    qo.gptqScaleCandidates = 4;
  qo.gptqOptions.actOrder = options.actOrder;
  qo.params = plan.settings.paramsFor(plan.k);
  qo.numThreads = options.threads;
  qo.cancel = options.cancel;
  return qo;
}

/// A layer's input over its mapped weight and bias as stored; the views
/// point into `mapped`, whose capacity the caller reserved (so they stay
/// valid as it grows).
LinearLayerInput mappedLayerInput(const PlannedLayer &layer,
                                  std::vector<MatrixInput> &mapped) {
  LinearLayerInput input;
  input.name = layer.name;
  input.skipClip = layer.skipClip;
  mapped.emplace_back(*layer.weight, layer.n, layer.k);
  input.weight = mapped.back().view;
  if (layer.bias) {
    mapped.emplace_back(*layer.bias, 1, layer.n);
    input.bias = {mapped.back().view.data, mapped.back().view.type, layer.n};
  }
  return input;
}

/// --target-bits: the group quantized at each candidate width that fits its
/// layers' packing, on the original weights (a later group's 1/s divided
/// into a layer's rows is not known yet), and the sum of its layers'
/// relative output errors at each (the report's relative_awq_error).
std::vector<std::pair<int, double>>
measureWidths(const ModelQuantizeOptions &options, const PlannedGroup &plan) {
  std::vector<MatrixInput> mapped;
  mapped.reserve(2 * plan.layers.size() + 1);
  LinearGroupInput group;
  group.name = plan.name;
  for (const PlannedLayer &layer : plan.layers)
    group.layers.push_back(mappedLayerInput(layer, mapped));
  mapped.emplace_back(*plan.activations, plan.activations->shape[0], plan.k);
  group.activations = mapped.back().view;

  std::vector<std::pair<int, double>> errors;
  for (int bits : kCandidateWidths) {
    bool packs = true;
    for (const PlannedLayer &layer : plan.layers)
      packs = packs &&
              layer.n % awqPackGeometry(bits, layer.name).valuesPerGroup == 0;
    if (!packs)
      continue;
    PlannedGroup trial = plan;
    trial.settings.bits = bits;
    const GroupResult result =
        quantizeInputGroup(group, groupQuantizeOptions(options, trial));
    double error = 0.0;
    for (const LayerReport &report : result.reports)
      error += report.outputMeanSquare > 0
                   ? report.awqError / report.outputMeanSquare
                   : report.awqError;
    errors.push_back({bits, error});
  }
  return errors;
}

/// The running state of one quantizeModel call.
class ModelQuantizer {
public:
  ModelQuantizer(const ModelQuantizeOptions &options, const ModelPlan &plan,
                 ModelQuantizeResult &result)
      : options_(options), plan_(plan), result_(result) {
    for (const PlannedGroup &group : plan.groups)
      totalWork_ += group.work;
  }

  /// Lays out the checkpoint in `dir` before any work, so each layer is
  /// written as soon as it is quantized and never held until the end.
  void openCheckpoint(const std::string &dir);
  /// Quantizes and writes the group at `step`, then fsyncs the shards and
  /// returns what the journal keeps of it.
  FinishedGroup quantizeGroup(size_t step);
  /// Redoes the effects of a group an interrupted run finished, after
  /// checking that its tensors in the partial shards match the journal.
  /// Throws awq::Error naming `journal` otherwise.
  void restoreGroup(const FinishedGroup &finished, const std::string &journal);
  void writeCheckpoint(const std::string &dir);
  const LayerQuantReport &layerReport(const std::string &layer) const {
    return layerReports_.at(layer);
  }

private:
  /// Where a searched group's 1/s goes: folded into a norm, kept to divide
  /// a later layer's rows, or an activation scale tensor (already written).
  void placeScales(const PlannedGroup &plan, const GroupQuantReport &out);
  /// Writes a tensor of the current group and adds it to its record.
  void writeTensor(const std::string &name, const void *data, size_t size);

  void report(ModelProgress progress) const {
    progress.groupCount = plan_.order.size();
    if (options_.onProgress)
      options_.onProgress(progress);
  }

  const ModelQuantizeOptions &options_;
  const ModelPlan &plan_;
  ModelQuantizeResult &result_;
  uint64_t totalWork_ = 0, doneWork_ = 0;
  std::map<std::string, LayerQuantReport> layerReports_;
  /// Layer -> the s of the group whose 1/s its rows absorb, and that group.
  std::map<std::string, std::pair<std::vector<float>, std::string>>
      rowDivisors_;
  std::map<std::string, std::vector<uint16_t>> foldedTensors_;
  std::unique_ptr<SafeTensorsCheckpointWriter> checkpoint_;
  std::map<std::string, std::string> scaleOfGroup_;
  /// The current group's tensors and the hash of their bytes.
  std::vector<std::string> groupTensors_;
  llvm::SHA256 groupHash_;
};

void ModelQuantizer::writeTensor(const std::string &name, const void *data,
                                 size_t size) {
  checkpoint_->write(name, data, size);
  groupTensors_.push_back(name);
  groupHash_.update(
      llvm::ArrayRef<uint8_t>(static_cast<const uint8_t *>(data), size));
}

void ModelQuantizer::placeScales(const PlannedGroup &plan,
                                 const GroupQuantReport &out) {
  const std::vector<float> &s = out.scales;
  const int64_t k = plan.k;
  switch (out.destination) {
  case ScaleDestination::None:
    break;
  case ScaleDestination::NormWeight:
    for (const std::string &name : {plan.target, plan.normBias}) {
      if (name.empty())
        continue;
      std::vector<float> values = toFloats(plan_.weights->get(name));
      for (int64_t c = 0; c < k; ++c)
        values[c] /= s[c];
      foldedTensors_[name] = toHalfsChecked(
          values, plan_.weights->source() + ": tensor '" + name +
                      "' divided by the AWQ scales of input group '" +
                      plan.name + "'");
    }
    break;
  case ScaleDestination::LinearRows:
    rowDivisors_[plan.target] = {s, plan.name};
    break;
  case ScaleDestination::ActivationScale:
    scaleOfGroup_[plan.name] = plan.target;
    break;
  }
}

void ModelQuantizer::restoreGroup(const FinishedGroup &finished,
                                  const std::string &journal) {
  const PlannedGroup &plan = plan_.groups[plan_.order[finished.step]];
  if (finished.report.name != plan.name ||
      finished.layers.size() != plan.layers.size() ||
      (finished.report.destination != ScaleDestination::None &&
       finished.report.scales.size() != static_cast<size_t>(plan.k)))
    throw Error(journal + ": step " + std::to_string(finished.step) +
                " records input group '" + finished.report.name +
                "', which does not match the plan's '" + plan.name +
                "' there (name, layers or K)");
  // The journal line is written after the shards are fsynced; reading the
  // bytes back also catches a filesystem that lost them.
  llvm::SHA256 hash;
  for (const std::string &name : finished.tensors) {
    checkpoint_->markWritten(name);
    const std::vector<uint8_t> bytes = checkpoint_->read(name);
    hash.update(llvm::ArrayRef<uint8_t>(bytes));
  }
  if (sha256Hex(hash.final()) != finished.sha256)
    throw Error(journal + ": the tensors of input group '" + plan.name +
                "' in the partial checkpoint differ from what was "
                "journaled; the state is damaged: pass --force without "
                "--resume to start over");
  GroupQuantReport &out = result_.groups[plan.index];
  std::vector<std::pair<int, double>> widthErrors = std::move(out.widthErrors);
  out = finished.report;
  out.widthErrors = std::move(widthErrors);
  placeScales(plan, out);
  for (const LayerQuantReport &layer : finished.layers) {
    layerReports_[layer.name] = layer;
    rowDivisors_.erase(layer.name);
  }
  doneWork_ += plan.work;
}

void ModelQuantizer::openCheckpoint(const std::string &dir) {
  std::vector<TensorRef> layout;
  std::set<std::string> folded; // Norm tensors that get 1/s, written F16.
  for (const PlannedGroup &group : plan_.groups) {
    if (group.searchScales && group.destination == ScaleDestination::NormWeight)
      folded.insert({group.target, group.normBias});
    for (const PlannedLayer &layer : group.layers) {
      for (TensorRef &ref : awqLayerTensorLayout(
               layer.weights, layer.k, layer.n,
               group.settings.paramsFor(layer.k), layer.bias != nullptr))
        layout.push_back(std::move(ref));
    }
    if (group.searchScales &&
        group.destination == ScaleDestination::ActivationScale)
      layout.push_back({group.target, DType::F16, {group.k}});
  }
  for (const std::string &name : plan_.passThrough) {
    const TensorView &view = plan_.weights->get(name);
    const bool toHalf = view.dtype == DType::BF16 || view.dtype == DType::F32 ||
                        folded.count(name);
    layout.push_back({name, toHalf ? DType::F16 : view.dtype, view.shape});
  }
  std::sort(
      layout.begin(), layout.end(),
      [](const TensorRef &a, const TensorRef &b) { return a.name < b.name; });
  // transformers checks the "format" entry when it loads safetensors.
  checkpoint_ = std::make_unique<SafeTensorsCheckpointWriter>(
      dir, layout, std::map<std::string, std::string>{{"format", "pt"}},
      options_.maxShardBytes, ShardFiles::Resumable);
  result_.checkpointBytes = checkpoint_->totalBytes();
}

FinishedGroup ModelQuantizer::quantizeGroup(size_t step) {
  const Clock::time_point start = Clock::now();
  groupTensors_.clear();
  groupHash_ = llvm::SHA256();
  const PlannedGroup &plan = plan_.groups[plan_.order[step]];
  const int64_t k = plan.k;
  const int64_t tokens = plan.activations->shape[0];

  // Inputs: mapped bytes, or fp32 copies with divided rows for layers that
  // absorb the 1/s of a group processed earlier.
  std::vector<MatrixInput> mapped;
  mapped.reserve(2 * plan.layers.size() + 1);
  std::map<std::string, std::vector<float>> original, divided, dividedBias;
  LinearGroupInput group;
  group.name = plan.name;
  for (const PlannedLayer &layer : plan.layers) {
    auto divisor = rowDivisors_.find(layer.name);
    if (divisor == rowDivisors_.end()) {
      group.layers.push_back(mappedLayerInput(layer, mapped));
    } else {
      LinearLayerInput input;
      input.name = layer.name;
      input.skipClip = layer.skipClip;
      const std::vector<float> &d = divisor->second.first;
      std::vector<float> &w = original[layer.name] = toFloats(*layer.weight);
      std::vector<float> &scaled = divided[layer.name] = w;
      for (int64_t row = 0; row < layer.n; ++row)
        for (int64_t c = 0; c < layer.k; ++c)
          scaled[row * layer.k + c] /= d[row];
      input.weight = {scaled.data(), ElementType::F32, layer.n, layer.k};
      if (layer.bias) {
        std::vector<float> &b = dividedBias[layer.name] = toFloats(*layer.bias);
        for (int64_t row = 0; row < layer.n; ++row)
          b[row] /= d[row];
        input.bias = {b.data(), ElementType::F32, layer.n};
      }
      group.layers.push_back(std::move(input));
    }
  }
  mapped.emplace_back(*plan.activations, tokens, k);
  group.activations = mapped.back().view;

  QuantizeOptions qo = groupQuantizeOptions(options_, plan);
  if (options_.onProgress)
    qo.onProgress = [&](const QuantizeProgress &p) {
      ModelProgress progress;
      progress.group = step;
      progress.groupName = plan.name;
      progress.layer = p.layer;
      progress.stage = p.stage;
      progress.groupFraction = p.fraction();
      progress.fraction =
          totalWork_ ? (double(doneWork_) + p.fraction() * double(plan.work)) /
                           double(totalWork_)
                     : 1.0;
      report(progress);
    };

  GroupResult quantized = quantizeInputGroup(group, qo);

  GroupQuantReport &out = result_.groups[plan.index];
  out.name = plan.name;
  out.settings = plan.settings;
  out.method = plan.method;
  out.k = k;
  out.tokens = tokens;
  out.scaleSearched = quantized.scaleSearched;
  out.ratio = quantized.ratio;
  out.ratioLosses = quantized.ratioLosses;
  out.scaleScreenRows = quantized.scaleScreenRows;
  out.finalistRatios = quantized.finalistRatios;
  out.finalistLosses = quantized.finalistLosses;
  out.gptqRatios = quantized.gptqRatios;
  out.gptqRatioLosses = quantized.gptqRatioLosses;
  out.scales = quantized.scales;
  out.destination =
      quantized.scaleSearched ? plan.destination : ScaleDestination::None;
  if (out.destination != ScaleDestination::None)
    out.target = plan.target;
  const std::vector<float> &s = quantized.scales;
  if (out.destination == ScaleDestination::ActivationScale) {
    const std::vector<uint16_t> scale = activationScaleFromScales(s);
    writeTensor(plan.target, scale.data(), scale.size() * sizeof(uint16_t));
  }
  placeScales(plan, out);

  std::vector<float> x; // fp32 activations, only for layers with divided rows.
  for (size_t i = 0; i < plan.layers.size(); ++i) {
    const PlannedLayer &layer = plan.layers[i];
    const LayerReport &lr = quantized.reports[i];
    out.layers.push_back(layer.name);
    LayerQuantReport &entry = layerReports_[layer.name];
    entry.name = layer.name;
    entry.group = plan.name;
    entry.n = layer.n;
    entry.k = layer.k;
    entry.bits = plan.settings.bits;
    entry.groupSize = plan.settings.groupSize;
    entry.method = plan.method;
    entry.outputMeanSquare = lr.outputMeanSquare;
    entry.rtnError = lr.rtnError;
    entry.awqError = lr.awqError;
    entry.ratio = lr.ratio;
    entry.clip = lr.clip;
    auto divisor = rowDivisors_.find(layer.name);
    if (divisor != rowDivisors_.end()) {
      if (x.empty())
        x = toFloats(*plan.activations);
      entry.rowsScaledBy = divisor->second.second;
      measureOriginalOutput(x, tokens, original[layer.name],
                            divisor->second.first, s, quantized.layers[i],
                            options_.threads, options_.cancel, entry);
      rowDivisors_.erase(divisor);
    }
    // Written now and dropped: memory stays at one group's worth.
    const AwqLayerTensors packed =
        packAwqLayer(quantized.layers[i], layer.name);
    std::vector<TensorRef> refs;
    packed.appendRefs(layer.weights, refs);
    for (const TensorRef &ref : refs)
      writeTensor(ref.name, ref.data, ref.size);
    if (options_.keepLayers)
      result_.quantized[layer.weights] = std::move(quantized.layers[i]);
  }
  out.seconds = secondsSince(start);
  doneWork_ += plan.work;
  // Durable before the journal says the group is finished.
  checkpoint_->sync();
  FinishedGroup finished;
  finished.step = step;
  finished.report = out;
  finished.report.widthErrors.clear(); // Journaled when measured.
  for (const PlannedLayer &layer : plan.layers)
    finished.layers.push_back(layerReports_.at(layer.name));
  finished.tensors = std::move(groupTensors_);
  finished.sha256 = sha256Hex(groupHash_.final());

  ModelProgress progress;
  progress.phase = ModelProgress::Phase::GroupDone;
  progress.group = step;
  progress.groupName = plan.name;
  progress.stage = QuantizeStage::Finalize;
  progress.groupFraction = 1.0;
  progress.fraction = totalWork_ ? double(doneWork_) / double(totalWork_) : 1;
  report(progress);
  return finished;
}

void ModelQuantizer::writeCheckpoint(const std::string &dir) {
  ModelProgress progress;
  progress.phase = ModelProgress::Phase::Writing;
  progress.group = plan_.order.size();
  progress.fraction = 1.0;
  report(progress);

  // Unquantized tensors pass through, floating ones as F16 (as AutoAWQ
  // writes them); norm weights carry their folded 1/s. One at a time.
  for (const std::string &name : plan_.passThrough) {
    throwIfCancelled(options_.cancel, "awqc quantize");
    const TensorView &view = plan_.weights->get(name);
    auto folded = foldedTensors_.find(name);
    if (folded != foldedTensors_.end()) {
      checkpoint_->write(name, folded->second.data(),
                         folded->second.size() * sizeof(uint16_t));
      foldedTensors_.erase(folded);
    } else if (view.dtype == DType::BF16 || view.dtype == DType::F32) {
      const std::vector<uint16_t> halfs = toHalfsChecked(
          toFloats(view), std::string(view.file) + ": tensor '" + name + "'");
      checkpoint_->write(name, halfs.data(), halfs.size() * sizeof(uint16_t));
    } else {
      checkpoint_->write(name, view.data, view.size);
    }
  }

  throwIfCancelled(options_.cancel, "awqc quantize");
  const WrittenCheckpoint written = checkpoint_->commit();
  result_.files = written.files;
  if (!written.index.empty())
    result_.files.push_back(written.index);

  json config = plan_.config.is_object() ? plan_.config : json::object();
  config.erase("quantization_config");
  if (!config.empty())
    config["torch_dtype"] = "float16";
  QuantizationConfig quantization;
  quantization.method = QuantMethod::Awq;
  quantization.bits = plan_.settings.bits;
  quantization.groupSize = plan_.settings.groupSize;
  quantization.zeroPoint = plan_.settings.zeroPoint;
  // A mixed checkpoint lists the groups that differ; AutoAWQ would read
  // them with one width, so it is marked as awqc's layout.
  for (const PlannedGroup &group : plan_.groups)
    if (group.settings.bits != quantization.bits ||
        group.settings.groupSize != quantization.groupSize)
      for (const PlannedLayer &layer : group.layers)
        quantization.layers[layer.weights] = {group.settings.bits,
                                              group.settings.groupSize};
  quantization.version = plan_.settings.bits == 4 && quantization.layers.empty()
                             ? kAwqGemmVersion
                             : kAwqcGemmVersion;
  config["quantization_config"] = awqQuantizationConfigJson(quantization);
  writeFileAtomically((fs::path(dir) / "config.json").string(),
                      config.dump(2) + "\n");
  result_.files.push_back("config.json");

  writeQuantizedDescription(plan_, scaleOfGroup_,
                            (fs::path(dir) / "model.json").string());
  result_.files.push_back("model.json");
}

} // namespace

const char *clipSearchName(ClipSearchKind kind) {
  switch (kind) {
  case ClipSearchKind::AutoAwq:
    return "autoawq";
  case ClipSearchKind::Asymmetric:
    return "asymmetric";
  case ClipSearchKind::Exhaustive:
    return "exhaustive";
  }
  return "?";
}

ClipSearchKind resolvedClipSearch(QuantizeMethod method,
                                  std::optional<ClipSearchKind> requested) {
  if (requested)
    return *requested;
  return method == QuantizeMethod::Awq ? ClipSearchKind::Asymmetric
                                       : ClipSearchKind::AutoAwq;
}

WorkingMemoryEstimate estimateWorkingMemory(const ModelQuantizeOptions &options,
                                            const ModelPlan &plan) {
  // Layers whose rows absorb another group's 1/s: quantizeGroup keeps their
  // original and divided fp32 weights, the fp32 activations and the
  // measurement's delta besides what quantizeInputGroup holds.
  std::set<std::string> dividedRows;
  for (const PlannedGroup &group : plan.groups)
    if (group.destination == ScaleDestination::LinearRows)
      dividedRows.insert(group.target);
  WorkingMemoryEstimate estimate;
  for (const PlannedGroup &group : plan.groups) {
    const QuantizeOptions qo = groupQuantizeOptions(options, group);
    const int64_t t = group.activations->shape[0], k = group.k;
    std::vector<int64_t> rows;
    bool anyClipped = false;
    uint64_t extra = 0, divided = 0;
    for (const PlannedLayer &layer : group.layers) {
      rows.push_back(layer.n);
      anyClipped = anyClipped || !layer.skipClip;
      const uint64_t nk =
          static_cast<uint64_t>(layer.n) * static_cast<uint64_t>(k);
      extra += nk; // The packed layer, written and dropped.
      if (dividedRows.count(layer.name))
        divided += 4 * nk + 4 * nk + 4 * nk +
                   OutputLoss::workingBytes(t, k, 3 * layer.n, layer.n);
    }
    if (divided)
      divided += 4 * static_cast<uint64_t>(t) * static_cast<uint64_t>(k);
    const uint64_t bytes =
        groupWorkingBytes(rows, k, t, group.activations->dtype == DType::F32,
                          anyClipped, qo) +
        extra + divided;
    if (bytes > estimate.bytes) {
      estimate.bytes = bytes;
      estimate.group = group.name;
    }
  }
  return estimate;
}

OutputRules quantizeOutputRules(const ModelQuantizeOptions &options) {
  OutputRules rules;
  rules.command = "awqc quantize";
  rules.force = options.overwrite;
  rules.inputs = {options.model, options.calibration};
  rules.isEarlierOutput = [](const fs::path &dir) {
    return fs::exists(dir / "model.json") &&
           fileContains(dir / "config.json", "\"quantization_config\"");
  };
  rules.earlierOutput =
      "a checkpoint directory holding model.json and a config.json with "
      "quantization_config";
  return rules;
}

namespace {

/// The state of this run (QuantizeJournal): an interrupted run's, checked
/// against `fingerprint`, with --resume; else a new one.
std::unique_ptr<QuantizeJournal>
openRunState(const ModelQuantizeOptions &options,
             const RunFingerprint &fingerprint, size_t groupCount) {
  const std::string dir = QuantizeJournal::directoryFor(options.output);
  std::error_code ec;
  const bool exists = fs::exists(dir, ec);
  if (options.resume) {
    if (!exists)
      throw Error(options.output +
                  ": nothing to resume: no interrupted awqc quantize left "
                  "its state in " +
                  dir + "; run without --resume");
    std::unique_ptr<QuantizeJournal> journal = QuantizeJournal::open(dir);
    const std::vector<std::string> differences =
        fingerprintDifferences(journal->fingerprint(), fingerprint);
    if (!differences.empty()) {
      std::string list;
      for (const std::string &difference : differences)
        list += "\n  " + difference;
      throw Error(options.output +
                  ": cannot resume: the interrupted run (state in " + dir +
                  ") had other inputs or options:" + list +
                  "\nrerun with the same ones, or without --resume and "
                  "with --force to discard it and start over");
    }
    if (!fs::is_directory(journal->checkpointDirectory(), ec)) {
      // It had finished: the checkpoint was renamed into place.
      journal->remove();
      throw Error(options.output + ": nothing to resume: the interrupted "
                                   "run had completed its output");
    }
    // Back to the state before commit(): shards renamed into place go
    // back to their partial names, other files are written again.
    for (const fs::directory_entry &entry :
         fs::directory_iterator(journal->checkpointDirectory())) {
      const fs::path path = entry.path();
      const std::string name = path.filename().string();
      const std::string suffix = ".safetensors";
      if (name.size() > suffix.size() &&
          name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
        fs::rename(path, path.string() + ".partial");
      else if (path.extension() != ".partial")
        fs::remove_all(path);
    }
    return journal;
  }
  if (exists) {
    if (!options.overwrite) {
      size_t finished = 0;
      {
        std::unique_ptr<QuantizeJournal> journal = QuantizeJournal::open(dir);
        for (const nlohmann::json &record : journal->records())
          finished += record.value("kind", "") == "group" ? 1 : 0;
        if (journal->recordCount() == 0)
          journal->remove(); // Nothing finished: nothing to lose.
      }
      if (fs::exists(dir, ec))
        throw Error(options.output +
                    ": an interrupted awqc quantize left "
                    "its state in " +
                    dir + " (" + std::to_string(finished) + " of " +
                    std::to_string(groupCount) +
                    " input groups finished); pass --resume to continue it, "
                    "or --force to discard it and start over");
    } else {
      QuantizeJournal::discard(dir);
    }
  }
  return QuantizeJournal::create(dir, fingerprint);
}

/// Removes the run's state while another error is on its way out: that one
/// is the error to report.
void removeQuietly(QuantizeJournal &journal) {
  try {
    journal.remove();
  } catch (const Error &) {
  }
}

} // namespace

ModelQuantizeResult quantizeModel(const ModelQuantizeOptions &options) {
  const Clock::time_point start = Clock::now();
  if (options.threads < 0)
    throw Error("--threads must be positive, got " +
                std::to_string(options.threads));
  if (options.threads > 0 && openblas_set_num_threads)
    openblas_set_num_threads(options.threads);

  // Everything that can be checked up front is, before minutes of work.
  checkOutputDirectory(options.output, quantizeOutputRules(options));
  ModelPlanOptions planOptions;
  planOptions.model = options.model;
  planOptions.calibration = options.calibration;
  planOptions.settings = options.settings;
  planOptions.method = options.method;
  planOptions.foldOnly = options.foldOnly;
  planOptions.copyUnlisted = options.copyUnlisted;
  ModelPlan plan = planModelQuantization(planOptions);
  if (options.targetBits && options.settings.bits)
    throw Error("--target-bits chooses each input group's bits; it cannot be "
                "combined with --bits");

  std::unique_ptr<QuantizeJournal> journal =
      openRunState(options, runFingerprint(options, plan), plan.groups.size());
  const std::string journalPath =
      (fs::path(journal->path()) / "journal").string();
  // What an interrupted run journaled, by step and by measured group.
  std::map<size_t, FinishedGroup> finished;
  std::map<size_t, std::vector<std::pair<int, double>>> measuredBefore;
  for (size_t i = 0; i < journal->records().size(); ++i) {
    const nlohmann::json &record = journal->records()[i];
    const std::string where = journalPath + ": record " + std::to_string(i + 1);
    if (record.value("kind", "") == "widths") {
      auto measured = measuredWidthsFromJson(record, where);
      measuredBefore[measured.first] = std::move(measured.second);
    } else {
      FinishedGroup group = finishedGroupFromJson(record, where);
      if (group.step != finished.size() || group.step >= plan.order.size())
        throw Error(where + ": step " + std::to_string(group.step) +
                    " is out of order");
      finished.emplace(group.step, std::move(group));
    }
  }

  // Ctrl-C or SIGTERM keeps what is finished for --resume (a killed process
  // keeps it anyway); any other error removes it, as it would recur.
  bool keepState = false;
  try {
    // Mixed precision: measure every free group at every width, then
    // choose; each measurement is journaled.
    std::optional<MixedPrecisionReport> mixed;
    std::vector<std::vector<std::pair<int, double>>> widthErrors(
        plan.groups.size());
    if (options.targetBits) {
      const Clock::time_point measureStart = Clock::now();
      std::vector<WidthCandidates> candidates;
      size_t free = 0, measured = 0;
      for (const PlannedGroup &group : plan.groups)
        free += group.bitsPinned ? 0 : 1;
      for (const PlannedGroup &group : plan.groups) {
        WidthCandidates entry;
        entry.weights = group.work;
        if (group.bitsPinned) {
          entry.bits = {group.settings.bits};
          entry.errors = {0.0};
        } else {
          throwIfCancelled(options.cancel, "awqc quantize");
          auto before = measuredBefore.find(group.index);
          if (before != measuredBefore.end()) {
            widthErrors[group.index] = before->second;
          } else {
            if (options.onProgress) {
              ModelProgress measuring;
              measuring.phase = ModelProgress::Phase::Measuring;
              measuring.group = measured;
              measuring.groupCount = free;
              measuring.groupName = group.name;
              measuring.fraction = double(measured) / double(free);
              options.onProgress(measuring);
            }
            widthErrors[group.index] = measureWidths(options, group);
            journal->append(
                measuredWidthsToJson(group.index, widthErrors[group.index]));
          }
          ++measured;
          for (const auto &[bits, error] : widthErrors[group.index]) {
            entry.bits.push_back(bits);
            entry.errors.push_back(error);
          }
        }
        candidates.push_back(std::move(entry));
      }
      const WidthAllocation allocation =
          allocateWidths(candidates, *options.targetBits);
      for (PlannedGroup &group : plan.groups)
        group.settings.bits = allocation.bits[group.index];
      plan.settings = dominantSettings(plan);
      mixed =
          MixedPrecisionReport{*options.targetBits, allocation.averageBits,
                               allocation.error, secondsSince(measureStart)};
    }
    const WorkingMemoryEstimate memory = estimateWorkingMemory(options, plan);
    if (options.onProgress) {
      ModelProgress planned;
      planned.phase = ModelProgress::Phase::Planned;
      planned.groupCount = plan.order.size();
      planned.groupName = memory.group;
      planned.workingMemoryBytes = memory.bytes;
      planned.resumedGroups = finished.size();
      options.onProgress(planned);
    }

    ModelQuantizeResult result;
    result.model = options.model;
    result.calibration = options.calibration;
    result.output = options.output;
    result.settings = plan.settings;
    result.mixed = isMixedPrecision(plan);
    result.mixedPrecision = mixed;
    result.method = options.method;
    result.formula = options.formula;
    result.clipSearch = resolvedClipSearch(options.method, options.clipSearch);
    result.scaleScreenRows =
        searchesScales(options.method) ? options.scaleScreenRows : 0;
    result.gptqAwareScales =
        options.method == QuantizeMethod::AwqGptq && options.gptqAwareScales;
    result.clip = options.clip && searchesScales(options.method);
    result.foldOnly = options.foldOnly;
    result.actOrder = options.actOrder && usesGptq(options.method);
    result.estimatedWorkingMemory = memory.bytes;
    result.resumedGroups = finished.size();
    result.groups.resize(plan.groups.size());
    for (size_t g = 0; g < plan.groups.size(); ++g)
      result.groups[g].widthErrors = widthErrors[g];

    throwIfCancelled(options.cancel, "awqc quantize");
    ModelQuantizer quantizer(options, plan, result);
    quantizer.openCheckpoint(journal->checkpointDirectory());
    keepState = true; // A damaged state is reported, not removed.
    for (const auto &[step, group] : finished)
      quantizer.restoreGroup(group, journalPath);
    keepState = false;
    for (size_t step = finished.size(); step < plan.order.size(); ++step) {
      throwIfCancelled(options.cancel, "awqc quantize");
      journal->append(finishedGroupToJson(quantizer.quantizeGroup(step)));
      if (options.afterGroupJournaled)
        options.afterGroupJournaled(step + 1);
    }
    for (const std::string &layer : plan.layers)
      result.layers.push_back(quantizer.layerReport(layer));
    quantizer.writeCheckpoint(journal->checkpointDirectory());

    throwIfCancelled(options.cancel, "awqc quantize");
    StagingDirectory staging(options.output, quantizeOutputRules(options),
                             journal->checkpointDirectory());
    staging.commit();
    journal->remove();
    result.seconds = secondsSince(start);
    return result;
  } catch (const Cancelled &) {
    if (!keepState && journal->recordCount() == 0)
      removeQuietly(*journal);
    throw;
  } catch (...) {
    if (!keepState)
      removeQuietly(*journal);
    throw;
  }
}

} // namespace awq
