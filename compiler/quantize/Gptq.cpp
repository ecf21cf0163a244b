//===- Gptq.cpp - GPTQ error-compensating quantization of one linear ------===//

#include "compiler/quantize/Gptq.h"

#include "compiler/quantize/Quantizer.h"
#include "compiler/reference/Parallel.h"
#include "runtime/support/Error.h"
#include "runtime/support/Half.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <numeric>

// LAPACK (OpenBLAS's): Cholesky factorisation and the inverse from it. The
// trailing length is gfortran's hidden argument for `uplo`.
extern "C" {
void spotrf_(const char *uplo, const int *n, float *a, const int *lda,
             int *info, size_t uploLength);
void spotri_(const char *uplo, const int *n, float *a, const int *lda,
             int *info, size_t uploLength);
}

namespace awq {

namespace {

/// Rows of the weight handled by one task: enough to amortise the fork-join
/// of each column block.
constexpr int64_t kMinRowsPerTask = 64;

/// Factors the symmetric [k, k] row-major `a` in place so that its upper
/// triangle (row-major) holds U with a = U^T U. LAPACK is column-major: its
/// lower factor L (a = L L^T) read row-major is L^T = U. Returns LAPACK's
/// info (0 on success).
int choleskyUpper(std::vector<float> &a, int64_t k) {
  const int n = static_cast<int>(k);
  int info = 0;
  spotrf_("L", &n, a.data(), &n, &info, 1);
  return info;
}

/// U with U^T U = (h + damp I)^-1, upper triangle of a row-major [k, k]
/// matrix; empty when h + damp I is not positive definite.
std::vector<float> inverseCholesky(const std::vector<float> &h, int64_t k,
                                   double damp) {
  std::vector<float> a = h;
  for (int64_t i = 0; i < k; ++i)
    a[i * k + i] += static_cast<float>(damp);
  if (choleskyUpper(a, k) != 0)
    return {};
  const int n = static_cast<int>(k);
  int info = 0;
  spotri_("L", &n, a.data(), &n, &info, 1); // Upper triangle, row-major.
  if (info != 0)
    return {};
  for (int64_t i = 0; i < k; ++i)
    for (int64_t j = 0; j < i; ++j)
      a[i * k + j] = a[j * k + i];
  if (choleskyUpper(a, k) != 0)
    return {};
  return a;
}

} // namespace

std::vector<float> gptqHessian(const float *x, int64_t t, int64_t k,
                               const std::vector<float> &inputScale,
                               int numThreads) {
  if (t <= 0 || k <= 0)
    throw Error("GPTQ Hessian: needs at least one token and one channel, got " +
                std::to_string(t) + " x " + std::to_string(k));
  if (!inputScale.empty() && inputScale.size() != static_cast<size_t>(k))
    throw Error("GPTQ Hessian: input scale must have K = " + std::to_string(k) +
                " elements, got " + std::to_string(inputScale.size()));
  std::vector<float> scaled;
  const float *xs = x;
  if (!inputScale.empty()) {
    scaled.resize(static_cast<size_t>(t * k));
    parallelFor(t, numThreads, [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r)
        for (int64_t c = 0; c < k; ++c)
          scaled[r * k + c] = x[r * k + c] / inputScale[c];
    });
    xs = scaled.data();
  }
  std::vector<float> h(static_cast<size_t>(k * k), 0.0f);
  cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, static_cast<int>(k),
              static_cast<int>(t), 2.0f / static_cast<float>(t), xs,
              static_cast<int>(k), 0.0f, h.data(), static_cast<int>(k));
  for (int64_t i = 0; i < k; ++i)
    for (int64_t j = 0; j < i; ++j)
      h[i * k + j] = h[j * k + i];
  return h;
}

uint64_t gptqWorkingBytes(int64_t n, int64_t k, const GptqOptions &options) {
  const uint64_t nk = static_cast<uint64_t>(n) * static_cast<uint64_t>(k);
  const uint64_t kk = static_cast<uint64_t>(k) * static_cast<uint64_t>(k);
  // wt and the codes; H, the factorization's copy and U; the error block;
  // with act-order the permuted copies of H and wt next to the originals.
  uint64_t bytes = 4 * nk + nk + 3 * 4 * kk +
                   4 * static_cast<uint64_t>(std::min(options.blockSize, k)) *
                       static_cast<uint64_t>(n);
  if (options.actOrder)
    bytes += 4 * kk + 4 * nk;
  return bytes;
}

