//===- Awq.h - Activation-aware weight quantization of one input group ----===//
//
// AWQ (Lin et al., MLSys 2024) as implemented by llm-awq and AutoAWQ, for one
// *input group*: the linears that read the same activations (q/k/v, gate/up,
// or a single linear). Given their weights and calibration activations it
// searches one per-input-channel scale s for the group and per-(channel,
// group) clipping thresholds, and returns each layer quantized as Q(W * s).
// The caller must divide the group's input by s: fold 1/s into the producer
// (a norm weight, the previous linear's output rows) or keep it as the
// layer's explicit activation scale (see activationScaleFromScales).
//
// Everything is in memory; there is no file I/O here. docs/quantization.md
// describes the algorithm, the loss and the calibration file format.
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_COMPILER_QUANTIZE_AWQ_H
#define AWQ_COMPILER_QUANTIZE_AWQ_H

#include "compiler/quantize/Cancellation.h"
#include "compiler/quantize/Gptq.h"
#include "runtime/support/QuantizedLinear.h"

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace awq {

/// Element types accepted for weights, biases and activations (the names of
/// the matching safetensors dtypes).
enum class ElementType { F16, BF16, F32 };

/// A non-owning row-major matrix; the memory must outlive the call using it.
struct MatrixView {
  const void *data = nullptr;
  ElementType type = ElementType::F32;
  int64_t rows = 0;
  int64_t cols = 0;
};

/// A non-owning vector; data == nullptr means "absent".
struct VectorView {
  const void *data = nullptr;
  ElementType type = ElementType::F32;
  int64_t size = 0;
};

/// One linear layer of an input group.
struct LinearLayerInput {
  std::string name;  ///< E.g. "model.layers.0.self_attn.q_proj".
  MatrixView weight; ///< [N, K], Hugging Face layout (out x in).
  VectorView bias;   ///< [N] or absent.
  /// Skip the clip search (llm-awq/AutoAWQ skip q_proj and k_proj: their
  /// outputs meet in the attention scores, where the per-layer loss used by
  /// the clip search is a poor proxy).
  bool skipClip = false;
};

/// Linears that share one input, and calibration samples of that input.
struct LinearGroupInput {
  std::string name;                     ///< Used in messages and reports.
  std::vector<LinearLayerInput> layers; ///< All with the same K.
  MatrixView activations;               ///< [T, K] calibration tokens.
};

/// How the candidate scales are formed from the ratio r in [0, 1).
enum class ScaleFormula {
  /// Paper / llm-awq: s = x_mean^r.
  ActivationOnly,
  /// AutoAWQ's default duo_scaling: s = x_mean^r / (w_mean^(1-r) + 1e-4),
  /// w_mean = mean over output rows of |W| / (group absmax + 1e-6).
  Duo,
};

/// The phases of quantizeInputGroup, in order.
enum class QuantizeStage {
  Statistics,
  Baseline,
  ScaleSearch,
  ClipSearch,
  Finalize
};

/// Human-readable stage name ("scale search", ...).
const char *stageName(QuantizeStage stage);

/// Reported after every unit of work (one scale candidate, one clip group of
/// one layer, ...), always from the calling thread.
struct QuantizeProgress {
  std::string group; ///< LinearGroupInput::name.
  std::string layer; ///< Current layer, empty for group-wide stages.
  QuantizeStage stage = QuantizeStage::Statistics;
  int64_t done = 0;  ///< Units finished over the whole group.
  int64_t total = 1; ///< Units in the whole group (fixed per call).
  double fraction() const {
    return total > 0 ? double(done) / double(total) : 1.0;
  }
};

/// How the clip search shapes its candidate thresholds.
enum class ClipShape {
  /// AutoAWQ's: clamp to [-max_val, max_val], max_val = absmax * shrink.
  Symmetric,
  /// Zero-point grids only: the lower and the upper bound are shrunk
  /// separately, on a 2-D grid of (lower, upper) shrinks (plus the symmetric
  /// candidates), since the grid's zero point lets either end move alone.
  /// With --symmetric grids this falls back to Symmetric.
  Asymmetric,
};

/// Settings of quantizeInputGroup; the defaults are AutoAWQ's (duo scaling,
/// 20 ratios, 10 clip steps of 1/20, 512 clip tokens) except where noted.
struct QuantizeOptions {
  QuantParams params;
  /// false: s = 1 (no scale search).
  bool searchScales = true;
  /// false: no clipping at all.
  bool searchClip = true;
  ScaleFormula formula = ScaleFormula::Duo;
  /// Ratios tried: i / scaleGridSize for i = 0 .. scaleGridSize - 1.
  int scaleGridSize = 20;
  /// Groups of more than 2 * scaleScreenRows output rows score every ratio
  /// on scaleScreenRows evenly spaced rows, then the scaleFinalists best on
  /// all rows, which decide (0: every ratio on all rows, as AutoAWQ).
  int64_t scaleScreenRows = 0;
  int scaleFinalists = 3;
  /// Clip candidates: max_val = absmax * (1 - i / clipGridSize) for
  /// i = 0 .. clipSteps - 1 (defaults: shrink 1.00 down to 0.55).
  int clipGridSize = 20;
  int clipSteps = 10;
  ClipShape clipShape = ClipShape::Symmetric;
  /// After the coarse candidates, each group's best is refined on a grid
  /// clipRefine times finer, up to half a coarse step on either side of it
  /// (per bound for Asymmetric). 0: no refinement (AutoAWQ).
  int clipRefine = 0;
  /// Asymmetric only: the 2-D grid pairs every clipGridStride-th shrink of
  /// each bound, then the full-step neighbours of its best within the
  /// stride are scored (2: 25 + 8 candidates instead of 100 for 10 steps).
  int clipGridStride = 1;
  /// Quantize with GPTQ (error compensation through the Hessian of the
  /// group's scaled activations) instead of round-to-nearest, after the
  /// scale search and clipping (if any): `--method gptq` (no scale search)
  /// and `--method awq-gptq`.
  bool gptq = false;
  GptqOptions gptqOptions;
  /// With gptq and a scale search (awq-gptq): choose the ratio by the
  /// output error after GPTQ instead of after round-to-nearest, among the
  /// round-to-nearest choice r* and gptqScaleCandidates - 1 grid ratios
  /// spread evenly over [0, r*] (GPTQ favours milder scales), measured on up
  /// to gptqScaleRows rows of each linear, evenly spaced, without clipping.
  /// 0 or 1: the round-to-nearest choice (AutoAWQ's).
  int gptqScaleCandidates = 0;
  int64_t gptqScaleRows = 256;
  /// Tokens used by the clip search, sub-sampled evenly from the set.
  int64_t clipMaxTokens = 512;
  /// Threads for elementwise work (0 = all hardware threads). BLAS uses its
  /// own thread pool (OPENBLAS_NUM_THREADS).
  int numThreads = 0;
  /// When non-empty ([K], positive): use these scales instead of searching
  /// (e.g. scales found by searchGroupScales before the caller folded
  /// another group's 1/s into these weights' rows, as AutoAWQ does for
  /// v_proj -> o_proj and up_proj -> down_proj).
  std::vector<float> fixedScales;
  /// Optional; called from the calling thread. May throw to abort.
  std::function<void(const QuantizeProgress &)> onProgress;
  /// Optional; when it becomes true the call throws awq::Cancelled soon.
  const std::atomic<bool> *cancel = nullptr;

  /// Round-to-nearest baseline: the same quantizer without any search.
  static QuantizeOptions rtn(const QuantParams &params) {
    QuantizeOptions o;
    o.params = params;
    o.searchScales = false;
    o.searchClip = false;
    return o;
  }
};

/// Clip statistics of one layer.
struct ClipStats {
  bool searched = false;     ///< false: skipped (skipClip) or disabled.
  int64_t groups = 0;        ///< (output channel, group) pairs.
  int64_t clippedGroups = 0; ///< Pairs whose chosen shrink is < 1.
  double meanShrink = 1.0;   ///< Mean ClipResult::shrink (clipped range).
  double minShrink = 1.0;
  /// Sum over pairs of the token-mean squared error of the group's partial
  /// output, without clipping and with the chosen clip.
  double lossBefore = 0.0;
  double lossAfter = 0.0;
};

/// What happened to one layer.
struct LayerReport {
  std::string name;
  int64_t n = 0, k = 0;
  /// Mean over calibration tokens and output features of (x W^T)^2, for
  /// relating the errors below to the output's magnitude.
  double outputMeanSquare = 0.0;
  /// Output MSE of RTN: mean_{t,n} (x Q(W)^T - x W^T)^2.
  double rtnError = 0.0;
  /// Output MSE of the result: mean_{t,n} ((x/s) Q(clip(W s))^T - x W^T)^2.
  double awqError = 0.0;
  double ratio = 0.0; ///< The group's chosen ratio (0 when not searched).
  ClipStats clip;
};

/// The result for one input group.
struct GroupResult {
  std::string name;
  /// In LinearGroupInput::layers order; weights are Q(clip(W * s)).
  std::vector<QuantizedLinear> layers;
  /// s [K]: the weights were multiplied by s, so the input must be divided
  /// by s. options.fixedScales when given; all ones when the search is off.
  std::vector<float> scales;
  bool scaleSearched = false;
  double ratio = 0.0;
  /// Loss of each candidate ratio (MSE over the concatenated outputs of the
  /// group's linears on all calibration tokens, on scaleScreenRows sampled
  /// rows when screened); +inf for a candidate whose scaled weights do not
  /// fit fp16 scales. Empty when not searched.
  std::vector<double> ratioLosses;
  /// Screened searches: the rows screened (0: none, ratioLosses decided),
  /// and the finalists' ratios with their loss on all rows, which decided.
  int64_t scaleScreenRows = 0;
  std::vector<double> finalistRatios, finalistLosses;
  /// The GPTQ-aware choice (gptqScaleCandidates > 1): the ratios tried, the
  /// round-to-nearest choice first, and their output MSE (on all
  /// calibration tokens) after GPTQ on the sampled rows. Empty when the
  /// choice was not made or had one candidate.
  std::vector<double> gptqRatios, gptqRatioLosses;
  std::vector<LayerReport> reports;
};

/// Quantizes one input group: scale search (unless options.fixedScales or
/// !options.searchScales), clip search, quantization, report. Throws
/// awq::Error naming the group, layer or tensor on bad input (shapes, K
/// mismatch, non-finite values, group size not dividing K, unsupported bits)
/// and awq::Cancelled on cancellation.
GroupResult quantizeInputGroup(const LinearGroupInput &group,
                               const QuantizeOptions &options);

/// Heap bytes quantizeInputGroup holds at most for a group of layers with
/// `rows` output rows each, K = `k`, `t` tokens (`activationsAreF32`: read
/// in place, else converted), an upper bound used to print the memory a run
/// needs before it starts. Per-buffer terms follow the code; tested against
/// the allocator's peak.
uint64_t groupWorkingBytes(const std::vector<int64_t> &rows, int64_t k,
                           int64_t t, bool activationsAreF32,
                           bool anyLayerClipped,
                           const QuantizeOptions &options);

/// The outcome of a scale search alone.
struct ScaleSearchResult {
  std::vector<float> scales; ///< s [K].
  double ratio = 0.0;
  /// As GroupResult's fields of the same names.
  std::vector<double> ratioLosses;
  int64_t screenRows = 0;
  std::vector<double> finalistRatios, finalistLosses;
};

/// Only the scale search of quantizeInputGroup (same loss, same choice),
/// for callers that search every group of a block on the original weights
/// before folding 1/s into producers and quantizing with fixedScales.
ScaleSearchResult searchGroupScales(const LinearGroupInput &group,
                                    const QuantizeOptions &options);

/// fp16(1 / s): the per-input-channel activation scale `a` of a layer that
/// keeps the AWQ scale explicit (y = (x .* a) W + b).
std::vector<uint16_t> activationScaleFromScales(const std::vector<float> &s);

//===----------------------------------------------------------------------===//
// Building blocks, public for tests and for callers with their own driver.
//===----------------------------------------------------------------------===//

/// x_mean[c] = mean_t |x[t, c]| for x [t, k], accumulated in fp64.
std::vector<float> meanAbsActivation(const float *x, int64_t t, int64_t k);

/// AutoAWQ's w_mean for w [rows, k] (rows of all the group's linears):
/// mean over rows of |w| / (absmax of its quantization group + 1e-6).
std::vector<float> normalizedWeightMean(const float *w, int64_t rows, int64_t k,
                                        int64_t groupSize);

/// The candidate scales for `ratio`: the formula, then max(s, 1e-4), then
/// s / sqrt(max(s) * min(s)). wMean is ignored (may be empty) for
/// ActivationOnly.
std::vector<float> candidateScales(const std::vector<float> &xMean,
                                   const std::vector<float> &wMean,
                                   double ratio, ScaleFormula formula);

/// The clip search's choice for rows of a weight matrix.
struct ClipResult {
  int64_t rows = 0;
  int64_t groups = 0;
  /// [rows, groups]: clamp the group to [minVal, maxVal] (minVal <= 0 <=
  /// maxVal; Symmetric: minVal = -maxVal).
  std::vector<float> minVal, maxVal;
  /// [rows, groups]: the clipped range over the unclipped one, (min(max,
  /// maxVal) - max(min, minVal)) / (max - min) with min, max the group's
  /// extremes widened to hold 0, as the quantization grid spans them; 1 when
  /// nothing is clipped.
  std::vector<float> shrink;
  /// [rows, groups]: token-mean squared error of the group's partial output
  /// (x_g . (Q(w_g) - w_g)) without clipping and with the chosen clip.
  std::vector<double> lossBefore;
  std::vector<double> lossAfter;
};

/// AutoAWQ's auto_clip for weights that all read the same (already scaled)
/// input. Sub-samples up to options.clipMaxTokens tokens evenly and, per
/// quantization group, scores every candidate of every row with one GEMM.
class ClipSearcher {
public:
  /// x: [t, k] calibration activations; `scales` (empty = 1) divides them,
  /// so pass the AWQ scales together with the unscaled activations.
  ClipSearcher(const float *x, int64_t t, int64_t k,
               const std::vector<float> &scales,
               const QuantizeOptions &options);

  /// Searches rows of w [rows, k] (weights already multiplied by s).
  /// `onGroup` (optional) is called after each quantization group.
  ClipResult search(const float *w, int64_t rows, const std::string &what,
                    const std::function<void()> &onGroup = {}) const;

  int64_t tokens() const { return tokens_; }

  /// Candidates a search scores per (row, group), all stages together.
  static int64_t candidatesPerGroup(const QuantizeOptions &options);

  /// Heap bytes a searcher over `t` tokens and K = `k` holds at most while
  /// it is built and searches.
  static uint64_t workingBytes(int64_t t, int64_t k,
                               const QuantizeOptions &options);

private:
  int64_t k_, tokens_;
  QuantizeOptions options_;
  std::vector<float> x_; ///< [tokens, k] sub-sampled, scaled activations.
  /// [k/G][G, G]: Cholesky factors L_g of X_g^T X_g, when used.
  std::vector<float> gram_;
  bool useGram_ = false;
};

/// Clamps w [rows, k] group-wise to [minVal, maxVal] as chosen by `clip`.
void applyClip(float *w, int64_t rows, int64_t k, int64_t groupSize,
               const ClipResult &clip);

} // namespace awq

#endif // AWQ_COMPILER_QUANTIZE_AWQ_H
