//===- QuantizeModel.h - Quantize a whole model into an AWQ checkpoint ----===//
//
// The library behind `awqc quantize`: runs awq::quantizeInputGroup on every
// input group of an FP16 model with its calibration activations, folds each
// group's 1/s into the op that produces its input (a norm weight, or the
// output rows of v_proj / up_proj), keeps it as an explicit activation scale
// where no producer can absorb it, and writes an AutoAWQ-format checkpoint
// (config.json, safetensors, model.json) through a temporary directory that
// is renamed into place only when complete.
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_COMPILER_QUANTIZE_QUANTIZEMODEL_H
#define AWQ_COMPILER_QUANTIZE_QUANTIZEMODEL_H

#include "compiler/frontend/OutputStaging.h"
#include "compiler/quantize/Awq.h"
#include "compiler/quantize/ModelPlan.h"
#include "runtime/support/QuantizedLinear.h"

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace awq {

/// Progress of the whole run, reported from the calling thread.
struct ModelProgress {
  /// Measuring: --target-bits quantizes a group at every candidate width
  /// (group counts the free groups). Planned: once, before the quantization
  /// proper, with the memory estimate.
  enum class Phase { Measuring, Planned, Quantizing, GroupDone, Writing };
  Phase phase = Phase::Quantizing;
  size_t group = 0; ///< 0-based index in processing order.
  size_t groupCount = 0;
  std::string groupName;
  std::string layer; ///< Current layer, when the stage has one.
  QuantizeStage stage = QuantizeStage::Statistics;
  double groupFraction = 0.0;
  /// Planned: estimateWorkingMemory's bytes (groupName is its group).
  uint64_t workingMemoryBytes = 0;
  /// Fraction of all groups' work (weighted by their weight count).
  double fraction = 0.0;
  /// Planned, with --resume: groups an interrupted run finished, kept.
  size_t resumedGroups = 0;
};

/// The clip search's candidate sets (docs/quantization.md, "Clip search").
enum class ClipSearchKind {
  /// AutoAWQ's: symmetric thresholds, shrink 1.00 down to 0.55 in steps of
  /// 0.05 (ClipShape::Symmetric, no refinement).
  AutoAwq,
  /// Lower and upper bound shrunk apart: the pairs of every second step,
  /// the steps between around the best pair, then steps of 0.0125 around
  /// the best (ClipShape::Asymmetric, clipGridStride 2, clipRefine 4); with
  /// --symmetric grids, symmetric thresholds refined the same way.
  Asymmetric,
  /// As Asymmetric over every pair of steps (clipGridStride 1): twice the
  /// candidates, for a slightly lower error.
  Exhaustive,
};

/// The name of a clip search on the command line and in reports.
const char *clipSearchName(ClipSearchKind kind);

/// The clip search a run uses: `requested`, or the method's default
/// (Asymmetric for awq; AutoAwq for awq-gptq, where the asymmetric search
/// did not lower the held-out error after GPTQ).
ClipSearchKind resolvedClipSearch(QuantizeMethod method,
                                  std::optional<ClipSearchKind> requested);

struct ModelQuantizeOptions {
  std::string model;       ///< Hugging Face directory or model description.
  std::string calibration; ///< Calibration safetensors file.
  std::string output;      ///< Checkpoint directory to create.
  QuantSettingsOverride settings;
  QuantizeMethod method = QuantizeMethod::Awq;
  ScaleFormula formula = ScaleFormula::Duo;
  bool clip = true;
  /// The clip search's candidates; unset: Asymmetric for awq, AutoAwq for
  /// awq-gptq (resolvedClipSearch).
  std::optional<ClipSearchKind> clipSearch;
  /// Groups of more than twice this many output rows screen the scale
  /// ratios on this many rows and decide among the best three on all rows
  /// (QuantizeOptions::scaleScreenRows; 0: every ratio on all rows).
  int64_t scaleScreenRows = 1024;
  /// awq-gptq: choose the AWQ ratio by the output error after GPTQ
  /// (QuantizeOptions::gptqScaleCandidates = 4, 256 rows per linear).
  bool gptqAwareScales = true;
  /// Search scales only for groups whose 1/s folds into their producer, so
  /// the checkpoint needs no activation scale tensor (AutoAWQ's behaviour;
  /// the result loads unchanged in AutoAWQ, vLLM and transformers).
  bool foldOnly = false;
  /// GPTQ methods: visit columns by decreasing Hessian diagonal.
  bool actOrder = false;
  /// Mixed precision: choose each input group's bits among 3, 4 and 8 so
  /// the average bits per weight is at most this (allocateWidths). Groups
  /// whose layers give "quantize".bits keep them. Not with settings.bits.
  std::optional<double> targetBits;
  /// A model description's checkpoint: also copy the tensors it does not
  /// name (ModelPlanOptions::copyUnlisted).
  bool copyUnlisted = false;
  int threads = 0;            ///< 0: every hardware thread.
  uint64_t maxShardBytes = 0; ///< 0: a single model.safetensors.
  /// Replace an existing output directory, if it is an earlier output of
  /// awqc quantize (quantizeOutputRules).
  bool overwrite = false;
  /// Continue the interrupted run whose state (QuantizeJournal) is next to
  /// `output`: same inputs and options, finished groups are not redone.
  bool resume = false;
  /// Return every layer quantized by this call (not those a resumed run
  /// kept) in ModelQuantizeResult::quantized.
  bool keepLayers = false;
  std::function<void(const ModelProgress &)> onProgress;
  /// When set, the run throws awq::Cancelled soon and leaves no output
  /// (only the state for --resume, once a group is finished).
  const std::atomic<bool> *cancel = nullptr;
  /// Tests: called with the number of finished groups each time one is
  /// journaled (durably), e.g. to kill the run there.
  std::function<void(size_t)> afterGroupJournaled;
};

struct GroupQuantReport {
  std::string name;
  std::vector<std::string> layers;
  UniformQuantSettings settings; ///< Its bits and group size.
  QuantizeMethod method = QuantizeMethod::Awq;
  /// --target-bits: the summed relative output error of the group's layers
  /// quantized at each candidate width (empty when not measured).
  std::vector<std::pair<int, double>> widthErrors;
  int64_t k = 0;
  int64_t tokens = 0;
  bool scaleSearched = false;
  double ratio = 0.0;
  std::vector<double> ratioLosses;
  /// A screened scale search's sample and finalists (GroupResult).
  int64_t scaleScreenRows = 0;
  std::vector<double> finalistRatios, finalistLosses;
  /// The GPTQ-aware choice's candidates and losses (GroupResult).
  std::vector<double> gptqRatios, gptqRatioLosses;
  ScaleDestination destination = ScaleDestination::None;
  /// The tensor or layer that absorbed 1/s (or the activation scale tensor).
  std::string target;
  std::vector<float> scales; ///< s [K]; all ones when not searched.
  double seconds = 0.0;
};

struct LayerQuantReport {
  std::string name;
  std::string group;
  int64_t n = 0, k = 0;
  int bits = 4;
  int64_t groupSize = 128; ///< As written (-1: one group per column).
  QuantizeMethod method = QuantizeMethod::Awq;
  /// As awq::LayerReport, always measured on the layer's original output:
  /// for a layer whose rows absorbed the next group's 1/s the fold is undone
  /// before comparing.
  double outputMeanSquare = 0.0;
  double rtnError = 0.0;
  double awqError = 0.0;
  double ratio = 0.0;
  ClipStats clip;
  /// The input group whose 1/s was divided into this layer's output rows.
  std::string rowsScaledBy;
};

/// What --target-bits chose.
struct MixedPrecisionReport {
  double targetBits = 0.0;
  /// Weight-count-weighted mean of the code widths (scales and zeros not
  /// counted).
  double averageBits = 0.0;
  /// Sum over the groups of their measured error at the chosen width.
  double predictedError = 0.0;
  double measureSeconds = 0.0;
};

struct ModelQuantizeResult {
  std::string model, calibration, output;
  /// The settings of most weights; layers may differ (mixed).
  UniformQuantSettings settings;
  bool mixed = false; ///< Some layers' bits or group size differ.
  std::optional<MixedPrecisionReport> mixedPrecision;
  QuantizeMethod method = QuantizeMethod::Awq;
  ScaleFormula formula = ScaleFormula::Duo;
  bool clip = true;
  ClipSearchKind clipSearch = ClipSearchKind::AutoAwq;
  int64_t scaleScreenRows = 0;  ///< ModelQuantizeOptions' (scale searches).
  bool gptqAwareScales = false; ///< Used (awq-gptq only).
  bool foldOnly = false;
  bool actOrder = false;
  std::vector<GroupQuantReport> groups; ///< In description order.
  std::vector<LayerQuantReport> layers; ///< In description order.
  /// Every quantized layer by tensor prefix (the name importAwqCheckpoint
  /// gives it), exactly as written (keepLayers only).
  std::map<std::string, QuantizedLinear> quantized;
  std::vector<std::string> files; ///< Files written, relative to `output`.
  uint64_t checkpointBytes = 0;   ///< Tensor data bytes written.
  /// estimateWorkingMemory's bytes for this run.
  uint64_t estimatedWorkingMemory = 0;
  /// --resume: groups the interrupted run had finished (not redone).
  size_t resumedGroups = 0;
  double seconds = 0.0;
};

/// The heap the run needs at most: one input group's working set (the
/// largest), since layers are written as they are done. The mapped model
/// and calibration files come on top (their pages are the kernel's to
/// drop). An upper bound, checked against the allocator's peak in tests.
struct WorkingMemoryEstimate {
  uint64_t bytes = 0;
  std::string group; ///< The input group that needs it.
};
WorkingMemoryEstimate estimateWorkingMemory(const ModelQuantizeOptions &options,
                                            const ModelPlan &plan);

/// Runs the whole quantization. Throws awq::Error naming the file, tensor,
/// group or field on bad input (before any work where it can be checked
/// up front), and awq::Cancelled when `cancel` is set. Nothing is ever left
/// at `output` unless complete. Next to it, `.<name>.awqc-partial` holds the
/// run's state (QuantizeJournal.h): kept when cancelled after a group was
/// finished, or when the process dies, so that `resume` continues; removed
/// on success and on any other error. Without `resume`, an existing state
/// is refused unless `overwrite` (which discards it); with `resume`, a
/// missing state or one whose fingerprint differs is refused.
ModelQuantizeResult quantizeModel(const ModelQuantizeOptions &options);

/// What quantizeModel may replace at `options.output`: with --force, only an
/// earlier checkpoint of awqc quantize, and never the model or calibration.
OutputRules quantizeOutputRules(const ModelQuantizeOptions &options);

} // namespace awq

#endif // AWQ_COMPILER_QUANTIZE_QUANTIZEMODEL_H
