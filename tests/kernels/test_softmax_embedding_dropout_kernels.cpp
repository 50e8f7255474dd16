// Tests of the CPU softmax, embedding and dropout kernels
// (genmodel/kernels/cpu/{softmax,embedding,dropout}.hpp): naive long-double
// references, central finite differences, masking and overflow cases, error
// paths, thread-count invariance and the Philox stream contract of dropout.
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
#include "genmodel/core/philox.hpp"
#include "genmodel/kernels/cpu/dropout.hpp"
#include "genmodel/kernels/cpu/embedding.hpp"
#include "genmodel/kernels/cpu/softmax.hpp"

namespace {

namespace K = genmodel::kernels::cpu;
using LD = long double;


template <class T>
std::vector<T> sed_uniform(std::mt19937_64& rng, int64_t n, double lo, double hi) {
  std::uniform_real_distribution<double> u(lo, hi);
  std::vector<T> v(static_cast<size_t>(n));
  for (auto& e : v) e = T(u(rng));
  return v;
}

template <class T>
bool sed_same_bits(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0);
}

struct SedShape {
  int64_t outer, d, inner;
  int64_t numel() const { return outer * d * inner; }
  int64_t at(int64_t o, int64_t k, int64_t i) const { return (o * d + k) * inner + i; }
};

/// Naive softmax (Log = false) or log_softmax along d, in long double.
template <class V>
std::vector<LD> sed_ref_softmax(const SedShape& sh, const V& x, bool log) {
  std::vector<LD> y(size_t(sh.numel()));
  for (int64_t o = 0; o < sh.outer; ++o)
    for (int64_t i = 0; i < sh.inner; ++i) {
      LD mx = -std::numeric_limits<LD>::infinity();
      for (int64_t k = 0; k < sh.d; ++k) mx = std::max(mx, LD(x[sh.at(o, k, i)]));
      LD sum = 0;
      for (int64_t k = 0; k < sh.d; ++k) sum += std::exp(LD(x[sh.at(o, k, i)]) - mx);
      for (int64_t k = 0; k < sh.d; ++k) {
        const LD z = LD(x[sh.at(o, k, i)]) - mx;
        y[sh.at(o, k, i)] = log ? z - std::log(sum) : std::exp(z) / sum;
      }
    }
  return y;
}

/// Naive analytic backward: softmax dx = y (dy - sum dy y); log_softmax
/// dx = dy - exp(y) sum dy. Also the rounding scale of each dx.
template <class V>
void sed_ref_softmax_backward(const SedShape& sh, const V& dy, const std::vector<LD>& y, bool log,
                              std::vector<LD>& dx, std::vector<LD>& scale) {
  dx.assign(size_t(sh.numel()), 0);
  scale.assign(size_t(sh.numel()), 0);
  for (int64_t o = 0; o < sh.outer; ++o)
    for (int64_t i = 0; i < sh.inner; ++i) {
      LD s = 0, sa = 0;
      for (int64_t k = 0; k < sh.d; ++k) {
        const int64_t e = sh.at(o, k, i);
        const LD w = log ? LD(dy[e]) : LD(dy[e]) * y[e];
        s += w;
        sa += std::fabs(w);
      }
      for (int64_t k = 0; k < sh.d; ++k) {
        const int64_t e = sh.at(o, k, i);
        if (log) {
          dx[e] = LD(dy[e]) - std::exp(y[e]) * s;
          scale[e] = std::fabs(LD(dy[e])) + std::exp(y[e]) * (sa + std::fabs(s));
        } else {
          dx[e] = y[e] * (LD(dy[e]) - s);
          scale[e] = y[e] * (std::fabs(LD(dy[e])) + sa);
        }
      }
    }
}

template <class T>
void sed_forward(bool log, const SedShape& sh, const std::vector<T>& x, std::vector<T>& y) {
  y.assign(x.size(), T(-7));
  if (log) K::log_softmax_forward<T>(x.data(), y.data(), sh.outer, sh.d, sh.inner);
  else K::softmax_forward<T>(x.data(), y.data(), sh.outer, sh.d, sh.inner);
}

