// Tests of genmodel/kernels/cpu/pool.hpp and upsample.hpp against direct
// loops: max / avg pooling and nearest / bilinear resizing with their
// backward kernels, on random shapes, plus geometry validation, adjointness
// and thread-count independence.
#include <catch2/catch.hpp>

#include "test_util.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "genmodel/core/error.hpp"
#include "genmodel/core/parallel.hpp"
#include "genmodel/kernels/cpu/pool.hpp"
#include "genmodel/kernels/cpu/upsample.hpp"

namespace {

using namespace genmodel::kernels::cpu;

using gmtest::random_vec;

int64_t uni(std::mt19937_64& rng, int64_t lo, int64_t hi) {
  return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
}

// |got - want| <= 4 * sqrt(terms) * eps(T) * mag elementwise, where mag is the
// sum of |terms| of that element (computed in double / long double).
template <class T, class W>
void check_close(const std::vector<T>& got, const std::vector<W>& want, const std::vector<W>& mag,
                 int64_t terms, const char* what) {
  REQUIRE(got.size() == want.size());
  const double scale =
      4.0 * std::sqrt(double(std::max<int64_t>(terms, 1))) * std::numeric_limits<T>::epsilon();
  double worst = 0;
  std::size_t wi = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double r = std::fabs(double(got[i]) - double(want[i])) /
                     (scale * double(mag[i]) + std::numeric_limits<T>::min());
    if (r > worst) {
      worst = r;
      wi = i;
    }
  }
  INFO(what << ": worst element " << wi << " got " << double(got[wi]) << " want "
            << double(want[wi]) << " (error / bound = " << worst << ")");
  CHECK(worst <= 1.0);
}

template <class T>
using WideT = std::conditional_t<std::is_same_v<T, float>, double, long double>;

Pool2dGeometry random_pool(std::mt19937_64& rng) {
  for (;;) {
    const int64_t kh = uni(rng, 1, 4), kw = uni(rng, 1, 4);
    const int64_t ph = uni(rng, 0, kh / 2), pw = uni(rng, 0, kw / 2);
    const int64_t h = uni(rng, 1, 12), w = uni(rng, 1, 12);
    if (h + 2 * ph < kh || w + 2 * pw < kw) continue;
    return pool2d_geometry(uni(rng, 1, 3), uni(rng, 1, 4), h, w, kh, kw, uni(rng, 1, 3),
                           uni(rng, 1, 3), ph, pw);
  }
}

std::vector<Pool2dGeometry> pool_cases(std::mt19937_64& rng) {
  std::vector<Pool2dGeometry> v = {
      pool2d_geometry(2, 3, 8, 8, 2, 2, 2, 2, 0, 0),   // the usual 2x2 / 2
      pool2d_geometry(2, 3, 7, 9, 3, 3, 2, 2, 1, 1),   // 3x3 / 2 pad 1, odd sizes
      pool2d_geometry(1, 2, 5, 6, 3, 2, 1, 1, 1, 1),   // overlapping windows
      pool2d_geometry(3, 40, 9, 4, 4, 1, 3, 1, 2, 0),  // many planes (parallel)
      pool2d_geometry(1, 1, 1, 1, 1, 1, 1, 1, 0, 0),
  };
  for (int i = 0; i < 60; ++i) v.push_back(random_pool(rng));
  return v;
}

