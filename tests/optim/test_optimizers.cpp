// SGD, Adam and AdamW against their published update rules, written out
// here with plain doubles, for the first 5 steps of two parameters.
#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

#include "genmodel/genmodel.hpp"
#include "genmodel/optim.hpp"

namespace gm = genmodel;
namespace optim = genmodel::optim;
using TD = gm::Tensor<double>;
using Vec = std::vector<double>;

namespace {

/// The gradient the tests feed at step k for element i of parameter j:
/// depends on the current value, like a real loss.
double grad_of(double p, int k, int j, int i) { return 2.0 * p - 0.3 * (k + 1) + 0.1 * (i + 1) * (j + 1); }

std::vector<TD> make_params() {
  auto a = gm::tensor<double>({0.5, -1.0, 2.0});
  auto b = gm::tensor<double>({1.5, -0.25, 0.75, -2.0}, {2, 2});
  a.requires_grad_();
  b.requires_grad_();
  return {a, b};
}

std::vector<Vec> values(const std::vector<TD>& ps) {
  std::vector<Vec> v;
  for (const auto& p : ps) v.push_back(p.to_vector());
  return v;
}

void set_grads(const std::vector<TD>& ps, int k) {
  for (size_t j = 0; j < ps.size(); ++j) {
    auto g = TD::empty(ps[j].shape());
    for (int64_t i = 0; i < g.numel(); ++i) g.data()[i] = grad_of(ps[j].data()[i], k, int(j), int(i));
    auto p = ps[j];
    p.set_grad(g);
  }
}

void require_close(const std::vector<TD>& ps, const std::vector<Vec>& ref) {
  for (size_t j = 0; j < ps.size(); ++j)
    for (int64_t i = 0; i < ps[j].numel(); ++i) {
      INFO("param " << j << " element " << i);
      REQUIRE(ps[j].data()[i] == Approx(ref[j][i]).epsilon(1e-12).margin(1e-14));
    }
}

struct SgdRef {
  double lr, momentum, dampening, wd;
  bool nesterov;
  std::vector<Vec> buf{};
  void step(std::vector<Vec>& p, int k) {
    const bool first = buf.empty();
    if (first) buf = p;
    for (size_t j = 0; j < p.size(); ++j)
      for (size_t i = 0; i < p[j].size(); ++i) {
        double g = grad_of(p[j][i], k, int(j), int(i)) + wd * p[j][i];
        if (momentum != 0) {
          buf[j][i] = first ? g : momentum * buf[j][i] + (1 - dampening) * g;
          g = nesterov ? g + momentum * buf[j][i] : buf[j][i];
        }
        p[j][i] -= lr * g;
      }
  }
};

struct AdamRef {
  double lr, b1, b2, eps, wd;
  bool decoupled;
  int t = 0;
  std::vector<Vec> m{}, v{};

  void step(std::vector<Vec>& p, int k) {
    if (m.empty()) {
      m = v = p;
      for (auto& x : m) std::fill(x.begin(), x.end(), 0.0);
      v = m;
    }
    ++t;
    for (size_t j = 0; j < p.size(); ++j)
      for (size_t i = 0; i < p[j].size(); ++i) {
        double g = grad_of(p[j][i], k, int(j), int(i));
        if (decoupled) p[j][i] *= 1 - lr * wd;
        else g += wd * p[j][i];
        m[j][i] = b1 * m[j][i] + (1 - b1) * g;
        v[j][i] = b2 * v[j][i] + (1 - b2) * g * g;
        const double mhat = m[j][i] / (1 - std::pow(b1, t)), vhat = v[j][i] / (1 - std::pow(b2, t));
        p[j][i] -= lr * mhat / (std::sqrt(vhat) + eps);
      }
  }
};

/// Five steps of the optimizer beside five of its reference rule, compared after each.
template <class Opt, class Ref>
void check_five_steps(const std::vector<TD>& ps, Opt& opt, Ref& ref) {
  auto want = values(ps);
  for (int k = 0; k < 5; ++k) {
    set_grads(ps, k);
    opt.step();
    ref.step(want, k);
    require_close(ps, want);
  }
}

}  // namespace

TEST_CASE("SGD follows the published update rule", "[optim]") {
  struct Case {
    const char* name;
    optim::SGDOptions o;
  };
  const std::vector<Case> cases = {
      {"plain", {.lr = 0.1}},
      {"momentum", {.lr = 0.05, .momentum = 0.9}},
      {"momentum + dampening", {.lr = 0.05, .momentum = 0.8, .dampening = 0.3}},
      {"nesterov", {.lr = 0.05, .momentum = 0.9, .nesterov = true}},
      {"weight decay + momentum", {.lr = 0.05, .momentum = 0.5, .weight_decay = 0.01}},
  };
  for (const auto& c : cases) {
    SECTION(c.name) {
      auto ps = make_params();
      optim::SGD<double> opt(ps, c.o);
      SgdRef ref{c.o.lr, c.o.momentum, c.o.dampening, c.o.weight_decay, c.o.nesterov, {}};
      check_five_steps(ps, opt, ref);
      CHECK(opt.state(0).count("momentum_buffer") == (c.o.momentum != 0 ? 1u : 0u));
    }
  }
}

