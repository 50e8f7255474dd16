// genmodel/optim/clip_grad.hpp: clip_grad_norm_, like
// torch.nn.utils.clip_grad_norm_: scales every gradient by
// max_norm / (total_norm + 1e-6) when that is below 1, where total_norm is
// the L2 norm of all gradients taken together.
#pragma once

#include <cmath>
#include <vector>

#include "genmodel/autograd/grad_mode.hpp"
#include "genmodel/core/factories.hpp"
#include "genmodel/core/tensor.hpp"
#include "genmodel/ops/elementwise.hpp"
#include "genmodel/ops/reduce.hpp"

namespace genmodel::optim {

/// Returns the total norm before clipping. Parameters without a gradient are skipped.
template <class T, class D>
double clip_grad_norm_(const std::vector<Tensor<T, D>>& params, double max_norm) {
  GM_CHECK(max_norm >= 0, "clip_grad_norm_: max_norm must be >= 0, got ", max_norm);
  NoGradGuard no_grad;
  // The squares are summed on the gradients' device; one scalar comes back.
  Tensor<T, D> sq = zeros<T, D>(Shape{});
  for (const auto& p : params) {
    GM_CHECK(p.defined(), "clip_grad_norm_: undefined parameter");
    const Tensor<T, D> g = p.grad();
    if (g.defined()) sq = add(sq, sum(mul(g, g)));
  }
  const double total = std::sqrt(double(sq.item()));
  const double coef = max_norm / (total + 1e-6);
  if (coef >= 1) return total;
  for (auto p : params) {
    const Tensor<T, D> g = p.grad();
    if (!g.defined()) continue;
    // A new tensor rather than scaling in place: backward may hand the same
    // gradient storage to several parameters (the two inputs of an add).
    auto scaled = Tensor<T, D>::empty(g.shape());
    const T c = T(coef);
    kernels::Backend<D>::map_scalar(g.data(), scaled.data(), g.numel(), [c] GENMODEL_HOST_DEVICE(T v) { return v * c; });
    p.set_grad(scaled);
  }
  return total;
}

}  // namespace genmodel::optim
