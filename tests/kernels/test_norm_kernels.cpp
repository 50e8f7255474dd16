// Tests of the CPU normalisation kernels (genmodel/kernels/cpu/norm.hpp):
// batch, layer and group norm against one naive long-double reference (a norm
// is "statistics per group G(e), affine per channel A(e)" of every element e),
// backward against the analytic formula and central finite differences,
// running statistics, error paths and thread-count invariance.
#include <catch2/catch.hpp>

#include "test_util.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "genmodel/core/parallel.hpp"
#include "genmodel/kernels/cpu/norm.hpp"

namespace {

namespace K = genmodel::kernels::cpu;
using LD = long double;


enum class NkKind { Batch, Layer, Group };

/// Batch/Group: x (n, c, s). Layer: x (rows = n, d = c); s and groups unused.
struct NkShape {
  NkKind kind;
  int64_t n, c, s, groups;
  int64_t numel() const { return kind == NkKind::Layer ? n * c : n * c * s; }
  int64_t nstat() const { return kind == NkKind::Batch ? c : kind == NkKind::Layer ? n : n * groups; }
  int64_t naff() const { return c; }
  int64_t stat_of(int64_t e) const {
    if (kind == NkKind::Layer) return e / c;
    const int64_t ch = (e / s) % c;
    return kind == NkKind::Batch ? ch : (e / (s * c)) * groups + ch / (c / groups);
  }
  int64_t aff_of(int64_t e) const { return kind == NkKind::Layer ? e % c : (e / s) % c; }
  std::string str() const {
    const char* k = kind == NkKind::Batch ? "batch" : kind == NkKind::Layer ? "layer" : "group";
    return std::string(k) + " n=" + std::to_string(n) + " c=" + std::to_string(c) + " s=" + std::to_string(s) +
           " groups=" + std::to_string(groups);
  }
};

template <class T>
std::vector<T> nk_uniform(std::mt19937_64& rng, int64_t n, double lo, double hi) {
  std::uniform_real_distribution<double> u(lo, hi);
  std::vector<T> v(size_t(std::max<int64_t>(n, 0)));
  for (auto& e : v) e = T(u(rng));
  return v;
}

// ------------------------------------------------------------ reference

struct NkRefFwd {
  std::vector<LD> y, mean, rstd, mean_abs;
};

/// Naive two-pass forward in long double; gamma/beta empty = no affine.
template <class V>
NkRefFwd nk_ref_forward(const NkShape& sh, const V& x, const V& gamma, const V& beta, LD eps) {
  const int64_t ne = sh.numel(), ng = sh.nstat();
  NkRefFwd r;
  r.mean.assign(size_t(ng), 0);
  r.mean_abs.assign(size_t(ng), 0);
  r.rstd.assign(size_t(ng), 0);
  r.y.assign(size_t(ne), 0);
  std::vector<LD> cnt(size_t(ng), 0), var(size_t(ng), 0);
  for (int64_t e = 0; e < ne; ++e) {
    const int64_t g = sh.stat_of(e);
    r.mean[g] += LD(x[e]);
    r.mean_abs[g] += std::fabs(LD(x[e]));
    cnt[g] += 1;
  }
  for (int64_t g = 0; g < ng; ++g) {
    r.mean[g] = cnt[g] > 0 ? r.mean[g] / cnt[g] : 0;
    r.mean_abs[g] = cnt[g] > 0 ? r.mean_abs[g] / cnt[g] : 0;
  }
  for (int64_t e = 0; e < ne; ++e) {
    const int64_t g = sh.stat_of(e);
    const LD d = LD(x[e]) - r.mean[g];
    var[g] += d * d;
  }
  for (int64_t g = 0; g < ng; ++g) r.rstd[g] = 1 / std::sqrt((cnt[g] > 0 ? var[g] / cnt[g] : 0) + eps);
  for (int64_t e = 0; e < ne; ++e) {
    const int64_t g = sh.stat_of(e), a = sh.aff_of(e);
    LD v = (LD(x[e]) - r.mean[g]) * r.rstd[g];
    if (!gamma.empty()) v *= LD(gamma[a]);
    if (!beta.empty()) v += LD(beta[a]);
    r.y[e] = v;
  }
  return r;
}

struct NkRefBwd {
  std::vector<LD> dx, dgamma, dbeta;
  std::vector<LD> dx_scale, dgamma_scale, dbeta_scale;  // sums of |terms|: rounding scales
};

/// Naive analytic backward: per statistics group, with g = dy * gamma and
/// xhat = (x - mean) * rstd, dx = rstd * (g - mean(g) - xhat * mean(g * xhat)).
template <class V>
NkRefBwd nk_ref_backward(const NkShape& sh, const V& dy, const V& x, const V& gamma, LD eps) {
  const V none;
  const NkRefFwd f = nk_ref_forward(sh, x, none, none, eps);
  const int64_t ne = sh.numel(), ng = sh.nstat(), na = sh.naff();
  std::vector<LD> cnt(size_t(ng), 0), mg(size_t(ng), 0), mgx(size_t(ng), 0), amg(size_t(ng), 0),
      amgx(size_t(ng), 0);
  auto gam = [&](int64_t e) { return gamma.empty() ? LD(1) : LD(gamma[sh.aff_of(e)]); };
  for (int64_t e = 0; e < ne; ++e) {
    const int64_t g = sh.stat_of(e);
    const LD xh = (LD(x[e]) - f.mean[g]) * f.rstd[g], gg = LD(dy[e]) * gam(e);
    cnt[g] += 1;
    mg[g] += gg;
    mgx[g] += gg * xh;
    amg[g] += std::fabs(gg);
    amgx[g] += std::fabs(gg * xh);
  }
  for (int64_t g = 0; g < ng; ++g)
    if (cnt[g] > 0) {
      mg[g] /= cnt[g];
      mgx[g] /= cnt[g];
      amg[g] /= cnt[g];
      amgx[g] /= cnt[g];
    }
  NkRefBwd r;
  r.dx.assign(size_t(ne), 0);
  r.dx_scale.assign(size_t(ne), 0);
  r.dgamma.assign(size_t(na), 0);
  r.dbeta.assign(size_t(na), 0);
  r.dgamma_scale.assign(size_t(na), 0);
  r.dbeta_scale.assign(size_t(na), 0);
  for (int64_t e = 0; e < ne; ++e) {
    const int64_t g = sh.stat_of(e), a = sh.aff_of(e);
    const LD rs = f.rstd[g], xh = (LD(x[e]) - f.mean[g]) * rs, gg = LD(dy[e]) * gam(e);
    r.dx[e] = rs * (gg - mg[g] - xh * mgx[g]);
    r.dx_scale[e] = rs * (std::fabs(gg) + amg[g] + (std::fabs(xh) + std::fabs(f.mean[g]) * rs + 1) * amgx[g]);
    r.dgamma[a] += LD(dy[e]) * xh;
    r.dbeta[a] += LD(dy[e]);
    r.dgamma_scale[a] += std::fabs(LD(dy[e])) * (std::fabs(xh) + std::fabs(f.mean[g]) * rs + 1);
    r.dbeta_scale[a] += std::fabs(LD(dy[e]));
  }
  return r;
}

// ------------------------------------------------------------ kernel calls

template <class T>
const T* nk_ptr(const std::vector<T>& v) {
  return v.empty() ? nullptr : v.data();
}

template <class T>
void nk_forward(const NkShape& sh, const std::vector<T>& x, const std::vector<T>& gamma,
                const std::vector<T>& beta, std::vector<T>& y, std::vector<T>& mean, std::vector<T>& rstd,
                T eps) {
  y.assign(size_t(sh.numel()), T(-7));
  mean.assign(size_t(sh.nstat()), T(-7));
  rstd.assign(size_t(sh.nstat()), T(-7));
  switch (sh.kind) {
    case NkKind::Batch:
      K::batch_norm_forward_train<T>(x.data(), nk_ptr(gamma), nk_ptr(beta), y.data(), mean.data(), rstd.data(),
                                     sh.n, sh.c, sh.s, eps, nullptr, nullptr, T(0.1));
      break;
    case NkKind::Layer:
      K::layer_norm_forward<T>(x.data(), nk_ptr(gamma), nk_ptr(beta), y.data(), mean.data(), rstd.data(), sh.n,
                               sh.c, eps);
      break;
    case NkKind::Group:
      K::group_norm_forward<T>(x.data(), nk_ptr(gamma), nk_ptr(beta), y.data(), mean.data(), rstd.data(), sh.n,
                               sh.c, sh.s, sh.groups, eps);
      break;
  }
}

template <class T>
void nk_backward(const NkShape& sh, const std::vector<T>& dy, const std::vector<T>& x, const std::vector<T>& gamma,
                 const std::vector<T>& mean, const std::vector<T>& rstd, std::vector<T>& dx,
                 std::vector<T>& dgamma, std::vector<T>& dbeta) {
  dx.assign(size_t(sh.numel()), T(-7));
  dgamma.assign(size_t(sh.naff()), T(-7));
  dbeta.assign(size_t(sh.naff()), T(-7));
  switch (sh.kind) {
    case NkKind::Batch:
      K::batch_norm_backward<T>(dy.data(), x.data(), nk_ptr(gamma), mean.data(), rstd.data(), dx.data(),
                                dgamma.data(), dbeta.data(), sh.n, sh.c, sh.s);
      break;
    case NkKind::Layer:
      K::layer_norm_backward<T>(dy.data(), x.data(), nk_ptr(gamma), mean.data(), rstd.data(), dx.data(),
                                dgamma.data(), dbeta.data(), sh.n, sh.c);
      break;
    case NkKind::Group:
      K::group_norm_backward<T>(dy.data(), x.data(), nk_ptr(gamma), mean.data(), rstd.data(), dx.data(),
                                dgamma.data(), dbeta.data(), sh.n, sh.c, sh.s, sh.groups);
      break;
  }
}

/// max_i |got_i - want_i| / scale_i (scale_i floored at tiny): the error in
/// units of the rounding scale of each output.
template <class T>
double nk_worst(const std::vector<T>& got, const std::vector<LD>& want, const std::vector<LD>& scale) {
  REQUIRE(got.size() == want.size());
  double w = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const LD err = std::fabs(LD(got[i]) - want[i]);
    const LD sc = std::max(scale[i], LD(1e-30));
    if (!std::isfinite(double(got[i]))) return std::numeric_limits<double>::infinity();
    w = std::max(w, double(err / sc));
  }
  return w;
}

