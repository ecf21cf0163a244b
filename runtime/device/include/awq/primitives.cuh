//===- primitives.cuh - Bit operations, bit casts, loads and warp reductions
//===//
//
// The small building blocks under the dequantizers and the GEMV kernel:
// lop3/prmt (one PTX instruction each on the device, the host emulation
// otherwise), bit casts between 32-bit words, float and half2, read-once
// weight loads that do not pollute the caches, and warp-level sums.
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_DEVICE_PRIMITIVES_CUH
#define AWQ_DEVICE_PRIMITIVES_CUH

#include "awq/platform.cuh"

#include "awq/contract.h"

#if !defined(__CUDA_ARCH__)
#include <cstring>
#endif

namespace awq {

/// What the architecture being compiled for (AWQ_TARGET_SM) offers, as
/// awq::kArchTable states it: the kernels choose their code paths from these
/// flags, the planner from the same table's entries.
namespace target {
static_assert(featureIndexOf(AWQ_TARGET_SM) >= 0,
              "the kernels need sm_75 or newer (awq::kMinSmVersion)");
/// cp.async and L2 cache-policy hints (createpolicy, .L2::cache_hint).
constexpr bool kAsyncCopy = kArchTable[featureIndexOf(AWQ_TARGET_SM)].asyncCopy;
/// mma.sync m16n8k16 (else two m16n8k8).
constexpr bool kMmaM16N8K16 =
    kArchTable[featureIndexOf(AWQ_TARGET_SM)].mmaM16N8K16;
/// bf16x2 arithmetic and the bf16 mma.sync (bf16 activations).
constexpr bool kBf16Arithmetic =
    kArchTable[featureIndexOf(AWQ_TARGET_SM)].bf16Arithmetic;
} // namespace target

//===----------------------------------------------------------------------===//
// Bit operations
//===----------------------------------------------------------------------===//

/// lop3.b32: bit k of the result is bit (4 a_k + 2 b_k + c_k) of `Lut`, where
/// Lut = F(0xF0, 0xCC, 0xAA) for the wanted function F(a, b, c); e.g.
/// (a & b) | c is 0xEA.
template <uint32_t Lut>
__device__ __forceinline__ uint32_t lop3(uint32_t a, uint32_t b, uint32_t c) {
  static_assert(Lut <= 0xFF, "lop3: the lookup table is 8 bits");
#if defined(__CUDA_ARCH__)
  uint32_t d;
  asm("lop3.b32 %0, %1, %2, %3, %4;\n"
      : "=r"(d)
      : "r"(a), "r"(b), "r"(c), "n"(Lut));
  return d;
#else
  return host::lop3(a, b, c, Lut);
#endif
}

/// The lop3 table of (a & b) | c: isolates a field and ORs in a constant.
constexpr uint32_t kLutAndOr = (0xF0 & 0xCC) | 0xAA;

/// prmt.b32 (default mode): byte i of the result is byte (selector >> 4i) & 7
/// of the 8-byte value {b, a} (a is bytes 0-3), sign-replicated when bit 3 of
/// that selector nibble is set.
__device__ __forceinline__ uint32_t prmt(uint32_t a, uint32_t b,
                                         uint32_t selector) {
#if defined(__CUDA_ARCH__)
  uint32_t d;
  asm("prmt.b32 %0, %1, %2, %3;\n" : "=r"(d) : "r"(a), "r"(b), "r"(selector));
  return d;
#else
  return host::prmt(a, b, selector);
#endif
}

/// x >> Shift as the high word of x * 2^(32 - Shift): an IMAD.HI, which
/// issues on the FMA pipe, where a shift would take the integer/logic pipe
/// that the decode's masks already load (the GEMV decode, awq/dequant.cuh).
/// Inline PTX, so that NVVM does not turn it back into a shift.
template <int Shift>
__device__ __forceinline__ uint32_t shiftRightOnFmaPipe(uint32_t x) {
  static_assert(Shift > 0 && Shift < 32, "a shift of 1 to 31 bits");
#if defined(__CUDA_ARCH__)
  uint32_t d;
  asm("mul.hi.u32 %0, %1, %2;\n" : "=r"(d) : "r"(x), "n"(1u << (32 - Shift)));
  return d;
#else
  return static_cast<uint32_t>(
      (static_cast<uint64_t>(x) * (uint64_t{1} << (32 - Shift))) >> 32);
#endif
}

//===----------------------------------------------------------------------===//
// Bit casts (no conversion, the 32 bits are reinterpreted)
//===----------------------------------------------------------------------===//

/// The float whose IEEE-754 bits are `bits`.
__device__ __forceinline__ float bitsAsFloat(uint32_t bits) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(bits);
#else
  float f;
  std::memcpy(&f, &bits, sizeof(f));
  return f;
#endif
}

/// The IEEE-754 bits of `value`.
__device__ __forceinline__ uint32_t floatAsBits(float value) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(value);
#else
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  return bits;
#endif
}

/// The half2 whose low half is bits 0-15 of `bits` (element 0 = low).
__device__ __forceinline__ half2 bitsAsHalf2(uint32_t bits) {
#if defined(__CUDA_ARCH__)
  return *reinterpret_cast<const half2 *>(&bits);
#else
  half2 h;
  static_assert(sizeof(h) == 4, "half2 must be 4 bytes");
  std::memcpy(&h, &bits, sizeof(h));
  return h;
#endif
}

