// LR schedules against their closed forms, clip_grad_norm_ on hand-worked
// values, and the EMA of weights by hand, with its swap and restore.
#include <catch2/catch.hpp>
#include <algorithm>
#include <cmath>
#include <numbers>
#include <vector>

#include "genmodel/genmodel.hpp"
#include "genmodel/optim.hpp"

namespace gm = genmodel;
namespace optim = genmodel::optim;
using TD = gm::Tensor<double>;

namespace {
TD param(std::initializer_list<double> v) {
  auto p = gm::tensor<double>(v);
  p.requires_grad_();
  return p;
}
}  // namespace

TEST_CASE("StepLR and CosineAnnealingLR follow their closed forms", "[optim]") {
  auto p = param({1.0}), q = param({2.0});
  optim::SGD<double> opt({p}, {.lr = 0.1});
  opt.add_param_group({q}, {.lr = 0.5});
  SECTION("StepLR") {
    optim::StepLR sched(opt, 3, 0.5);
    for (int e = 0; e < 10; ++e) {
      CHECK(opt.param_groups()[0].lr == Approx(0.1 * std::pow(0.5, e / 3)).epsilon(1e-15));
      CHECK(opt.param_groups()[1].lr == Approx(0.5 * std::pow(0.5, e / 3)).epsilon(1e-15));
      sched.step();
    }
    CHECK(sched.epoch() == 10);
  }
  SECTION("CosineAnnealingLR") {
    optim::CosineAnnealingLR sched(opt, 8, 0.01);
    for (int e = 0; e <= 8; ++e) {
      const double c = (1 + std::cos(std::numbers::pi * e / 8)) / 2;
      CHECK(opt.lr(0) == Approx(0.01 + (0.1 - 0.01) * c).epsilon(1e-14));
      CHECK(opt.lr(1) == Approx(0.01 + (0.5 - 0.01) * c).epsilon(1e-14));
      sched.step();
    }
    sched.set_epoch(4);
    CHECK(opt.lr(0) == Approx(0.055).epsilon(1e-14));
  }
}

TEST_CASE("LinearWarmup ramps up, then hands over to the wrapped schedule", "[optim]") {
  auto p = param({1.0});
  optim::Adam<double> opt({p}, {.lr = 0.2});
  SECTION("alone") {
    optim::LinearWarmup sched(opt, 4);
    const std::vector<double> want = {0.05, 0.1, 0.15, 0.2, 0.2, 0.2};
    for (double w : want) {
      CHECK(opt.lr(0) == Approx(w).epsilon(1e-15));
      sched.step();
    }
  }
  SECTION("wrapping cosine annealing") {
    optim::LinearWarmup sched(opt, 2, std::make_shared<optim::CosineSchedule>(4, 0.0));
    const std::vector<double> want = {0.1, 0.2, 0.2, 0.2 * (1 + std::cos(std::numbers::pi / 4)) / 2, 0.1,
                                      0.2 * (1 + std::cos(3 * std::numbers::pi / 4)) / 2, 0.0};
    for (double w : want) {
      CHECK(opt.lr(0) == Approx(w).margin(1e-15));
      sched.step();
    }
  }
  CHECK_THROWS_WITH(optim::LinearWarmup(opt, 0), Catch::Contains("LinearWarmup"));
  CHECK_THROWS_WITH(optim::StepLR(opt, 0), Catch::Contains("StepLR"));
}

TEST_CASE("clip_grad_norm_ on hand-worked values", "[optim]") {
  auto a = param({0, 0}), b = param({0}), c = param({0});
  a.set_grad(gm::tensor<double>({3.0, 0.0}));
  b.set_grad(gm::tensor<double>({4.0}));
  // c has no gradient: skipped.
  SECTION("clips to max_norm") {
    const double total = optim::clip_grad_norm_<double, gm::cpu>({a, b, c}, 1.0);
    CHECK(total == 5.0);
    const double coef = 1.0 / (5.0 + 1e-6);
    CHECK(a.grad().to_vector() == std::vector<double>{3.0 * coef, 0.0});
    CHECK(b.grad().at(0) == 4.0 * coef);
    CHECK(!c.grad().defined());
  }
  SECTION("leaves small gradients alone") {
    const double total = optim::clip_grad_norm_<double, gm::cpu>({a, b, c}, 10.0);
    CHECK(total == 5.0);
    CHECK(a.grad().to_vector() == std::vector<double>{3.0, 0.0});
  }
  SECTION("gradients sharing storage are each scaled once") {
    auto x = param({1.0}), y = param({2.0});
    gm::add(x, y).sum().backward();  // the add's backward hands one gradient to both
    const double total = optim::clip_grad_norm_<double, gm::cpu>({x, y}, std::sqrt(2.0) / 2);
    CHECK(total == Approx(std::sqrt(2.0)));
    CHECK(x.grad().item() == Approx(0.5).epsilon(1e-5));
    CHECK(y.grad().item() == Approx(0.5).epsilon(1e-5));
  }
  CHECK_THROWS_WITH((optim::clip_grad_norm_<double, gm::cpu>({a}, -1.0)), Catch::Contains("max_norm"));
}

