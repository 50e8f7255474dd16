// genmodel/optim/optimizer.hpp: what every optimizer shares. Parameter
// groups (each with its own hyper-parameters, like torch.optim's
// param_groups), step() / zero_grad(), per-parameter state, and the state
// dict: named tensors ("state.<i>.exp_avg", "state.<i>.step", ... with <i>
// the parameter's index over all groups in order) plus a JSON object with the
// optimizer's name and every group's hyper-parameters and parameter indices.
// That is the shape of a safetensors checkpoint: tensors plus metadata. The
// JSON keeps hyper-parameters as doubles, so a loaded optimizer continues
// bitwise even for float parameters. "step" is a scalar of the parameter
// type, as PyTorch keeps it (exact up to 2^24 steps in float).
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "genmodel/autograd/grad_mode.hpp"
#include "genmodel/core/factories.hpp"
#include "genmodel/core/tensor.hpp"

namespace genmodel::optim {

/// What an LR scheduler needs of an optimizer: its groups' learning rates.
class LrGroups {
 public:
  virtual ~LrGroups() = default;
  virtual size_t num_param_groups() const = 0;
  virtual double lr(size_t group) const = 0;
  virtual void set_lr(size_t group, double lr) = 0;
};

template <class T = float, class D = cpu>
struct OptimizerStateDict {
  std::map<std::string, Tensor<T, D>> tensors;  // per-parameter state
  nlohmann::json meta;                          // {"optimizer": name, "param_groups": [...]}
};

/// The interface a training loop holds: one per model (never share one
/// optimizer between a generator and a discriminator).
template <class T = float, class D = cpu>
class Optimizer : public LrGroups {

 public:
  virtual void step() = 0;
  /// Drops every gradient (set to undefined, PyTorch's set_to_none default).
  virtual void zero_grad() = 0;
  virtual OptimizerStateDict<T, D> state_dict() const = 0;
  /// Checks every key, shape and hyper-parameter first; throws genmodel::Error
  /// naming the bad one and leaves the optimizer unchanged.
  virtual void load_state_dict(const OptimizerStateDict<T, D>& dict) = 0;
};

/// A named hyper-parameter of an options struct, for the state dict.
using HyperParam = std::pair<const char*, std::variant<double*, bool*>>;

/// Parameter groups and state for an optimizer whose per-group settings are
/// `Options` (an aggregate with lr and a fields() list of HyperParam).
template <class Options, class T, class D>
class GroupedOptimizer : public Optimizer<T, D> {
 public:
  using TensorT = Tensor<T, D>;
  using State = std::map<std::string, TensorT>;  // "exp_avg", "step", ...

  struct ParamGroup : Options {
    std::vector<TensorT> params;
  };

  /// Adds a group with its own settings (the constructor's defaults when omitted).
  void add_param_group(const std::vector<TensorT>& params, const Options& options) {
    validate(options, "add_param_group");
    GM_CHECK(!params.empty(), name_, ": add_param_group: a parameter group needs at least one parameter");
    std::set<const void*> seen;
    for (const auto& g : groups_)
      for (const auto& p : g.params) seen.insert(p.impl_ptr().get());
    for (size_t i = 0; i < params.size(); ++i) {
      const auto& p = params[i];
      GM_CHECK(p.defined(), name_, ": parameter ", i, " of the new group is undefined");
      GM_CHECK(p.is_leaf(), name_, ": parameter ", i, " (shape ", p.shape(),
               ") is not a leaf; optimizers update leaves only");
      GM_CHECK(seen.insert(p.impl_ptr().get()).second, name_, ": parameter ", i, " (shape ", p.shape(),
               ") appears in more than one parameter group");
    }
    ParamGroup g;
    static_cast<Options&>(g) = options;
    g.params = params;
    groups_.push_back(std::move(g));
    state_.resize(state_.size() + params.size());
  }
  void add_param_group(const std::vector<TensorT>& params) { add_param_group(params, defaults_); }

  std::vector<ParamGroup>& param_groups() { return groups_; }
  const std::vector<ParamGroup>& param_groups() const { return groups_; }