/// Forward and backward of one shape against the reference; errors must stay
/// below `ulps` units of roundoff (eps of T times each output's scale).
template <class T>
void nk_check_shape(const NkShape& sh, bool affine, std::mt19937_64& rng, double ulps) {
  INFO(sh.str() << (affine ? " affine" : " plain"));
  const T eps = T(1e-5);
  const auto x = nk_uniform<T>(rng, sh.numel(), -2.0, 3.0);
  const auto dy = nk_uniform<T>(rng, sh.numel(), -1.0, 1.0);
  std::vector<T> gamma, beta;
  if (affine) {
    gamma = nk_uniform<T>(rng, sh.naff(), 0.5, 1.5);
    beta = nk_uniform<T>(rng, sh.naff(), -1.0, 1.0);
  }
  std::vector<T> y, mean, rstd, dx, dgamma, dbeta;
  nk_forward(sh, x, gamma, beta, y, mean, rstd, eps);
  nk_backward(sh, dy, x, gamma, mean, rstd, dx, dgamma, dbeta);

  const NkRefFwd rf = nk_ref_forward(sh, x, gamma, beta, LD(eps));
  const NkRefBwd rb = nk_ref_backward(sh, dy, x, gamma, LD(eps));
  const double u = double(std::numeric_limits<T>::epsilon());
  // Rounding scales: |mean| of |x| for the mean; rstd itself; for y every term
  // of (x - mean) * rstd * gamma + beta.
  std::vector<LD> ys(y.size());
  for (int64_t e = 0; e < sh.numel(); ++e) {
    const int64_t g = sh.stat_of(e), a = sh.aff_of(e);
    const LD ga = gamma.empty() ? 1 : std::fabs(LD(gamma[a]));
    ys[e] = (std::fabs(LD(x[e]) - rf.mean[g]) + std::fabs(rf.mean[g]) + 1) * rf.rstd[g] * ga +
            (beta.empty() ? 0 : std::fabs(LD(beta[a])));
  }
  std::vector<LD> mscale(rf.mean_abs), rscale(rf.rstd);
  for (auto& v : mscale) v += 1e-3L;
  const double wm = nk_worst(mean, rf.mean, mscale), wr = nk_worst(rstd, rf.rstd, rscale),
               wy = nk_worst(y, rf.y, ys), wdx = nk_worst(dx, rb.dx, rb.dx_scale),
               wdg = nk_worst(dgamma, rb.dgamma, rb.dgamma_scale), wdb = nk_worst(dbeta, rb.dbeta, rb.dbeta_scale);
  INFO("errors in ulps: mean " << wm / u << " rstd " << wr / u << " y " << wy / u << " dx " << wdx / u
                               << " dgamma " << wdg / u << " dbeta " << wdb / u);
  CHECK(wm <= ulps * u);
  CHECK(wr <= ulps * u);
  CHECK(wy <= ulps * u);
  CHECK(wdx <= ulps * u);
  CHECK(wdg <= ulps * u);
  CHECK(wdb <= ulps * u);
}