QuantizedLinear gptqQuantizeLinear(const float *weight, int64_t n, int64_t k,
                                   const QuantParams &params,
                                   const std::vector<uint16_t> &bias,
                                   const std::vector<float> &hessian,
                                   const GptqOptions &options,
                                   const std::string &what, int numThreads) {
  checkQuantParams(params, k, what);
  if (n <= 0)
    throw Error(what + ": output features N must be positive, got " +
                std::to_string(n));
  if (hessian.size() != static_cast<size_t>(k) * static_cast<size_t>(k))
    throw Error(what + ": GPTQ Hessian must be K x K = " + std::to_string(k) +
                " x " + std::to_string(k) + ", got " +
                std::to_string(hessian.size()) + " elements");
  if (!bias.empty() && bias.size() != static_cast<size_t>(n))
    throw Error(what + ": bias must have N = " + std::to_string(n) +
                " elements, got " + std::to_string(bias.size()));
  if (options.blockSize <= 0)
    throw Error(what + ": GPTQ block size must be positive, got " +
                std::to_string(options.blockSize));
  if (!(options.dampening > 0.0) || !std::isfinite(options.dampening))
    throw Error(what + ": GPTQ dampening must be positive, got " +
                std::to_string(options.dampening));
  const int64_t g = params.groupSize, groups = k / g;

  // wt [k, n]: column c of the weight is row c here, so the per-column
  // updates are contiguous.
  std::vector<float> wt(static_cast<size_t>(k * n));
  for (int64_t r = 0; r < n; ++r)
    for (int64_t c = 0; c < k; ++c) {
      const float v = weight[r * k + c];
      if (!std::isfinite(v))
        throw Error(what + ": weight [" + std::to_string(r) + ", " +
                    std::to_string(c) + "] is not finite");
      wt[c * n + r] = v;
    }

  // Channels no calibration token excites carry no information: zero them
  // and give them a unit diagonal (as the reference does).
  std::vector<float> h = hessian;
  for (int64_t c = 0; c < k; ++c)
    if (!(h[c * k + c] > 0.0f)) {
      h[c * k + c] = 1.0f;
      std::fill(wt.begin() + c * n, wt.begin() + (c + 1) * n, 0.0f);
    }

  // Static groups: with act-order every group's grid comes from the weights
  // before any error is spread, so the order of visits stays internal.
  const auto gridOf = [&](const float *rows, int64_t row, const char *kind) {
    float lo = rows[row], hi = rows[row];
    for (int64_t i = 1; i < g; ++i) {
      lo = std::min(lo, rows[i * n + row]);
      hi = std::max(hi, rows[i * n + row]);
    }
    const GroupGrid grid = makeGroupGrid(lo, hi, params);
    if (!grid.valid())
      throw Error(what + ": output channel " + std::to_string(row) + ": " +
                  kind + " weight range [" + std::to_string(lo) + ", " +
                  std::to_string(hi) +
                  "] needs a scale larger than fp16 can hold");
    return grid;
  };
  QuantizedLinear layer;
  layer.k = k;
  layer.n = n;
  layer.params = params;
  layer.bias = bias;
  layer.q.assign(static_cast<size_t>(k * n), 0);
  layer.scales.assign(static_cast<size_t>(groups * n), 0);
  if (params.zeroPoint)
    layer.zeros.assign(static_cast<size_t>(groups * n), 0);
  std::vector<GroupGrid> grids(static_cast<size_t>(groups * n));
  const auto storeGrid = [&](int64_t grp, int64_t row, const GroupGrid &grid) {
    grids[grp * n + row] = grid;
    layer.scales[grp * n + row] = floatToHalf(grid.scale);
    if (params.zeroPoint)
      layer.zeros[grp * n + row] = static_cast<uint8_t>(grid.zero);
  };
  if (options.actOrder)
    parallelFor(n, numThreads, [&](int64_t begin, int64_t end) {
      for (int64_t grp = 0; grp < groups; ++grp)
        for (int64_t r = begin; r < end; ++r)
          storeGrid(grp, r, gridOf(wt.data() + grp * g * n, r, "group"));
    });

  // The visiting order: input channels by decreasing H diagonal with
  // act-order (stable, so ties keep channel order), else channel order.
  std::vector<int64_t> order(static_cast<size_t>(k));
  std::iota(order.begin(), order.end(), 0);
  if (options.actOrder) {
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
      return h[a * k + a] > h[b * k + b];
    });
    std::vector<float> permutedH(h.size());
    std::vector<float> permutedW(wt.size());
    for (int64_t i = 0; i < k; ++i) {
      for (int64_t j = 0; j < k; ++j)
        permutedH[i * k + j] = h[order[i] * k + order[j]];
      std::copy_n(wt.begin() + order[i] * n, n, permutedW.begin() + i * n);
    }
    h = std::move(permutedH);
    wt = std::move(permutedW);
  }

  // U^T U = (H + damp I)^-1; more dampening while H is numerically singular.
  double meanDiagonal = 0.0;
  for (int64_t c = 0; c < k; ++c)
    meanDiagonal += h[c * k + c];
  meanDiagonal /= static_cast<double>(k);
  std::vector<float> u;
  double dampening = options.dampening;
  for (int attempt = 0; attempt < 4 && u.empty(); ++attempt) {
    u = inverseCholesky(h, k, dampening * meanDiagonal);
    if (u.empty())
      dampening *= 10.0;
  }
  if (u.empty())
    throw Error(what +
                ": the GPTQ Hessian of the calibration activations is "
                "not positive definite even with dampening " +
                std::to_string(dampening / 10.0) +
                " x its mean diagonal; check the calibration set");
  h.clear();
  h.shrink_to_fit();

  // Columns in blocks: inside a block every row runs its columns in order
  // and spreads each column's error over the block's later columns; one
  // matrix product then carries the block's errors to all later columns.
  const int64_t blockSize = options.blockSize;
  std::vector<float> err(static_cast<size_t>(std::min(blockSize, k) * n));
  const int tasks = static_cast<int>(
      std::max<int64_t>(1, std::min<int64_t>(resolveThreadCount(numThreads),
                                             n / kMinRowsPerTask)));
  for (int64_t i1 = 0, i2 = 0; i1 < k; i1 = i2) {
    // Without act-order a group's grid comes from its columns as they stand
    // when its first column is reached, so every earlier column's error must
    // be in them: a group that starts inside a block but ends past it starts
    // the next block instead (a no-op when the block size is a multiple of
    // the group size, as by default).
    i2 = std::min(i1 + blockSize, k);
    const int64_t nextGroup = (i1 / g + 1) * g;
    if (!options.actOrder && nextGroup < i2 && nextGroup + g > i2)
      i2 = nextGroup;
    const int64_t count = i2 - i1;
    parallelFor(n, tasks, [&](int64_t begin, int64_t end) {
      for (int64_t i = i1; i < i2; ++i) {
        const int64_t channel = order[i];
        const int64_t grp = channel / g;
        float *w = wt.data() + i * n;
        // Without act-order the group's grid is set when its first column
        // comes, from the weights with every earlier column's error spread
        // (the group lies inside this block, see above).
        if (!options.actOrder && i % g == 0)
          for (int64_t r = begin; r < end; ++r)
            storeGrid(grp, r, gridOf(w, r, "compensated"));
        const float d = u[i * k + i];
        float *e = err.data() + (i - i1) * n;
        uint8_t *codes = layer.q.data() + channel * n;
        for (int64_t r = begin; r < end; ++r) {
          const GroupGrid &grid = grids[grp * n + r];
          const int q = quantizeCode(w[r], grid);
          codes[r] = static_cast<uint8_t>(q);
          const float dq = static_cast<float>(q - grid.zero) * grid.scale;
          e[r] = (w[r] - dq) / d;
        }
        for (int64_t j = i + 1; j < i2; ++j) {
          const float uij = u[i * k + j];
          float *wj = wt.data() + j * n;
          for (int64_t r = begin; r < end; ++r)
            wj[r] -= uij * e[r];
        }
      }
    });
    if (i2 < k)
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans,
                  static_cast<int>(k - i2), static_cast<int>(n),
                  static_cast<int>(count), -1.0f, u.data() + i1 * k + i2,
                  static_cast<int>(k), err.data(), static_cast<int>(n), 1.0f,
                  wt.data() + i2 * n, static_cast<int>(n));
  }
  return layer;
}

} // namespace awq
