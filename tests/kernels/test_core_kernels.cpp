// GEMM, broadcasting, reductions and permute against naive loops on random shapes.
#include <catch2/catch.hpp>

#include "test_util.hpp"

#include "genmodel/genmodel.hpp"

namespace gm = genmodel;
namespace k = genmodel::kernels::cpu;

namespace {
template <class T>
std::vector<T> random_vec(int64_t n, gm::Generator& g) {
  return gm::randn<T>({n}, g).to_vector();
}

template <class T>
T tol();
template <>
float tol<float>() { return 1e-4f; }
template <>
double tol<double>() { return 1e-11; }

template <class T>
void require_close(const std::vector<T>& a, const std::vector<T>& b, T rel) {
  REQUIRE(a.size() == b.size());
  T scale = 1;
  for (T v : b) scale = std::max(scale, std::abs(v));
  for (size_t i = 0; i < a.size(); ++i) {
    INFO("element " << i << ": " << a[i] << " vs " << b[i]);
    REQUIRE(std::abs(a[i] - b[i]) <= rel * scale);
  }
}
}  // namespace

TEMPLATE_TEST_CASE("gemm: all transpose cases and batches match a naive loop", "[kernels][gemm]", float, double) {
  using T = TestType;
  gm::Generator g(1);
  for (int trial = 0; trial < 12; ++trial) {
    const auto dims = gm::randint(1, 70, {3}, g).to_vector();
    const int64_t m = dims[0], n = dims[1], kk = dims[2], batch = 1 + trial % 3;
    const bool ta = trial & 1, tb = trial & 2;
    const T alpha = trial % 4 == 3 ? T(0.5) : T(1), beta = trial % 5 == 4 ? T(2) : T(0);
    auto a = random_vec<T>(batch * m * kk, g), b = random_vec<T>(batch * kk * n, g), c = random_vec<T>(batch * m * n, g);
    auto expect = c;
    for (int64_t p = 0; p < batch; ++p)
      for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < n; ++j) {
          long double s = 0;
          for (int64_t q = 0; q < kk; ++q) {
            const T av = ta ? a[p * m * kk + q * m + i] : a[p * m * kk + i * kk + q];
            const T bv = tb ? b[p * kk * n + j * kk + q] : b[p * kk * n + q * n + j];
            s += (long double)av * bv;
          }
          T& e = expect[p * m * n + i * n + j];
          e = T(alpha * s + (beta == T(0) ? 0 : beta * e));
        }
    INFO("m=" << m << " n=" << n << " k=" << kk << " batch=" << batch << " ta=" << ta << " tb=" << tb);
    k::gemm_batched<T>(ta, tb, batch, m, n, kk, alpha, a.data(), m * kk, b.data(), kk * n, beta, c.data(), m * n);
    require_close(c, expect, tol<T>() * T(std::sqrt(double(kk))));
  }
}

TEST_CASE("gemm: large products (BLAS path) match Eigen's", "[kernels][gemm]") {
  gm::Generator g(2);
  const int64_t m = 130, n = 70, kk = 200;
  auto a = random_vec<double>(m * kk, g), b = random_vec<double>(kk * n, g);
  std::vector<double> c1(m * n), c2(m * n);
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      k::gemm<double>(ta, tb, m, n, kk, 1.0, a.data(), ta ? m : kk, b.data(), tb ? kk : n, 0.0, c1.data(), n);
      k::gemm_eigen<double>(ta, tb, m, n, kk, 1.0, a.data(), ta ? m : kk, b.data(), tb ? kk : n, 0.0, c2.data(), n);
      require_close(c1, c2, 1e-12);
    }
}

TEMPLATE_TEST_CASE("broadcast: binary ops over random broadcast shapes match a naive loop", "[kernels][broadcast]", float, double) {
  using T = TestType;
  gm::Generator g(3);
  for (int trial = 0; trial < 30; ++trial) {
    const int rank = 1 + trial % 4;
    auto full = gm::randint(1, 5, {rank}, g).to_vector();
    auto drop = gm::bernoulli<float>({2 * rank}, 0.4, g).to_vector();
    std::vector<int64_t> sa = full, sb = full;
    for (int d = 0; d < rank; ++d) {
      if (drop[d]) sa[d] = 1;
      if (drop[rank + d]) sb[d] = 1;
    }
    if (trial % 3 == 0 && rank > 1) sb.erase(sb.begin());  // lower rank
    auto a = gm::randn<T>(gm::Shape(sa), g), b = gm::randn<T>(gm::Shape(sb), g);
    auto out = gm::sub(a, b);
    const gm::Shape os = out.shape();
    REQUIRE(os == k::broadcast_shapes(a.shape(), b.shape(), "test"));
    for (int64_t i = 0; i < out.numel(); ++i) {
      // Decompose i over the output shape, then index each operand.
      int64_t rem = i, ia = 0, ib = 0, stride_a = 1, stride_b = 1;
      for (int d = os.size() - 1; d >= 0; --d) {
        const int64_t c = rem % os[d];
        rem /= os[d];
        const int da = d - (os.size() - a.dim()), db = d - (os.size() - b.dim());
        if (da >= 0) {
          ia += (a.shape()[da] == 1 ? 0 : c) * stride_a;
          stride_a *= a.shape()[da];
        }
        if (db >= 0) {
          ib += (b.shape()[db] == 1 ? 0 : c) * stride_b;
          stride_b *= b.shape()[db];
        }
      }
      REQUIRE(out.data()[i] == a.data()[ia] - b.data()[ib]);
    }
  }
}

