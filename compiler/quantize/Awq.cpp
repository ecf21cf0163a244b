//===- Awq.cpp - Activation-aware weight quantization of one input group --===//

#include "compiler/quantize/Awq.h"

#include "compiler/quantize/OutputLoss.h"
#include "compiler/quantize/Quantizer.h"
#include "compiler/reference/Parallel.h"
#include "runtime/support/Error.h"
#include "runtime/support/Half.h"

#include <cblas.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <limits>
#include <mutex>
#include <tuple>
#include <utility>

namespace awq {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

/// Scratch bound of the clip search's candidate matrix (2 MiB of fp32): big
/// enough for efficient BLAS calls, small enough to stay in the caches.
constexpr int64_t kClipBufferFloats = int64_t(512) << 10;

/// Rows per block when measuring the final error of a quantized layer.
constexpr int64_t kFinalizeBlockRows = 512;

const char *typeName(ElementType type) {
  switch (type) {
  case ElementType::F16:
    return "F16";
  case ElementType::BF16:
    return "BF16";
  case ElementType::F32:
    return "F32";
  }
  return "?";
}

/// All 65536 fp16 values as floats: converting a 7B model's weights through
/// the compiler's software fp16 conversion would take seconds.
const float *halfTable() {
  static const std::vector<float> table = [] {
    std::vector<float> t(65536);
    for (uint32_t h = 0; h < 65536; ++h)
      t[h] = halfToFloat(static_cast<uint16_t>(h));
    return t;
  }();
  return table.data();
}

float elementAt(const void *data, ElementType type, int64_t i) {
  switch (type) {
  case ElementType::F16:
    return halfTable()[static_cast<const uint16_t *>(data)[i]];
  case ElementType::BF16: {
    const uint32_t bits = uint32_t(static_cast<const uint16_t *>(data)[i])
                          << 16;
    float f;
    std::memcpy(&f, &bits, sizeof(f));
    return f;
  }
  case ElementType::F32:
    return static_cast<const float *>(data)[i];
  }
  return std::numeric_limits<float>::quiet_NaN();
}

void checkType(ElementType type, const std::string &what) {
  if (type != ElementType::F16 && type != ElementType::BF16 &&
      type != ElementType::F32)
    throw Error(what + ": unsupported element type " +
                std::to_string(static_cast<int>(type)) +
                " (expected F16, BF16 or F32)");
}

/// Converts `m` to fp32 into out[rows * cols], rejecting NaN and Inf.
void readMatrix(const MatrixView &m, const std::string &what, float *out,
                int numThreads) {
  parallelFor(m.rows, numThreads, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      for (int64_t c = 0; c < m.cols; ++c) {
        const float v = elementAt(m.data, m.type, r * m.cols + c);
        if (!std::isfinite(v))
          throw Error(what + ": element [" + std::to_string(r) + ", " +
                      std::to_string(c) + "] is not finite (" +
                      typeName(m.type) + ")");
        out[r * m.cols + c] = v;
      }
    }
  });
}

/// Rejects NaN and Inf in an fp32 matrix used in place.
void checkFinite(const float *x, int64_t rows, int64_t cols,
                 const std::string &what, int numThreads) {
  parallelFor(rows, numThreads, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r)
      for (int64_t c = 0; c < cols; ++c)
        if (!std::isfinite(x[r * cols + c]))
          throw Error(what + ": element [" + std::to_string(r) + ", " +
                      std::to_string(c) + "] is not finite (F32)");
  });
}

void checkMatrix(const MatrixView &m, const std::string &what,
                 const std::string &shape) {
  checkType(m.type, what);
  if (m.data == nullptr)
    throw Error(what + ": data is missing (expected " + shape + ")");
  if (m.rows <= 0 || m.cols <= 0 || m.rows > INT_MAX || m.cols > INT_MAX)
    throw Error(what + ": expected " + shape +
                " with positive dimensions below 2^31, got [" +
                std::to_string(m.rows) + ", " + std::to_string(m.cols) + "]");
}

/// err[j, :] = Q(w[r, :] * s) / s - w[r, :] for rows r of w [*, k]: r = j
/// for j < rows, or r = rowIndex[j] when rowIndex is given (err is then
/// compact); s may be null (s = 1). Returns false when some group's scale
/// overflows fp16.
bool scaledQuantizationError(const float *w, int64_t rows, int64_t k,
                             const float *s, const QuantParams &params,
                             float *err, int numThreads,
                             const int64_t *rowIndex = nullptr) {
  // Multiplying by 1/s instead of dividing is off by an fp32 ulp at most,
  // which is immaterial for ranking candidates and twice as fast.
  std::vector<float> invS(s != nullptr ? static_cast<size_t>(k) : 0);
  for (size_t c = 0; c < invS.size(); ++c)
    invS[c] = 1.0f / s[c];
  std::atomic<bool> ok{true};
  parallelFor(rows, numThreads, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end && ok.load(std::memory_order_relaxed);
         ++r) {
      const float *wr = w + (rowIndex != nullptr ? rowIndex[r] : r) * k;
      float *er = err + r * k;
      if (s != nullptr)
        for (int64_t c = 0; c < k; ++c)
          er[c] = wr[c] * s[c];
      if (!fakeQuantizeRow(s != nullptr ? er : wr, k, params, er)) {
        ok.store(false, std::memory_order_relaxed);
        return;
      }
      if (s != nullptr)
        for (int64_t c = 0; c < k; ++c)
          er[c] = er[c] * invS[c] - wr[c];
      else
        for (int64_t c = 0; c < k; ++c)
          er[c] -= wr[c];
    }
  });
  return ok.load();
}

/// sum_i z[i]^2 in fp64, over 8 independent partial sums so that the
/// additions vectorise instead of waiting on each other.
double sumOfSquares(const float *z, int64_t n) {
  constexpr int64_t kLanes = 8;
  double part[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int64_t l = 0; l < kLanes; ++l)
      part[l] += static_cast<double>(z[i + l]) * z[i + l];
  for (; i < n; ++i)
    part[0] += static_cast<double>(z[i]) * z[i];
  double total = 0.0;
  for (double v : part)
    total += v;
  return total;
}

/// Holds OpenBLAS at one thread while any scope is alive (BLAS called from
/// several of our threads at once must not start its own), restoring its
/// count when the last one ends. Other BLAS libraries have no such setting
/// and are left alone: their calls are reentrant.
class SingleThreadedBlasScope {
public:
  SingleThreadedBlasScope() {
    const Api &api = openBlas();
    if (api.set == nullptr)
      return;
    std::lock_guard<std::mutex> lock(api.mutex);
    if (api.holders++ == 0) {
      api.previous = api.get();
      api.set(1);
    }
  }
  ~SingleThreadedBlasScope() {
    const Api &api = openBlas();
    if (api.set == nullptr)
      return;
    std::lock_guard<std::mutex> lock(api.mutex);
    if (--api.holders == 0)
      api.set(api.previous);
  }
  SingleThreadedBlasScope(const SingleThreadedBlasScope &) = delete;
  SingleThreadedBlasScope &operator=(const SingleThreadedBlasScope &) = delete;

private:
  struct Api {
    Api(int (*getter)(), void (*setter)(int))
        : get(getter), set(getter != nullptr ? setter : nullptr) {}
    int (*get)() = nullptr;
    void (*set)(int) = nullptr;
    mutable std::mutex mutex;
    mutable int holders = 0, previous = 0;
  };
  static const Api &openBlas() {
    static const Api api(reinterpret_cast<int (*)()>(
                             dlsym(RTLD_DEFAULT, "openblas_get_num_threads")),
                         reinterpret_cast<void (*)(int)>(
                             dlsym(RTLD_DEFAULT, "openblas_set_num_threads")));
    return api;
  }
};

