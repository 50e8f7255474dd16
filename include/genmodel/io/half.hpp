// genmodel/io/half.hpp: exact conversions of IEEE half (F16) and bfloat16
// (BF16) bit patterns to float, for reading safetensors files written by
// Python. Every half and bfloat16 value, subnormals, infinities and NaNs
// included, is exactly representable as a float.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>

namespace genmodel::io {

inline float half_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h >> 15) << 31;
  const uint32_t exp = (h >> 10) & 0x1f;
  const uint32_t mant = h & 0x3ff;
  if (exp == 0) {  // zero or subnormal: mant * 2^-24
    const float v = std::ldexp(static_cast<float>(mant), -24);
    return sign ? -v : v;
  }
  if (exp == 31)  // inf (mant == 0) or NaN, payload kept in the top mantissa bits
    return std::bit_cast<float>(sign | 0x7f800000u | (mant << 13));
  return std::bit_cast<float>(sign | ((exp - 15 + 127) << 23) | (mant << 13));
}

/// bfloat16 is the top half of a float's bits.
inline float bfloat16_to_float(uint16_t b) {
  return std::bit_cast<float>(static_cast<uint32_t>(b) << 16);
}

}  // namespace genmodel::io