TEMPLATE_TEST_CASE("reduce: sum, max, min over any dims match a naive loop", "[kernels][reduce]", float, double) {
  using T = TestType;
  gm::Generator g(4);
  for (int trial = 0; trial < 24; ++trial) {
    const int rank = 1 + trial % 4;
    const gm::Shape s(gm::randint(1, 6, {rank}, g).to_vector());
    auto x = gm::randn<T>(s, g);
    auto pick = gm::bernoulli<float>({rank}, 0.5, g).to_vector();
    gm::Dims dims;
    for (int d = 0; d < rank; ++d)
      if (pick[d]) dims.push_back(d);
    if (dims.empty()) dims.push_back(rank - 1);
    const bool keepdim = trial % 2;
    auto sum = gm::sum(x, dims, keepdim), mx = gm::max(x, dims, keepdim), mn = gm::min(x, dims, keepdim);
    // Naive: accumulate each input element into its output slot.
    gm::Shape ks = s;
    for (auto d : dims) ks[int(d)] = 1;
    std::vector<long double> es(ks.numel(), 0);
    std::vector<T> emax(ks.numel(), -INFINITY), emin(ks.numel(), INFINITY);
    for (int64_t i = 0; i < x.numel(); ++i) {
      int64_t rem = i, o = 0, stride = 1;
      for (int d = rank - 1; d >= 0; --d) {
        const int64_t c = rem % s[d];
        rem /= s[d];
        o += (ks[d] == 1 ? 0 : c) * stride;
        stride *= ks[d];
      }
      es[o] += x.data()[i];
      emax[o] = std::max(emax[o], x.data()[i]);
      emin[o] = std::min(emin[o], x.data()[i]);
    }
    REQUIRE(sum.numel() == ks.numel());
    if (keepdim) REQUIRE(sum.shape() == ks);
    for (int64_t o = 0; o < ks.numel(); ++o) {
      REQUIRE(double(sum.data()[o]) == Approx(double(es[o])).margin(double(tol<T>()) * 10));
      REQUIRE(mx.data()[o] == emax[o]);
      REQUIRE(mn.data()[o] == emin[o]);
    }
  }
}

TEST_CASE("reduce: a long full sum is independent of the thread count", "[kernels][reduce][determinism]") {
  gmtest::ThreadCount restore;
  gm::Generator g(5);
  auto x = gm::randn<float>({1 << 20}, g);
  gm::set_num_threads(1);
  const float one = gm::sum(x).item();
  gm::set_num_threads(2);
  const float two = gm::sum(x).item();
  REQUIRE(one == two);  // fixed-size chunks combined in order: bitwise equal
  long double naive = 0;
  for (float v : x.to_vector()) naive += v;
  REQUIRE(one == Approx(double(naive)).margin(1e-2));
}

TEST_CASE("reduce: argmax, var and logsumexp against hand computation", "[kernels][reduce]") {
  auto x = gm::tensor<double>({1, 5, 3, 7, 2, 7}, {2, 3});
  REQUIRE(gm::argmax(x, 1).to_vector() == std::vector<int64_t>{1, 0});
  REQUIRE(gm::argmax(x, 0, true).to_vector() == std::vector<int64_t>{1, 0, 1});
  const auto v = gm::var(x, {1}).to_vector();  // unbiased: {1,5,3} -> 8/2, {7,2,7} -> (50/3)/2
  REQUIRE(v[0] == Approx(4.0));
  REQUIRE(v[1] == Approx(25.0 / 3));
  const auto lse = gm::logsumexp(x, {1}).to_vector();
  REQUIRE(lse[0] == Approx(std::log(std::exp(1.0) + std::exp(5.0) + std::exp(3.0))));
  REQUIRE(lse[1] == Approx(7 + std::log(2 + std::exp(-5.0))));
}

TEMPLATE_TEST_CASE("permute: random permutations match a naive loop", "[kernels][permute]", float, double) {
  using T = TestType;
  gm::Generator g(6);
  for (int trial = 0; trial < 20; ++trial) {
    const int rank = 2 + trial % 4;
    const gm::Shape s(gm::randint(1, 5, {rank}, g).to_vector());
    std::vector<int> perm(rank);
    std::iota(perm.begin(), perm.end(), 0);
    auto key = gm::rand<float>({rank}, g).to_vector();
    std::sort(perm.begin(), perm.end(), [&](int a, int b) { return key[a] < key[b]; });
    auto x = gm::randn<T>(s, g);
    auto y = gm::permute(x, perm);
    for (int64_t i = 0; i < y.numel(); ++i) {
      int64_t rem = i, src = 0;
      std::vector<int64_t> yi(rank);
      for (int d = rank - 1; d >= 0; --d) {
        yi[d] = rem % y.shape()[d];
        rem /= y.shape()[d];
      }
      std::vector<int64_t> xi(rank);
      for (int d = 0; d < rank; ++d) xi[perm[d]] = yi[d];
      for (int d = 0; d < rank; ++d) src = src * s[d] + xi[d];
      REQUIRE(y.data()[i] == x.data()[src]);
    }
  }
}
