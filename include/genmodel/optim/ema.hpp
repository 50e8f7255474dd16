// genmodel/optim/ema.hpp: an exponential moving average of weights,
// shadow = decay * shadow + (1 - decay) * param after every optimizer step.
// With warm-up (diffusers' EMAModel), the k-th update (k = 0, 1, ...) uses
// min(decay, (1 + k) / (10 + k)), so that the shadow forgets the random
// initial weights within the first hundreds of steps instead of 1 / (1 - decay)
// times that; the update count travels in the state dict for exact resume.
// For sampling, store() keeps the live weights, copy_to() writes the EMA
// weights into the parameters, and restore() puts the live ones back.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "genmodel/kernels/cpu/optim.hpp"
#include "genmodel/core/tensor.hpp"

namespace genmodel::optim {

template <class T = float, class D = cpu>
class EMA {
 public:
  using TensorT = Tensor<T, D>;

  /// The shadow starts as a copy of params; `warmup` caps the decay as above.
  EMA(const std::vector<TensorT>& params, double decay, bool warmup = false) : decay_(decay), warmup_(warmup) {
    GM_CHECK(decay >= 0 && decay <= 1, "EMA: decay must be in [0, 1], got ", decay);
    for (size_t i = 0; i < params.size(); ++i) {
      GM_CHECK(params[i].defined(), "EMA: parameter ", i, " is undefined");
      shadow_.push_back(params[i].clone_data());
    }
  }

  double decay() const { return decay_; }
  bool warmup() const { return warmup_; }
  int64_t num_updates() const { return num_updates_; }
  const std::vector<TensorT>& shadow() const { return shadow_; }

  /// The decay the next update() uses.
  double current_decay() const {
    if (!warmup_) return decay_;
    const double k = double(num_updates_);
    return std::min(decay_, (1 + k) / (10 + k));
  }

  /// Moves the shadow towards params (call after each optimizer step).
  void update(const std::vector<TensorT>& params) {
    check(params, "update");
    const double d = current_decay();
    for (size_t i = 0; i < params.size(); ++i)
      kernels::Backend<D>::ema_update(shadow_[i].data(), params[i].data(), params[i].numel(), d);
    ++num_updates_;
  }

  /// Keeps a copy of the live weights for restore().
  void store(const std::vector<TensorT>& params) {
    check(params, "store");
    stored_.clear();
    for (const auto& p : params) stored_.push_back(p.clone_data());
  }

  /// Writes the EMA weights into params (in place: the same storage).
  void copy_to(const std::vector<TensorT>& params) const {
    check(params, "copy_to");
    for (size_t i = 0; i < params.size(); ++i) copy(shadow_[i], params[i]);
  }

  /// Writes the weights kept by store() back into params.
  void restore(const std::vector<TensorT>& params) {
    GM_CHECK(!stored_.empty() || params.empty(), "EMA: restore without a preceding store");
    check(params, "restore");
    for (size_t i = 0; i < params.size(); ++i) copy(stored_[i], params[i]);
    stored_.clear();
  }

  /// "shadow.<i>" for each parameter, plus "decay" and "num_updates" as
  /// scalars (a float scalar holds the count exactly up to 2^24 updates; past
  /// that the warm-up cap is within 1e-6 of 1 and no longer matters).
  std::map<std::string, TensorT> state_dict() const {
    std::map<std::string, TensorT> dict;
    for (size_t i = 0; i < shadow_.size(); ++i) dict["shadow." + std::to_string(i)] = shadow_[i].clone_data();
    dict["decay"] = scalar(T(decay_));
    dict["num_updates"] = scalar(T(num_updates_));
    return dict;
  }

  /// Checks every key and shape before changing anything. The decay is kept
  /// as constructed (a float scalar cannot hold it exactly); the stored one
  /// is only checked to be present.
  void load_state_dict(const std::map<std::string, TensorT>& dict) {
    for (const auto& [key, t] : dict) {
      if (key == "decay" || key == "num_updates") {
        GM_CHECK(t.defined() && t.numel() == 1, "EMA: load_state_dict: key '", key, "' must be a scalar");
        continue;
      }
      const std::string index = key.rfind("shadow.", 0) == 0 ? key.substr(7) : "";
      GM_CHECK(!index.empty() && index.find_first_not_of("0123456789") == std::string::npos &&
                   std::stoul(index) < shadow_.size(),
               "EMA: load_state_dict: unexpected key '", key, "'");
      const auto& want = shadow_[std::stoul(index)].shape();
      GM_CHECK(t.defined() && t.shape() == want, "EMA: load_state_dict: key '", key, "' has shape ",
               t.defined() ? t.shape() : Shape{}, ", expected ", want);
    }
    GM_CHECK(dict.count("decay"), "EMA: load_state_dict: missing key 'decay'");
    GM_CHECK(dict.count("num_updates"), "EMA: load_state_dict: missing key 'num_updates'");
    const double count = double(dict.at("num_updates").item());
    GM_CHECK(count >= 0 && count == std::floor(count), "EMA: load_state_dict: 'num_updates' must be a count, got ",
             count);
    for (size_t i = 0; i < shadow_.size(); ++i)
      GM_CHECK(dict.count("shadow." + std::to_string(i)), "EMA: load_state_dict: missing key 'shadow.", i, "'");
    for (size_t i = 0; i < shadow_.size(); ++i) shadow_[i] = dict.at("shadow." + std::to_string(i)).clone_data();
    num_updates_ = int64_t(count);
  }

 private:
  void check(const std::vector<TensorT>& params, const char* op) const {
    GM_CHECK(params.size() == shadow_.size(), "EMA: ", op, ": ", params.size(), " parameters, the EMA holds ",
             shadow_.size());
    for (size_t i = 0; i < params.size(); ++i)
      GM_CHECK(params[i].defined() && params[i].shape() == shadow_[i].shape(), "EMA: ", op, ": parameter ", i,
               " has shape ", params[i].defined() ? params[i].shape() : Shape{}, ", the EMA holds ",
               shadow_[i].shape());
  }

  static TensorT scalar(T v) { return full<T, D>(Shape{}, v); }

  static void copy(const TensorT& from, const TensorT& to) {
    StorageTraits<T, D>::copy(to.data(), from.data(), from.numel());
  }

  double decay_;
  bool warmup_;
  int64_t num_updates_ = 0;
  std::vector<TensorT> shadow_;
  std::vector<TensorT> stored_;
};

}  // namespace genmodel::optim
