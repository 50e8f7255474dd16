// tests/gradcheck.hpp: finite-difference checks of first and second
// derivatives in double precision, used by the table of every
// differentiable op in tests/ops/test_gradcheck.cpp.
//
// First order: L(x) = <f(x), r> for a fixed random r; the autograd gradient
// of L is compared with central differences of L.
// Second order: H(x) = <grad L(x), v> for a fixed random v, computed with
// create_graph; its autograd gradient is compared with central differences of
// H, where H is re-evaluated from first-order gradients alone.
#pragma once

#include <catch2/catch.hpp>
#include <functional>
#include <string>
#include <vector>

#include "genmodel/genmodel.hpp"

namespace gmtest {

using TensorD = genmodel::Tensor<double>;
using OpFn = std::function<TensorD(const std::vector<TensorD>&)>;

struct Tolerance {
  double eps = 1e-6;   // finite-difference step
  double atol = 1e-6;  // |analytic - numeric| <= atol + rtol * |numeric|
  double rtol = 1e-5;
};

inline std::vector<TensorD> leaves(const std::vector<TensorD>& xs) {
  std::vector<TensorD> out;
  for (const auto& x : xs) {
    auto c = x.clone_data();
    c.requires_grad_();
    out.push_back(c);
  }
  return out;
}

inline double dot(const TensorD& a, const TensorD& b) {
  double s = 0;
  for (int64_t i = 0; i < a.numel(); ++i) s += a.data()[i] * b.data()[i];
  return s;
}

/// Gradients of <f(xs), r> with respect to every x (zeros where unused).
inline std::vector<TensorD> first_grads(const OpFn& f, const std::vector<TensorD>& xs, const TensorD& r,
                                        bool create_graph) {
  auto out = f(xs);
  auto g = genmodel::grad<double, genmodel::cpu>({out}, xs, {r}, create_graph, /*allow_unused=*/true);
  for (size_t i = 0; i < g.size(); ++i)
    if (!g[i].defined()) g[i] = genmodel::zeros<double>(xs[i].shape());
  return g;
}

/// Compares `analytic[i]` with central differences of `scalar` in every element of xs[i].
inline void compare(const std::string& what, const std::vector<TensorD>& xs, const std::vector<TensorD>& analytic,
                    const std::function<double(const std::vector<TensorD>&)>& scalar, const Tolerance& tol) {
  for (size_t i = 0; i < xs.size(); ++i) {
    REQUIRE(analytic[i].shape() == xs[i].shape());
    for (int64_t j = 0; j < xs[i].numel(); ++j) {
      double& v = xs[i].data()[j];
      const double saved = v;
      v = saved + tol.eps;
      const double up = scalar(xs);
      v = saved - tol.eps;
      const double down = scalar(xs);
      v = saved;
      const double numeric = (up - down) / (2 * tol.eps);
      const double a = analytic[i].data()[j];
      INFO(what << ": input " << i << " element " << j << " analytic " << a << " numeric " << numeric);
      REQUIRE(std::abs(a - numeric) <= tol.atol + tol.rtol * std::abs(numeric));
    }
  }
}

inline void check_first_order(const std::string& name, const OpFn& f, const std::vector<TensorD>& inputs,
                              const Tolerance& tol = {}) {
  genmodel::Generator gen(1234);
  auto xs = leaves(inputs);
  const TensorD r = genmodel::randn<double>(f(xs).shape(), gen);
  const auto analytic = first_grads(f, xs, r, false);
  // Evaluated with recording on: f may itself take gradients (a gradient penalty).
  compare(name + " (first order)", xs, analytic, [&](const std::vector<TensorD>& p) { return dot(f(p), r); }, tol);
}

inline void check_second_order(const std::string& name, const OpFn& f, const std::vector<TensorD>& inputs,
                               const Tolerance& tol = {}) {
  genmodel::Generator gen(4321);
  auto xs = leaves(inputs);
  TensorD r;
  std::vector<TensorD> v;
  {
    genmodel::NoGradGuard ng;
    r = genmodel::randn<double>(f(xs).shape(), gen);
    for (const auto& x : xs) v.push_back(genmodel::randn<double>(x.shape(), gen));
  }
  // H = sum_i <g_i, v_i>, recorded.
  const auto g = first_grads(f, xs, r, true);
  TensorD h;
  for (size_t i = 0; i < g.size(); ++i) {
    auto term = genmodel::sum(genmodel::mul(g[i], v[i]));
    h = h.defined() ? genmodel::add(h, term) : term;
  }
  std::vector<TensorD> analytic;
  if (h.requires_grad()) {
    analytic = genmodel::grad<double, genmodel::cpu>({h}, xs, {}, false, true);
  } else {
    analytic.resize(xs.size());  // H does not depend on x: the op is linear in every input
  }
  for (size_t i = 0; i < xs.size(); ++i)
    if (!analytic[i].defined()) analytic[i] = genmodel::zeros<double>(xs[i].shape());
  compare(name + " (second order)", xs, analytic, [&](const std::vector<TensorD>& p) {
    auto q = leaves(p);
    const auto gq = first_grads(f, q, r, false);
    double s = 0;
    for (size_t i = 0; i < gq.size(); ++i) s += dot(gq[i], v[i]);
    return s;
  }, tol);
}

}  // namespace gmtest
