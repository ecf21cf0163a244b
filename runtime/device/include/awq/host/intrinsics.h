//===- intrinsics.h - Host versions of CUDA intrinsics kernels may use ----===//
//
// Barriers, warp shuffles and votes, atomics, fences, __ldg and the fp16 and
// bf16 intrinsics <cuda_fp16.h> / <cuda_bf16.h> declare only for the device
// (__hfma, __hfma2).
// They live in the global namespace under their CUDA names so that kernel
// source compiles unchanged. Synchronizing calls take the caller's source
// line (GCC/Clang __builtin_FILE/__builtin_LINE default arguments) so that
// divergence and deadlock reports name it.
//
// fp16 rounding: <cuda_fp16.h>'s host __hadd/__hsub/__hmul (and the half2
// forms) compute in fp32 and round once to fp16. fp32 has 24 >= 2*11 + 2
// significand bits, so for +, -, * that double rounding is innocuous and the
// result equals the GPU's correctly rounded (RNE) fp16 op. The emulation
// never contracts a separate mul and add into an fma, while the GPU compiler
// may (the plain intrinsics carry no .rn): such results may differ by one
// fp16 ulp, which is why kernel tests compare with a tolerance.
//
// bf16 likewise: <cuda_bf16.h>'s host __hadd2/__hsub2/__hmul2 compute in
// fp32 and round once (24 >= 2*8 + 2); bf16 has fp32's exponent range, so
// no fp32 intermediate of +, -, * overflows where the bf16 result does not.
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_DEVICE_HOST_INTRINSICS_H
#define AWQ_DEVICE_HOST_INTRINSICS_H

#include "awq/host/warp.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>

inline constexpr int warpSize = 32;