/// Reports progress and polls cancellation after each unit of work.
class ProgressTracker {
public:
  ProgressTracker(const QuantizeOptions &options, const std::string &group,
                  int64_t total)
      : options_(options) {
    state_.group = group;
    state_.total = total;
    where_ = "quantizing input group '" + group + "'";
  }

  void start() {
    throwIfCancelled(options_.cancel, where_);
    if (options_.onProgress)
      options_.onProgress(state_);
  }

  void step(QuantizeStage stage, const std::string &layer) {
    state_.done = std::min(state_.done + 1, state_.total);
    state_.stage = stage;
    state_.layer = layer;
    if (options_.onProgress)
      options_.onProgress(state_);
    throwIfCancelled(options_.cancel, where_);
  }

  const std::string &where() const { return where_; }

private:
  const QuantizeOptions &options_;
  QuantizeProgress state_;
  std::string where_;
};

void checkOptions(const QuantizeOptions &o, const std::string &what) {
  if (o.scaleGridSize < 1)
    throw Error(what + ": scaleGridSize must be >= 1, got " +
                std::to_string(o.scaleGridSize));
  if (o.clipGridSize < 1 || o.clipSteps < 1 || o.clipSteps > o.clipGridSize)
    throw Error(what +
                ": clip search needs 1 <= clipSteps <= clipGridSize, got " +
                std::to_string(o.clipSteps) + " steps of 1/" +
                std::to_string(o.clipGridSize));
  if (o.clipRefine < 0)
    throw Error(what + ": clipRefine must be >= 0, got " +
                std::to_string(o.clipRefine));
  if (o.gptqScaleCandidates < 0 || o.gptqScaleRows < 1)
    throw Error(what +
                ": the GPTQ-aware scale choice needs gptqScaleCandidates >= 0 "
                "and gptqScaleRows >= 1, got " +
                std::to_string(o.gptqScaleCandidates) + " and " +
                std::to_string(o.gptqScaleRows));
  if (o.clipMaxTokens < 1)
    throw Error(what + ": clipMaxTokens must be >= 1, got " +
                std::to_string(o.clipMaxTokens));
}

/// Factors a symmetric positive semi-definite g x g matrix as h = L L^T and
/// returns L (lower triangular, row-major, fp32). Gram matrices of
/// activations can be singular (dead channels, fewer tokens than channels):
/// a pivot below a relative tolerance marks a direction h does not see, and
/// its column of L is left zero, so e^T h e = |L^T e|^2 still holds up to
/// that tolerance.
std::vector<float> psdCholesky(const std::vector<double> &h, int64_t g) {
  double maxDiag = 0.0;
  for (int64_t i = 0; i < g; ++i)
    maxDiag = std::max(maxDiag, h[i * g + i]);
  const double tol = maxDiag * 1e-12 * static_cast<double>(g);
  std::vector<double> l(static_cast<size_t>(g * g), 0.0);
  for (int64_t j = 0; j < g; ++j) {
    double d = h[j * g + j];
    for (int64_t p = 0; p < j; ++p)
      d -= l[j * g + p] * l[j * g + p];
    if (!(d > tol))
      continue;
    const double pivot = std::sqrt(d);
    l[j * g + j] = pivot;
    for (int64_t i = j + 1; i < g; ++i) {
      double v = h[i * g + j];
      for (int64_t p = 0; p < j; ++p)
        v -= l[i * g + p] * l[j * g + p];
      l[i * g + j] = v / pivot;
    }
  }
  return std::vector<float>(l.begin(), l.end());
}

} // namespace

const char *stageName(QuantizeStage stage) {
  switch (stage) {
  case QuantizeStage::Statistics:
    return "statistics";
  case QuantizeStage::Baseline:
    return "baseline";
  case QuantizeStage::ScaleSearch:
    return "scale search";
  case QuantizeStage::ClipSearch:
    return "clip search";
  case QuantizeStage::Finalize:
    return "finalize";
  }
  return "?";
}

std::vector<uint16_t> activationScaleFromScales(const std::vector<float> &s) {
  std::vector<uint16_t> a(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (!(s[i] > 0.0f) || !std::isfinite(s[i]))
      throw Error("activationScaleFromScales: scale [" + std::to_string(i) +
                  "] must be positive and finite, got " + std::to_string(s[i]));
    const float inv = 1.0f / s[i];
    a[i] = floatToHalf(inv);
    if (!std::isfinite(halfToFloat(a[i])) || halfToFloat(a[i]) == 0.0f)
      throw Error("activationScaleFromScales: 1 / scale [" + std::to_string(i) +
                  "] = " + std::to_string(inv) +
                  " is not representable in fp16");
  }
  return a;
}

std::vector<float> meanAbsActivation(const float *x, int64_t t, int64_t k) {
  std::vector<float> mean(static_cast<size_t>(k));
  // Column blocks per thread: every thread walks all tokens once.
  parallelFor(k, 0, [&](int64_t begin, int64_t end) {
    std::vector<double> acc(static_cast<size_t>(end - begin), 0.0);
    for (int64_t r = 0; r < t; ++r)
      for (int64_t c = begin; c < end; ++c)
        acc[c - begin] += std::fabs(x[r * k + c]);
    for (int64_t c = begin; c < end; ++c)
      mean[c] = static_cast<float>(acc[c - begin] / static_cast<double>(t));
  });
  return mean;
}

std::vector<float> normalizedWeightMean(const float *w, int64_t rows, int64_t k,
                                        int64_t groupSize) {
  // A fixed number of partial sums, so the result does not depend on the
  // thread count.
  const int64_t parts = std::min<int64_t>(rows, 16);
  std::vector<std::vector<double>> partial(static_cast<size_t>(parts));
  parallelFor(parts, 0, [&](int64_t pb, int64_t pe) {
    for (int64_t p = pb; p < pe; ++p) {
      std::vector<double> acc(static_cast<size_t>(k), 0.0);
      for (int64_t r = rows * p / parts; r < rows * (p + 1) / parts; ++r) {
        const float *wr = w + r * k;
        for (int64_t g0 = 0; g0 < k; g0 += groupSize) {
          float absMax = 0.0f;
          for (int64_t c = g0; c < g0 + groupSize; ++c)
            absMax = std::max(absMax, std::fabs(wr[c]));
          const double denom = static_cast<double>(absMax) + 1e-6;
          for (int64_t c = g0; c < g0 + groupSize; ++c)
            acc[c] += std::fabs(wr[c]) / denom;
        }
      }
      partial[p] = std::move(acc);
    }
  });
  std::vector<float> mean(static_cast<size_t>(k));
  for (int64_t c = 0; c < k; ++c) {
    double sum = 0.0;
    for (const std::vector<double> &acc : partial)
      sum += acc[c];
    mean[c] = static_cast<float>(sum / static_cast<double>(rows));
  }
  return mean;
}

