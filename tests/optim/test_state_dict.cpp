// Optimizer state dicts: a loaded state continues bitwise like an
// uninterrupted run, and every bad key, shape or setting is named.
#include <catch2/catch.hpp>
#include <cstring>
#include <vector>

#include "genmodel/genmodel.hpp"
#include "genmodel/optim.hpp"

namespace gm = genmodel;
namespace optim = genmodel::optim;
using TF = gm::Tensor<float>;

namespace {

std::vector<TF> make_params() {
  gm::Generator gen(99);
  std::vector<TF> ps = {gm::randn<float>({4, 3}, gen), gm::randn<float>({3}, gen)};
  for (auto& p : ps) p.requires_grad_();
  return ps;
}

/// A real loss: sum((W x + b)^2 - 0.5 * W) for a fixed x, its gradients by backward.
void compute_grads(std::vector<TF>& ps, int k) {
  for (auto& p : ps) p.zero_grad();
  auto x = gm::full<float>({2, 3}, 0.1f * float(k + 1));
  auto y = gm::linear(x, ps[0].reshape({4, 3}), gm::Tensor<float>());
  auto loss = gm::sum(gm::mul(y, y)) + gm::sum(gm::mul(ps[1], ps[1])) - gm::sum(ps[0]) * 0.5f;
  loss.backward();
}

template <class Opt, class Options>
void check_continuation(const Options& options, bool with_second_group) {
  auto run = make_params();
  Opt straight({run[0]}, options);
  if (with_second_group) straight.add_param_group({run[1]});
  for (int k = 0; k < 10; ++k) {
    compute_grads(run, k);
    straight.step();
  }

  auto ps = make_params();
  gm::optim::OptimizerStateDict<float> saved;
  {
    Opt first({ps[0]}, options);
    if (with_second_group) first.add_param_group({ps[1]});
    for (int k = 0; k < 5; ++k) {
      compute_grads(ps, k);
      first.step();
    }
    saved = first.state_dict();
    // The dict is a copy: stepping further does not change it.
    compute_grads(ps, 0);
    const auto before = saved.tensors.begin()->second.to_vector();
    auto ps_copy = std::vector<TF>{ps[0].clone_data(), ps[1].clone_data()};
    first.step();
    CHECK(saved.tensors.begin()->second.to_vector() == before);
    std::memcpy(ps[0].data(), ps_copy[0].data(), sizeof(float) * ps[0].numel());
    std::memcpy(ps[1].data(), ps_copy[1].data(), sizeof(float) * ps[1].numel());
  }
  Opt resumed({ps[0]}, Options{});  // other settings: the dict restores them
  if (with_second_group) resumed.add_param_group({ps[1]});
  resumed.load_state_dict(saved);
  CHECK(resumed.param_groups()[0].lr == options.lr);
  for (int k = 5; k < 10; ++k) {
    compute_grads(ps, k);
    resumed.step();
  }
  for (size_t j = 0; j < ps.size(); ++j) CHECK(ps[j].to_vector() == run[j].to_vector());
}

}  // namespace

TEST_CASE("a loaded optimizer state continues bitwise", "[optim]") {
  SECTION("Adam") { check_continuation<optim::Adam<float>>(optim::AdamOptions{.lr = 0.013, .weight_decay = 0.1}, true); }
  SECTION("AdamW") { check_continuation<optim::AdamW<float>>(optim::AdamWOptions{.lr = 0.007}, false); }
  SECTION("SGD with Nesterov momentum") {
    check_continuation<optim::SGD<float>>(optim::SGDOptions{.lr = 0.011, .momentum = 0.9, .nesterov = true}, true);
  }
}

