// genmodel/optim/adam.hpp: Adam (weight decay as L2 added to the gradient,
// as torch.optim.Adam) and AdamW (decoupled weight decay: the parameter is
// scaled by 1 - lr * weight_decay before the update, as torch.optim.AdamW),
// both with PyTorch's bias correction. AMSGrad is not implemented.
#pragma once

#include <array>

#include "genmodel/kernels/cpu/optim.hpp"
#include "genmodel/optim/optimizer.hpp"

namespace genmodel::optim {

struct AdamOptions {
  double lr = 1e-3;
  std::array<double, 2> betas{0.9, 0.999};
  double eps = 1e-8;
  double weight_decay = 0;

  std::vector<HyperParam> fields() {
    return {{"lr", &lr}, {"beta1", &betas[0]}, {"beta2", &betas[1]}, {"eps", &eps},
            {"weight_decay", &weight_decay}};
  }
};

/// AdamW's options differ from Adam's only in the default weight decay.
struct AdamWOptions {
  double lr = 1e-3;
  std::array<double, 2> betas{0.9, 0.999};
  double eps = 1e-8;
  double weight_decay = 1e-2;

  std::vector<HyperParam> fields() {
    return {{"lr", &lr}, {"beta1", &betas[0]}, {"beta2", &betas[1]}, {"eps", &eps},
            {"weight_decay", &weight_decay}};
  }
};

namespace detail {
/// State per parameter: "step" (a scalar), "exp_avg", "exp_avg_sq".
template <class Options, bool Decoupled, class T, class D>
class AdamImpl : public GroupedOptimizer<Options, T, D> {
  using Base = GroupedOptimizer<Options, T, D>;

 public:
  using typename Base::State;
  using typename Base::TensorT;

 protected:
  using Base::Base;

  std::vector<std::string> state_keys(const Options&) const override { return {"step", "exp_avg", "exp_avg_sq"}; }

  void validate(const Options& g, const char* op) const override {
    GM_CHECK(g.lr >= 0, this->name_, ": ", op, ": lr must be >= 0, got ", g.lr);
    GM_CHECK(g.eps >= 0, this->name_, ": ", op, ": eps must be >= 0, got ", g.eps);
    GM_CHECK(g.betas[0] >= 0 && g.betas[0] < 1 && g.betas[1] >= 0 && g.betas[1] < 1, this->name_, ": ", op,
             ": betas must be in [0, 1), got (", g.betas[0], ", ", g.betas[1], ")");
    GM_CHECK(g.weight_decay >= 0, this->name_, ": ", op, ": weight_decay must be >= 0, got ", g.weight_decay);
  }

  void update(const Options& g, size_t index, TensorT& p, const TensorT& grad, State& st) override {
    if (host_steps_.size() <= index) host_steps_.resize(index + 1, kUnknown);
    int64_t& step = host_steps_[index];
    if (st.empty()) {
      st["step"] = full<T, D>(Shape{}, T(0));
      st["exp_avg"] = zeros<T, D>(p.shape());
      st["exp_avg_sq"] = zeros<T, D>(p.shape());
      step = 0;
    }
    // The count lives in the state (as in PyTorch) on the parameter's device,
    // and, as PyTorch keeps it on the host, a host copy spares the update a
    // read from the device (a synchronisation per parameter on a GPU).
    if (step == kUnknown) step = int64_t(st["step"].item());
    ++step;
    StorageTraits<T, D>::fill(st["step"].data(), 1, T(step));
    kernels::Backend<D>::adam_step(p.data(), grad.data(), st["exp_avg"].data(), st["exp_avg_sq"].data(), p.numel(),
                                   kernels::cpu::AdamCoeffs{g.lr, g.betas[0], g.betas[1], g.eps, g.weight_decay,
                                                            Decoupled, step});
  }

  void state_loaded() override { host_steps_.clear(); }

 private:
  static constexpr int64_t kUnknown = -1;  // read from the state tensor at the next update
  std::vector<int64_t> host_steps_;        // by parameter index; the state's "step" on the host
};
}  // namespace detail

template <class T = float, class D = cpu>
class Adam : public detail::AdamImpl<AdamOptions, false, T, D> {
 public:
  explicit Adam(const std::vector<Tensor<T, D>>& params, const AdamOptions& defaults = {})
      : detail::AdamImpl<AdamOptions, false, T, D>("Adam", defaults) {
    this->add_param_group(params);
  }
};

template <class T = float, class D = cpu>
class AdamW : public detail::AdamImpl<AdamWOptions, true, T, D> {
 public:
  explicit AdamW(const std::vector<Tensor<T, D>>& params, const AdamWOptions& defaults = {})
      : detail::AdamImpl<AdamWOptions, true, T, D>("AdamW", defaults) {
    this->add_param_group(params);
  }
};

}  // namespace genmodel::optim