template <class T>
void sed_backward(bool log, const SedShape& sh, const std::vector<T>& dy, const std::vector<T>& y,
                  std::vector<T>& dx) {
  dx.assign(y.size(), T(-7));
  if (log) K::log_softmax_backward<T>(dy.data(), y.data(), dx.data(), sh.outer, sh.d, sh.inner);
  else K::softmax_backward<T>(dy.data(), y.data(), dx.data(), sh.outer, sh.d, sh.inner);
}

/// max |got - want| / scale, with scale floored at `floor`.
template <class T>
double sed_worst(const std::vector<T>& got, const std::vector<LD>& want, const std::vector<LD>& scale, LD floor) {
  double w = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (!std::isfinite(double(got[i]))) return std::numeric_limits<double>::infinity();
    w = std::max(w, double(std::fabs(LD(got[i]) - want[i]) / std::max(scale[i], floor)));
  }
  return w;
}

constexpr double kSedUlps = 32;  // bound in eps(T) x each output's rounding scale

template <class T>
void sed_check_shape(const SedShape& sh, bool log, std::mt19937_64& rng) {
  INFO((log ? "log_softmax" : "softmax") << " outer=" << sh.outer << " d=" << sh.d << " inner=" << sh.inner);
  const auto x = sed_uniform<T>(rng, sh.numel(), -6.0, 6.0), dy = sed_uniform<T>(rng, sh.numel(), -1.0, 1.0);
  std::vector<T> y, dx;
  sed_forward(log, sh, x, y);
  sed_backward(log, sh, dy, y, dx);
  const auto ry = sed_ref_softmax(sh, x, log);
  std::vector<LD> ys(ry.size()), rdx, rdxs;
  // softmax: relative (exp is relatively accurate); log_softmax: y = (x - max) - log(sum) with
  // sum in [1, d], so log(sum) carries an absolute rounding error of order eps.
  for (size_t e = 0; e < ry.size(); ++e) ys[e] = std::fabs(ry[e]) + (log ? 1 : 0);
  // The analytic backward at the kernel's own y (what autograd will do).
  std::vector<LD> yk(y.begin(), y.end());
  sed_ref_softmax_backward(sh, dy, yk, log, rdx, rdxs);
  const double u = double(std::numeric_limits<T>::epsilon());
  const double wy = sed_worst(y, ry, ys, LD(1e-30)), wdx = sed_worst(dx, rdx, rdxs, LD(1e-30));
  INFO("errors in ulps: y " << wy / u << " dx " << wdx / u);
  CHECK(wy <= kSedUlps * u);
  CHECK(wdx <= kSedUlps * u);
}

}  // namespace

// ------------------------------------------------------------------ softmax

TEMPLATE_TEST_CASE("softmax kernels match the naive reference on random shapes", "[kernels][softmax]", float,
                   double) {
  std::mt19937_64 rng(21);
  auto r = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  for (int t = 0; t < 40; ++t) {
    const SedShape sh{r(1, 5), r(1, 60), r(0, 1) ? 1 : r(1, 150)};
    sed_check_shape<TestType>(sh, t % 2 == 1, rng);
  }
  for (const SedShape& sh : {SedShape{2, 5000, 1}, SedShape{3, 30, 200}, SedShape{1, 1, 1}, SedShape{4, 1, 70}})
    for (bool log : {false, true}) sed_check_shape<TestType>(sh, log, rng);
}

