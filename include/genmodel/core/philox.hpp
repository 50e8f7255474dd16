// genmodel/core/philox.hpp: the counter-based Philox4x32-10 generator
// (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11).
// Element i of a request depends only on (seed, offset, i), so the numbers are
// the same whatever the thread count, and a saved (seed, offset) pair resumes
// the stream exactly.
#pragma once

#include <array>
#include <cmath>
#include <cstdint>

#include "genmodel/core/device.hpp"

namespace genmodel {

using PhiloxBlock = std::array<uint32_t, 4>;

/// One Philox4x32-10 evaluation: 10 rounds over a 128-bit counter, 64-bit key.
GENMODEL_HOST_DEVICE inline PhiloxBlock philox4x32_10(PhiloxBlock ctr, std::array<uint32_t, 2> key) {
  constexpr uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u;
  constexpr uint32_t kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {
      key[0] += kW0;
      key[1] += kW1;
    }
    const uint64_t p0 = uint64_t(kM0) * ctr[0];
    const uint64_t p1 = uint64_t(kM1) * ctr[2];
    ctr = {uint32_t(p1 >> 32) ^ ctr[1] ^ key[0], uint32_t(p1), uint32_t(p0 >> 32) ^ ctr[3] ^ key[1],
           uint32_t(p0)};
  }
  return ctr;
}

/// Block `index` of the stream of `seed`: the counter is the index, the key
/// the seed. Generator::block and the CUDA kernels both call this.
GENMODEL_HOST_DEVICE inline PhiloxBlock philox_block(uint64_t seed, uint64_t index) {
  return philox4x32_10({uint32_t(index), uint32_t(index >> 32), 0u, 0u}, {uint32_t(seed), uint32_t(seed >> 32)});
}

/// A seeded stream of Philox blocks. Block b of the stream is
/// philox(counter = {b_lo, b_hi, 0, 0}, key = {seed_lo, seed_hi}); `offset`
/// is the next unused block.
class Generator {
 public:
  explicit Generator(uint64_t seed = 0, uint64_t offset = 0) : seed_(seed), offset_(offset) {}

  uint64_t seed() const { return seed_; }
  uint64_t offset() const { return offset_; }
  void manual_seed(uint64_t seed) {
    seed_ = seed;
    offset_ = 0;
  }
  void set_offset(uint64_t offset) { offset_ = offset; }

  /// Reserves `blocks` consecutive blocks and returns the first one's index.
  uint64_t reserve(uint64_t blocks) {
    const uint64_t first = offset_;
    offset_ += blocks;
    return first;
  }

  PhiloxBlock block(uint64_t index) const { return philox_block(seed_, index); }

 private:
  uint64_t seed_;
  uint64_t offset_;
};

/// The process-wide generator used when a factory is given none.
inline Generator& default_generator() {
  static Generator g(0);
  return g;
}

inline void manual_seed(uint64_t seed) { default_generator().manual_seed(seed); }

namespace detail {
/// Uniform in [0, 1) from 24 random bits (float) or 53 (double, two words).
GENMODEL_HOST_DEVICE inline float u01_float(uint32_t w) { return float(w >> 8) * 0x1.0p-24f; }
GENMODEL_HOST_DEVICE inline double u01_double(uint32_t hi, uint32_t lo) {
  return double(((uint64_t(hi) << 32) | lo) >> 11) * 0x1.0p-53;
}

/// Box-Muller on (u1, u2) in [0, 1): u1 is moved into (0, 1] so log is finite.
template <class T>
GENMODEL_HOST_DEVICE inline void box_muller(T u1, T u2, T& z0, T& z1) {
  const T r = std::sqrt(T(-2) * std::log(T(1) - u1));
  const T theta = T(2 * 3.14159265358979323846) * u2;
  z0 = r * std::cos(theta);
  z1 = r * std::sin(theta);
}
}  // namespace detail

}  // namespace genmodel
