// genmodel/losses/reduction.hpp: the reduction a loss applies to its
// per-element (or per-sample) values, as PyTorch's reduction='mean' | 'sum'
// | 'none', and the shape check every two-argument loss makes.
#pragma once

#include "genmodel/ops.hpp"

namespace genmodel::losses {

enum class Reduction { mean, sum, none };

namespace detail {

template <class T, class D>
Tensor<T, D> reduce(const Tensor<T, D>& x, Reduction r) {
  switch (r) {
    case Reduction::mean: return mean(x);
    case Reduction::sum: return sum(x);
    case Reduction::none: break;
  }
  return x;
}

/// Losses do not broadcast (a silent broadcast of (N) against (N, 1) is a classic bug).
template <class T, class D>
void check_same_shape(const char* loss, const char* a_name, const Tensor<T, D>& a, const char* b_name,
                      const Tensor<T, D>& b) {
  GM_CHECK(a.defined() && b.defined(), loss, ": undefined ", a.defined() ? b_name : a_name);
  GM_CHECK(a.shape() == b.shape(), loss, ": ", a_name, " of shape ", a.shape(), " and ", b_name, " of shape ",
           b.shape(), " must match");
}

}  // namespace detail
}  // namespace genmodel::losses
