//===- Quantizer.cpp - Grouped integer quantizer (RTN) for linear weights -===//

#include "compiler/quantize/Quantizer.h"

#include "compiler/reference/Parallel.h"
#include "runtime/support/Error.h"
#include "runtime/support/Half.h"

#include <cstring>
#include <limits>

namespace awq {

namespace {

constexpr float kMaxHalf = 65504.0f;
constexpr float kMinNormalHalf = 6.103515625e-05f;            // 2^-14
constexpr float kHalfSubnormalStep = 5.9604644775390625e-08f; // 2^-24
constexpr uint32_t kDroppedBits = (1u << 13) - 1; // fp32 vs fp16 mantissa

/// The next fp16 value below v, which must be fp16-representable and > 0.
float nextHalfDown(float v) {
  if (v <= kMinNormalHalf)
    return v - kHalfSubnormalStep;
  uint32_t bits;
  std::memcpy(&bits, &v, sizeof(bits));
  bits -= kDroppedBits + 1;
  float r;
  std::memcpy(&r, &bits, sizeof(r));
  return r;
}

} // namespace

float roundDownToHalf(float v) {
  if (!(v <= kMaxHalf))
    return std::numeric_limits<float>::infinity();
  if (v < kMinNormalHalf) // Subnormal halfs: multiples of 2^-24, exact here.
    return std::floor(v / kHalfSubnormalStep) * kHalfSubnormalStep;
  // Normal halfs keep 10 of fp32's 23 mantissa bits: dropping the other 13
  // rounds a positive value down.
  uint32_t bits;
  std::memcpy(&bits, &v, sizeof(bits));
  bits &= ~kDroppedBits;
  float r;
  std::memcpy(&r, &bits, sizeof(r));
  return r;
}

void checkQuantParams(const QuantParams &params, int64_t k,
                      const std::string &what) {
  if (params.bits != 3 && params.bits != 4 && params.bits != 8)
    throw Error(what + ": bits must be 3, 4 or 8, got " +
                std::to_string(params.bits));
  if (k <= 0)
    throw Error(what + ": input features K must be positive, got " +
                std::to_string(k));
  if (params.groupSize <= 0 || k % params.groupSize != 0)
    throw Error(what + ": group size " + std::to_string(params.groupSize) +
                " must be positive and divide K = " + std::to_string(k));
}

GroupGrid makeGroupGrid(float minVal, float maxVal, const QuantParams &params) {
  GroupGrid grid;
  grid.qmax = (1 << params.bits) - 1;
  // The grid spans [lo, hi] in qmax steps. With a zero point, [lo, hi] is
  // the group's range widened to hold 0 (a one-sided group would otherwise
  // clamp its zero and saturate); without one, it is [-absmax, absmax] around
  // the implicit zero 2^(b-1). Formed in fp64: hi - lo of two floats may
  // round in fp32.
  const double absMax = std::max<double>(std::fabs(minVal), std::fabs(maxVal));
  const double lo = params.zeroPoint ? std::min<double>(minVal, 0) : -absMax;
  const double hi = params.zeroPoint ? std::max<double>(maxVal, 0) : absMax;
  const double range = std::max(hi - lo, 1e-5);
  const double exact = range / grid.qmax;
  if (!(exact <= kMaxHalf)) { // Not storable: the group is refused.
    grid.scale = std::numeric_limits<float>::infinity();
    return grid;
  }
  // The fp16 scale is rounded down, so that qmax steps reach at least from
  // lo to hi and both end codes are used: lo gets code 0 and hi rounds to
  // qmax or beyond and is clamped to it (an extra error of at most
  // qmax * (exact - scale), under one fp16 ulp of the scale per step, at
  // that end only). Rounding up, as before, left the top code unused in
  // most clipped groups. The code of lo and hi is verified: when the range is
  // exactly qmax scales and lo / scale a half-integer, round-half-even can
  // still miss an end, and the next smaller scale fixes it.
  auto zeroFor = [&](float scale) {
    if (!params.zeroPoint)
      return 1 << (params.bits - 1);
    const float v = std::min(std::max(static_cast<float>(-lo / scale), 0.0f),
                             static_cast<float>(grid.qmax));
    return static_cast<int>(roundHalfEven(v));
  };
  auto usesBothEnds = [&](float scale, int zero) {
    auto code = [&](double w) {
      return roundHalfEven(static_cast<float>(w / scale)) + zero;
    };
    return code(lo) <= 0 && code(hi) >= grid.qmax;
  };
  float scale =
      std::max(roundDownToHalf(static_cast<float>(exact)), kHalfSubnormalStep);
  int zero = zeroFor(scale);
  if (!usesBothEnds(scale, zero) && scale > kHalfSubnormalStep) {
    scale = nextHalfDown(scale);
    zero = zeroFor(scale);
  }
  grid.scale = scale;
  grid.zero = zero;
  return grid;
}

namespace {

/// The fake quantizer's loop, optionally clamping the input to [lb, ub]
/// first and subtracting the unclamped input after: written once, compiled
/// for the baseline ISA and for AVX-512 (chosen at run time).
template <bool ClampAndSubtract>
[[gnu::always_inline]] inline void
fakeQuantizeLoop(const float *w, int64_t count, const GroupGrid &grid, float lb,
                 float ub, float *out) {
  const float scale = grid.scale;
  const float zero = static_cast<float>(grid.zero);
  const float qmax = static_cast<float>(grid.qmax);
  const float magic = 12582912.0f; // See roundHalfEven.
  // Same operations as quantizeCode, in float: every intermediate is an
  // integer below 2^23, so the float and int paths agree bit for bit. The
  // value-form ternaries (not std::min/max, which return references) let
  // the compiler use packed min/max without -ffast-math. The product
  // (q - zero) * scale is exact in fp32 (a code below 2^8 times an fp16
  // scale), so a build that fuses it with the subtraction gives the same
  // bits.
  for (int64_t i = 0; i < count; ++i) {
    const float x = w[i];
    float c = x;
    if constexpr (ClampAndSubtract) {
      c = c < lb ? lb : c;
      c = c > ub ? ub : c;
    }
    float v = c / scale;
    v = v < -kMaxRoundInput ? -kMaxRoundInput : v;
    v = v > kMaxRoundInput ? kMaxRoundInput : v;
    float q = ((v + magic) - magic) + zero;
    q = q < 0.0f ? 0.0f : q;
    q = q > qmax ? qmax : q;
    const float d = (q - zero) * scale;
    if constexpr (ClampAndSubtract)
      out[i] = d - x;
    else
      out[i] = d;
  }
}

template <bool ClampAndSubtract>
void fakeQuantizeBaseline(const float *w, int64_t count, const GroupGrid &grid,
                          float lb, float ub, float *out) {
  fakeQuantizeLoop<ClampAndSubtract>(w, count, grid, lb, ub, out);
}

template <bool ClampAndSubtract>
[[gnu::target("avx512f,avx512vl,avx512dq,avx512bw")]] void
fakeQuantizeAvx512(const float *w, int64_t count, const GroupGrid &grid,
                   float lb, float ub, float *out) {
  fakeQuantizeLoop<ClampAndSubtract>(w, count, grid, lb, ub, out);
}

using FakeQuantizeFn = void (*)(const float *, int64_t, const GroupGrid &,
                                float, float, float *);

/// The build of the loop for this CPU (elementwise IEEE operations only, so
/// both give the same bits).
template <bool ClampAndSubtract> FakeQuantizeFn fakeQuantizeForCpu() {
#if defined(__x86_64__) && defined(__GNUC__)
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw"))
    return &fakeQuantizeAvx512<ClampAndSubtract>;
#endif
  return &fakeQuantizeBaseline<ClampAndSubtract>;
}

} // namespace

void fakeQuantizeSpan(const float *w, int64_t count, const GroupGrid &grid,
                      float *out) {
  static const FakeQuantizeFn impl = fakeQuantizeForCpu<false>();
  impl(w, count, grid, 0.0f, 0.0f, out);
}

void clampedQuantizationError(const float *w, int64_t count, float lb, float ub,
                              const GroupGrid &grid, float *err) {
  static const FakeQuantizeFn impl = fakeQuantizeForCpu<true>();
  impl(w, count, grid, lb, ub, err);
}

void groupMinMax(const float *w, int64_t count, float &minVal, float &maxVal) {
  // Float min/max reductions are not vectorised without -ffast-math, so use
  // GCC/Clang vector extensions: two 4-lane accumulators per bound.
  typedef float Vec4 __attribute__((vector_size(16)));
  float lo = w[0], hi = w[0];
  int64_t i = 0;
  if (count >= 8) {
    Vec4 lo0 = {lo, lo, lo, lo}, hi0 = lo0, lo1 = lo0, hi1 = lo0;
    for (; i + 8 <= count; i += 8) {
      Vec4 a, b;
      std::memcpy(&a, w + i, sizeof(a));
      std::memcpy(&b, w + i + 4, sizeof(b));
      lo0 = a < lo0 ? a : lo0;
      hi0 = a > hi0 ? a : hi0;
      lo1 = b < lo1 ? b : lo1;
      hi1 = b > hi1 ? b : hi1;
    }
    lo0 = lo1 < lo0 ? lo1 : lo0;
    hi0 = hi1 > hi0 ? hi1 : hi0;
    for (int j = 0; j < 4; ++j) {
      lo = lo0[j] < lo ? lo0[j] : lo;
      hi = hi0[j] > hi ? hi0[j] : hi;
    }
  }
  for (; i < count; ++i) {
    lo = w[i] < lo ? w[i] : lo;
    hi = w[i] > hi ? w[i] : hi;
  }
  minVal = lo;
  maxVal = hi;
}

bool fakeQuantizeRow(const float *w, int64_t k, const QuantParams &params,
                     float *out) {
  const int64_t g = params.groupSize;
  for (int64_t begin = 0; begin < k; begin += g) {
    float lo, hi;
    groupMinMax(w + begin, g, lo, hi);
    const GroupGrid grid = makeGroupGrid(lo, hi, params);
    if (!grid.valid())
      return false;
    fakeQuantizeSpan(w + begin, g, grid, out + begin);
  }
  return true;
}

QuantizedLinear quantizeLinear(const float *weight, int64_t n, int64_t k,
                               const QuantParams &params,
                               const std::vector<uint16_t> &bias,
                               const std::string &what, int numThreads) {
  checkQuantParams(params, k, what);
  if (n <= 0)
    throw Error(what + ": output features N must be positive, got " +
                std::to_string(n));
  if (weight == nullptr)
    throw Error(what + ": weight data is null");
  if (!bias.empty() && bias.size() != static_cast<size_t>(n))
    throw Error(what + ": bias must have N = " + std::to_string(n) +
                " elements, got " + std::to_string(bias.size()));

  QuantizedLinear layer;
  layer.k = k;
  layer.n = n;
  layer.params = params;
  const int64_t g = params.groupSize, groups = k / g;
  layer.q.assign(static_cast<size_t>(k * n), 0);
  layer.scales.assign(static_cast<size_t>(groups * n), 0);
  if (params.zeroPoint)
    layer.zeros.assign(static_cast<size_t>(groups * n), 0);
  layer.bias = bias;

  // Rows are processed in blocks so that the transposed code writes
  // q[k][row..row+block) stay contiguous.
  constexpr int64_t kBlock = 64;
  const int64_t blocks = (n + kBlock - 1) / kBlock;
  parallelFor(blocks, numThreads, [&](int64_t blockBegin, int64_t blockEnd) {
    std::vector<GroupGrid> grids(static_cast<size_t>(kBlock * groups));
    for (int64_t b = blockBegin; b < blockEnd; ++b) {
      const int64_t row0 = b * kBlock, rows = std::min(kBlock, n - row0);
      for (int64_t j = 0; j < rows; ++j) {
        const int64_t row = row0 + j;
        for (int64_t grp = 0; grp < groups; ++grp) {
          const float *wg = weight + row * k + grp * g;
          for (int64_t i = 0; i < g; ++i)
            if (!std::isfinite(wg[i]))
              throw Error(what + ": weight [" + std::to_string(row) + ", " +
                          std::to_string(grp * g + i) + "] is not finite");
          float lo, hi;
          groupMinMax(wg, g, lo, hi);
          const GroupGrid grid = makeGroupGrid(lo, hi, params);
          if (!grid.valid())
            throw Error(what + ": output channel " + std::to_string(row) +
                        ", group " + std::to_string(grp) + ": weight range [" +
                        std::to_string(lo) + ", " + std::to_string(hi) +
                        "] needs a scale larger than fp16 can hold");
          grids[j * groups + grp] = grid;
          layer.scales[grp * n + row] = floatToHalf(grid.scale);
          if (params.zeroPoint)
            layer.zeros[grp * n + row] = static_cast<uint8_t>(grid.zero);
        }
      }
      for (int64_t c = 0; c < k; ++c) {
        const int64_t grp = c / g;
        uint8_t *out = layer.q.data() + c * n + row0;
        for (int64_t j = 0; j < rows; ++j)
          out[j] = static_cast<uint8_t>(quantizeCode(weight[(row0 + j) * k + c],
                                                     grids[j * groups + grp]));
      }
    }
  });
  return layer;
}

} // namespace awq