std::vector<float> candidateScales(const std::vector<float> &xMean,
                                   const std::vector<float> &wMean,
                                   double ratio, ScaleFormula formula) {
  if (formula == ScaleFormula::Duo && wMean.size() != xMean.size())
    throw Error("candidateScales: w_mean has " + std::to_string(wMean.size()) +
                " channels, x_mean has " + std::to_string(xMean.size()));
  if (xMean.empty())
    throw Error("candidateScales: x_mean is empty");
  std::vector<double> s(xMean.size());
  double hi = 0.0, lo = kInf;
  for (size_t c = 0; c < xMean.size(); ++c) {
    double v = std::pow(static_cast<double>(xMean[c]), ratio);
    if (formula == ScaleFormula::Duo)
      v /= std::pow(static_cast<double>(wMean[c]), 1.0 - ratio) + 1e-4;
    v = std::max(v, 1e-4);
    s[c] = v;
    hi = std::max(hi, v);
    lo = std::min(lo, v);
  }
  // Centre the scales around 1 geometrically so neither weights nor
  // activations drift far from their original range.
  const double norm = std::sqrt(hi * lo);
  std::vector<float> out(s.size());
  for (size_t c = 0; c < s.size(); ++c)
    out[c] = static_cast<float>(s[c] / norm);
  return out;
}

//===----------------------------------------------------------------------===//
// Clip search
//===----------------------------------------------------------------------===//

ClipSearcher::ClipSearcher(const float *x, int64_t t, int64_t k,
                           const std::vector<float> &scales,
                           const QuantizeOptions &options)
    : k_(k), options_(options) {
  options_.onProgress = nullptr; // Never called from here.
  checkQuantParams(options.params, k, "clip search");
  checkOptions(options, "clip search");
  if (x == nullptr || t <= 0)
    throw Error("clip search: calibration activations must be a non-empty "
                "[T, K] matrix, got T = " +
                std::to_string(t));
  if (!scales.empty() && scales.size() != static_cast<size_t>(k))
    throw Error("clip search: expected " + std::to_string(k) + " scales, got " +
                std::to_string(scales.size()));
  tokens_ = std::min(t, options.clipMaxTokens);
  x_.resize(static_cast<size_t>(tokens_ * k));
  // Evenly spaced tokens, like llm-awq's x[0::stride], but never more than
  // clipMaxTokens of them.
  for (int64_t j = 0; j < tokens_; ++j) {
    const float *src = x + (j * t / tokens_) * k;
    float *dst = x_.data() + j * k;
    for (int64_t c = 0; c < k; ++c)
      dst[c] = scales.empty() ? src[c] : src[c] / scales[c];
  }
  const int64_t g = options.params.groupSize, groups = k / g;
  // Per candidate, a G x G factor costs G*G flops against T*G for X_g e.
  useGram_ = g < tokens_;
  if (useGram_) {
    // The Gram matrices in fp64 (so that they are PSD to rounding), then
    // their Cholesky factors: e^T X_g^T X_g e = |L_g^T e|^2.
    std::vector<double> xd(x_.begin(), x_.end());
    std::vector<double> h(static_cast<size_t>(groups * g * g));
    // BLAS is only ever called from the calling thread (it has its own
    // threads); the small factorizations are split over ours.
    for (int64_t grp = 0; grp < groups; ++grp)
      cblas_dsyrk(CblasRowMajor, CblasLower, CblasTrans, static_cast<int>(g),
                  static_cast<int>(tokens_), 1.0, xd.data() + grp * g,
                  static_cast<int>(k), 0.0, h.data() + grp * g * g,
                  static_cast<int>(g));
    gram_.assign(static_cast<size_t>(groups * g * g), 0.0f);
    parallelFor(groups, options.numThreads, [&](int64_t gb, int64_t ge) {
      std::vector<double> hg(static_cast<size_t>(g * g));
      for (int64_t grp = gb; grp < ge; ++grp) {
        const double *src = h.data() + grp * g * g;
        for (int64_t i = 0; i < g; ++i)
          for (int64_t j = 0; j <= i; ++j)
            hg[i * g + j] = hg[j * g + i] = src[i * g + j];
        const std::vector<float> l = psdCholesky(hg, g);
        std::copy(l.begin(), l.end(), gram_.begin() + grp * g * g);
      }
    });
  }
}

namespace {

/// The candidate counts of one clip search per (row, group): the coarse
/// stage, for a strided 2-D grid the neighbourhood of its best at full
/// grid steps, and the refinement around the best.
struct ClipPlan {
  bool asymmetric = false;
  int64_t stride = 1; ///< Of the 2-D grid (asymmetric only).
  int64_t coarse = 0, mid = 0, fine = 0;
  int64_t half = 0; ///< Fine offsets -half .. half steps of 1/(grid R).
  int64_t perRow() const { return std::max({coarse, mid, fine}); }
};

ClipPlan clipPlan(const QuantizeOptions &o) {
  ClipPlan plan;
  const int64_t steps = o.clipSteps;
  plan.asymmetric = o.clipShape == ClipShape::Asymmetric && o.params.zeroPoint;
  if (plan.asymmetric) {
    // The (lower, upper) pairs of every stride-th shrink, then the
    // symmetric candidates other than "no clip", so the set holds
    // AutoAWQ's; then the full-step neighbours of the best that the stride
    // skipped.
    plan.stride = std::max(1, o.clipGridStride);
    const int64_t perBound = (steps + plan.stride - 1) / plan.stride;
    plan.coarse = perBound * perBound + steps - 1;
    const int64_t reach = 2 * (plan.stride - 1) + 1;
    plan.mid = plan.stride > 1 ? reach * reach - 1 : 0;
  } else {
    plan.coarse = steps;
  }
  plan.half = o.clipRefine / 2;
  if (plan.half > 0)
    plan.fine = plan.asymmetric ? (2 * plan.half + 1) * (2 * plan.half + 1) - 1
                                : 2 * plan.half;
  return plan;
}

} // namespace

int64_t ClipSearcher::candidatesPerGroup(const QuantizeOptions &options) {
  const ClipPlan plan = clipPlan(options);
  return plan.coarse + plan.mid + plan.fine;
}

uint64_t ClipSearcher::workingBytes(int64_t t, int64_t k,
                                    const QuantizeOptions &options) {
  const uint64_t tokens =
      static_cast<uint64_t>(std::min(t, options.clipMaxTokens));
  const uint64_t g = static_cast<uint64_t>(options.params.groupSize);
  const uint64_t uk = static_cast<uint64_t>(k);
  // x_ (fp32) with its fp64 copy and the fp64 Gram matrices while the
  // factors (fp32) are made; then the candidate buffers of a search: the
  // errors of a chunk of rows' candidates (kClipBufferFloats, or one row's
  // when that is more), their token products, per candidate its loss,
  // validity and bounds, and per row its extremes and best so far.
  const uint64_t perRow = static_cast<uint64_t>(clipPlan(options).perRow());
  const uint64_t chunkRows = std::max<uint64_t>(
      1, static_cast<uint64_t>(kClipBufferFloats) / (perRow * g));
  const uint64_t cands = chunkRows * perRow;
  const uint64_t build = 4 * tokens * uk + 8 * tokens * uk + 8 * uk * g;
  // The token products only without the Gram factors (G >= tokens).
  const uint64_t products = g < tokens ? 0 : 4 * tokens * cands;
  const uint64_t search = 4 * cands * g + products + (8 + 1 + 4 + 4) * cands +
                          (4 * 4 + 8) * chunkRows;
  return build + 4 * uk * g + search;
}