TEST_CASE("Adam and AdamW follow the published update rules", "[optim]") {
  SECTION("Adam") {
    auto ps = make_params();
    optim::Adam<double> opt(ps, {.lr = 0.01});
    AdamRef ref{0.01, 0.9, 0.999, 1e-8, 0, false};
    check_five_steps(ps, opt, ref);
    CHECK(opt.state(1).at("step").item() == 5.0);
  }
  SECTION("Adam, L2 weight decay and other betas") {
    auto ps = make_params();
    optim::Adam<double> opt(ps, {.lr = 0.02, .betas = {0.8, 0.99}, .eps = 1e-6, .weight_decay = 0.1});
    AdamRef ref{0.02, 0.8, 0.99, 1e-6, 0.1, false};
    check_five_steps(ps, opt, ref);
  }
  SECTION("AdamW, decoupled weight decay (default 1e-2)") {
    auto ps = make_params();
    optim::AdamW<double> opt(ps, {.lr = 0.05});
    CHECK(opt.param_groups()[0].weight_decay == 1e-2);
    AdamRef ref{0.05, 0.9, 0.999, 1e-8, 1e-2, true};
    check_five_steps(ps, opt, ref);
  }
}

TEST_CASE("parameter groups keep their own hyper-parameters", "[optim]") {
  auto ps = make_params();
  optim::Adam<double> opt({ps[0]}, {.lr = 0.01});
  opt.add_param_group({ps[1]}, {.lr = 0.1, .weight_decay = 0.05});
  REQUIRE(opt.num_param_groups() == 2);
  AdamRef r0{0.01, 0.9, 0.999, 1e-8, 0, false}, r1{0.1, 0.9, 0.999, 1e-8, 0.05, false};
  auto want = values(ps);
  for (int k = 0; k < 4; ++k) {
    if (k == 2) {  // change a group's lr mid-run, as a schedule does
      opt.param_groups()[1].lr = 0.03;
      r1.lr = 0.03;
    }
    set_grads(ps, k);
    opt.step();
    // Each reference steps only its own parameter (the other entry is empty),
    // so grad_of still sees the parameter's real index.
    std::vector<Vec> w0 = {want[0], {}}, w1 = {{}, want[1]};
    r0.step(w0, k);
    r1.step(w1, k);
    want = {w0[0], w1[1]};
    require_close(ps, want);
  }
}

TEST_CASE("parameters without a gradient are skipped", "[optim]") {
  auto ps = make_params();
  optim::SGD<double> opt(ps, {.lr = 0.1, .momentum = 0.9});
  set_grads(ps, 0);
  ps[1].zero_grad();
  const auto before = ps[1].to_vector();
  opt.step();
  CHECK(ps[1].to_vector() == before);
  CHECK(opt.state(1).empty());
  CHECK(opt.state(0).count("momentum_buffer") == 1);
  opt.zero_grad();
  CHECK(!ps[0].grad().defined());
}

TEST_CASE("optimizers reject bad settings and gradients", "[optim]") {
  auto ps = make_params();
  CHECK_THROWS_WITH(optim::SGD<double>(ps, {.lr = 0.1, .momentum = 0.9, .dampening = 0.1, .nesterov = true}),
                    Catch::Contains("SGD") && Catch::Contains("Nesterov"));
  CHECK_THROWS_WITH(optim::Adam<double>(ps, {.betas = {0.9, 1.0}}), Catch::Contains("Adam") && Catch::Contains("betas"));
  CHECK_THROWS_WITH(optim::SGD<double>({ps[0], ps[0]}), Catch::Contains("more than one"));
  optim::SGD<double> opt(ps, {.lr = 0.1});
  CHECK_THROWS_WITH(opt.add_param_group({ps[1]}), Catch::Contains("more than one"));
  auto p = ps[0];
  p.set_grad(gm::zeros<double>({2}));
  CHECK_THROWS_WITH(opt.step(), Catch::Contains("SGD") && Catch::Contains("[2]") && Catch::Contains("[3]"));
}

TEST_CASE("float optimizers update in place through the fused kernel", "[optim]") {
  // A large parameter goes through parallel_for's chunks; compare with a small double run.
  const int64_t n = 100000;
  auto p = gm::randn<float>({n});
  p.requires_grad_();
  auto* storage = p.data();
  optim::AdamW<float> opt({p}, {.lr = 0.01});
  auto before = p.to_vector();
  auto pf = p;
  pf.set_grad(gm::full<float>({n}, 0.5f));
  opt.step();
  CHECK(p.data() == storage);
  // First Adam step with a constant gradient moves every element by lr * (1 - 0) (sign of g), after decay.
  for (int64_t i = 0; i < n; i += 9973) CHECK(p.data()[i] == Approx(before[i] * (1 - 0.01 * 0.01) - 0.01).margin(1e-6));
}
