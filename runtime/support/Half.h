//===- Half.h - IEEE binary16 conversions on the host ---------------------===//
//
// fp16 values are stored as uint16_t bit patterns in host buffers. The
// conversions round to nearest even and keep subnormals, like the GPU's
// cvt.rn.f16.f32; they use the compiler's _Float16 (GCC >= 12, clang).
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_RUNTIME_SUPPORT_HALF_H
#define AWQ_RUNTIME_SUPPORT_HALF_H

#include <cstdint>
#include <cstring>

namespace awq {

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

/// Rounds a float to the nearest fp16 value and returns it as a float.
inline float roundToHalf(float value) {
  return halfToFloat(floatToHalf(value));
}

} // namespace awq

#endif // AWQ_RUNTIME_SUPPORT_HALF_H