// Direct max pooling: first maximum in row-major window order, NaN wins.
template <class T>
void ref_max_pool(const Pool2dGeometry& g, const std::vector<T>& x, std::vector<T>& y,
                  std::vector<int64_t>& idx) {
  y.assign(std::size_t(g.n * g.c * g.oh * g.ow), T(0));
  idx.assign(y.size(), -1);
  for (int64_t p = 0; p < g.n * g.c; ++p)
    for (int64_t oy = 0; oy < g.oh; ++oy)
      for (int64_t ox = 0; ox < g.ow; ++ox) {
        bool have = false;
        T best = T(0);
        int64_t bi = -1;
        for (int64_t ky = 0; ky < g.kh; ++ky)
          for (int64_t kx = 0; kx < g.kw; ++kx) {
            const int64_t iy = oy * g.stride_h - g.pad_h + ky, ix = ox * g.stride_w - g.pad_w + kx;
            if (iy < 0 || iy >= g.h || ix < 0 || ix >= g.w) continue;
            const T v = x[std::size_t((p * g.h + iy) * g.w + ix)];
            if (!have || (!std::isnan(best) && (v > best || std::isnan(v))) ||
                (std::isnan(best) && std::isnan(v))) {
              have = true;
              best = v;
              bi = iy * g.w + ix;
            }
          }
        const std::size_t o = std::size_t((p * g.oh + oy) * g.ow + ox);
        y[o] = best;
        idx[o] = bi;
      }
}

}  // namespace

// ---- pooling --------------------------------------------------------------

TEST_CASE("pool2d geometry follows PyTorch and rejects bad arguments", "[kernels][pool]") {
  using Catch::Contains;
  const auto g = pool2d_geometry(2, 3, 7, 9, 3, 3, 2, 2, 1, 1);
  CHECK(g.oh == 4);
  CHECK(g.ow == 5);
  const auto g2 = pool2d_geometry(1, 1, 5, 5, 2, 2, 2, 2, 0, 0);  // floor mode
  CHECK(g2.oh == 2);
  CHECK(g2.ow == 2);
  REQUIRE_THROWS_AS(pool2d_geometry(1, 1, 8, 8, 3, 3, 1, 1, 2, 0), genmodel::Error);
  REQUIRE_THROWS_WITH(pool2d_geometry(1, 1, 8, 8, 3, 3, 1, 1, 2, 0),
                      Contains("pool2d") && Contains("padding (2, 0)") && Contains("(3, 3)"));
  REQUIRE_THROWS_WITH(pool2d_geometry(1, 1, 8, 8, 2, 4, 1, 1, 1, 3),
                      Contains("pool2d") && Contains("padding (1, 3)"));
  REQUIRE_THROWS_WITH(pool2d_geometry(1, 1, 8, 8, 2, 2, 0, 2, 0, 0),
                      Contains("pool2d") && Contains("stride") && Contains("(0, 2)"));
  REQUIRE_THROWS_WITH(pool2d_geometry(1, 1, 8, 8, 0, 2, 1, 1, 0, 0),
                      Contains("pool2d") && Contains("kernel") && Contains("(0, 2)"));
  REQUIRE_THROWS_WITH(pool2d_geometry(1, 1, 8, 8, 2, 2, 1, 1, -1, 0),
                      Contains("pool2d") && Contains("(-1, 0)"));
  REQUIRE_THROWS_WITH(pool2d_geometry(1, 1, 2, 8, 4, 2, 1, 1, 0, 0),
                      Contains("pool2d") && Contains("input (2, 8)") && Contains("(4, 2)"));
  REQUIRE_THROWS_WITH(pool2d_geometry(1, 1, 0, 8, 1, 1, 1, 1, 0, 0),
                      Contains("pool2d") && Contains("(0, 8)"));
  REQUIRE_THROWS_WITH(pool2d_geometry(-2, 1, 4, 4, 1, 1, 1, 1, 0, 0),
                      Contains("pool2d") && Contains("-2"));
}