NkShape nk_random_shape(NkKind kind, std::mt19937_64& rng) {
  auto r = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  switch (kind) {
    case NkKind::Batch: {
      const int64_t s = r(0, 2) == 0 ? 1 : r(1, 40);
      return {kind, r(1, 9), r(1, 7), s, 1};
    }
    case NkKind::Layer:
      return {kind, r(1, 12), r(1, 300), 1, 1};
    case NkKind::Group: {
      const int64_t g = r(1, 4);
      return {kind, r(1, 4), g * r(1, 4), r(0, 2) == 0 ? 1 : r(1, 30), g};
    }
  }
  return {};
}

/// Shapes that reach the other code paths: batch norm by columns (s < 16)
/// with many row chunks, long segments cut into pieces (> 16384 values).
std::vector<NkShape> nk_big_shapes() {
  return {
      {NkKind::Batch, 3000, 5, 1, 1},   {NkKind::Batch, 700, 3, 7, 1},  {NkKind::Batch, 2, 3, 20000, 1},
      {NkKind::Batch, 16, 4, 300, 1},   {NkKind::Layer, 3, 20000, 1, 1}, {NkKind::Layer, 700, 48, 1, 1},
      {NkKind::Group, 2, 4, 9000, 2},   {NkKind::Group, 3, 6, 1, 3},     {NkKind::Group, 5, 8, 100, 4},
  };
}