TEST_CASE("softmax backward kernels match central finite differences", "[kernels][softmax]") {
  std::mt19937_64 rng(8);
  const LD h = 1e-6L;
  for (const SedShape& sh : {SedShape{2, 5, 1}, SedShape{2, 4, 3}, SedShape{1, 7, 2}})
    for (bool log : {false, true}) {
      INFO((log ? "log_softmax" : "softmax") << " outer=" << sh.outer << " d=" << sh.d << " inner=" << sh.inner);
      const auto x = sed_uniform<double>(rng, sh.numel(), -3.0, 3.0), w = sed_uniform<double>(rng, sh.numel(), -1.0, 1.0);
      std::vector<double> y, dx;
      sed_forward(log, sh, x, y);
      sed_backward(log, sh, w, y, dx);
      std::vector<LD> xl(x.begin(), x.end());
      auto loss = [&] {
        const auto yr = sed_ref_softmax(sh, xl, log);
        LD l = 0;
        for (size_t e = 0; e < yr.size(); ++e) l += LD(w[e]) * yr[e];
        return l;
      };
      std::vector<LD> rdx, rdxs;
      sed_ref_softmax_backward(sh, w, sed_ref_softmax(sh, xl, log), log, rdx, rdxs);
      for (size_t i = 0; i < xl.size(); ++i) {
        const LD keep = xl[i];
        xl[i] = keep + h;
        const LD lp = loss();
        xl[i] = keep - h;
        const LD lm = loss();
        xl[i] = keep;
        const double num = double((lp - lm) / (2 * h));
        CHECK(dx[i] == Approx(num).margin(1e-8).epsilon(1e-8));
        CHECK(double(rdx[i]) == Approx(num).margin(1e-8).epsilon(1e-8));
      }
    }
}

TEMPLATE_TEST_CASE("softmax kernels: masking, large inputs and empty sizes", "[kernels][softmax]", float, double) {
  using T = TestType;
  const T inf = std::numeric_limits<T>::infinity();
  for (int64_t inner : {int64_t(1), int64_t(3)}) {
    INFO("inner=" << inner);
    const SedShape sh{2, 4, inner};
    // Row/column (o, :, i) = {1000, -inf, 999, 1000} (+ o): no overflow, masked entry exactly 0 / -inf.
    std::vector<T> x(size_t(sh.numel()));
    const T vals[4] = {T(1000), -inf, T(999), T(1000)};
    for (int64_t o = 0; o < 2; ++o)
      for (int64_t k = 0; k < 4; ++k)
        for (int64_t i = 0; i < inner; ++i) x[sh.at(o, k, i)] = vals[k] + T(o);
    std::vector<T> y, ly;
    sed_forward(false, sh, x, y);
    sed_forward(true, sh, x, ly);
    const double e1 = std::exp(-1.0), z = 2 + e1;
    const double tol = 8 * double(std::numeric_limits<T>::epsilon());
    for (int64_t o = 0; o < 2; ++o)
      for (int64_t i = 0; i < inner; ++i) {
        CHECK(y[sh.at(o, 1, i)] == T(0));
        CHECK(ly[sh.at(o, 1, i)] == -inf);
        CHECK(double(y[sh.at(o, 0, i)]) == Approx(1 / z).epsilon(tol));
        CHECK(double(y[sh.at(o, 2, i)]) == Approx(e1 / z).epsilon(tol));
        CHECK(double(ly[sh.at(o, 3, i)]) == Approx(-std::log(z)).epsilon(tol));
      }
    // The backward at the masked entry gives exactly 0 (softmax) / dy (log_softmax).
    std::vector<T> dy(x.size(), T(0.5)), dx;
    sed_backward(false, sh, dy, y, dx);
    CHECK(dx[sh.at(0, 1, 0)] == T(0));
    sed_backward(true, sh, dy, ly, dx);
    CHECK(dx[sh.at(0, 1, 0)] == T(0.5));
  }
  // Empty sizes are no-ops; negative sizes name the op.
  K::softmax_forward<T>(nullptr, nullptr, 3, 0, 1);
  K::log_softmax_backward<T>(nullptr, nullptr, nullptr, 0, 5, 2);
  using Catch::Contains;
  REQUIRE_THROWS_WITH(K::softmax_forward<T>(nullptr, nullptr, 1, -2, 1), Contains("softmax: sizes"));
  REQUIRE_THROWS_WITH(K::log_softmax_forward<T>(nullptr, nullptr, -1, 2, 1), Contains("log_softmax"));
  REQUIRE_THROWS_WITH(K::softmax_backward<T>(nullptr, nullptr, nullptr, 1, 2, -1), Contains("softmax_backward"));
}

