// genmodel/optim/sgd.hpp: stochastic gradient descent with momentum,
// dampening, Nesterov momentum and L2 weight decay, exactly
// torch.optim.SGD's update (the momentum buffer starts as the first
// gradient, undamped).
#pragma once

#include "genmodel/kernels/cpu/optim.hpp"
#include "genmodel/optim/optimizer.hpp"

namespace genmodel::optim {

struct SGDOptions {
  double lr = 1e-3;
  double momentum = 0;
  double dampening = 0;
  double weight_decay = 0;
  bool nesterov = false;

  std::vector<HyperParam> fields() {
    return {{"lr", &lr}, {"momentum", &momentum}, {"dampening", &dampening},
            {"weight_decay", &weight_decay}, {"nesterov", &nesterov}};
  }
};

/// State per parameter: "momentum_buffer" when momentum is non-zero.
template <class T = float, class D = cpu>
class SGD : public GroupedOptimizer<SGDOptions, T, D> {
  using Base = GroupedOptimizer<SGDOptions, T, D>;

 public:
  using typename Base::State;
  using typename Base::TensorT;

  explicit SGD(const std::vector<TensorT>& params, const SGDOptions& defaults = {})
      : Base("SGD", defaults) {
    this->add_param_group(params);
  }

 protected:
  std::vector<std::string> state_keys(const SGDOptions& g) const override {
    if (g.momentum != 0) return {"momentum_buffer"};
    return {};
  }

  void validate(const SGDOptions& g, const char* op) const override {
    GM_CHECK(g.lr >= 0, "SGD: ", op, ": lr must be >= 0, got ", g.lr);
    GM_CHECK(g.momentum >= 0, "SGD: ", op, ": momentum must be >= 0, got ", g.momentum);
    GM_CHECK(g.weight_decay >= 0, "SGD: ", op, ": weight_decay must be >= 0, got ", g.weight_decay);
    GM_CHECK(!g.nesterov || (g.momentum > 0 && g.dampening == 0), "SGD: ", op,
             ": Nesterov momentum needs momentum > 0 and dampening 0, got momentum ", g.momentum,
             " and dampening ", g.dampening);
  }

  void update(const SGDOptions& g, size_t, TensorT& p, const TensorT& grad, State& st) override {
    T* buf = nullptr;
    bool first = false;
    if (g.momentum != 0) {
      auto [it, inserted] = st.try_emplace("momentum_buffer");
      if (inserted) it->second = TensorT::empty(p.shape());
      buf = it->second.data();
      first = inserted;
    }
    kernels::Backend<D>::sgd_step(p.data(), grad.data(), buf, p.numel(),
                           kernels::cpu::SgdCoeffs{g.lr, g.momentum, g.dampening, g.weight_decay, g.nesterov}, first);
  }
};

}  // namespace genmodel::optim