constexpr double kNkUlps = 32;  // bound in eps(T) x each output's rounding scale (worst seen: about 7)

}  // namespace

TEMPLATE_TEST_CASE("norm kernels match the naive reference on random shapes", "[kernels][norm]", float,
                   double) {
  std::mt19937_64 rng(1234);
  for (NkKind kind : {NkKind::Batch, NkKind::Layer, NkKind::Group})
    for (int t = 0; t < 25; ++t) {
      const NkShape sh = nk_random_shape(kind, rng);
      if (kind == NkKind::Batch && sh.n * sh.s == 1) continue;  // rejected in training mode
      nk_check_shape<TestType>(sh, t % 3 != 0, rng, kNkUlps);
    }
}

TEMPLATE_TEST_CASE("norm kernels match the reference on large shapes (columns, pieces)", "[kernels][norm]",
                   float, double) {
  std::mt19937_64 rng(99);
  for (const NkShape& sh : nk_big_shapes()) nk_check_shape<TestType>(sh, true, rng, kNkUlps);
}

TEST_CASE("norm backward kernels match central finite differences of the reference", "[kernels][norm]") {
  std::mt19937_64 rng(7);
  const std::vector<NkShape> shapes = {
      {NkKind::Batch, 3, 2, 4, 1}, {NkKind::Batch, 5, 3, 1, 1}, {NkKind::Layer, 3, 7, 1, 1},
      {NkKind::Group, 2, 4, 3, 2}, {NkKind::Group, 2, 6, 1, 3}, {NkKind::Group, 1, 3, 5, 1},
  };
  const LD eps = 1e-5L, h = 1e-5L;
  for (const NkShape& sh : shapes)
    for (bool affine : {true, false}) {
      INFO(sh.str() << (affine ? " affine" : " plain"));
      const auto x = nk_uniform<double>(rng, sh.numel(), -2.0, 3.0);
      const auto w = nk_uniform<double>(rng, sh.numel(), -1.0, 1.0);  // L = sum(w * y), so dy = w
      std::vector<double> gamma, beta;
      if (affine) {
        gamma = nk_uniform<double>(rng, sh.naff(), 0.5, 1.5);
        beta = nk_uniform<double>(rng, sh.naff(), -1.0, 1.0);
      }
      auto loss = [&](const std::vector<LD>& xv, const std::vector<LD>& gv, const std::vector<LD>& bv) {
        const NkRefFwd f = nk_ref_forward(sh, xv, gv, bv, eps);
        LD l = 0;
        for (size_t e = 0; e < f.y.size(); ++e) l += LD(w[e]) * f.y[e];
        return l;
      };
      std::vector<LD> xl(x.begin(), x.end()), gl(gamma.begin(), gamma.end()), bl(beta.begin(), beta.end());
      auto central = [&](std::vector<LD>& which, size_t i) {
        const LD keep = which[i];
        which[i] = keep + h;
        const LD lp = loss(xl, gl, bl);
        which[i] = keep - h;
        const LD lm = loss(xl, gl, bl);
        which[i] = keep;
        return double((lp - lm) / (2 * h));
      };

      std::vector<double> y, mean, rstd, dx, dgamma, dbeta;
      nk_forward(sh, x, gamma, beta, y, mean, rstd, double(eps));
      nk_backward(sh, w, x, gamma, mean, rstd, dx, dgamma, dbeta);
      const NkRefBwd rb = nk_ref_backward(sh, w, x, gamma, eps);
      for (size_t i = 0; i < x.size(); ++i) {
        const double num = central(xl, i);
        CHECK(dx[i] == Approx(num).margin(1e-7).epsilon(1e-7));
        CHECK(double(rb.dx[i]) == Approx(num).margin(1e-7).epsilon(1e-7));
      }
      if (affine) {
        for (size_t a = 0; a < gamma.size(); ++a) {
          const double ng = central(gl, a), nb = central(bl, a);
          CHECK(dgamma[a] == Approx(ng).margin(1e-7).epsilon(1e-7));
          CHECK(double(rb.dgamma[a]) == Approx(ng).margin(1e-7).epsilon(1e-7));
          CHECK(dbeta[a] == Approx(nb).margin(1e-7).epsilon(1e-7));
          CHECK(double(rb.dbeta[a]) == Approx(nb).margin(1e-7).epsilon(1e-7));
        }
      }
    }
}