namespace awq {
namespace host {
namespace detail {

inline void syncThreads(const Site &site) {
  BlockState &block = activeBlock("__syncthreads");
  ThreadState &t = block.self();
  if (block.exitedCount)
    raise(site.str() + ": reached after " + std::to_string(block.exitedCount) +
          " thread(s) of the block exited (first: " +
          describeThread(block.threads[block.firstExited].index) +
          "); a barrier that some threads never reach is undefined on the "
          "GPU (barrier divergence)");
  if (block.barrierArrived == 0) {
    block.barrierSite = site;
  } else if (!site.sameAs(block.barrierSite)) {
    raise(site.str() + " while " + std::to_string(block.barrierArrived) +
          " thread(s) wait at " + block.barrierSite.str() +
          " (barrier divergence: all threads must wait at the same barrier)");
  }
  if (++block.barrierArrived == block.numThreads) {
    block.barrierArrived = 0;
    for (unsigned i = 0; i < block.numThreads; ++i)
      if (block.threads[i].wait == ThreadWait::Barrier)
        block.makeReady(i);
    return;
  }
  t.wait = ThreadWait::Barrier;
  t.site = site;
  block.blockRunningThread();
}

// CUDA's __half2 is not trivially copyable (it declares its assignment), but
// it is a plain 4-byte value, as are all types the shuffles move.
template <typename T> inline uint64_t toBits(const T &value) {
  static_assert(sizeof(T) <= 8 && std::is_trivially_destructible<T>::value,
                "warp shuffles move plain values of at most 8 bytes");
  uint64_t bits = 0;
  std::memcpy(&bits, static_cast<const void *>(&value), sizeof(T));
  return bits;
}

template <typename T> inline T fromBits(uint64_t bits) {
  T value;
  std::memcpy(static_cast<void *>(&value), &bits, sizeof(T));
  return value;
}

inline uint64_t shuffle(WarpOp op, unsigned mask, uint64_t value,
                        uint32_t operand, int width, const Site &site) {
  BlockState &block = activeBlock(site.what);
  if (width < 1 || width > 32 || (width & (width - 1)) != 0)
    raise(site.str() + ": width must be a power of two in [1, 32], got " +
          std::to_string(width));
  LaneInput &in = joinWarpOp(block, op, mask, site);
  in.value = value;
  in.b = operand;
  // The clamp CUDA's headers pass: the segment's first lane for up, its last
  // lane otherwise.
  in.c = static_cast<uint32_t>(32 - width) << 8 |
         (op == WarpOp::ShflUp ? 0u : 0x1fu);
  const LaneOutput &out = arriveWarpOp(block, site);
  return static_cast<uint64_t>(out.word[1]) << 32 | out.word[0];
}

inline unsigned vote(WarpOp op, unsigned mask, int predicate,
                     const Site &site) {
  BlockState &block = activeBlock(site.what);
  LaneInput &in = joinWarpOp(block, op, mask, site);
  in.value = predicate != 0;
  return arriveWarpOp(block, site).word[0];
}

/// fp32 atomics on global memory flush subnormal inputs and results to zero
/// on NVIDIA GPUs; on shared memory they keep them.
inline float flushSubnormal(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  if ((bits & 0x7f800000u) == 0)
    bits &= 0x80000000u;
  std::memcpy(&value, &bits, sizeof(value));
  return value;
}

inline bool inDynamicShared(const void *address) {
  const BlockState *block = runningBlock;
  if (!block || !block->inKernelThread())
    return false;
  const unsigned char *p = static_cast<const unsigned char *>(address);
  return p >= block->shared() && p < block->shared() + block->sharedBytes();
}

/// Atomically replaces *address with update(*address); returns the old
/// value. Blocks run on several OS threads, so these are real atomics.
template <typename T, typename Bits, typename Update>
inline T atomicUpdate(T *address, Update update) {
  static_assert(sizeof(T) == sizeof(Bits), "bit pattern size");
  Bits *word = reinterpret_cast<Bits *>(address);
  Bits expected = __atomic_load_n(word, __ATOMIC_RELAXED);
  for (;;) {
    const T old = fromBits<T>(expected);
    const T next = update(old);
    Bits desired;
    std::memcpy(&desired, &next, sizeof(desired));
    if (__atomic_compare_exchange_n(word, &expected, desired, true,
                                    __ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
      return old;
  }
}

/// Bit patterns of fp16 values for exact arithmetic.
inline uint16_t halfBits(__half h) { return static_cast<__half_raw>(h).x; }

/// Rounds a double once to the binary format with `Fraction` stored fraction
/// bits and `Exponent` exponent bits (fp16: 10, 5; bf16: 7, 8) and returns
/// its bits: nearest even, overflow to inf, subnormals kept, NaN quiet.
/// Integer arithmetic, so it needs no compiler _Float16 support.
template <int Fraction, int Exponent>
inline uint16_t roundDoubleToBits(double value) {
  constexpr int kBias = (1 << (Exponent - 1)) - 1;
  constexpr int kMinExponent = 1 - kBias;
  constexpr uint32_t kInfinity = ((1u << Exponent) - 1) << Fraction;
  constexpr uint32_t kQuiet = 1u << (Fraction - 1);
  constexpr uint64_t kOne = uint64_t(1) << Fraction;
  uint64_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  const uint16_t sign = static_cast<uint16_t>((bits >> 48) & 0x8000u);
  const int biased = static_cast<int>((bits >> 52) & 0x7ffu);
  const uint64_t fraction = bits & ((uint64_t(1) << 52) - 1);
  if (biased == 0x7ff) // inf stays inf, NaN becomes a quiet NaN
    return static_cast<uint16_t>(sign | kInfinity | (fraction ? kQuiet : 0u));
  const int exponent = biased - 1023;
  const uint64_t significand = (uint64_t(1) << 52) | fraction;
  // Steps: 2^(exponent - Fraction) for normals, 2^(kMinExponent - Fraction)
  // below. The value is significand * 2^(exponent - 52); drop `shift` bits,
  // rounding to even.
  const int shift = exponent >= kMinExponent
                        ? 52 - Fraction
                        : 52 - Fraction + kMinExponent - exponent;
  uint64_t units = 0;
  if (biased != 0 && shift <= 53) {
    units = significand >> shift;
    const uint64_t rest = significand & ((uint64_t(1) << shift) - 1);
    const uint64_t halfway = uint64_t(1) << (shift - 1);
    if (rest > halfway || (rest == halfway && (units & 1u)))
      ++units;
  }
  uint32_t result;
  if (exponent >= kMinExponent) {
    int e = exponent;
    if (units == 2 * kOne) { // rounded up into the next binade
      units = kOne;
      ++e;
    }
    result = e > kBias ? kInfinity
                       : static_cast<uint32_t>((e + kBias) << Fraction) |
                             static_cast<uint32_t>(units - kOne);
  } else {
    result = static_cast<uint32_t>(units); // kOne encodes 2^kMinExponent
  }
  return static_cast<uint16_t>(sign | result);
}

/// Rounds a double to fp16 once (roundDoubleToBits).
inline __half doubleToHalf(double value) {
  __half_raw raw;
  raw.x = roundDoubleToBits<10, 5>(value);
  return __half(raw);
}

/// fp16 fused multiply-add with one rounding, as the GPU's fma.rn.f16.
///
/// Why double is exact enough: a*b of two fp16 values has at most 22
/// significant bits and is exact in double. Adding c (11 bits) is exact too
/// unless the two addends lie more than 31 binades apart; then the smaller
/// one is below half an fp16 ulp of the larger and the nearest fp16 of the
/// double sum is the nearest fp16 of the exact sum, except when the larger
/// addend is itself an fp16 rounding midpoint (only a*b can be one, and
/// then |a*b| >= 2^29 overflows to inf either way). So rounding the double
/// sum to fp16 once gives the correctly rounded fma.
inline __half fmaHalf(__half a, __half b, __half c) {
  const double product = static_cast<double>(halfBitsToFloat(halfBits(a))) *
                         static_cast<double>(halfBitsToFloat(halfBits(b)));
  return doubleToHalf(product +
                      static_cast<double>(halfBitsToFloat(halfBits(c))));
}

/// Bit patterns of bf16 values.
inline uint16_t bfloat16Bits(__nv_bfloat16 h) {
  return static_cast<__nv_bfloat16_raw>(h).x;
}

inline double bfloat16ToDouble(__nv_bfloat16 h) {
  const uint32_t bits = static_cast<uint32_t>(bfloat16Bits(h)) << 16;
  float value;
  std::memcpy(&value, &bits, sizeof(value));
  return value;
}

/// Rounds a double to bf16 once (roundDoubleToBits).
inline __nv_bfloat16 doubleToBfloat16(double value) {
  __nv_bfloat16_raw raw;
  raw.x = roundDoubleToBits<7, 8>(value);
  return __nv_bfloat16(raw);
}

/// bf16 fused multiply-add with one rounding, as the GPU's fma.rn.bf16.
///
/// a*b of two bf16 values (8 significant bits each) is exact in double. The
/// sum with c may not be (bf16 spans 2^-133..2^128), so it is formed in
/// double and its rounding error recovered (TwoSum); an inexact sum is
/// rounded to odd (its last bit set), which keeps the information a tie
/// needs: 53 >= 8 + 2 bits, so rounding the round-to-odd double to bf16
/// gives the correctly rounded result.
inline __nv_bfloat16 fmaBfloat16(__nv_bfloat16 a, __nv_bfloat16 b,
                                 __nv_bfloat16 c) {
  const double product = bfloat16ToDouble(a) * bfloat16ToDouble(b);
  const double addend = bfloat16ToDouble(c);
  const double sum = product + addend;
  if (!std::isfinite(sum))
    return doubleToBfloat16(sum); // inf or NaN inputs
  const double back = sum - product;
  const double error = (product - (sum - back)) + (addend - back);
  double odd = sum;
  uint64_t bits;
  std::memcpy(&bits, &odd, sizeof(bits));
  if (error != 0.0 && (bits & 1u) == 0)
    odd = std::nextafter(sum, error > 0.0 ? INFINITY : -INFINITY);
  return doubleToBfloat16(odd);
}

} // namespace detail
} // namespace host
} // namespace awq

// ---- Barriers and warp collectives --------------------------------------

/// Block-wide barrier; all threads must reach the same __syncthreads.
inline void __syncthreads(const char *file = __builtin_FILE(),
                          int line = __builtin_LINE()) {
  awq::host::detail::syncThreads({"__syncthreads", file, line});
}

/// Warp barrier over the full mask.
inline void __syncwarp(unsigned mask = 0xffffffffu,
                       const char *file = __builtin_FILE(),
                       int line = __builtin_LINE()) {
  const awq::host::detail::Site site{"__syncwarp", file, line};
  awq::host::detail::BlockState &block =
      awq::host::detail::activeBlock("__syncwarp");
  awq::host::detail::joinWarpOp(block, awq::host::detail::WarpOp::SyncWarp,
                                mask, site);
  awq::host::detail::arriveWarpOp(block, site);
}

template <typename T>
inline T __shfl_sync(unsigned mask, T var, int srcLane, int width = warpSize,
                     const char *file = __builtin_FILE(),
                     int line = __builtin_LINE()) {
  using namespace awq::host::detail;
  return fromBits<T>(shuffle(WarpOp::ShflIdx, mask, toBits(var),
                             static_cast<uint32_t>(srcLane), width,
                             {"__shfl_sync", file, line}));
}

template <typename T>
inline T __shfl_up_sync(unsigned mask, T var, unsigned delta,
                        int width = warpSize,
                        const char *file = __builtin_FILE(),
                        int line = __builtin_LINE()) {
  using namespace awq::host::detail;
  return fromBits<T>(shuffle(WarpOp::ShflUp, mask, toBits(var), delta, width,
                             {"__shfl_up_sync", file, line}));
}

template <typename T>
inline T __shfl_down_sync(unsigned mask, T var, unsigned delta,
                          int width = warpSize,
                          const char *file = __builtin_FILE(),
                          int line = __builtin_LINE()) {
  using namespace awq::host::detail;
  return fromBits<T>(shuffle(WarpOp::ShflDown, mask, toBits(var), delta, width,
                             {"__shfl_down_sync", file, line}));
}

template <typename T>
inline T __shfl_xor_sync(unsigned mask, T var, int laneMask,
                         int width = warpSize,
                         const char *file = __builtin_FILE(),
                         int line = __builtin_LINE()) {
  using namespace awq::host::detail;
  return fromBits<T>(shuffle(WarpOp::ShflXor, mask, toBits(var),
                             static_cast<uint32_t>(laneMask), width,
                             {"__shfl_xor_sync", file, line}));
}

inline unsigned __ballot_sync(unsigned mask, int predicate,
                              const char *file = __builtin_FILE(),
                              int line = __builtin_LINE()) {
  using namespace awq::host::detail;
  return vote(WarpOp::VoteBallot, mask, predicate,
              {"__ballot_sync", file, line});
}

inline int __any_sync(unsigned mask, int predicate,
                      const char *file = __builtin_FILE(),
                      int line = __builtin_LINE()) {
  using namespace awq::host::detail;
  return vote(WarpOp::VoteAny, mask, predicate, {"__any_sync", file, line}) !=
         0;
}

inline int __all_sync(unsigned mask, int predicate,
                      const char *file = __builtin_FILE(),
                      int line = __builtin_LINE()) {
  using namespace awq::host::detail;
  return vote(WarpOp::VoteAll, mask, predicate, {"__all_sync", file, line}) ==
         mask;
}

// ---- Memory ----------------------------------------------------------------

/// Orders this thread's memory accesses for all other threads (other blocks
/// run on other OS threads).
inline void __threadfence() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
/// A block's threads share one OS thread; only the compiler must not reorder.
inline void __threadfence_block() { __atomic_signal_fence(__ATOMIC_SEQ_CST); }

template <typename T> inline T __ldg(const T *address) { return *address; }

inline int atomicAdd(int *address, int value) {
  return __atomic_fetch_add(address, value, __ATOMIC_SEQ_CST);
}
inline unsigned atomicAdd(unsigned *address, unsigned value) {
  return __atomic_fetch_add(address, value, __ATOMIC_SEQ_CST);
}
inline unsigned long long atomicAdd(unsigned long long *address,
                                    unsigned long long value) {
  return __atomic_fetch_add(address, value, __ATOMIC_SEQ_CST);
}
inline float atomicAdd(float *address, float value) {
  using namespace awq::host::detail;
  if (inDynamicShared(address))
    return atomicUpdate<float, uint32_t>(
        address, [value](float old) { return old + value; });
  const float addend = flushSubnormal(value);
  return atomicUpdate<float, uint32_t>(address, [addend](float old) {
    return flushSubnormal(flushSubnormal(old) + addend);
  });
}
inline double atomicAdd(double *address, double value) {
  return awq::host::detail::atomicUpdate<double, uint64_t>(
      address, [value](double old) { return old + value; });
}
inline int atomicSub(int *address, int value) {
  return __atomic_fetch_sub(address, value, __ATOMIC_SEQ_CST);
}
inline unsigned atomicSub(unsigned *address, unsigned value) {
  return __atomic_fetch_sub(address, value, __ATOMIC_SEQ_CST);
}
inline int atomicExch(int *address, int value) {
  return __atomic_exchange_n(address, value, __ATOMIC_SEQ_CST);
}
inline unsigned atomicExch(unsigned *address, unsigned value) {
  return __atomic_exchange_n(address, value, __ATOMIC_SEQ_CST);
}
inline float atomicExch(float *address, float value) {
  return awq::host::detail::atomicUpdate<float, uint32_t>(
      address, [value](float) { return value; });
}
inline int atomicMax(int *address, int value) {
  return awq::host::detail::atomicUpdate<int, uint32_t>(
      address, [value](int old) { return old > value ? old : value; });
}
inline unsigned atomicMax(unsigned *address, unsigned value) {
  return awq::host::detail::atomicUpdate<unsigned, uint32_t>(
      address, [value](unsigned old) { return old > value ? old : value; });
}
inline int atomicMin(int *address, int value) {
  return awq::host::detail::atomicUpdate<int, uint32_t>(
      address, [value](int old) { return old < value ? old : value; });
}
inline unsigned atomicMin(unsigned *address, unsigned value) {
  return awq::host::detail::atomicUpdate<unsigned, uint32_t>(
      address, [value](unsigned old) { return old < value ? old : value; });
}
/// ((old >= limit) ? 0 : old + 1), as CUDA's atomicInc.
inline unsigned atomicInc(unsigned *address, unsigned limit) {
  return awq::host::detail::atomicUpdate<unsigned, uint32_t>(
      address, [limit](unsigned old) { return old >= limit ? 0u : old + 1u; });
}
inline int atomicCAS(int *address, int compare, int value) {
  __atomic_compare_exchange_n(address, &compare, value, false, __ATOMIC_SEQ_CST,
                              __ATOMIC_SEQ_CST);
  return compare; // Holds the old value whether or not it matched.
}
inline unsigned atomicCAS(unsigned *address, unsigned compare, unsigned value) {
  __atomic_compare_exchange_n(address, &compare, value, false, __ATOMIC_SEQ_CST,
                              __ATOMIC_SEQ_CST);
  return compare;
}
inline unsigned long long atomicCAS(unsigned long long *address,
                                    unsigned long long compare,
                                    unsigned long long value) {
  __atomic_compare_exchange_n(address, &compare, value, false, __ATOMIC_SEQ_CST,
                              __ATOMIC_SEQ_CST);
  return compare;
}

// ---- fp16 intrinsics <cuda_fp16.h> declares for the device only ---------

inline __half __hfma(const __half a, const __half b, const __half c) {
  return awq::host::detail::fmaHalf(a, b, c);
}

inline __half2 __hfma2(const __half2 a, const __half2 b, const __half2 c) {
  return __halves2half2(
      awq::host::detail::fmaHalf(__low2half(a), __low2half(b), __low2half(c)),
      awq::host::detail::fmaHalf(__high2half(a), __high2half(b),
                                 __high2half(c)));
}

// ---- bf16 intrinsics <cuda_bf16.h> declares for the device only ---------

inline __nv_bfloat16 __hfma(const __nv_bfloat16 a, const __nv_bfloat16 b,
                            const __nv_bfloat16 c) {
  return awq::host::detail::fmaBfloat16(a, b, c);
}

inline __nv_bfloat162 __hfma2(const __nv_bfloat162 a, const __nv_bfloat162 b,
                              const __nv_bfloat162 c) {
  return __halves2bfloat162(
      awq::host::detail::fmaBfloat16(__low2bfloat16(a), __low2bfloat16(b),
                                     __low2bfloat16(c)),
      awq::host::detail::fmaBfloat16(__high2bfloat16(a), __high2bfloat16(b),
                                     __high2bfloat16(c)));
}

#endif // AWQ_DEVICE_HOST_INTRINSICS_H