ClipResult ClipSearcher::search(const float *w, int64_t rows,
                                const std::string &what,
                                const std::function<void()> &onGroup) const {
  if (w == nullptr || rows <= 0)
    throw Error(what + ": clip search needs a non-empty weight matrix");
  const QuantParams &params = options_.params;
  const int64_t k = k_, g = params.groupSize, groups = k / g;
  const int64_t steps = options_.clipSteps;
  const float grid = static_cast<float>(options_.clipGridSize);
  const int threads = options_.numThreads;
  const ClipPlan plan = clipPlan(options_);
  const int64_t perRow = plan.perRow();
  const float fineStep =
      plan.half > 0 ? 1.0f / (grid * static_cast<float>(options_.clipRefine))
                    : 0.0f;

  ClipResult result;
  result.rows = rows;
  result.groups = groups;
  const size_t cells = static_cast<size_t>(rows * groups);
  result.minVal.assign(cells, 0.0f);
  result.maxVal.assign(cells, 0.0f);
  result.shrink.assign(cells, 1.0f);
  result.lossBefore.assign(cells, 0.0);
  result.lossAfter.assign(cells, 0.0);

  // Chunk by rows so that one chunk's candidates fill the buffer (at least
  // one row, whatever its candidate count).
  const int64_t chunk =
      std::max<int64_t>(1, std::min(rows, kClipBufferFloats / (perRow * g)));
  const int64_t maxCands = chunk * perRow;
  std::vector<float> err(static_cast<size_t>(maxCands * g));
  std::vector<float> prod(
      static_cast<size_t>(useGram_ ? 0 : tokens_ * maxCands));
  std::vector<double> loss(static_cast<size_t>(maxCands));
  std::vector<char> valid(static_cast<size_t>(maxCands));
  // Candidate bounds: clamp to [lower, upper], lower <= 0 <= upper.
  std::vector<float> lower(static_cast<size_t>(maxCands)),
      upper(static_cast<size_t>(maxCands));
  // Per row of a chunk: the group's min and max, and the best bounds so far.
  std::vector<float> gMin(static_cast<size_t>(chunk)),
      gMax(static_cast<size_t>(chunk)), bestLo(static_cast<size_t>(chunk)),
      bestHi(static_cast<size_t>(chunk));
  std::vector<double> bestLoss(static_cast<size_t>(chunk));
  const double invTokens = 1.0 / static_cast<double>(tokens_);
  const SingleThreadedBlasScope singleThreadedBlas;

  for (int64_t grp = 0; grp < groups; ++grp) {
    for (int64_t r0 = 0; r0 < rows; r0 += chunk) {
      throwIfCancelled(options_.cancel, what);
      const int64_t rc = std::min(chunk, rows - r0);

      // Scores n candidates per row (bounds in lower/upper, valid set for
      // usable ones) into loss: the token-mean squared partial output error.
      // Each worker takes whole rows through all three steps with its own
      // single-threaded BLAS call (SingleThreadedBlasScope), so there is one
      // join per call instead of BLAS's thread hand-offs between the steps.
      auto score = [&](int64_t n) {
        const int64_t cands = rc * n;
        parallelFor(rc, threads, [&](int64_t rowBegin, int64_t rowEnd) {
          const int64_t begin = rowBegin * n, end = rowEnd * n;
          for (int64_t row = rowBegin; row < rowEnd; ++row) {
            const float *wg = w + (r0 + row) * k + grp * g;
            for (int64_t c = 0; c < n; ++c) {
              const int64_t j = row * n + c;
              float *e = err.data() + j * g;
              const float lb = lower[j], ub = upper[j];
              const GroupGrid gg =
                  valid[j] ? makeGroupGrid(std::max(gMin[row], lb),
                                           std::min(gMax[row], ub), params)
                           : GroupGrid{};
              valid[j] = valid[j] && gg.valid();
              if (!valid[j]) {
                std::fill(e, e + g, 0.0f);
                continue;
              }
              clampedQuantizationError(wg, g, lb, ub, gg, e);
            }
          }
          const int ig = static_cast<int>(g);
          if (useGram_) {
            // err := err L_g in place (half the flops of err H_g), then the
            // squared norm of each row.
            cblas_strmm(CblasRowMajor, CblasRight, CblasLower, CblasNoTrans,
                        CblasNonUnit, static_cast<int>(end - begin), ig, 1.0f,
                        gram_.data() + grp * g * g, ig, err.data() + begin * g,
                        ig);
            for (int64_t j = begin; j < end; ++j)
              loss[j] = sumOfSquares(err.data() + j * g, g) * invTokens;
          } else {
            // The token products of this worker's candidates: columns
            // begin .. end of prod [tokens, cands].
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans,
                        static_cast<int>(tokens_),
                        static_cast<int>(end - begin), ig, 1.0f,
                        x_.data() + grp * g, static_cast<int>(k),
                        err.data() + begin * g, ig, 0.0f, prod.data() + begin,
                        static_cast<int>(cands));
            std::fill(loss.begin() + begin, loss.begin() + end, 0.0);
            for (int64_t tok = 0; tok < tokens_; ++tok) {
              const float *y = prod.data() + tok * cands;
              for (int64_t j = begin; j < end; ++j)
                loss[j] += static_cast<double>(y[j]) * y[j];
            }
            for (int64_t j = begin; j < end; ++j)
              loss[j] *= invTokens;
          }
        });
      };

      // The coarse candidates; candidate 0 is "no clip" in both shapes.
      for (int64_t row = 0; row < rc; ++row) {
        float lo, hi;
        groupMinMax(w + (r0 + row) * k + grp * g, g, lo, hi);
        gMin[row] = lo;
        gMax[row] = hi;
        const float amax = std::max(std::fabs(lo), std::fabs(hi));
        float *lb = lower.data() + row * plan.coarse;
        float *ub = upper.data() + row * plan.coarse;
        int64_t c = 0;
        if (plan.asymmetric) {
          const float lo0 = std::min(lo, 0.0f), hi0 = std::max(hi, 0.0f);
          for (int64_t a = 0; a < steps; a += plan.stride)
            for (int64_t b = 0; b < steps; b += plan.stride, ++c) {
              lb[c] = lo0 * (1.0f - static_cast<float>(a) / grid);
              ub[c] = hi0 * (1.0f - static_cast<float>(b) / grid);
            }
        }
        for (int64_t step = plan.asymmetric ? 1 : 0; step < steps;
             ++step, ++c) {
          const float mv = amax * (1.0f - static_cast<float>(step) / grid);
          lb[c] = -mv;
          ub[c] = mv;
        }
        std::fill(valid.begin() + row * plan.coarse,
                  valid.begin() + (row + 1) * plan.coarse, 1);
      }
      score(plan.coarse);

      // Strictly lowest loss wins; candidate 0 is the starting point.
      for (int64_t row = 0; row < rc; ++row) {
        const int64_t base = row * plan.coarse;
        const size_t cell = static_cast<size_t>((r0 + row) * groups + grp);
        int64_t best = 0;
        double bl = valid[base] ? loss[base] : kInf;
        result.lossBefore[cell] = bl;
        for (int64_t c = 1; c < plan.coarse; ++c)
          if (valid[base + c] && loss[base + c] < bl) {
            best = c;
            bl = loss[base + c];
          }
        bestLoss[row] = bl;
        bestLo[row] = lower[base + best];
        bestHi[row] = upper[base + best];
      }

      // Candidates around each row's best: offsets -half .. half of
      // `step` times the group's extremes (per bound when asymmetric),
      // scored, and the best kept.
      auto refine = [&](int64_t n, int64_t half, float step) {
        for (int64_t row = 0; row < rc; ++row) {
          const float lo0 = std::min(gMin[row], 0.0f),
                      hi0 = std::max(gMax[row], 0.0f);
          const float amax = std::max(-lo0, hi0);
          float *lb = lower.data() + row * n;
          float *ub = upper.data() + row * n;
          char *ok = valid.data() + row * n;
          int64_t c = 0;
          if (plan.asymmetric) {
            // A bound beyond the group's extreme clips nothing on that side.
            const float l0 = std::max(bestLo[row], lo0),
                        u0 = std::min(bestHi[row], hi0);
            const float dl = -lo0 * step, du = hi0 * step;
            for (int64_t p = -half; p <= half; ++p)
              for (int64_t q = -half; q <= half; ++q) {
                if (p == 0 && q == 0)
                  continue;
                lb[c] = l0 + static_cast<float>(p) * dl;
                ub[c] = u0 - static_cast<float>(q) * du;
                ok[c] = lb[c] >= lo0 && lb[c] <= 0.0f && ub[c] >= 0.0f &&
                        ub[c] <= hi0;
                ++c;
              }
          } else {
            for (int64_t p = -half; p <= half; ++p) {
              if (p == 0)
                continue;
              const float mv =
                  bestHi[row] - static_cast<float>(p) * amax * step;
              lb[c] = -mv;
              ub[c] = mv;
              ok[c] = mv > 0.0f && mv <= amax;
              ++c;
            }
          }
        }
        score(n);
        for (int64_t row = 0; row < rc; ++row)
          for (int64_t c = 0; c < n; ++c) {
            const int64_t j = row * n + c;
            if (valid[j] && loss[j] < bestLoss[row]) {
              bestLoss[row] = loss[j];
              bestLo[row] = lower[j];
              bestHi[row] = upper[j];
            }
          }
      };
      if (plan.mid > 0)
        refine(plan.mid, plan.stride - 1, 1.0f / grid);
      if (plan.fine > 0)
        refine(plan.fine, plan.half, fineStep);

      for (int64_t row = 0; row < rc; ++row) {
        const size_t cell = static_cast<size_t>((r0 + row) * groups + grp);
        const float lo0 = std::min(gMin[row], 0.0f),
                    hi0 = std::max(gMax[row], 0.0f);
        result.minVal[cell] = bestLo[row];
        result.maxVal[cell] = bestHi[row];
        const float span = hi0 - lo0;
        result.shrink[cell] =
            span > 0.0f
                ? (std::min(hi0, bestHi[row]) - std::max(lo0, bestLo[row])) /
                      span
                : 1.0f;
        result.lossAfter[cell] = bestLoss[row];
      }
    }
    if (onGroup)
      onGroup();
  }
  return result;
}