TEMPLATE_TEST_CASE("batch_norm updates running statistics with the unbiased variance", "[kernels][norm]", float,
                   double) {
  using T = TestType;
  std::mt19937_64 rng(5);
  for (const NkShape& sh : {NkShape{NkKind::Batch, 6, 4, 5, 1}, NkShape{NkKind::Batch, 40, 3, 1, 1}}) {
    const auto x = nk_uniform<T>(rng, sh.numel(), -2.0, 3.0);
    const auto gamma = nk_uniform<T>(rng, sh.c, 0.5, 1.5), beta = nk_uniform<T>(rng, sh.c, -1.0, 1.0);
    auto rm = nk_uniform<T>(rng, sh.c, -1.0, 1.0), rv = nk_uniform<T>(rng, sh.c, 0.5, 2.0);
    const auto rm0 = rm, rv0 = rv;
    const T momentum = T(0.1);
    std::vector<T> y(x.size()), mean(sh.c), rstd(sh.c);
    K::batch_norm_forward_train<T>(x.data(), gamma.data(), beta.data(), y.data(), mean.data(), rstd.data(), sh.n,
                                   sh.c, sh.s, T(1e-5), rm.data(), rv.data(), momentum);
    const NkRefFwd rf = nk_ref_forward(sh, x, gamma, beta, LD(1e-5));
    const LD N = LD(sh.n * sh.s);
    for (int64_t ch = 0; ch < sh.c; ++ch) {
      const LD var_biased = 1 / (rf.rstd[ch] * rf.rstd[ch]) - LD(1e-5);
      const LD want_m = (1 - LD(momentum)) * LD(rm0[ch]) + LD(momentum) * rf.mean[ch];
      const LD want_v = (1 - LD(momentum)) * LD(rv0[ch]) + LD(momentum) * var_biased * N / (N - 1);
      const double tol = 16 * double(std::numeric_limits<T>::epsilon());
      CHECK(double(rm[ch]) == Approx(double(want_m)).margin(tol).epsilon(tol));
      CHECK(double(rv[ch]) == Approx(double(want_v)).margin(tol).epsilon(tol));
    }
    // Eval mode with these running statistics.
    std::vector<T> ye(x.size());
    K::batch_norm_forward_eval<T>(x.data(), gamma.data(), beta.data(), ye.data(), sh.n, sh.c, sh.s, T(1e-5),
                                  rm.data(), rv.data());
    for (int64_t e = 0; e < sh.numel(); ++e) {
      const int64_t ch = (e / sh.s) % sh.c;
      const LD want = (LD(x[e]) - LD(rm[ch])) / std::sqrt(LD(rv[ch]) + LD(T(1e-5))) * LD(gamma[ch]) + LD(beta[ch]);
      const double tol = 32 * double(std::numeric_limits<T>::epsilon());
      CHECK(double(ye[e]) == Approx(double(want)).margin(tol * 4).epsilon(tol));
    }
    // Running statistics are optional.
    K::batch_norm_forward_train<T>(x.data(), nullptr, nullptr, y.data(), mean.data(), rstd.data(), sh.n, sh.c,
                                   sh.s, T(1e-5), nullptr, nullptr, momentum);
  }
}