TEST_CASE("EMA of weights by hand, swapped in and restored", "[optim]") {
  auto w = param({1.0, 2.0});
  optim::EMA<double> ema({w}, 0.9);
  double s0 = 1.0, s1 = 2.0;
  for (int k = 1; k <= 3; ++k) {
    w.data()[0] = 1.0 + k;
    w.data()[1] = 2.0 - k;
    ema.update({w});
    s0 = 0.9 * s0 + 0.1 * (1.0 + k);
    s1 = 0.9 * s1 + 0.1 * (2.0 - k);
    CHECK(ema.shadow()[0].at(0) == Approx(s0).epsilon(1e-15));
    CHECK(ema.shadow()[0].at(1) == Approx(s1).epsilon(1e-15));
  }
  double* storage = w.data();
  ema.store({w});
  ema.copy_to({w});
  CHECK(w.data() == storage);
  CHECK(w.at(0) == Approx(s0).epsilon(1e-15));
  CHECK(w.at(1) == Approx(s1).epsilon(1e-15));
  ema.restore({w});
  CHECK(w.to_vector() == std::vector<double>{4.0, -1.0});
  CHECK_THROWS_WITH(ema.restore({w}), Catch::Contains("EMA") && Catch::Contains("store"));

  auto dict = ema.state_dict();
  optim::EMA<double> other({w}, 0.9);
  other.load_state_dict(dict);
  CHECK(other.shadow()[0].to_vector() == ema.shadow()[0].to_vector());
  dict["shadow.0"] = gm::zeros<double>({3});
  CHECK_THROWS_WITH(other.load_state_dict(dict), Catch::Contains("shadow.0") && Catch::Contains("[3]"));
  dict = ema.state_dict();
  dict["shadow.1"] = gm::zeros<double>({2});
  CHECK_THROWS_WITH(other.load_state_dict(dict), Catch::Contains("unexpected key 'shadow.1'"));
  dict = ema.state_dict();
  dict.erase("shadow.0");
  CHECK_THROWS_WITH(other.load_state_dict(dict), Catch::Contains("missing key 'shadow.0'"));
  CHECK_THROWS_WITH(ema.update({w, w}), Catch::Contains("EMA: update: 2 parameters"));
  dict = ema.state_dict();
  dict.erase("num_updates");
  CHECK_THROWS_WITH(other.load_state_dict(dict), Catch::Contains("missing key 'num_updates'"));
  dict = ema.state_dict();
  dict["num_updates"] = gm::tensor<double>({-1.0});
  CHECK_THROWS_WITH(other.load_state_dict(dict), Catch::Contains("'num_updates' must be a count"));
}

TEST_CASE("EMA warm-up: update k decays by min(decay, (1 + k) / (10 + k)), and resumes exactly", "[optim]") {
  auto w = param({0.0});
  optim::EMA<double> ema({w}, 0.5, /*warmup=*/true);
  double s = 0.0;
  // (1 + k) / (10 + k) is 0.1, 2/11, 0.25, 4/13, ... and reaches 0.5 at k = 8.
  for (int k = 0; k < 12; ++k) {
    const double want = std::min(0.5, (1.0 + k) / (10.0 + k));
    CHECK(ema.current_decay() == Approx(want).epsilon(1e-15));
    w.data()[0] = 1.0 + k * k;
    ema.update({w});
    s = want * s + (1 - want) * (1.0 + k * k);
    CHECK(ema.shadow()[0].at(0) == Approx(s).epsilon(1e-14));
    CHECK(ema.num_updates() == k + 1);
    if (k == 4) {
      // A copy loaded from the state dict continues with the same decays.
      optim::EMA<double> resumed({w}, 0.5, true);
      resumed.load_state_dict(ema.state_dict());
      CHECK(resumed.num_updates() == 5);
      CHECK(resumed.current_decay() == Approx(6.0 / 15.0).epsilon(1e-15));
    }
  }
  optim::EMA<double> plain({w}, 0.5);
  CHECK(plain.current_decay() == 0.5);
}