TEMPLATE_TEST_CASE("max_pool2d matches direct loops", "[kernels][pool]", float, double) {
  using T = TestType;
  std::mt19937_64 rng(11);
  for (const auto& g : pool_cases(rng)) {
    INFO("n=" << g.n << " c=" << g.c << " h=" << g.h << " w=" << g.w << " k=(" << g.kh << ","
              << g.kw << ") s=(" << g.stride_h << "," << g.stride_w << ") p=(" << g.pad_h << ","
              << g.pad_w << ")");
    const int64_t xs = g.n * g.c * g.h * g.w, ys = g.n * g.c * g.oh * g.ow;
    for (int variant = 0; variant < 2; ++variant) {
      // variant 1: small integers, so windows have ties (first one wins)
      auto x = random_vec<T>(xs, rng);
      if (variant == 1)
        for (auto& v : x) v = T(std::floor(v * 2));
      std::vector<T> y(std::size_t(ys), T(9)), ry;
      std::vector<int64_t> idx(std::size_t(ys), 99), ridx;
      max_pool2d_forward(g, x.data(), y.data(), idx.data());
      ref_max_pool(g, x, ry, ridx);
      CHECK(y == ry);
      CHECK(idx == ridx);

      const auto dy = random_vec<T>(ys, rng);
      std::vector<T> dx(std::size_t(xs), T(9));
      max_pool2d_backward(g, dy.data(), idx.data(), dx.data());
      std::vector<WideT<T>> rdx(std::size_t(xs), 0), mag(std::size_t(xs), 0);
      int64_t max_hits = 1;
      std::vector<int64_t> hits(std::size_t(xs), 0);
      for (int64_t p = 0; p < g.n * g.c; ++p)
        for (int64_t o = 0; o < g.oh * g.ow; ++o) {
          const std::size_t d = std::size_t(p * g.h * g.w + ridx[std::size_t(p * g.oh * g.ow + o)]);
          rdx[d] += dy[std::size_t(p * g.oh * g.ow + o)];
          mag[d] += std::fabs(WideT<T>(dy[std::size_t(p * g.oh * g.ow + o)]));
          max_hits = std::max(max_hits, ++hits[d]);
        }
      check_close(dx, rdx, mag, max_hits, "max_pool2d_backward");
    }
  }
}

TEST_CASE("max_pool2d propagates NaN like PyTorch", "[kernels][pool]") {
  const auto g = pool2d_geometry(1, 1, 2, 4, 2, 2, 2, 2, 0, 0);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> x = {1, nan, 5, 6,   //
                                3, 2, -1, -7};
  std::vector<float> y(2);
  std::vector<int64_t> idx(2);
  max_pool2d_forward(g, x.data(), y.data(), idx.data());
  CHECK(std::isnan(y[0]));
  CHECK(idx[0] == 1);
  CHECK(y[1] == 6.0f);
  CHECK(idx[1] == 3);
}

TEMPLATE_TEST_CASE("avg_pool2d matches direct loops (count_include_pad)", "[kernels][pool]", float,
                   double) {
  using T = TestType;
  using W = WideT<T>;
  std::mt19937_64 rng(12);
  for (const auto& g : pool_cases(rng)) {
    INFO("n=" << g.n << " c=" << g.c << " h=" << g.h << " w=" << g.w << " k=(" << g.kh << ","
              << g.kw << ") s=(" << g.stride_h << "," << g.stride_w << ") p=(" << g.pad_h << ","
              << g.pad_w << ")");
    const int64_t xs = g.n * g.c * g.h * g.w, ys = g.n * g.c * g.oh * g.ow;
    const auto x = random_vec<T>(xs, rng), dy = random_vec<T>(ys, rng);
    std::vector<T> y(std::size_t(ys), T(9)), dx(std::size_t(xs), T(9));
    avg_pool2d_forward(g, x.data(), y.data());
    avg_pool2d_backward(g, dy.data(), dx.data());
    std::vector<W> ry(std::size_t(ys), 0), rym(std::size_t(ys), 0), rdx(std::size_t(xs), 0),
        rdxm(std::size_t(xs), 0);
    const W div = W(g.kh * g.kw);  // floor mode: every window lies inside the padded input
    int64_t max_hits = 1;
    std::vector<int64_t> hits(std::size_t(xs), 0);
    for (int64_t p = 0; p < g.n * g.c; ++p)
      for (int64_t oy = 0; oy < g.oh; ++oy)
        for (int64_t ox = 0; ox < g.ow; ++ox)
          for (int64_t ky = 0; ky < g.kh; ++ky)
            for (int64_t kx = 0; kx < g.kw; ++kx) {
              const int64_t iy = oy * g.stride_h - g.pad_h + ky, ix = ox * g.stride_w - g.pad_w + kx;
              if (iy < 0 || iy >= g.h || ix < 0 || ix >= g.w) continue;
              const std::size_t o = std::size_t((p * g.oh + oy) * g.ow + ox),
                                i = std::size_t((p * g.h + iy) * g.w + ix);
              ry[o] += W(x[i]) / div;
              rym[o] += std::fabs(W(x[i])) / div;
              rdx[i] += W(dy[o]) / div;
              rdxm[i] += std::fabs(W(dy[o])) / div;
              max_hits = std::max(max_hits, ++hits[i]);
            }
    check_close(y, ry, rym, g.kh * g.kw + 1, "avg_pool2d_forward");
    check_close(dx, rdx, rdxm, max_hits + 1, "avg_pool2d_backward");
  }
}