TEMPLATE_TEST_CASE("norm kernels: empty batch and optional outputs", "[kernels][norm]", float, double) {
  using T = TestType;
  // Empty batch: nothing written, running statistics untouched, zero grads.
  std::vector<T> rm = {T(0.5), T(-1)}, rv = {T(2), T(3)}, mean(2), rstd(2), dg(2, T(9)), db(2, T(9));
  K::batch_norm_forward_train<T>(nullptr, nullptr, nullptr, nullptr, mean.data(), rstd.data(), 0, 2, 4, T(1e-5),
                                 rm.data(), rv.data(), T(0.1));
  CHECK(rm[0] == T(0.5));
  CHECK(rv[1] == T(3));
  CHECK(mean[0] == T(0));
  K::batch_norm_backward<T>(nullptr, nullptr, nullptr, mean.data(), rstd.data(), nullptr, dg.data(), db.data(), 0, 2,
                            4);
  CHECK(dg[0] == T(0));
  CHECK(db[1] == T(0));
  // dx only / dgamma only give the same values as the full call.
  std::mt19937_64 rng(3);
  const NkShape sh{NkKind::Layer, 9, 33, 1, 1};
  const auto x = nk_uniform<T>(rng, sh.numel(), -1, 2), dy = nk_uniform<T>(rng, sh.numel(), -1, 1),
             gamma = nk_uniform<T>(rng, sh.c, 0.5, 1.5);
  std::vector<T> y, m, r, dx, dgamma, dbeta;
  nk_forward(sh, x, gamma, gamma, y, m, r, T(1e-5));
  nk_backward(sh, dy, x, gamma, m, r, dx, dgamma, dbeta);
  std::vector<T> dx2(dx.size()), dg2(sh.c);
  K::layer_norm_backward<T>(dy.data(), x.data(), gamma.data(), m.data(), r.data(), dx2.data(), nullptr, nullptr,
                            sh.n, sh.c);
  K::layer_norm_backward<T>(dy.data(), x.data(), gamma.data(), m.data(), r.data(), nullptr, dg2.data(), nullptr,
                            sh.n, sh.c);
  CHECK(dx2 == dx);
  CHECK(dg2 == dgamma);
}

