// genmodel/losses/regression.hpp: mean squared error and L1 (mean absolute
// error), like torch.nn.functional.mse_loss and l1_loss.
#pragma once

#include "genmodel/losses/reduction.hpp"

namespace genmodel::losses {

/// (input - target)^2, reduced; input and target of the same shape.
template <class T, class D>
Tensor<T, D> mse(const Tensor<T, D>& input, const Tensor<T, D>& target, Reduction r = Reduction::mean) {
  detail::check_same_shape("mse", "input", input, "target", target);
  const auto diff = sub(input, target);
  return detail::reduce(mul(diff, diff), r);
}

/// |input - target|, reduced (the gradient at input == target is 0).
template <class T, class D>
Tensor<T, D> l1(const Tensor<T, D>& input, const Tensor<T, D>& target, Reduction r = Reduction::mean) {
  detail::check_same_shape("l1", "input", input, "target", target);
  return detail::reduce(abs(sub(input, target)), r);
}

}  // namespace genmodel::losses
