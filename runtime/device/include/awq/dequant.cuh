//===- dequant.cuh - 3/4/8-bit weight words to fp16 pairs or scaled fp32 --===//
//
// Two decoders for the packed weight words:
//
//  1. fp16 "magic number" decode (for half2 / tensor-core paths): OR a field
//     into the mantissa of fp16 1024 (0x6400), so the half reads 1024 + q
//     (or 1024 + q * 2^o for a field o bits up), then one hsub2 / hfma2 turns
//     it into q exactly. Pairs come out in natural k order as half2.
//  2. scaled-integer decode for fp32 accumulation (the GEMV kernel): isolate
//     a field in place with one AND; with a zero exponent the 32-bit word *is*
//     the fp32 subnormal q * 2^(p - 149), p being the field's bit offset. An
//     fp32 FMA with an activation pre-multiplied by 2^(85 - p) then adds
//     x * q * 2^-64 exactly as x * q would round, with no int->float
//     conversion and no magic-offset subtraction: one integer op and one FMA
//     per weight. This needs subnormals to be honoured (no flush-to-zero),
//     which is the NVRTC/nvcc default; compiling with --ftz=true is rejected.
//
// Word formats (the same for both decoders; the GEMV and GEMM repackers
// place words, these fix what is inside one word):
//   4 bits: nibble i (bits 4i..4i+3) of a word holds value kAwqOrder[i] of the
//           word's 8 consecutive values, kAwqOrder = {0,2,4,6,1,3,5,7}
//           (AutoAWQ's order: masks 0x000f000f / 0x00f000f0 and a shift by 8
//           give the pairs (0,1) (2,3) (4,5) (6,7)).
//   8 bits: byte i of a word holds value i of its 4 consecutive values.
//   3 bits: three words hold 32 consecutive values. Word j (0..2): the low
//           half's slot i (bits 3i..3i+2, i = 0..4) holds value 10j + 2i, the
//           high half's slot i (bits 16+3i..18+3i) holds value 10j + 2i + 1;
//           bit 15 of word j is bit j of value 30 and bit 31 of word j is bit
//           j of value 31. Masks at offsets 0, 3, 6 (plus a shift by 6 for 9,
//           12) give pairs (10j+2i, 10j+2i+1) as half2; the six spare bits
//           gather into the pair (30, 31) with three shifts.
//
// Fault injection (tests prove the suite catches it): with
// faults::kWrongNibbleOrder (awq/faults.h), the 4-bit decoders assume
// sequential nibble order instead of kAwqOrder.
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_DEVICE_DEQUANT_CUH
#define AWQ_DEVICE_DEQUANT_CUH

#include "awq/platform.cuh"

#include "awq/contract.h"
#include "awq/faults.h"
#include "awq/primitives.cuh"

#if defined(__CUDA_ARCH__) && defined(__CUDA_FTZ) && __CUDA_FTZ
// The scaled-integer decode needs fp32 subnormals.
#error "awq/dequant.cuh: do not compile with --ftz=true (or fast math)"
#endif