void applyClip(float *w, int64_t rows, int64_t k, int64_t groupSize,
               const ClipResult &clip) {
  const int64_t groups = k / groupSize;
  if (clip.rows != rows || clip.groups != groups ||
      clip.maxVal.size() != static_cast<size_t>(rows * groups) ||
      clip.minVal.size() != clip.maxVal.size())
    throw Error("applyClip: clip result is for " + std::to_string(clip.rows) +
                "x" + std::to_string(clip.groups) + " groups, weights have " +
                std::to_string(rows) + "x" + std::to_string(groups));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t grp = 0; grp < groups; ++grp) {
      const float lo = clip.minVal[r * groups + grp];
      const float hi = clip.maxVal[r * groups + grp];
      float *wg = w + r * k + grp * groupSize;
      for (int64_t i = 0; i < groupSize; ++i)
        wg[i] = std::min(std::max(wg[i], lo), hi);
    }
}

//===----------------------------------------------------------------------===//
// The driver
//===----------------------------------------------------------------------===//

namespace {

/// An input group checked and converted to fp32: the weights of all its
/// linears concatenated into w [rows, k], and the activations x [t, k].
struct PreparedGroup {
  std::string where; ///< "input group 'name'", the prefix of messages.
  int64_t t = 0, k = 0, rows = 0;
  std::vector<std::string> names, whats;
  std::vector<int64_t> offset; ///< Row offset of each linear, plus the total.
  std::vector<float> w;
  std::vector<std::vector<uint16_t>> biases; ///< fp16, per linear.
  std::vector<float> xStorage;
  const float *x = nullptr; ///< xStorage or the caller's F32 data.

