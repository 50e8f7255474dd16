// genmodel/losses/kl.hpp: the KL divergence of a diagonal Gaussian
// N(mean, exp(logvar)) from the standard normal, the VAE's prior term.
#pragma once

#include "genmodel/losses/reduction.hpp"

namespace genmodel::losses {

/// mean and logvar are (N, ...): per sample, -1/2 sum(1 + logvar - mean^2 -
/// exp(logvar)) over every dim but the batch; then the mean over the batch
/// (Reduction::mean, the default), the sum over it, or the (N) values (none).
template <class T, class D>
Tensor<T, D> gaussian_kl(const Tensor<T, D>& mean_, const Tensor<T, D>& logvar, Reduction r = Reduction::mean) {
  detail::check_same_shape("gaussian_kl", "mean", mean_, "logvar", logvar);
  GM_CHECK(mean_.dim() >= 1 && mean_.numel() > 0, "gaussian_kl: mean and logvar must be (N, ...), got shape ",
           mean_.shape());
  const int64_t n = mean_.size(0);
  const auto terms = sub(sub(add(logvar, T(1)), mul(mean_, mean_)), exp(logvar));
  const auto per_sample = mul(sum(reshape(terms, {n, -1}), {1}), T(-0.5));
  return detail::reduce(per_sample, r);
}

}  // namespace genmodel::losses