namespace awq {

/// fp16 1024.0 in both halves: the magic exponent of the fp16 decode.
constexpr uint32_t kHalf2Magic1024 = 0x64006400u;

/// The position (0..7) among a 4-bit word's 8 consecutive values of the value
/// held in nibble `nibble`: AutoAWQ's order {0,2,4,6,1,3,5,7}.
__device__ __forceinline__ constexpr int awqNibbleValue(int nibble) {
  // Fault: sequential order.
  return faults::kWrongNibbleOrder ? nibble
                                   : ((nibble & 3) << 1) | (nibble >> 2);
}

/// The nibble (0..7) that holds value `value` of a 4-bit word (the inverse of
/// awqNibbleValue: {0,4,1,5,2,6,3,7}).
__device__ __forceinline__ constexpr int awqValueNibble(int value) {
  // Fault: sequential order.
  return faults::kWrongNibbleOrder ? value : (value >> 1) | ((value & 1) << 2);
}

//===----------------------------------------------------------------------===//
// fp16 magic-number decode
//===----------------------------------------------------------------------===//

namespace detail {

/// Fault injection only (faults::kWrongNibbleOrder): moves the nibbles so that
/// the correct decoder reads nibble i as value i, i.e. it behaves like a
/// sequential-order decoder.
__device__ __forceinline__ uint32_t sequentialToAwqNibbles(uint32_t word) {
  constexpr int kOrder[8] = {0, 2, 4, 6, 1, 3, 5, 7};
  uint32_t out = 0;
#pragma unroll
  for (int i = 0; i < 8; ++i)
    out |= ((word >> (4 * kOrder[i])) & 0xFu) << (4 * i);
  return out;
}

/// half2 {lo, hi} from two fp16 bit patterns.
__device__ __forceinline__ half2 half2FromBits(uint16_t lo, uint16_t hi) {
  return bitsAsHalf2(static_cast<uint32_t>(lo) |
                     (static_cast<uint32_t>(hi) << 16));
}

} // namespace detail

/// One 4-bit word to its 8 values q (exact small integers in fp16) as pairs
/// q[p] = {value 2p, value 2p+1}. 5 integer ops and 4 half2 ops:
/// low nibbles: (w & 0x000f000f) | 0x6400 -> 1024 + q, minus 1024;
/// high nibbles: (w & 0x00f000f0) | 0x6400 -> 1024 + 16 q, times 1/16 minus 64.
/// Every step is exact (integers < 2^11 are exact in fp16).
__device__ __forceinline__ void decode4ToHalf2(uint32_t word, half2 (&q)[4]) {
  if constexpr (faults::kWrongNibbleOrder)
    word = detail::sequentialToAwqNibbles(word);
  const uint32_t shifted = word >> 8;
  const half2 magic = bitsAsHalf2(kHalf2Magic1024);
  const half2 sixteenth = bitsAsHalf2(0x2c002c00u); // 1/16
  const half2 minus64 = bitsAsHalf2(0xd400d400u);   // -64
  q[0] = __hsub2(
      bitsAsHalf2(lop3<kLutAndOr>(word, 0x000f000fu, kHalf2Magic1024)), magic);
  q[1] =
      __hfma2(bitsAsHalf2(lop3<kLutAndOr>(word, 0x00f000f0u, kHalf2Magic1024)),
              sixteenth, minus64);
  q[2] = __hsub2(
      bitsAsHalf2(lop3<kLutAndOr>(shifted, 0x000f000fu, kHalf2Magic1024)),
      magic);
  q[3] = __hfma2(
      bitsAsHalf2(lop3<kLutAndOr>(shifted, 0x00f000f0u, kHalf2Magic1024)),
      sixteenth, minus64);
}

/// One 8-bit word to its 4 values q as pairs {0,1}, {2,3}: prmt places each
/// byte under the fp16 exponent byte 0x64 (1024 + q), then minus 1024.
__device__ __forceinline__ void decode8ToHalf2(uint32_t word, half2 (&q)[2]) {
  const half2 magic = bitsAsHalf2(kHalf2Magic1024);
  q[0] = __hsub2(bitsAsHalf2(prmt(word, 0x64646464u, 0x4140u)), magic);
  q[1] = __hsub2(bitsAsHalf2(prmt(word, 0x64646464u, 0x4342u)), magic);
}

/// Three 3-bit words to their 32 values q as pairs q[p] = {2p, 2p+1}.
/// A field at bit offset o (0, 3, 6 within a half) reads 1024 + q 2^o after
/// the magic OR; one hfma2 by (2^-o, -1024 2^-o) gives q exactly.
__device__ __forceinline__ void decode3ToHalf2(const uint32_t (&words)[3],
                                               half2 (&q)[16]) {
  const half2 magic = bitsAsHalf2(kHalf2Magic1024);
  const half2 eighth = bitsAsHalf2(0x30003000u);      // 1/8
  const half2 minus128 = bitsAsHalf2(0xd800d800u);    // -128
  const half2 sixtyFourth = bitsAsHalf2(0x24002400u); // 1/64
  const half2 minus16 = bitsAsHalf2(0xcc00cc00u);     // -16
#pragma unroll
  for (int j = 0; j < 3; ++j) {
    const uint32_t w = words[j];
    const uint32_t s = w >> 6;
    q[5 * j + 0] = __hsub2(
        bitsAsHalf2(lop3<kLutAndOr>(w, 0x00070007u, kHalf2Magic1024)), magic);
    q[5 * j + 1] =
        __hfma2(bitsAsHalf2(lop3<kLutAndOr>(w, 0x00380038u, kHalf2Magic1024)),
                eighth, minus128);
    q[5 * j + 2] =
        __hfma2(bitsAsHalf2(lop3<kLutAndOr>(w, 0x01c001c0u, kHalf2Magic1024)),
                sixtyFourth, minus16);
    q[5 * j + 3] =
        __hfma2(bitsAsHalf2(lop3<kLutAndOr>(s, 0x00380038u, kHalf2Magic1024)),
                eighth, minus128);
    q[5 * j + 4] =
        __hfma2(bitsAsHalf2(lop3<kLutAndOr>(s, 0x01c001c0u, kHalf2Magic1024)),
                sixtyFourth, minus16);
  }
  // Spare bits: bit 15 / bit 31 of word j are bit j of values 30 / 31.
  uint32_t spare =
      lop3<kLutAndOr>(words[0] >> 15, 0x00010001u, kHalf2Magic1024);
  spare = lop3<kLutAndOr>(words[1] >> 14, 0x00020002u, spare);
  spare = lop3<kLutAndOr>(words[2] >> 13, 0x00040004u, spare);
  q[15] = __hsub2(bitsAsHalf2(spare), magic);
}

/// w = q * s - zs for one pair, given minusZeroScale = -zs (negated once per
/// group): one hfma2, a single rounding of q * s - zs with q exact.
/// zs = fp16(z * s) is itself rounded (z * s needs up to 19 significant bits),
/// so w may differ from the true (q - z) * s by that rounding as well. That is
/// why the magic 1024 is removed *before* this step: folding it into
/// zs' = (z + 1024) * s would round a much larger number and lose ~10 bits.
__device__ __forceinline__ half2 scaleMinusZs(half2 q, half2 scale,
                                              half2 minusZeroScale) {
  return __hfma2(q, scale, minusZeroScale);
}

/// w = (q - z) * s with a single rounding of the exact value: d = q - z is
/// an exact small integer in fp16, then one multiply. Same cost as
/// scaleMinusZs; needs z (exact in fp16) instead of z * s.
__device__ __forceinline__ half2 scaleMinusZero(half2 q, half2 scale,
                                                half2 zero) {
  return __hmul2(__hsub2(q, zero), scale);
}

//===----------------------------------------------------------------------===//
// bf16 magic-number decode (the GEMM's bf16 path)
//===----------------------------------------------------------------------===//
//
// bf16 has 7 mantissa bits, so a field ORed under the exponent of 128.0
// (0x4300, ulp 1) must sit in bits 0..6 of its half: one 4-bit field per
// half at a time (fp16's 10 bits hold two), hence one shift per pair where
// fp16 shares a shift between two pairs. Integer-pipe operations per word,
// same word formats as fp16:
//   4 bits: 3 shifts + 4 lop3 per 8 values (fp16: 1 + 4);
//   3 bits: 6 shifts + 15 lop3 + 6 for the spare bits per 32 values (fp16:
//           3 + 15 + 6);
// The *Biased decoders stop after the integer ops (the bits of 128 + q, or
// 128 + 8 q): the GEMM subtracts 128 + z in the same bf16x2 op as z.
//   8 bits: a value needs 8 significant bits, one more than the mantissa:
//           per pair one prmt puts each byte in the low byte of its half and
//           its top bit h, replicated, in the high byte; one lop3 keeps the
//           low 7 bits l under 128.0 (lo = 128 + l), one keeps 128.0 where
//           h = 0 and 0 where h = 1 (x); q = lo - x exactly, or in the GEMM
//           q - z = fma(x, -1, lo - z) (fp16: one prmt).
// Every value stays an exact integer below 256, exact in bf16.

/// bf16 128.0 in both halves: the magic exponent of the bf16 decode.
constexpr uint32_t kBfloat162Magic128 = 0x43004300u;

/// Whether bf16x2 arithmetic (and the bf16 mma) exists where this is
/// compiled: sm_80+ on the device, always on the host. The bf16 decoders'
/// float steps are compiled only there (sm_75 builds see only their integer
/// parts; bf16 GEMM configs refuse sm_75).
#if !defined(__CUDA_ARCH__) || __CUDA_ARCH__ >= 800
#define AWQ_HAS_BF16_ARITHMETIC 1
#else
#define AWQ_HAS_BF16_ARITHMETIC 0
#endif
#if defined(__CUDA_ARCH__)
// The preprocessor cannot read awq::kArchTable; it must agree with it.
static_assert(bool(AWQ_HAS_BF16_ARITHMETIC) == awq::target::kBf16Arithmetic,
              "AWQ_HAS_BF16_ARITHMETIC disagrees with kArchTable's "
              "bf16Arithmetic for this architecture");
#endif

namespace detail {

/// __nv_bfloat162 from its bits (low half = element 0) and back.
__device__ __forceinline__ __nv_bfloat162 bitsAsBfloat162(uint32_t bits) {
#if defined(__CUDA_ARCH__)
  return *reinterpret_cast<const __nv_bfloat162 *>(&bits);
#else
  __nv_bfloat162 v;
  static_assert(sizeof(v) == 4, "__nv_bfloat162 must be 4 bytes");
  std::memcpy(&v, &bits, sizeof(v));
  return v;
#endif
}
__device__ __forceinline__ uint32_t bfloat162AsBits(__nv_bfloat162 value) {
#if defined(__CUDA_ARCH__)
  return *reinterpret_cast<const uint32_t *>(&value);
#else
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  return bits;
#endif
}

} // namespace detail

/// The integer part of the 4-bit bf16 decode: f[p] = the bits of the pair
/// {128 + value 2p, 128 + value 2p+1} (kAwqOrder: nibbles i and i + 4 hold
/// values 2i, 2i+1; a shift by 4 i brings them to bits 0..3 / 16..19). 3
/// shifts and 4 lop3. The GEMM folds the -128 into its zero point.
__device__ __forceinline__ void decode4ToBfloat162Biased(uint32_t word,
                                                         uint32_t (&f)[4]) {
  if constexpr (faults::kWrongNibbleOrder)
    word = detail::sequentialToAwqNibbles(word);
  f[0] = lop3<kLutAndOr>(word, 0x000f000fu, kBfloat162Magic128);
  f[1] = lop3<kLutAndOr>(word >> 4, 0x000f000fu, kBfloat162Magic128);
  f[2] = lop3<kLutAndOr>(word >> 8, 0x000f000fu, kBfloat162Magic128);
  f[3] = lop3<kLutAndOr>(word >> 12, 0x000f000fu, kBfloat162Magic128);
}

/// Whether pair p of decode3ToBfloat162Biased reads 128 + 8 q (else 128 + q).
__device__ __forceinline__ constexpr bool bf16ThreeBitEighth(int p) {
  return p < 15 && (p % 5 == 1 || p % 5 == 3);
}

/// The integer part of the 3-bit bf16 decode: f[p] = bits of {128 + q,
/// 128 + q} for pair p, or {128 + 8 q, ...} where bf16ThreeBitEighth(p).
/// Slots at bits 0 and 3 of a half are read in place, the word shifted by 6
/// gives slots 2 and 3, shifted by 12 slot 4; the spare bits gather as in
/// decode3ToHalf2. 9 shifts and 18 lop3 per 32 values.
__device__ __forceinline__ void
decode3ToBfloat162Biased(const uint32_t (&words)[3], uint32_t (&f)[16]) {
#pragma unroll
  for (int j = 0; j < 3; ++j) {
    const uint32_t w = words[j];
    const uint32_t s6 = w >> 6;
    f[5 * j + 0] = lop3<kLutAndOr>(w, 0x00070007u, kBfloat162Magic128);
    f[5 * j + 1] = lop3<kLutAndOr>(w, 0x00380038u, kBfloat162Magic128);
    f[5 * j + 2] = lop3<kLutAndOr>(s6, 0x00070007u, kBfloat162Magic128);
    f[5 * j + 3] = lop3<kLutAndOr>(s6, 0x00380038u, kBfloat162Magic128);
    f[5 * j + 4] = lop3<kLutAndOr>(w >> 12, 0x00070007u, kBfloat162Magic128);
  }
  // Spare bits: bit 15 / bit 31 of word j are bit j of values 30 / 31.
  uint32_t spare =
      lop3<kLutAndOr>(words[0] >> 15, 0x00010001u, kBfloat162Magic128);
  spare = lop3<kLutAndOr>(words[1] >> 14, 0x00020002u, spare);
  f[15] = lop3<kLutAndOr>(words[2] >> 13, 0x00040004u, spare);
}

/// The integer part of the 8-bit bf16 decode of pair p (bytes 2p, 2p + 1 of
/// `word`): lo = bits of {128 + l, ...} (l = the byte's low 7 bits) and x =
/// bits of {128 or 0, ...} (128 where the byte's top bit h is 0), so that
/// q = l + 128 h = lo - x. One prmt (byte, then its sign replicated above
/// it) and two lop3.
template <int P>
__device__ __forceinline__ void
decode8ToBfloat162Biased(uint32_t word, uint32_t &lo, uint32_t &x) {
  static_assert(P == 0 || P == 1, "decode8ToBfloat162Biased: pair 0 or 1");
  // Result bytes: byte 2P, sign(byte 2P), byte 2P+1, sign(byte 2P+1).
  const uint32_t spread = prmt(word, 0u, P == 0 ? 0x9180u : 0xB3A2u);
  lo = lop3<kLutAndOr>(spread, 0x007f007fu, kBfloat162Magic128);
  // ~spread & 0x43004300: 128.0 where the replicated sign is 0.
  x = lop3<(~0xF0 & 0xCC) & 0xFF>(spread, kBfloat162Magic128, 0u);
}

#if AWQ_HAS_BF16_ARITHMETIC
/// One 4-bit word (fp16 format, kAwqOrder) to its 8 values q as bf16 pairs
/// q[p] = {value 2p, value 2p+1}: the biased decode minus 128.
__device__ __forceinline__ void decode4ToBfloat162(uint32_t word,
                                                   __nv_bfloat162 (&q)[4]) {
  uint32_t f[4];
  decode4ToBfloat162Biased(word, f);
  const __nv_bfloat162 magic = detail::bitsAsBfloat162(kBfloat162Magic128);
#pragma unroll
  for (int p = 0; p < 4; ++p)
    q[p] = __hsub2(detail::bitsAsBfloat162(f[p]), magic);
}

/// One 8-bit word (byte i = value i) to its 4 values as bf16 pairs {0,1},
/// {2,3}: the biased decode, then q = lo - x (exact). 6 integer ops and 2
/// bf16x2 ops.
__device__ __forceinline__ void decode8ToBfloat162(uint32_t word,
                                                   __nv_bfloat162 (&q)[2]) {
  uint32_t lo, x;
  decode8ToBfloat162Biased<0>(word, lo, x);
  q[0] = __hsub2(detail::bitsAsBfloat162(lo), detail::bitsAsBfloat162(x));
  decode8ToBfloat162Biased<1>(word, lo, x);
  q[1] = __hsub2(detail::bitsAsBfloat162(lo), detail::bitsAsBfloat162(x));
}

/// Three 3-bit words (fp16 format) to their 32 values as bf16 pairs q[p] =
/// {2p, 2p+1}: the biased decode, then minus 128 or one hfma2 by
/// (1/8, -16) for the pairs read as 128 + 8 q.
__device__ __forceinline__ void decode3ToBfloat162(const uint32_t (&words)[3],
                                                   __nv_bfloat162 (&q)[16]) {
  uint32_t f[16];
  decode3ToBfloat162Biased(words, f);
  const __nv_bfloat162 magic = detail::bitsAsBfloat162(kBfloat162Magic128);
  const __nv_bfloat162 eighth = detail::bitsAsBfloat162(0x3e003e00u);  // 1/8
  const __nv_bfloat162 minus16 = detail::bitsAsBfloat162(0xc180c180u); // -16
#pragma unroll
  for (int p = 0; p < 16; ++p)
    q[p] = bf16ThreeBitEighth(p)
               ? __hfma2(detail::bitsAsBfloat162(f[p]), eighth, minus16)
               : __hsub2(detail::bitsAsBfloat162(f[p]), magic);
}
#endif // AWQ_HAS_BF16_ARITHMETIC

//===----------------------------------------------------------------------===//
// Scaled-integer decode for fp32 accumulation (GEMV)
//===----------------------------------------------------------------------===//

/// Values per GEMV unit: one lane's share of one column per step.
constexpr int kGemvUnitValues = static_cast<int>(kGemvValuesPerUnit);

/// Activations are pre-multiplied by 2^(kGemvPrescaleExponent - p) so that
/// (x 2^(85-p)) * (q 2^(p-149)) = x q 2^-64: far inside the fp32 normal range
/// for every fp16 x * a (2^-48 .. 2^32) and 4-bit q, and x 2^(85-p) <= 2^117.
constexpr int kGemvPrescaleExponent = 85;
/// The fp32 accumulators hold sums scaled by 2^-kGemvAccumulatorExponent.
constexpr int kGemvAccumulatorExponent = 64;

/// The bit offset p of value `value` (0..31 within a unit) after the
/// scaled-integer decode of `Bits`-bit words; the decoded word is the fp32
/// subnormal q * 2^(p - 149).
template <int Bits>
__device__ __forceinline__ constexpr int gemvFieldShift(int value) {
  static_assert(Bits == 3 || Bits == 4 || Bits == 8,
                "gemvFieldShift: Bits must be 3, 4 or 8");
  if (Bits == 4) {
    const int nibble = awqValueNibble(value & 7);
    return nibble < 5 ? 4 * nibble : nibble < 7 ? 4 * (nibble - 5) : 0;
  }
  if (Bits == 8)
    return (value & 3) == 1 ? 8 : 0;
  if (value == 30)
    return 0;
  if (value == 31)
    return 16;
  const int r = value % 10;
  const int slot = r >> 1;
  return ((r & 1) != 0 && slot < 2) ? 16 + 3 * slot : 3 * slot;
}

/// Value `value` (0..31) of one 32-value unit given the unit's `Bits` words
/// (in the word format above): the field q << p in place, whose bits read as
/// the fp32 subnormal q * 2^(p - 149), p = gemvFieldShift<Bits>(value).
/// Fields must stay below bit 23, the exponent. With a compile-time `value`
/// this is one AND (or one prmt) on the integer/logic pipe, plus one shift
/// per word shared by its fields at offsets >= 22 (3 bits; and three for the
/// two spare-bit values). A 4-bit word's nibbles at bits 20 and 24 share one
/// shift, and its top nibble and an 8-bit word's top byte need nothing but a
/// shift. Every shift is a multiply high on the FMA pipe
/// (shiftRightOnFmaPipe), so the integer pipe carries 7 instructions per 8
/// fields at 4 bits and 3 per 4 at 8 bits. Calling it
/// per value where the value is consumed keeps only a few decoded fields
/// live at a time.
template <int Bits>
__device__ __forceinline__ uint32_t
decodeFieldScaled(const uint32_t (&words)[Bits], int value) {
  static_assert(Bits == 3 || Bits == 4 || Bits == 8,
                "decodeFieldScaled: Bits must be 3, 4 or 8");
  if constexpr (Bits == 4) {
    const uint32_t w = words[value >> 3];
    const int nibble = awqValueNibble(value & 7);
    if (nibble < 5)
      return w & (0xFu << (4 * nibble));
    if (nibble < 7)
      return shiftRightOnFmaPipe<20>(w) & (0xFu << (4 * (nibble - 5)));
    return shiftRightOnFmaPipe<28>(w);
  } else if constexpr (Bits == 8) {
    const uint32_t w = words[value >> 2];
    switch (value & 3) {
    case 0:
      return w & 0xFFu;
    case 1:
      return w & 0xFF00u;
    case 2:
      return prmt(w, 0u, 0x4442u); // byte 2 -> bits 0-7
    default:
      return shiftRightOnFmaPipe<24>(w); // byte 3 -> bits 0-7
    }
  } else {
    if (value >= 30) {
      // Bits 15 and 31 of word j are bit j of values 30 and 31.
      uint32_t spare = shiftRightOnFmaPipe<14>(words[1]) & 0x00020002u;
      spare = lop3<kLutAndOr>(shiftRightOnFmaPipe<15>(words[0]), 0x00010001u,
                              spare);
      spare = lop3<kLutAndOr>(shiftRightOnFmaPipe<13>(words[2]), 0x00040004u,
                              spare);
      return value == 30 ? (spare & 0x7u) : (spare & 0x70000u);
    }
    const uint32_t w = words[value / 10];
    const int r = value % 10;
    const int slot = r >> 1;
    if ((r & 1) == 0)
      return w & (0x7u << (3 * slot));
    return slot < 2 ? (w & (0x7u << (16 + 3 * slot)))
                    : (shiftRightOnFmaPipe<16>(w) & (0x7u << (3 * slot)));
  }
}

/// All 32 fields of a unit: fields[v] = decodeFieldScaled<Bits>(words, v).
template <int Bits>
__device__ __forceinline__ void decodeUnitScaled(const uint32_t (&words)[Bits],
                                                 uint32_t (&fields)[32]) {
#pragma unroll
  for (int v = 0; v < 32; ++v)
    fields[v] = decodeFieldScaled<Bits>(words, v);
}

} // namespace awq

#endif // AWQ_DEVICE_DEQUANT_CUH