TEST_CASE("norm kernels reject bad sizes with the op's name", "[kernels][norm]") {
  std::vector<float> x(24, 1.f), y(24), m(8), r(8), g(8);
  using Catch::Contains;
  REQUIRE_THROWS_WITH(K::group_norm_forward<float>(x.data(), nullptr, nullptr, y.data(), m.data(), r.data(), 2, 6, 2,
                                                   4, 1e-5f),
                      Contains("group_norm") && Contains("divisible by groups"));
  REQUIRE_THROWS_WITH(K::group_norm_forward<float>(x.data(), nullptr, nullptr, y.data(), m.data(), r.data(), 2, 6, 2,
                                                   0, 1e-5f),
                      Contains("group_norm: groups must be positive"));
  REQUIRE_THROWS_WITH(K::group_norm_backward<float>(x.data(), x.data(), nullptr, m.data(), r.data(), y.data(),
                                                    nullptr, nullptr, 2, 6, 2, 5),
                      Contains("group_norm_backward") && Contains("divisible"));
  REQUIRE_THROWS_WITH(K::batch_norm_forward_train<float>(x.data(), nullptr, nullptr, y.data(), m.data(), r.data(), 1,
                                                         3, 1, 1e-5f, nullptr, nullptr, 0.1f),
                      Contains("batch_norm") && Contains("more than 1 value per channel"));
  REQUIRE_THROWS_WITH(K::batch_norm_forward_train<float>(x.data(), nullptr, nullptr, y.data(), m.data(), r.data(), -1,
                                                         3, 1, 1e-5f, nullptr, nullptr, 0.1f),
                      Contains("batch_norm: sizes must be non-negative"));
  REQUIRE_THROWS_WITH(K::batch_norm_forward_eval<float>(x.data(), nullptr, nullptr, y.data(), 2, 3, 4, 1e-5f, nullptr,
                                                        nullptr),
                      Contains("batch_norm") && Contains("running_mean"));
  REQUIRE_THROWS_WITH(K::layer_norm_forward<float>(x.data(), nullptr, nullptr, y.data(), m.data(), r.data(), 4, 6,
                                                   -1.f),
                      Contains("layer_norm: eps"));
  REQUIRE_THROWS_WITH(K::layer_norm_backward<float>(x.data(), x.data(), nullptr, m.data(), r.data(), y.data(),
                                                    nullptr, nullptr, 4, -6),
                      Contains("layer_norm_backward"));
}

TEMPLATE_TEST_CASE("norm kernels give the same bits with 1 and 2 threads", "[kernels][norm]", float, double) {
  using T = TestType;
  std::mt19937_64 rng(11);
  const std::vector<NkShape> shapes = {
      {NkKind::Batch, 64, 8, 256, 1},  {NkKind::Batch, 20000, 8, 1, 1}, {NkKind::Batch, 3, 2, 40000, 1},
      {NkKind::Layer, 300, 512, 1, 1}, {NkKind::Layer, 4, 40000, 1, 1}, {NkKind::Group, 8, 16, 1024, 4},
      {NkKind::Group, 2, 2, 50000, 1},
  };
  for (const NkShape& sh : shapes) {
    INFO(sh.str());
    const auto x = nk_uniform<T>(rng, sh.numel(), -2.0, 3.0), dy = nk_uniform<T>(rng, sh.numel(), -1.0, 1.0);
    const auto gamma = nk_uniform<T>(rng, sh.naff(), 0.5, 1.5), beta = nk_uniform<T>(rng, sh.naff(), -1.0, 1.0);
    std::vector<T> out[2][6];
    for (int t = 0; t < 2; ++t) {
      gmtest::ThreadCount guard(t + 1);
      auto& o = out[t];
      nk_forward(sh, x, gamma, beta, o[0], o[1], o[2], T(1e-5));
      nk_backward(sh, dy, x, gamma, o[1], o[2], o[3], o[4], o[5]);
    }
    for (int k = 0; k < 6; ++k) {
      INFO("output " << k);
      REQUIRE(out[0][k].size() == out[1][k].size());
      CHECK(std::memcmp(out[0][k].data(), out[1][k].data(), out[0][k].size() * sizeof(T)) == 0);
    }
  }
}