  int64_t layerRows(size_t i) const { return offset[i + 1] - offset[i]; }
};

/// Checks shapes and options; no data is touched.
PreparedGroup checkGroup(const LinearGroupInput &group,
                         const QuantizeOptions &options) {
  PreparedGroup p;
  p.where = "input group '" + group.name + "'";
  if (group.layers.empty())
    throw Error(p.where + ": has no linear layers");
  checkMatrix(group.activations, p.where + ": activations", "[tokens, K]");
  p.t = group.activations.rows;
  p.k = group.activations.cols;
  checkQuantParams(options.params, p.k, p.where);
  checkOptions(options, p.where);
  if (!options.fixedScales.empty()) {
    if (options.fixedScales.size() != static_cast<size_t>(p.k))
      throw Error(
          p.where + ": fixedScales must have K = " + std::to_string(p.k) +
          " elements, got " + std::to_string(options.fixedScales.size()));
    for (size_t c = 0; c < options.fixedScales.size(); ++c)
      if (!(options.fixedScales[c] > 0.0f) ||
          !std::isfinite(options.fixedScales[c]))
        throw Error(p.where + ": fixedScales [" + std::to_string(c) +
                    "] must be positive and finite, got " +
                    std::to_string(options.fixedScales[c]));
  }

  const size_t numLayers = group.layers.size();
  p.names.resize(numLayers);
  p.whats.resize(numLayers);
  p.offset.assign(numLayers + 1, 0);
  for (size_t i = 0; i < numLayers; ++i) {
    const LinearLayerInput &l = group.layers[i];
    p.names[i] = l.name.empty() ? "layer #" + std::to_string(i) : l.name;
    p.whats[i] = p.where + ", layer '" + p.names[i] + "'";
    checkMatrix(l.weight, p.whats[i] + ": weight",
                "[N, K = " + std::to_string(p.k) + "]");
    if (l.weight.cols != p.k)
      throw Error(p.whats[i] +
                  ": weight has K = " + std::to_string(l.weight.cols) +
                  " input features but the group's activations have K = " +
                  std::to_string(p.k));
    if (l.bias.data != nullptr) {
      checkType(l.bias.type, p.whats[i] + ": bias");
      if (l.bias.size != l.weight.rows)
        throw Error(p.whats[i] +
                    ": bias must have N = " + std::to_string(l.weight.rows) +
                    " elements, got " + std::to_string(l.bias.size));
    }
    p.offset[i + 1] = p.offset[i] + l.weight.rows;
  }
  p.rows = p.offset[numLayers];
  return p;
}

/// Converts the group's tensors to fp32 (and biases to fp16), rejecting
/// NaN and Inf.
void readGroup(const LinearGroupInput &group, PreparedGroup &p, int threads) {
  p.w.resize(static_cast<size_t>(p.rows * p.k));
  p.biases.resize(group.layers.size());
  for (size_t i = 0; i < group.layers.size(); ++i) {
    const LinearLayerInput &l = group.layers[i];
    readMatrix(l.weight, p.whats[i] + ": weight",
               p.w.data() + p.offset[i] * p.k, threads);
    if (l.bias.data == nullptr)
      continue;
    p.biases[i].resize(static_cast<size_t>(l.bias.size));
    for (int64_t j = 0; j < l.bias.size; ++j) {
      const float b = elementAt(l.bias.data, l.bias.type, j);
      p.biases[i][j] = floatToHalf(b);
      if (!std::isfinite(halfToFloat(p.biases[i][j])))
        throw Error(p.whats[i] + ": bias [" + std::to_string(j) +
                    "] = " + std::to_string(b) + " is not finite in fp16");
    }
  }
  if (group.activations.type == ElementType::F32) {
    p.x = static_cast<const float *>(group.activations.data);
    checkFinite(p.x, p.t, p.k, p.where + ": activations", threads);
  } else {
    p.xStorage.resize(static_cast<size_t>(p.t * p.k));
    readMatrix(group.activations, p.where + ": activations", p.xStorage.data(),
               threads);
    p.x = p.xStorage.data();
  }
}

/// x_mean and, for the duo formula, w_mean of a prepared group.
struct GroupStatistics {
  std::vector<float> xMean, wMean;
};

GroupStatistics groupStatistics(const PreparedGroup &p,
                                const QuantizeOptions &options) {
  GroupStatistics stats;
  stats.xMean = meanAbsActivation(p.x, p.t, p.k);
  if (options.formula == ScaleFormula::Duo)
    stats.wMean =
        normalizedWeightMean(p.w.data(), p.rows, p.k, options.params.groupSize);
  return stats;
}

/// The rows a screened scale search scores every ratio on: scaleScreenRows
/// of them, evenly spaced over the concatenated outputs; none (every ratio
/// on all rows) when the group has at most twice as many rows.
std::vector<int64_t> scaleScreenRows(int64_t rows,
                                     const QuantizeOptions &options) {
  const int64_t m = options.scaleScreenRows;
  std::vector<int64_t> sample;
  if (m <= 0 || rows <= 2 * m)
    return sample;
  for (int64_t j = 0; j < m; ++j)
    sample.push_back(j * rows / m);
  return sample;
}

/// Output rows the scale search's losses cover (OutputLoss's cost model).
int64_t scaleSearchLossRows(int64_t rows, const QuantizeOptions &options) {
  const int64_t screened =
      static_cast<int64_t>(scaleScreenRows(rows, options).size());
  if (screened == 0)
    return rows * options.scaleGridSize;
  return screened * options.scaleGridSize + rows * options.scaleFinalists;
}

/// The scale search over the concatenated outputs of the group; `err` is
/// scratch of rows * k floats. Large groups are screened: every ratio is
/// scored on evenly spaced rows (an unbiased estimate of the mean loss),
/// and the scaleFinalists best are scored again on all rows, which decide.
/// The exact loss then costs a few full evaluations instead of one per
/// ratio, and the choice only differs from the exhaustive one when the
/// exhaustive best was not among the screened finalists.
ScaleSearchResult runScaleSearch(const PreparedGroup &p,
                                 const QuantizeOptions &options,
                                 const GroupStatistics &stats,
                                 const OutputLoss &loss, float *err,
                                 ProgressTracker &progress) {
  const std::vector<float> &xMean = stats.xMean, &wMean = stats.wMean;
  const std::vector<int64_t> sample = scaleScreenRows(p.rows, options);
  const int64_t screened =
      sample.empty() ? p.rows : static_cast<int64_t>(sample.size());
  const double tokens = static_cast<double>(p.t);
  ScaleSearchResult result;
  result.screenRows = sample.empty() ? 0 : screened;
  auto ratioOf = [&](int i) {
    return static_cast<double>(i) / options.scaleGridSize;
  };
  for (int i = 0; i < options.scaleGridSize; ++i) {
    const std::vector<float> s =
        candidateScales(xMean, wMean, ratioOf(i), options.formula);
    double l = kInf;
    if (scaledQuantizationError(p.w.data(), screened, p.k, s.data(),
                                options.params, err, options.numThreads,
                                sample.empty() ? nullptr : sample.data()))
      l = loss.sumSquares(err, screened) /
          (tokens * static_cast<double>(screened));
    result.ratioLosses.push_back(l);
    progress.step(QuantizeStage::ScaleSearch, "");
  }

  // The candidates that decide: every ratio, or the screened finalists
  // (lowest estimate first, ties to the smaller ratio).
  std::vector<int> order(result.ratioLosses.size());
  for (size_t i = 0; i < order.size(); ++i)
    order[i] = static_cast<int>(i);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
    return result.ratioLosses[a] < result.ratioLosses[b];
  });
  if (!sample.empty())
    order.resize(std::min<size_t>(
        order.size(),
        static_cast<size_t>(std::max(1, options.scaleFinalists))));
  double bestLoss = kInf;
  int best = -1;
  if (sample.empty()) {
    for (int i = 0; i < options.scaleGridSize; ++i)
      if (result.ratioLosses[i] < bestLoss) {
        bestLoss = result.ratioLosses[i];
        best = i;
      }
  } else {
    for (int i : order) {
      if (!(result.ratioLosses[i] < kInf))
        continue;
      const std::vector<float> s =
          candidateScales(xMean, wMean, ratioOf(i), options.formula);
      double l = kInf;
      if (scaledQuantizationError(p.w.data(), p.rows, p.k, s.data(),
                                  options.params, err, options.numThreads))
        l = loss.sumSquares(err, p.rows) /
            (tokens * static_cast<double>(p.rows));
      result.finalistRatios.push_back(ratioOf(i));
      result.finalistLosses.push_back(l);
      if (l < bestLoss || (l == bestLoss && i < best)) {
        bestLoss = l;
        best = i;
      }
      throwIfCancelled(options.cancel, p.where);
    }
  }
  if (best < 0)
    throw Error(p.where + ": every candidate scale makes some weight group's "
                          "range too large for an fp16 quantization scale");
  result.ratio = ratioOf(best);
  result.scales = candidateScales(xMean, wMean, result.ratio, options.formula);
  return result;
}

/// Rows the GPTQ-aware scale choice quantizes: up to gptqScaleRows of each
/// linear, evenly spaced.
std::vector<int64_t> gptqSampleRows(const PreparedGroup &p,
                                    const QuantizeOptions &options) {
  std::vector<int64_t> sample;
  for (size_t i = 0; i + 1 < p.offset.size(); ++i) {
    const int64_t n = p.layerRows(i);
    const int64_t m = std::min(n, options.gptqScaleRows);
    for (int64_t j = 0; j < m; ++j)
      sample.push_back(p.offset[i] + j * n / m);
  }
  return sample;
}

