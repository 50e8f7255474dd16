// genmodel/nn/dropout.hpp: Dropout (torch.nn.Dropout): in training, zeroes
// each element with probability p and scales the rest by 1 / (1 - p);
// the identity in eval.
#pragma once

#include "genmodel/nn/module.hpp"

namespace genmodel::nn {

template <class T = float, class D = cpu>
class Dropout : public Module<T, D> {
 public:
  using Tensor = genmodel::Tensor<T, D>;

  /// Draws its masks from `gen`, which must outlive the module.
  explicit Dropout(double p = 0.5, Generator& gen = default_generator())
      : Module<T, D>("Dropout"), p_(p), gen_(&gen) {
    GM_CHECK(p >= 0.0 && p < 1.0, "Dropout: p must be in [0, 1), got ", p);
  }

  Tensor forward(const Tensor& x) { return dropout(x, p_, this->is_training(), *gen_); }
  Tensor operator()(const Tensor& x) { return forward(x); }

  double p() const { return p_; }

 private:
  double p_;
  Generator* gen_;
};

}  // namespace genmodel::nn
