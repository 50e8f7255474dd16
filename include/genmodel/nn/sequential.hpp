// genmodel/nn/sequential.hpp: Sequential (torch.nn.Sequential), a chain of
// single-input modules registered as children "0", "1", ... so their
// parameters are named "0.weight", "2.bias" as in PyTorch.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "genmodel/nn/module.hpp"

namespace genmodel::nn {

template <class T = float, class D = cpu>
class Sequential : public Module<T, D> {
 public:
  using Tensor = genmodel::Tensor<T, D>;

  Sequential() : Module<T, D>("Sequential") {}

  /// Sequential<>(std::make_shared<Linear<>>(2, 8), std::make_shared<ReLU<>>(), ...).
  template <UnaryModule... M>
  explicit Sequential(std::shared_ptr<M>... modules) : Sequential() {
    (push_back(std::move(modules)), ...);
  }

  /// Appends a module under the name str(size()) and returns it, typed.
  template <UnaryModule M>
  std::shared_ptr<M> push_back(std::shared_ptr<M> m) {
    static_assert(std::is_same_v<typename M::value_type, T> && std::is_same_v<typename M::device_type, D>,
                  "Sequential<T, D>::push_back: the module's scalar type and device must be T and D");
    this->register_module(std::to_string(steps_.size()), m);
    M* raw = m.get();  // the child list keeps it alive
    steps_.push_back({m, [raw](const Tensor& x) { return raw->forward(x); }});
    return m;
  }

  /// Appends a module built in place: seq.emplace_back<Linear<>>(2, 8).
  template <UnaryModule M, class... Args>
  std::shared_ptr<M> emplace_back(Args&&... args) {
    return push_back(std::make_shared<M>(std::forward<Args>(args)...));
  }

  /// Runs the modules in order.
  Tensor forward(const Tensor& x) {
    Tensor h = x;
    for (auto& s : steps_) h = s.forward(h);
    return h;
  }
  Tensor operator()(const Tensor& x) { return forward(x); }

  std::size_t size() const { return steps_.size(); }
  std::shared_ptr<Module<T, D>> operator[](std::size_t i) const { return steps_.at(check(i)).module; }

  /// The i-th module as its own type: seq.at<Linear<>>(0); throws if it is not one.
  template <class M>
  std::shared_ptr<M> at(std::size_t i) const {
    auto m = std::dynamic_pointer_cast<M>(steps_.at(check(i)).module);
    GM_CHECK(m != nullptr, "Sequential::at: module ", i, " is a ", steps_[i].module->type_name(),
             ", not the type asked for");
    return m;
  }

  /// Runs module i alone (summaries walk the chain with it).
  Tensor forward_step(std::size_t i, const Tensor& x) { return steps_.at(check(i)).forward(x); }

 private:
  struct Step {
    std::shared_ptr<Module<T, D>> module;
    std::function<Tensor(const Tensor&)> forward;
  };

  std::size_t check(std::size_t i) const {
    GM_CHECK(i < steps_.size(), "Sequential: index ", i, " out of range for ", steps_.size(), " modules");
    return i;
  }

  std::vector<Step> steps_;
};

}  // namespace genmodel::nn