/// The 32 bits of `value` (element 0 in bits 0-15).
__device__ __forceinline__ uint32_t half2AsBits(half2 value) {
#if defined(__CUDA_ARCH__)
  return *reinterpret_cast<const uint32_t *>(&value);
#else
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  return bits;
#endif
}

/// 2^e as a float for -126 <= e <= 127, built from its exponent bits (exact,
/// no libm call).
__device__ __forceinline__ float exp2Int(int e) {
  return bitsAsFloat(static_cast<uint32_t>(e + 127) << 23);
}

//===----------------------------------------------------------------------===//
// Read-once global loads
//===----------------------------------------------------------------------===//

/// An L2 cache policy that marks lines evict-first. Quantized weights are read
/// exactly once per launch, so they should not push activations, scales or
/// other layers' data out of L2. Create it once per thread, pass it to every
/// streaming load. The host has no caches to steer, and targets without
/// cache-policy hints ignore it: the value is unused there.
__device__ __forceinline__ uint64_t makeEvictFirstPolicy() {
#if defined(__CUDA_ARCH__)
  uint64_t policy = 0;
  if constexpr (target::kAsyncCopy)
    asm volatile("createpolicy.fractional.L2::evict_first.b64 %0, 1.0;\n"
                 : "=l"(policy));
  return policy;
#else
  return 0;
#endif
}

/// The L2 policy that leaves lines at normal priority: for weights a launch
/// reads more than once (several M tiles re-read them), passed where a
/// streaming load would take makeEvictFirstPolicy() so that both cases
/// issue the same instruction.
__device__ __forceinline__ uint64_t makeEvictNormalPolicy() {
#if defined(__CUDA_ARCH__)
  uint64_t policy = 0;
  if constexpr (target::kAsyncCopy)
    asm volatile("createpolicy.fractional.L2::evict_normal.b64 %0, 1.0;\n"
                 : "=l"(policy));
  return policy;
#else
  return 0;
#endif
}

/// One 16-byte read-only load that bypasses L1 allocation and hints L2 to
/// evict the line first (targets without cache-policy hints: no L2 hint).
/// `pointer` must be 16-byte aligned.
__device__ __forceinline__ uint4 loadStreaming16(const void *pointer,
                                                 uint64_t policy) {
  uint4 v;
#if defined(__CUDA_ARCH__)
  if constexpr (target::kAsyncCopy)
    asm volatile("ld.global.nc.L1::no_allocate.L2::cache_hint.v4.u32 "
                 "{%0, %1, %2, %3}, [%4], %5;\n"
                 : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
                 : "l"(pointer), "l"(policy));
  else
    asm volatile("ld.global.nc.L1::no_allocate.v4.u32 "
                 "{%0, %1, %2, %3}, [%4];\n"
                 : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
                 : "l"(pointer));
#else
  (void)policy;
  std::memcpy(&v, pointer, sizeof(v));
#endif
  return v;
}

//===----------------------------------------------------------------------===//
// Warp reductions
//===----------------------------------------------------------------------===//

/// The sum of `value` over each aligned group of `Width` lanes (a power of two
/// <= 32), returned to every lane of the group. Butterfly (xor) shuffles, so
/// all 32 lanes must call it.
template <int Width = 32>
__device__ __forceinline__ float warpReduceSum(float value) {
  static_assert(Width >= 1 && Width <= 32 && (Width & (Width - 1)) == 0,
                "warpReduceSum: Width must be a power of two <= 32");
#pragma unroll
  for (int offset = Width / 2; offset > 0; offset /= 2)
    value += __shfl_xor_sync(0xffffffffu, value, offset);
  return value;
}

/// Reduces `Count` values (a power of two <= 32) over all 32 lanes and
/// scatters the totals: afterwards values[0] of lane L holds the warp-wide sum
/// of values[L >> (5 - log2(Count))], i.e. value i lands in the 32 / Count
/// consecutive lanes starting at i * 32 / Count. It needs Count - 1 + (5 -
/// log2(Count)) shuffles instead of 5 * Count for Count butterfly sums: each
/// step sends half of the remaining values to the partner lane.
template <int Count>
__device__ __forceinline__ void warpReduceScatter(float (&values)[Count]) {
  static_assert(Count >= 1 && Count <= 32 && (Count & (Count - 1)) == 0,
                "warpReduceScatter: Count must be a power of two <= 32");
  const int lane = threadIdx.x & 31;
  int live = Count;
#pragma unroll
  for (int offset = 16; offset >= 1; offset /= 2) {
    if (live > 1) {
      const int half = live / 2;
      const bool upper = (lane & offset) != 0;
#pragma unroll
      for (int i = 0; i < Count / 2; ++i) {
        if (i < half) {
          // Keep the half selected by this lane's bit, send the other half.
          const float send = upper ? values[i] : values[i + half];
          const float keep = upper ? values[i + half] : values[i];
          values[i] = keep + __shfl_xor_sync(0xffffffffu, send, offset);
        }
      }
      live = half;
    } else {
      values[0] += __shfl_xor_sync(0xffffffffu, values[0], offset);
    }
  }
}

} // namespace awq

#endif // AWQ_DEVICE_PRIMITIVES_CUH
