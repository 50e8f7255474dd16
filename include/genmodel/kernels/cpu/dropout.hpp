// genmodel/kernels/cpu/dropout.hpp: the dropout mask kernel, drawn from the
// counter-based Philox stream of a genmodel::Generator (no Tensor, no autograd).
//
// Layout: mask (n), contiguous. Element i is kept (mask = 1/(1-p)) when its
// uniform u in [0, 1) satisfies u >= p, else dropped (mask = 0). A request
// reserves its blocks first = gen.reserve(blocks) and element i depends only
// on (seed, first, i):
//   float:  4 elements per block, u = u01_float(word i%4 of block first + i/4);
//   double: 2 elements per block, u = u01_double(word 2*(i%2), word 2*(i%2)+1)
//           of block first + i/2.
// The same (seed, offset) therefore gives the same mask bit for bit whatever
// the thread count.
#pragma once

#include <algorithm>
#include <cstdint>
#include <type_traits>

#include "genmodel/core/error.hpp"
#include "genmodel/core/parallel.hpp"
#include "genmodel/core/philox.hpp"

namespace genmodel::kernels::cpu {

/// Fills mask (n) with 0 (probability p) or 1/(1-p); advances gen by the
/// blocks used (ceil(n/4) for float, ceil(n/2) for double). 0 <= p < 1.
template <class T>
void dropout_mask(Generator& gen, T p, T* mask, int64_t n) {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>, "dropout: float or double only");
  GM_CHECK(p >= T(0) && p < T(1), "dropout: probability p must be in [0, 1), got ", p);
  GM_CHECK(n >= 0, "dropout: size must be non-negative, got ", n);
  constexpr int64_t per = std::is_same_v<T, float> ? 4 : 2;  // elements per Philox block
  const int64_t blocks = (n + per - 1) / per;
  const uint64_t first = gen.reserve(uint64_t(blocks));
  const T scale = T(1) / (T(1) - p);
  const Generator& g = gen;
  parallel_for(0, blocks, 2048, [&](int64_t b, int64_t e) {
    for (int64_t k = b; k < e; ++k) {
      const PhiloxBlock w = g.block(first + uint64_t(k));
      const int64_t i0 = k * per, cnt = std::min(per, n - i0);
      T* mk = mask + i0;
      for (int64_t j = 0; j < cnt; ++j) {
        T u;
        if constexpr (std::is_same_v<T, float>) u = ::genmodel::detail::u01_float(w[j]);
        else u = ::genmodel::detail::u01_double(w[2 * j], w[2 * j + 1]);
        mk[j] = u < p ? T(0) : scale;
      }
    }
  });
}

}  // namespace genmodel::kernels::cpu