  size_t num_param_groups() const override { return groups_.size(); }
  double lr(size_t group) const override {
    check_group(group);
    return groups_[group].lr;
  }
  void set_lr(size_t group, double lr) override {
    check_group(group);
    groups_[group].lr = lr;
  }

  /// The state of parameter i (counting over all groups in order).
  const State& state(size_t i) const {
    GM_CHECK(i < state_.size(), name_, ": no parameter ", i, " (", state_.size(), " parameters)");
    return state_[i];
  }

  void zero_grad() override {
    for (auto& g : groups_)
      for (auto& p : g.params) p.zero_grad();
  }

  /// Updates every parameter that has a gradient, in place.
  void step() override {
    for (auto& g : groups_) validate(g, "step");
    for (auto& g : groups_)
      for (auto& p : g.params) {
        const TensorT grad = p.grad();
        if (grad.defined())
          GM_CHECK(grad.shape() == p.shape(), name_, ": step: gradient of shape ", grad.shape(),
                   " for a parameter of shape ", p.shape());
      }
    NoGradGuard no_grad;
    size_t i = 0;
    for (auto& g : groups_)
      for (auto& p : g.params) {
        const TensorT grad = p.grad();
        if (grad.defined()) update(g, i, p, grad, state_[i]);
        ++i;
      }
  }

  OptimizerStateDict<T, D> state_dict() const override {
    OptimizerStateDict<T, D> dict;
    dict.meta["optimizer"] = name_;
    auto& groups = dict.meta["param_groups"] = nlohmann::json::array();
    size_t i = 0;
    for (const auto& g : groups_) {
      nlohmann::json j;
      Options o = g;
      for (auto& [key, ptr] : o.fields()) std::visit([&, k = key](auto* v) { j[k] = *v; }, ptr);
      auto& idx = j["params"] = nlohmann::json::array();
      for (size_t k = 0; k < g.params.size(); ++k) idx.push_back(i++);
      groups.push_back(std::move(j));
    }
    for (size_t p = 0; p < state_.size(); ++p)
      for (const auto& [key, t] : state_[p]) dict.tensors["state." + std::to_string(p) + "." + key] = t.clone_data();
    return dict;
  }