TEMPLATE_TEST_CASE("softmax kernels give the same bits with 1 and 2 threads", "[kernels][softmax]", float,
                   double) {
  using T = TestType;
  std::mt19937_64 rng(31);
  for (const SedShape& sh : {SedShape{512, 300, 1}, SedShape{8, 64, 300}, SedShape{3, 20000, 1}})
    for (bool log : {false, true}) {
      const auto x = sed_uniform<T>(rng, sh.numel(), -5.0, 5.0), dy = sed_uniform<T>(rng, sh.numel(), -1.0, 1.0);
      std::vector<T> y[2], dx[2];
      for (int t = 0; t < 2; ++t) {
        gmtest::ThreadCount guard(t + 1);
        sed_forward(log, sh, x, y[t]);
        sed_backward(log, sh, dy, y[t], dx[t]);
      }
      CHECK(sed_same_bits(y[0], y[1]));
      CHECK(sed_same_bits(dx[0], dx[1]));
    }
}

// ---------------------------------------------------------------- embedding

TEMPLATE_TEST_CASE("embedding kernels match the naive gather and scatter-add", "[kernels][embedding]", float,
                   double) {
  using T = TestType;
  std::mt19937_64 rng(41);
  auto r = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  struct Case {
    int64_t n_idx, num, dim;
  };
  std::vector<Case> cases = {{1, 1, 1}, {0, 4, 3}, {50000, 37, 16}, {3000, 5000, 40}, {20000, 2, 1}};
  for (int t = 0; t < 20; ++t) cases.push_back({r(0, 200), r(1, 50), r(1, 70)});
  for (const Case& c : cases) {
    INFO("n_idx=" << c.n_idx << " num_embeddings=" << c.num << " dim=" << c.dim);
    std::vector<int64_t> idx(size_t(c.n_idx));
    for (auto& i : idx) i = r(0, c.num - 1);
    const auto table = sed_uniform<T>(rng, c.num * c.dim, -1, 1), dout = sed_uniform<T>(rng, c.n_idx * c.dim, -1, 1);
    std::vector<T> want_out(size_t(c.n_idx * c.dim)), want_dt(size_t(c.num * c.dim), T(0));
    for (int64_t i = 0; i < c.n_idx; ++i)
      for (int64_t j = 0; j < c.dim; ++j) {
        want_out[i * c.dim + j] = table[idx[i] * c.dim + j];
        want_dt[idx[i] * c.dim + j] += dout[i * c.dim + j];  // the sequential order: bitwise target
      }
    for (int threads : {1, 2}) {
      gmtest::ThreadCount guard(threads);
      std::vector<T> out(want_out.size(), T(-7)), dt(want_dt.size(), T(-7));
      K::embedding_forward<T>(idx.data(), c.n_idx, table.data(), c.num, c.dim, out.data());
      K::embedding_backward<T>(idx.data(), c.n_idx, dout.data(), c.num, c.dim, dt.data());
      CHECK(sed_same_bits(out, want_out));
      CHECK(sed_same_bits(dt, want_dt));
    }
  }
}

TEST_CASE("embedding kernels reject out-of-range indices before writing", "[kernels][embedding]") {
  using Catch::Contains;
  const std::vector<float> table(5 * 3, 1.f);
  std::vector<float> out(4 * 3, -7.f), dt(5 * 3, -7.f);
  const std::vector<int64_t> bad = {0, 4, 7, 1}, neg = {2, -1};
  REQUIRE_THROWS_WITH(K::embedding_forward<float>(bad.data(), 4, table.data(), 5, 3, out.data()),
                      Contains("embedding") && Contains("index 7") && Contains("num_embeddings = 5"));
  CHECK(out[0] == -7.f);  // checked before any work
  REQUIRE_THROWS_WITH(K::embedding_forward<float>(neg.data(), 2, table.data(), 5, 3, out.data()),
                      Contains("embedding") && Contains("index -1"));
  REQUIRE_THROWS_WITH(K::embedding_backward<float>(bad.data(), 4, out.data(), 5, 3, dt.data()),
                      Contains("embedding_backward") && Contains("index 7") && Contains("num_embeddings = 5"));
  CHECK(dt[0] == -7.f);
  REQUIRE_THROWS_WITH(K::embedding_forward<float>(bad.data(), 4, table.data(), 5, -3, out.data()),
                      Contains("embedding: sizes"));
}