/// Candidates the GPTQ-aware scale choice quantizes (units of progress).
int64_t gptqScaleEvaluations(const QuantizeOptions &options) {
  if (!options.gptq || options.gptqScaleCandidates <= 1)
    return 0;
  return std::min(options.gptqScaleCandidates, options.scaleGridSize);
}

/// Replaces the round-to-nearest choice r* of `found` by the candidate with
/// the lowest output error after GPTQ on sampled rows. GPTQ's compensation
/// does part of what the scales do, so it favours milder scales: the
/// candidates are r* and grid ratios spread evenly from 0 up to it. No
/// clipping here (the clip search follows the choice). `err` is scratch of
/// rows * k floats. Returns the ratios tried and their losses (none when r*
/// is the only candidate).
std::pair<std::vector<double>, std::vector<double>>
chooseScalesAfterGptq(const PreparedGroup &p, const QuantizeOptions &options,
                      const GroupStatistics &stats, const OutputLoss &loss,
                      float *err, ScaleSearchResult &found,
                      ProgressTracker &progress) {
  const int64_t k = p.k;
  const int64_t wanted = gptqScaleEvaluations(options);
  const int top =
      static_cast<int>(std::lround(found.ratio * options.scaleGridSize));
  std::vector<double> ratios{found.ratio};
  for (int64_t j = 0; j + 1 < wanted; ++j) {
    const int i = static_cast<int>(
        std::lround(static_cast<double>(top) * static_cast<double>(j) /
                    static_cast<double>(wanted - 1)));
    const double r = static_cast<double>(i) / options.scaleGridSize;
    if (found.ratioLosses[i] < kInf &&
        std::find(ratios.begin(), ratios.end(), r) == ratios.end())
      ratios.push_back(r);
  }
  if (ratios.size() == 1) {
    for (int64_t j = 0; j < wanted; ++j)
      progress.step(QuantizeStage::ScaleSearch, "");
    return {};
  }

  const std::vector<int64_t> sample = gptqSampleRows(p, options);
  const int64_t m = static_cast<int64_t>(sample.size());
  std::vector<float> wSub(static_cast<size_t>(m * k));
  for (int64_t j = 0; j < m; ++j)
    std::copy_n(p.w.data() + sample[j] * k, k, wSub.data() + j * k);
  const std::vector<float> h1 =
      gptqHessian(p.x, p.t, k, {}, options.numThreads);
  std::vector<float> hs(h1.size());

  std::vector<double> losses;
  double bestLoss = kInf;
  std::vector<float> bestScales;
  double bestRatio = found.ratio;
  for (double ratio : ratios) {
    std::vector<float> s =
        candidateScales(stats.xMean, stats.wMean, ratio, options.formula);
    // The Hessian of x / s is H_1 scaled by 1 / (s_i s_j).
    parallelFor(k, options.numThreads, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i)
        for (int64_t j = 0; j < k; ++j)
          hs[i * k + j] = h1[i * k + j] / (s[i] * s[j]);
    });
    for (int64_t j = 0; j < m; ++j)
      for (int64_t c = 0; c < k; ++c)
        err[j * k + c] = wSub[j * k + c] * s[c];
    double l = kInf;
    try {
      const QuantizedLinear q = gptqQuantizeLinear(
          err, m, k, options.params, {}, hs, options.gptqOptions,
          p.where + ": GPTQ-aware scale search", options.numThreads);
      const int64_t gs = options.params.groupSize;
      for (int64_t j = 0; j < m; ++j)
        for (int64_t c = 0; c < k; ++c) {
          const float deq =
              static_cast<float>(int(q.q[c * m + j]) - q.zeroAt(c / gs, j)) *
              halfToFloat(q.scales[(c / gs) * m + j]);
          err[j * k + c] = deq / s[c] - wSub[j * k + c];
        }
      l = loss.sumSquares(err, m) /
          (static_cast<double>(p.t) * static_cast<double>(m));
    } catch (const Error &) {
      // A range too large for fp16 scales: the candidate is unusable.
    }
    losses.push_back(l);
    if (l < bestLoss) {
      bestLoss = l;
      bestRatio = ratio;
      bestScales = std::move(s);
    }
    progress.step(QuantizeStage::ScaleSearch, "");
  }
  for (size_t j = ratios.size(); j < static_cast<size_t>(wanted); ++j)
    progress.step(QuantizeStage::ScaleSearch, "");
  if (bestLoss < kInf) {
    found.scales = std::move(bestScales);
    found.ratio = bestRatio;
  }
  return {ratios, losses};
}

} // namespace

ScaleSearchResult searchGroupScales(const LinearGroupInput &group,
                                    const QuantizeOptions &options) {
  PreparedGroup p = checkGroup(group, options);
  ProgressTracker progress(options, group.name,
                           1 + options.scaleGridSize +
                               gptqScaleEvaluations(options));
  progress.start();
  readGroup(group, p, options.numThreads);
  const GroupStatistics stats = groupStatistics(p, options);
  progress.step(QuantizeStage::Statistics, "");
  OutputLoss loss(p.x, p.t, p.k, scaleSearchLossRows(p.rows, options),
                  OutputLoss::Method::Auto, options.numThreads, options.cancel);
  std::vector<float> err(static_cast<size_t>(p.rows * p.k));
  ScaleSearchResult found =
      runScaleSearch(p, options, stats, loss, err.data(), progress);
  if (gptqScaleEvaluations(options) > 0)
    chooseScalesAfterGptq(p, options, stats, loss, err.data(), found, progress);
  return found;
}

uint64_t groupWorkingBytes(const std::vector<int64_t> &layerRows, int64_t k,
                           int64_t t, bool activationsAreF32,
                           bool anyLayerClipped,
                           const QuantizeOptions &options) {
  int64_t rows = 0, widest = 0;
  for (int64_t n : layerRows) {
    rows += n;
    widest = std::max(widest, n);
  }
  const uint64_t rk = static_cast<uint64_t>(rows) * static_cast<uint64_t>(k);
  const uint64_t tk = static_cast<uint64_t>(t) * static_cast<uint64_t>(k);
  const bool search = options.searchScales && options.fixedScales.empty();
  const int64_t lossRows =
      3 * rows + (search ? scaleSearchLossRows(rows, options) : 0);
  // The fp32 weights and their error / scaled copy, the converted
  // activations, the loss, the codes of every layer and the finalize block.
  uint64_t bytes =
      4 * rk + 4 * rk + (activationsAreF32 ? 0 : 4 * tk) +
      OutputLoss::workingBytes(t, k, lossRows, rows) + rk +
      4 * static_cast<uint64_t>(std::min(rows, kFinalizeBlockRows)) *
          static_cast<uint64_t>(k);
  if (options.searchClip && anyLayerClipped)
    bytes += ClipSearcher::workingBytes(t, k, options);
  if (options.gptq) {
    const uint64_t kk = static_cast<uint64_t>(k) * static_cast<uint64_t>(k);
    // The final GPTQ: the Hessian and one layer's working set. Before it,
    // the GPTQ-aware scale choice: the sampled rows, H_1 and H_s, the
    // candidate's codes and scales and GPTQ's working set for them.
    uint64_t gptqBytes =
        4 * kk + gptqWorkingBytes(widest, k, options.gptqOptions);
    if (search && gptqScaleEvaluations(options) > 0) {
      int64_t sampled = 0;
      for (int64_t n : layerRows)
        sampled += std::min(n, options.gptqScaleRows);
      const uint64_t mk =
          static_cast<uint64_t>(sampled) * static_cast<uint64_t>(k);
      gptqBytes = std::max(
          gptqBytes,
          4 * mk + 8 * kk + mk +
              4 * mk / static_cast<uint64_t>(options.params.groupSize) +
              gptqWorkingBytes(sampled, k, options.gptqOptions));
    }
    bytes += gptqBytes;
  }
  return bytes;
}