  void load_state_dict(const OptimizerStateDict<T, D>& dict) override {
    const auto& meta = dict.meta;
    GM_CHECK(meta.is_object() && meta.contains("optimizer") && meta["optimizer"] == name_, name_,
             ": load_state_dict: metadata key 'optimizer' must be \"", name_, "\", got ",
             meta.is_object() && meta.contains("optimizer") ? meta["optimizer"].dump() : "nothing");
    GM_CHECK(meta.contains("param_groups") && meta["param_groups"].is_array() &&
                 meta["param_groups"].size() == groups_.size(),
             name_, ": load_state_dict: metadata key 'param_groups' must list ", groups_.size(), " groups");
    for (const auto& [key, value] : meta.items())
      GM_CHECK(key == "optimizer" || key == "param_groups", name_, ": load_state_dict: unexpected metadata key '",
               key, "'");
    // Hyper-parameters into a copy of the groups, committed after every check.
    std::vector<ParamGroup> groups = groups_;
    std::vector<size_t> group_of;
    for (size_t gi = 0; gi < groups.size(); ++gi) {
      const auto& j = meta["param_groups"][gi];
      const std::string where = "param_groups." + std::to_string(gi);
      GM_CHECK(j.is_object(), name_, ": load_state_dict: '", where, "' is not an object");
      std::set<std::string> known = {"params"};
      for (auto& [key, ptr] : groups[gi].fields()) {
        known.insert(key);
        GM_CHECK(j.contains(key), name_, ": load_state_dict: missing key '", where, ".", key, "'");
        std::visit([&, k = key](auto* v) {
          using V = std::remove_pointer_t<decltype(v)>;
          const bool ok = std::is_same_v<V, bool> ? j[k].is_boolean() : j[k].is_number();
          GM_CHECK(ok, name_, ": load_state_dict: '", where, ".", k, "' has the wrong type: ", j[k].dump());
          *v = j[k].template get<V>();
        }, ptr);
      }
      for (const auto& [key, value] : j.items())
        GM_CHECK(known.count(key), name_, ": load_state_dict: unexpected key '", where, ".", key, "'");
      nlohmann::json expected = nlohmann::json::array();
      for (size_t k = 0; k < groups[gi].params.size(); ++k) expected.push_back(group_of.size() + k);
      GM_CHECK(j.contains("params") && j["params"] == expected, name_, ": load_state_dict: '", where,
               ".params' must be ", expected.dump(), ", got ", j.contains("params") ? j["params"].dump() : "nothing");
      validate(groups[gi], "load_state_dict");
      group_of.insert(group_of.end(), groups[gi].params.size(), gi);
    }
    // Tensors: "state.<i>.<name>" with a known name and the right shape.
    std::vector<State> state(state_.size());
    for (const auto& [key, t] : dict.tensors) {
      const size_t dot = key.find('.', 6);
      GM_CHECK(key.rfind("state.", 0) == 0 && dot != std::string::npos && dot > 6, name_,
               ": load_state_dict: unexpected key '", key, "'");
      const std::string index = key.substr(6, dot - 6), what = key.substr(dot + 1);
      GM_CHECK(index.find_first_not_of("0123456789") == std::string::npos, name_,
               ": load_state_dict: unexpected key '", key, "'");
      const size_t p = std::stoul(index);
      GM_CHECK(p < state.size(), name_, ": load_state_dict: key '", key, "' names parameter ", p, " of ",
               state.size());
      const ParamGroup& g = groups[group_of[p]];
      const auto names = state_keys(g);
      GM_CHECK(std::find(names.begin(), names.end(), what) != names.end(), name_,
               ": load_state_dict: unexpected key '", key, "'");
      const TensorT& param = g.params[p - first_index(group_of[p])];
      GM_CHECK(t.defined(), name_, ": load_state_dict: key '", key, "' holds an undefined tensor");
      const Shape want = what == "step" ? Shape{} : param.shape();
      GM_CHECK(t.shape() == want, name_, ": load_state_dict: key '", key, "' has shape ", t.shape(),
               ", expected ", want);
      state[p][what] = t.clone_data();
    }
    for (size_t p = 0; p < state.size(); ++p) {
      if (state[p].empty()) continue;  // a parameter that was never stepped
      for (const auto& n : state_keys(groups[group_of[p]]))
        GM_CHECK(state[p].count(n), name_, ": load_state_dict: missing key 'state.", p, ".", n, "'");
    }
    groups_ = std::move(groups);
    state_ = std::move(state);
    state_loaded();
  }

 protected:
  // The derived constructor adds the first group (validate is virtual).
  GroupedOptimizer(const char* name, const Options& defaults) : name_(name), defaults_(defaults) {}

  /// The state a parameter of group g holds after its first update.
  virtual std::vector<std::string> state_keys(const Options& g) const = 0;
  /// Throws when g's settings are invalid; `op` says who asked.
  virtual void validate(const Options& g, const char* op) const = 0;
  /// One in-place update of p (parameter `index` over all groups) with
  /// gradient grad; st is its state.
  virtual void update(const Options& g, size_t index, TensorT& p, const TensorT& grad, State& st) = 0;
  /// Called after load_state_dict has replaced the state, for optimizers
  /// that keep host-side copies of it.
  virtual void state_loaded() {}

  const char* name_;

 private:
  void check_group(size_t group) const {
    GM_CHECK(group < groups_.size(), name_, ": no parameter group ", group, " (", groups_.size(), " groups)");
  }

  size_t first_index(size_t group) const {
    size_t i = 0;
    for (size_t g = 0; g < group; ++g) i += groups_[g].params.size();
    return i;
  }

  Options defaults_;
  std::vector<ParamGroup> groups_;
  std::vector<State> state_;  // by parameter index over all groups
};

}  // namespace genmodel::optim