TEST_CASE("pool backward kernels are adjoints and thread-count independent", "[kernels][pool][threads]") {
  gmtest::ThreadCount guard;
  std::mt19937_64 rng(13);
  const auto g = pool2d_geometry(4, 37, 13, 11, 3, 3, 2, 1, 1, 1);
  const int64_t xs = g.n * g.c * g.h * g.w, ys = g.n * g.c * g.oh * g.ow;
  const auto x = random_vec<double>(xs, rng), ybar = random_vec<double>(ys, rng);
  std::vector<double> y(static_cast<std::size_t>(ys)), xbar(static_cast<std::size_t>(xs));
  avg_pool2d_forward(g, x.data(), y.data());
  avg_pool2d_backward(g, ybar.data(), xbar.data());
  long double a = 0, b = 0, m = 0;
  for (int64_t i = 0; i < ys; ++i) a += (long double)ybar[i] * y[i], m += std::fabs(ybar[i] * y[i]);
  for (int64_t i = 0; i < xs; ++i) b += (long double)xbar[i] * x[i], m += std::fabs(xbar[i] * x[i]);
  CHECK(std::fabs(a - b) <= 1e-13L * m);

  std::vector<std::vector<double>> outs;
  for (int threads : {1, 2}) {
    genmodel::set_num_threads(threads);
    std::vector<double> o1(static_cast<std::size_t>(ys)), o2(static_cast<std::size_t>(xs)), o3(static_cast<std::size_t>(xs));
    std::vector<int64_t> idx(static_cast<std::size_t>(ys));
    max_pool2d_forward(g, x.data(), o1.data(), idx.data());
    max_pool2d_backward(g, ybar.data(), idx.data(), o2.data());
    avg_pool2d_backward(g, ybar.data(), o3.data());
    outs.push_back(o1);
    outs.push_back(o2);
    outs.push_back(o3);
  }
  for (int k = 0; k < 3; ++k) CHECK(outs[std::size_t(k)] == outs[std::size_t(k + 3)]);
}

// ---- upsampling ------------------------------------------------------------