// ------------------------------------------------------------------ dropout

TEMPLATE_TEST_CASE("dropout_mask: Philox contract, thread invariance, keep rate and scale", "[kernels][dropout]",
                   float, double) {
  using T = TestType;
  constexpr int64_t per = std::is_same_v<T, float> ? 4 : 2;
  for (const T p : {T(0), T(0.1), T(0.5), T(0.9)}) {
    INFO("p=" << p);
    const int64_t n = 200003;
    std::vector<T> m[2];
    for (int t = 0; t < 2; ++t) {
      gmtest::ThreadCount guard(t + 1);
      genmodel::Generator g(42, 1000);
      m[t].assign(size_t(n), T(-7));
      K::dropout_mask<T>(g, p, m[t].data(), n);
      CHECK(g.offset() == uint64_t(1000 + (n + per - 1) / per));
    }
    CHECK(sed_same_bits(m[0], m[1]));
    const T scale = T(1) / (T(1) - p);
    int64_t kept = 0;
    bool values_ok = true;
    for (T v : m[0]) {
      values_ok = values_ok && (v == T(0) || v == scale);
      kept += v != T(0);
    }
    CHECK(values_ok);
    const double q = 1 - double(p), sigma = std::sqrt(double(n) * q * (1 - q));
    CHECK(std::fabs(double(kept) - double(n) * q) <= 5 * sigma + 1e-9);
    // Element i is word i % 4 (float) / words 2(i%2), 2(i%2)+1 (double) of block first + i / per.
    const genmodel::Generator ref(42, 0);
    bool stream_ok = true;
    for (int64_t i : {int64_t(0), int64_t(1), int64_t(2), int64_t(3), int64_t(4), int64_t(12345), n - 1}) {
      const auto w = ref.block(1000 + uint64_t(i / per));
      double u;
      if constexpr (std::is_same_v<T, float>) u = genmodel::detail::u01_float(w[size_t(i % 4)]);
      else u = genmodel::detail::u01_double(w[size_t(2 * (i % 2))], w[size_t(2 * (i % 2) + 1)]);
      stream_ok = stream_ok && (m[0][size_t(i)] == (T(u) < p ? T(0) : scale));
    }
    CHECK(stream_ok);
    // A shorter request from the same (seed, offset) is a prefix; the next request differs.
    genmodel::Generator g(42, 1000);
    std::vector<T> a(1001), b(1001);
    K::dropout_mask<T>(g, p, a.data(), 1001);
    CHECK(std::equal(a.begin(), a.end(), m[0].begin()));
    K::dropout_mask<T>(g, p, b.data(), 1001);
    if (p > T(0)) CHECK_FALSE(sed_same_bits(a, b));
  }
  using Catch::Contains;
  genmodel::Generator g(1);
  std::vector<T> mask(8);
  REQUIRE_THROWS_WITH(K::dropout_mask<T>(g, T(1), mask.data(), 8), Contains("dropout") && Contains("[0, 1)"));
  REQUIRE_THROWS_WITH(K::dropout_mask<T>(g, T(-0.1), mask.data(), 8), Contains("dropout"));
  REQUIRE_THROWS_WITH(K::dropout_mask<T>(g, std::numeric_limits<T>::quiet_NaN(), mask.data(), 8),
                      Contains("dropout"));
  CHECK(g.offset() == 0u);  // a rejected call reserves nothing
}
