//===- Half.h - fp16 and bf16 conversions on the host ---------------------===//
//
// fp16 and bf16 values are stored as uint16_t bit patterns in host buffers. The
// conversions round to nearest even and keep subnormals, like the GPU's
// cvt.rn.f16.f32; they use the compiler's _Float16 (GCC >= 12, clang >= 15)
// where it has one, else integer arithmetic with the same results
// (AWQ_SOFT_HALF forces the integer path). bf16 (the top half of an fp32)
// rounds the same way, in integer arithmetic.
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_RUNTIME_SUPPORT_HALF_H
#define AWQ_RUNTIME_SUPPORT_HALF_H

#include "awq/contract.h"

#include <cstdint>
#include <cstring>

namespace awq {

namespace detail {

// The conversions in integer arithmetic, bit for bit those of _Float16 (NaN
// payloads aside): for compilers without _Float16 (GCC 11 on x86, e.g. on a
// GPU machine's Ubuntu 22.04, or clang 14). support_tests compares them.

inline float softHalfToFloat(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exponent = (h >> 10) & 0x1fu;
  const uint32_t mantissa = h & 0x3ffu;
  uint32_t bits;
  if (exponent == 0x1f) {
    bits = sign | 0x7f800000u | (mantissa << 13); // inf, NaN
  } else if (exponent != 0) {
    bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
  } else {
    // Zero or subnormal: mantissa * 2^-24 is exact in float.
    float magnitude = static_cast<float>(mantissa) * 5.9604644775390625e-8f;
    std::memcpy(&bits, &magnitude, sizeof(bits));
    bits |= sign;
  }
  float value;
  std::memcpy(&value, &bits, sizeof(value));
  return value;
}

inline uint16_t softFloatToHalf(float value) {
  uint32_t x;
  std::memcpy(&x, &value, sizeof(x));
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000u);
  const uint32_t magnitude = x & 0x7fffffffu;
  if (magnitude > 0x7f800000u) // NaN: quiet, keeping the payload's top bits.
    return sign | 0x7e00u | ((magnitude >> 13) & 0x3ffu);
  if (magnitude >= 0x477ff000u) // From 65520 on, round to nearest even is inf.
    return sign | 0x7c00u;
  if (magnitude < 0x38800000u) {
    // Below 2^-14: a subnormal half, round(value * 2^24) to nearest even
    // (the scaling is exact; 1024 becomes the smallest normal, 0x0400).
    float scaled;
    std::memcpy(&scaled, &magnitude, sizeof(scaled));
    scaled *= 16777216.0f;
    uint32_t integral = static_cast<uint32_t>(scaled);
    const float fraction = scaled - static_cast<float>(integral);
    if (fraction > 0.5f || (fraction == 0.5f && (integral & 1u)))
      ++integral;
    return static_cast<uint16_t>(sign | integral);
  }
  // Normal: rebias the exponent (127 - 15) and round the 13 dropped bits to
  // nearest even; a carry moves into the exponent as it should.
  uint32_t h = (magnitude - 0x38000000u) >> 13;
  const uint32_t rest = magnitude & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1u)))
    ++h;
  return static_cast<uint16_t>(sign | h);
}

} // namespace detail

#if defined(__FLT16_MANT_DIG__) && !defined(AWQ_SOFT_HALF)

inline float halfToFloat(uint16_t bits) {
  _Float16 h;
  std::memcpy(&h, &bits, sizeof(h));
  return static_cast<float>(h);
}

inline uint16_t floatToHalf(float value) {
  _Float16 h = static_cast<_Float16>(value);
  uint16_t bits;
  std::memcpy(&bits, &h, sizeof(bits));
  return bits;
}

#else

inline float halfToFloat(uint16_t bits) {
  return detail::softHalfToFloat(bits);
}
inline uint16_t floatToHalf(float value) {
  return detail::softFloatToHalf(value);
}

#endif

/// Rounds a float to the nearest fp16 value and returns it as a float.
inline float roundToHalf(float value) {
  return halfToFloat(floatToHalf(value));
}

/// bf16 is the top half of an fp32: widening is exact.
inline float bfloat16ToFloat(uint16_t bits) {
  const uint32_t word = static_cast<uint32_t>(bits) << 16;
  float value;
  std::memcpy(&value, &word, sizeof(value));
  return value;
}

/// The nearest bf16 (ties to even; overflow to infinity; NaN stays a quiet
/// NaN with its sign).
inline uint16_t floatToBfloat16(float value) {
  uint32_t word;
  std::memcpy(&word, &value, sizeof(word));
  if ((word & 0x7fffffffu) > 0x7f800000u)
    return static_cast<uint16_t>((word >> 16) | 0x0040u);
  const uint32_t rest = word & 0xffffu;
  uint32_t top = word >> 16;
  if (rest > 0x8000u || (rest == 0x8000u && (top & 1u)))
    ++top;
  return static_cast<uint16_t>(top);
}

/// A 16-bit element of `type` (fp16 or bf16 bits) as a float (exact).
inline float elementToFloat(uint16_t bits, ActivationType type) {
  return type == ActivationType::BF16 ? bfloat16ToFloat(bits)
                                      : halfToFloat(bits);
}

/// The nearest element of `type` to `value`, as bits.
inline uint16_t floatToElement(float value, ActivationType type) {
  return type == ActivationType::BF16 ? floatToBfloat16(value)
                                      : floatToHalf(value);
}

} // namespace awq

#endif // AWQ_RUNTIME_SUPPORT_HALF_H