namespace {

// PyTorch's 'nearest' source index, written out: float scale in/out, then
// floor(dst * scale) clamped (identity and 2x are exact special cases).
int64_t torch_nearest(int64_t dst, int64_t in, int64_t out) {
  if (out == in) return dst;
  if (out == 2 * in) return dst / 2;
  const float scale = float(in) / float(out);
  return std::min<int64_t>(int64_t(std::floor(float(dst) * scale)), in - 1);
}

// Direct bilinear: source coordinate per PyTorch, then the four taps.
template <class T>
struct Taps {
  int64_t i0, i1;
  long double l0, l1;
};
template <class T>
Taps<T> bilinear_src(int64_t dst, int64_t in, int64_t out, bool align) {
  T src;
  if (align) {
    src = out > 1 ? T(dst) * (T(in - 1) / T(out - 1)) : T(0);
  } else {
    src = (T(dst) + T(0.5)) * (T(in) / T(out)) - T(0.5);
    src = std::max(src, T(0));
  }
  int64_t i0 = std::min<int64_t>(int64_t(std::floor(src)), in - 1);
  const long double l1 = std::clamp<long double>((long double)src - i0, 0, 1);
  return Taps<T>{i0, std::min(i0 + 1, in - 1), 1 - l1, l1};
}

struct UpCase {
  int64_t nc, h, w, oh, ow;
};

std::vector<UpCase> up_cases(std::mt19937_64& rng) {
  std::vector<UpCase> v = {
      {6, 4, 4, 8, 8},    // 2x
      {3, 5, 3, 15, 9},   // 3x
      {2, 8, 8, 4, 4},    // down 2x
      {2, 7, 5, 7, 5},    // identity
      {4, 3, 7, 10, 4},   // non-integer up / down
      {2, 1, 1, 5, 3},    // from 1x1
      {2, 6, 4, 1, 1},    // to 1x1
      {70, 9, 6, 17, 13}, // many planes (parallel)
  };
  for (int i = 0; i < 40; ++i)
    v.push_back({uni(rng, 1, 5), uni(rng, 1, 9), uni(rng, 1, 9), uni(rng, 1, 20), uni(rng, 1, 20)});
  return v;
}

}  // namespace

TEMPLATE_TEST_CASE("upsample_nearest2d matches direct loops", "[kernels][upsample]", float, double) {
  using T = TestType;
  using W = WideT<T>;
  std::mt19937_64 rng(21);
  for (const auto& u : up_cases(rng)) {
    INFO("nc=" << u.nc << " (" << u.h << "," << u.w << ") -> (" << u.oh << "," << u.ow << ")");
    const int64_t xs = u.nc * u.h * u.w, ys = u.nc * u.oh * u.ow;
    const auto x = random_vec<T>(xs, rng), dy = random_vec<T>(ys, rng);
    std::vector<T> y(std::size_t(ys), T(9)), dx(std::size_t(xs), T(9)), ry(static_cast<std::size_t>(ys));
    std::vector<W> rdx(std::size_t(xs), 0), mag(std::size_t(xs), 0);
    upsample_nearest2d_forward(x.data(), y.data(), u.nc, u.h, u.w, u.oh, u.ow);
    upsample_nearest2d_backward(dy.data(), dx.data(), u.nc, u.h, u.w, u.oh, u.ow);
    int64_t max_hits = 1;
    std::vector<int64_t> hits(std::size_t(xs), 0);
    for (int64_t p = 0; p < u.nc; ++p)
      for (int64_t i = 0; i < u.oh; ++i)
        for (int64_t j = 0; j < u.ow; ++j) {
          const std::size_t o = std::size_t((p * u.oh + i) * u.ow + j);
          const std::size_t s =
              std::size_t((p * u.h + torch_nearest(i, u.h, u.oh)) * u.w + torch_nearest(j, u.w, u.ow));
          ry[o] = x[s];
          rdx[s] += dy[o];
          mag[s] += std::fabs(W(dy[o]));
          max_hits = std::max(max_hits, ++hits[s]);
        }
    CHECK(y == ry);
    check_close(dx, rdx, mag, max_hits, "upsample_nearest2d_backward");
  }
}

TEST_CASE("upsample_nearest2d index rule", "[kernels][upsample]") {
  // Integer ratios: src = floor(dst * in / out) exactly.
  for (auto [in, out] : {std::pair<int64_t, int64_t>{4, 8}, {3, 9}, {5, 20}, {8, 4}, {9, 3}, {7, 7}})
    for (int64_t d = 0; d < out; ++d) CHECK(torch_nearest(d, in, out) == d * in / out);
  // Non-integer ratio where PyTorch's float scale rounds below the exact
  // value: 2 -> 82, dst 41 reads source 0 (exact arithmetic would give 1).
  std::vector<float> x = {10, 20}, y(82);
  upsample_nearest2d_forward(x.data(), y.data(), 1, 1, 2, 1, 82);
  CHECK(y[40] == 10.0f);
  CHECK(y[41] == 10.0f);
  CHECK(y[42] == 20.0f);
}

