// genmodel/nn/time_embedding.hpp: the sinusoidal timestep embedding of
// diffusion models, as a function (diffusers' get_timestep_embedding) and
// as a parameter-free module.
#pragma once

#include <cmath>

#include "genmodel/nn/module.hpp"

namespace genmodel::nn {

struct TimeEmbeddingOptions {
  double max_period = 10000.0;
  bool flip_sin_to_cos = false;      // cos half first
  double downscale_freq_shift = 1.0;  // frequencies exp(-ln(max_period) * i / (half - shift))
  double scale = 1.0;
};

/// timesteps (N) -> (N, dim): [sin(t * f_i), cos(t * f_i)] for the `dim / 2`
/// frequencies f_i = exp(-ln(max_period) * i / (dim / 2 - shift)), zero-padded
/// when dim is odd. Not differentiable (timesteps are data).
template <class T, class D>
Tensor<T, D> timestep_embedding(const Tensor<T, D>& timesteps, int64_t dim, const TimeEmbeddingOptions& o = {}) {
  GM_CHECK(timesteps.dim() == 1, "timestep_embedding: timesteps must be 1-d (N), got ", timesteps.shape());
  const int64_t half = dim / 2;
  GM_CHECK(half >= 1 && double(half) != o.downscale_freq_shift, "timestep_embedding: dim ", dim,
           " is too small for downscale_freq_shift ", o.downscale_freq_shift);
  const int64_t n = timesteps.size(0);
  const auto steps = timesteps.template to<cpu>();  // N values: computed on the host
  auto out = zeros<T, cpu>({n, dim});
  const int64_t sin_at = o.flip_sin_to_cos ? half : 0, cos_at = o.flip_sin_to_cos ? 0 : half;
  for (int64_t i = 0; i < half; ++i) {
    const double freq = std::exp(-std::log(o.max_period) * double(i) / (double(half) - o.downscale_freq_shift));
    for (int64_t b = 0; b < n; ++b) {
      const double arg = o.scale * double(steps.data()[b]) * freq;
      out.data()[b * dim + sin_at + i] = T(std::sin(arg));
      out.data()[b * dim + cos_at + i] = T(std::cos(arg));
    }
  }
  return out.template to<D>();
}

/// The function as a module: forward(timesteps (N)) -> (N, dim).
template <class T = float, class D = cpu>
class SinusoidalTimeEmbedding : public Module<T, D> {
 public:
  using Tensor = genmodel::Tensor<T, D>;

  explicit SinusoidalTimeEmbedding(int64_t dim, TimeEmbeddingOptions opts = {})
      : Module<T, D>("SinusoidalTimeEmbedding"), dim_(dim), opts_(opts) {
    GM_CHECK(dim >= 2, "SinusoidalTimeEmbedding: dim must be at least 2, got ", dim);
  }

  Tensor forward(const Tensor& timesteps) { return timestep_embedding(timesteps, dim_, opts_); }
  Tensor operator()(const Tensor& timesteps) { return forward(timesteps); }

 private:
  int64_t dim_;
  TimeEmbeddingOptions opts_;
};

}  // namespace genmodel::nn