GroupResult quantizeInputGroup(const LinearGroupInput &group,
                               const QuantizeOptions &options) {
  PreparedGroup p = checkGroup(group, options);
  const int threads = options.numThreads;
  const int64_t t = p.t, k = p.k, rows = p.rows;
  const size_t numLayers = group.layers.size();
  const bool search = options.searchScales && options.fixedScales.empty();

  int64_t clipLayers = 0;
  if (options.searchClip)
    for (const LinearLayerInput &l : group.layers)
      clipLayers += l.skipClip ? 0 : 1;
  const int64_t groupsPerRow = k / options.params.groupSize;
  ProgressTracker progress(
      options, group.name,
      2 + (search ? options.scaleGridSize + gptqScaleEvaluations(options) : 0) +
          clipLayers * groupsPerRow + static_cast<int64_t>(numLayers));
  progress.start();
  readGroup(group, p, threads);
  GroupStatistics stats;
  if (search)
    stats = groupStatistics(p, options);
  progress.step(QuantizeStage::Statistics, "");

  GroupResult result;
  result.name = group.name;
  result.reports.resize(numLayers);
  for (size_t i = 0; i < numLayers; ++i) {
    result.reports[i].name = p.names[i];
    result.reports[i].n = p.layerRows(i);
    result.reports[i].k = k;
  }

  // Loss evaluations: output magnitude, RTN, the scale search and the
  // result.
  OutputLoss loss(p.x, t, k,
                  3 * rows + (search ? scaleSearchLossRows(rows, options) : 0),
                  OutputLoss::Method::Auto, threads, options.cancel);
  const double tokens = static_cast<double>(t);

  // Baseline: output magnitude and RTN error per layer.
  std::vector<float> err(static_cast<size_t>(rows * k));
  if (!scaledQuantizationError(p.w.data(), rows, k, nullptr, options.params,
                               err.data(), threads))
    throw Error(p.where + ": a weight group's range needs a quantization "
                          "scale larger than fp16 can hold");
  for (size_t i = 0; i < numLayers; ++i) {
    const int64_t n = p.layerRows(i);
    const double denom = tokens * static_cast<double>(n);
    result.reports[i].outputMeanSquare =
        loss.sumSquares(p.w.data() + p.offset[i] * k, n) / denom;
    result.reports[i].rtnError =
        loss.sumSquares(err.data() + p.offset[i] * k, n) / denom;
  }
  progress.step(QuantizeStage::Baseline, "");

  std::vector<float> scales(static_cast<size_t>(k), 1.0f);
  if (!options.fixedScales.empty()) {
    scales = options.fixedScales;
  } else if (search) {
    ScaleSearchResult found =
        runScaleSearch(p, options, stats, loss, err.data(), progress);
    if (gptqScaleEvaluations(options) > 0)
      std::tie(result.gptqRatios, result.gptqRatioLosses) =
          chooseScalesAfterGptq(p, options, stats, loss, err.data(), found,
                                progress);
    scales = std::move(found.scales);
    result.ratio = found.ratio;
    result.ratioLosses = std::move(found.ratioLosses);
    result.scaleScreenRows = found.screenRows;
    result.finalistRatios = std::move(found.finalistRatios);
    result.finalistLosses = std::move(found.finalistLosses);
    result.scaleSearched = true;
  }

  // From here on `err` holds the scaled weights W * s.
  std::vector<float> &scaled = err;
  parallelFor(rows, threads, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r)
      for (int64_t c = 0; c < k; ++c)
        scaled[r * k + c] = p.w[r * k + c] * scales[c];
  });

  if (clipLayers > 0) {
    ClipSearcher searcher(p.x, t, k, scales, options);
    for (size_t i = 0; i < numLayers; ++i) {
      if (group.layers[i].skipClip)
        continue;
      const int64_t n = p.layerRows(i);
      float *wl = scaled.data() + p.offset[i] * k;
      ClipResult clip = searcher.search(wl, n, p.whats[i], [&] {
        progress.step(QuantizeStage::ClipSearch, p.names[i]);
      });
      applyClip(wl, n, k, options.params.groupSize, clip);
      ClipStats &stats = result.reports[i].clip;
      stats.searched = true;
      stats.groups = n * groupsPerRow;
      double shrinkSum = 0.0;
      for (size_t c = 0; c < clip.shrink.size(); ++c) {
        const double shrink = clip.shrink[c];
        shrinkSum += shrink;
        stats.minShrink = std::min(stats.minShrink, shrink);
        stats.clippedGroups += shrink < 1.0 ? 1 : 0;
        stats.lossBefore += clip.lossBefore[c];
        stats.lossAfter += clip.lossAfter[c];
      }
      stats.meanShrink = shrinkSum / static_cast<double>(stats.groups);
    }
  }

  // GPTQ's Hessian: of the activations the scaled weights see, x / s,
  // shared by the group's layers.
  std::vector<float> hessian;
  if (options.gptq)
    hessian = gptqHessian(p.x, t, k, scales, threads);

  // Quantize, and measure each layer's real output error from its codes.
  std::vector<float> block(
      static_cast<size_t>(std::min(rows, kFinalizeBlockRows) * k));
  for (size_t i = 0; i < numLayers; ++i) {
    const int64_t n = p.layerRows(i);
    const float *layerWeights = scaled.data() + p.offset[i] * k;
    QuantizedLinear ql =
        options.gptq
            ? gptqQuantizeLinear(layerWeights, n, k, options.params,
                                 p.biases[i], hessian, options.gptqOptions,
                                 p.whats[i], threads)
            : quantizeLinear(layerWeights, n, k, options.params, p.biases[i],
                             p.whats[i], threads);
    const int64_t gs = options.params.groupSize;
    double sum = 0.0;
    for (int64_t n0 = 0; n0 < n; n0 += kFinalizeBlockRows) {
      const int64_t nb = std::min(kFinalizeBlockRows, n - n0);
      // Transposing [k, n] codes into [n, k] rows, k-outer so the code reads
      // are contiguous.
      parallelFor(nb, threads, [&](int64_t begin, int64_t end) {
        for (int64_t c = 0; c < k; ++c) {
          const int64_t grp = c / gs;
          for (int64_t j = begin; j < end; ++j) {
            const int64_t col = n0 + j;
            const float deq = static_cast<float>(int(ql.q[c * n + col]) -
                                                 ql.zeroAt(grp, col)) *
                              halfToFloat(ql.scales[grp * n + col]);
            block[j * k + c] =
                deq / scales[c] - p.w[(p.offset[i] + col) * k + c];
          }
        }
      });
      sum += loss.sumSquares(block.data(), nb);
    }
    result.reports[i].awqError = sum / (tokens * static_cast<double>(n));
    result.reports[i].ratio = result.ratio;
    result.layers.push_back(std::move(ql));
    progress.step(QuantizeStage::Finalize, p.names[i]);
  }
  result.scales = std::move(scales);
  return result;
}

} // namespace awq