TEMPLATE_TEST_CASE("upsample_bilinear2d matches direct loops", "[kernels][upsample]", float, double) {
  using T = TestType;
  using W = WideT<T>;
  std::mt19937_64 rng(22);
  for (const bool align : {false, true}) {
    for (const auto& u : up_cases(rng)) {
      INFO("nc=" << u.nc << " (" << u.h << "," << u.w << ") -> (" << u.oh << "," << u.ow
                 << ") align_corners=" << align);
      const int64_t xs = u.nc * u.h * u.w, ys = u.nc * u.oh * u.ow;
      const auto x = random_vec<T>(xs, rng), dy = random_vec<T>(ys, rng);
      std::vector<T> y(std::size_t(ys), T(9)), dx(std::size_t(xs), T(9));
      upsample_bilinear2d_forward(x.data(), y.data(), u.nc, u.h, u.w, u.oh, u.ow, align);
      upsample_bilinear2d_backward(dy.data(), dx.data(), u.nc, u.h, u.w, u.oh, u.ow, align);
      std::vector<W> ry(std::size_t(ys), 0), rym(std::size_t(ys), 0), rdx(std::size_t(xs), 0),
          rdxm(std::size_t(xs), 0);
      int64_t max_hits = 1;
      std::vector<int64_t> hits(std::size_t(xs), 0);
      for (int64_t p = 0; p < u.nc; ++p)
        for (int64_t i = 0; i < u.oh; ++i) {
          const auto a = bilinear_src<T>(i, u.h, u.oh, align);
          for (int64_t j = 0; j < u.ow; ++j) {
            const auto b = bilinear_src<T>(j, u.w, u.ow, align);
            const std::size_t o = std::size_t((p * u.oh + i) * u.ow + j);
            const int64_t rows[2] = {a.i0, a.i1}, cols[2] = {b.i0, b.i1};
            const long double wr[2] = {a.l0, a.l1}, wc[2] = {b.l0, b.l1};
            for (int r = 0; r < 2; ++r)
              for (int c = 0; c < 2; ++c) {
                const std::size_t s = std::size_t((p * u.h + rows[r]) * u.w + cols[c]);
                const W wt = W(wr[r] * wc[c]);
                ry[o] += wt * W(x[s]);
                rym[o] += std::fabs(wt * W(x[s]));
                rdx[s] += wt * W(dy[o]);
                rdxm[s] += std::fabs(wt * W(dy[o]));
                max_hits = std::max(max_hits, ++hits[s]);
              }
          }
        }
      check_close(y, ry, rym, 8, "upsample_bilinear2d_forward");
      check_close(dx, rdx, rdxm, max_hits + 4, "upsample_bilinear2d_backward");
    }
  }
}

TEST_CASE("upsample_bilinear2d reproduces PyTorch values", "[kernels][upsample]") {
  // F.interpolate(torch.arange(1., 5.).view(1,1,2,2), size=(3,3), mode='bilinear',
  //               align_corners=False / True)
  const std::vector<double> x = {1, 2, 3, 4};
  std::vector<double> y(9);
  upsample_bilinear2d_forward(x.data(), y.data(), 1, 2, 2, 3, 3, false);
  const std::vector<double> want_false = {1.0, 1.5, 2.0, 2.0, 2.5, 3.0, 3.0, 3.5, 4.0};
  for (int i = 0; i < 9; ++i) CHECK(y[std::size_t(i)] == Approx(want_false[std::size_t(i)]).epsilon(1e-15));
  upsample_bilinear2d_forward(x.data(), y.data(), 1, 2, 2, 3, 3, true);
  for (int i = 0; i < 9; ++i) CHECK(y[std::size_t(i)] == Approx(want_false[std::size_t(i)]).epsilon(1e-15));
  // size (4, 4), align_corners=False: src = (dst + 0.5) / 2 - 0.5 clamped at 0.
  std::vector<double> y4(16);
  upsample_bilinear2d_forward(x.data(), y4.data(), 1, 2, 2, 4, 4, false);
  const std::vector<double> row0 = {1.0, 1.25, 1.75, 2.0};
  for (int j = 0; j < 4; ++j) CHECK(y4[std::size_t(j)] == Approx(row0[std::size_t(j)]).epsilon(1e-15));
  CHECK(y4[4] == Approx(1.5));  // row 1: src 0.25 -> 1 + 0.25*2
  CHECK(y4[15] == Approx(4.0));
}