TEST_CASE("Adam reloaded into itself after further steps counts from the loaded step", "[optim]") {
  // Adam keeps a host copy of each "step"; loading must replace it too.
  auto run = make_params();
  optim::Adam<float> straight(run, {.lr = 0.02});
  for (int k = 0; k < 8; ++k) {
    compute_grads(run, k);
    straight.step();
  }
  auto ps = make_params();
  optim::Adam<float> opt(ps, {.lr = 0.02});
  for (int k = 0; k < 5; ++k) {
    compute_grads(ps, k);
    opt.step();
  }
  const auto saved = opt.state_dict();
  const std::vector<TF> weights = {ps[0].clone_data(), ps[1].clone_data()};
  for (int k = 0; k < 3; ++k) {  // steps 6..8, then undone
    compute_grads(ps, k);
    opt.step();
  }
  CHECK(opt.state(0).at("step").item() == 8.0f);
  for (size_t j = 0; j < ps.size(); ++j) std::memcpy(ps[j].data(), weights[j].data(), sizeof(float) * ps[j].numel());
  opt.load_state_dict(saved);
  CHECK(opt.state(0).at("step").item() == 5.0f);
  for (int k = 5; k < 8; ++k) {
    compute_grads(ps, k);
    opt.step();
  }
  CHECK(opt.state(1).at("step").item() == 8.0f);
  for (size_t j = 0; j < ps.size(); ++j) CHECK(ps[j].to_vector() == run[j].to_vector());
}

TEST_CASE("state dict keys and metadata", "[optim]") {
  auto ps = make_params();
  optim::Adam<float> opt(ps, {.lr = 0.01});
  compute_grads(ps, 0);
  opt.step();
  const auto dict = opt.state_dict();
  std::vector<std::string> keys;
  for (const auto& [k, t] : dict.tensors) keys.push_back(k);
  CHECK(keys == std::vector<std::string>{"state.0.exp_avg", "state.0.exp_avg_sq", "state.0.step",
                                         "state.1.exp_avg", "state.1.exp_avg_sq", "state.1.step"});
  CHECK(dict.tensors.at("state.1.step").dim() == 0);
  CHECK(dict.meta["optimizer"] == "Adam");
  CHECK(dict.meta["param_groups"][0]["lr"] == 0.01);
  CHECK(dict.meta["param_groups"][0]["params"] == nlohmann::json::array({0, 1}));
}

TEST_CASE("load_state_dict names the bad key and changes nothing", "[optim]") {
  auto ps = make_params();
  optim::Adam<float> opt(ps, {.lr = 0.01});
  compute_grads(ps, 0);
  opt.step();
  const auto good = opt.state_dict();
  optim::Adam<float> fresh(make_params());

  auto expect_error = [&](const optim::OptimizerStateDict<float>& d, const std::string& what) {
    CHECK_THROWS_WITH(fresh.load_state_dict(d), Catch::Contains("Adam") && Catch::Contains(what));
    CHECK(fresh.state(0).empty());
    CHECK(fresh.param_groups()[0].lr == 1e-3);
  };
  auto d = good;
  d.tensors["state.0.momentum_buffer"] = gm::zeros<float>({4, 3});
  expect_error(d, "unexpected key 'state.0.momentum_buffer'");
  d = good;
  d.tensors["state.7.exp_avg"] = gm::zeros<float>({4, 3});
  expect_error(d, "state.7.exp_avg");
  d = good;
  d.tensors["bogus"] = gm::zeros<float>({1});
  expect_error(d, "unexpected key 'bogus'");
  d = good;
  d.tensors["state.1.exp_avg"] = gm::zeros<float>({4});
  expect_error(d, "key 'state.1.exp_avg' has shape [4], expected [3]");
  d = good;
  d.tensors.erase("state.0.exp_avg_sq");
  expect_error(d, "missing key 'state.0.exp_avg_sq'");
  d = good;
  d.meta["param_groups"][0].erase("eps");
  expect_error(d, "missing key 'param_groups.0.eps'");
  d = good;
  d.meta["param_groups"][0]["lr"] = "fast";
  expect_error(d, "param_groups.0.lr' has the wrong type");
  d = good;
  d.meta["param_groups"][0]["amsgrad"] = true;
  expect_error(d, "unexpected key 'param_groups.0.amsgrad'");
  d = good;
  d.meta["param_groups"][0]["beta1"] = 1.5;
  expect_error(d, "betas");
  d = good;
  d.meta["optimizer"] = "SGD";
  expect_error(d, "'optimizer' must be \"Adam\"");
  d = good;
  d.meta["param_groups"].push_back(d.meta["param_groups"][0]);
  expect_error(d, "must list 1 groups");

  optim::SGD<float> sgd(make_params(), {.lr = 0.1, .momentum = 0.9});
  CHECK_THROWS_WITH(sgd.load_state_dict(good), Catch::Contains("SGD") && Catch::Contains("\"SGD\""));
}