TEST_CASE("upsample backward kernels are adjoints and thread-count independent",
          "[kernels][upsample][threads]") {
  gmtest::ThreadCount guard;
  std::mt19937_64 rng(23);
  const int64_t nc = 37, h = 7, w = 6, oh = 16, ow = 11;
  const auto x = random_vec<double>(nc * h * w, rng), ybar = random_vec<double>(nc * oh * ow, rng);
  auto adjoint_gap = [&](auto fwd, auto bwd) {
    std::vector<double> y(ybar.size()), xbar(x.size());
    fwd(x.data(), y.data());
    bwd(ybar.data(), xbar.data());
    long double a = 0, b = 0, m = 0;
    for (std::size_t i = 0; i < y.size(); ++i) a += (long double)ybar[i] * y[i], m += std::fabs(ybar[i] * y[i]);
    for (std::size_t i = 0; i < x.size(); ++i) b += (long double)xbar[i] * x[i], m += std::fabs(xbar[i] * x[i]);
    return double(std::fabs(a - b) / m);
  };
  CHECK(adjoint_gap([&](const double* s, double* d) { upsample_nearest2d_forward(s, d, nc, h, w, oh, ow); },
                    [&](const double* s, double* d) { upsample_nearest2d_backward(s, d, nc, h, w, oh, ow); }) <= 1e-14);
  for (bool align : {false, true})
    CHECK(adjoint_gap([&](const double* s, double* d) { upsample_bilinear2d_forward(s, d, nc, h, w, oh, ow, align); },
                      [&](const double* s, double* d) { upsample_bilinear2d_backward(s, d, nc, h, w, oh, ow, align); }) <= 1e-14);

  std::vector<std::vector<float>> outs;
  const auto xf = random_vec<float>(nc * h * w, rng), yf = random_vec<float>(nc * oh * ow, rng);
  for (int threads : {1, 2, 2}) {
    genmodel::set_num_threads(threads);
    std::vector<float> a(yf.size()), b(xf.size()), c(yf.size()), d(xf.size());
    upsample_nearest2d_forward(xf.data(), a.data(), nc, h, w, oh, ow);
    upsample_nearest2d_backward(yf.data(), b.data(), nc, h, w, oh, ow);
    upsample_bilinear2d_forward(xf.data(), c.data(), nc, h, w, oh, ow, false);
    upsample_bilinear2d_backward(yf.data(), d.data(), nc, h, w, oh, ow, false);
    for (auto* v : {&a, &b, &c, &d}) outs.push_back(*v);
  }
  for (std::size_t k = 0; k < 4; ++k) {
    CHECK(outs[k] == outs[k + 4]);
    CHECK(outs[k + 4] == outs[k + 8]);
  }
}

TEST_CASE("upsample kernels reject empty sizes", "[kernels][upsample]") {
  using Catch::Contains;
  std::vector<float> buf(16);
  REQUIRE_THROWS_AS(upsample_nearest2d_forward(buf.data(), buf.data(), 1, 2, 2, 0, 4), genmodel::Error);
  REQUIRE_THROWS_WITH(upsample_bilinear2d_forward(buf.data(), buf.data(), 1, 2, -3, 4, 4, false),
                      Contains("upsample_bilinear2d") && Contains("(2, -3)"));
}
