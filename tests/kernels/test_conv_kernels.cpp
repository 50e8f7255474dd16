// Tests of genmodel/kernels/cpu/conv.hpp against direct nested loops:
// conv2d forward / backward-data / backward-weight and conv_transpose2d built
// from them, on random shapes (stride, padding, dilation, groups, non-square),
// adjointness, thread-count reproducibility and geometry validation.
#include <catch2/catch.hpp>

#include "test_util.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "genmodel/core/error.hpp"
#include "genmodel/core/parallel.hpp"
#include "genmodel/kernels/cpu/conv.hpp"

namespace {

using namespace genmodel::kernels::cpu;

// Reference arithmetic is wider than the kernel's: double for float,
// long double (64-bit mantissa on x86) for double.
template <class T>
struct Wide {
  using type = double;
};
template <>
struct Wide<double> {
  using type = long double;
};

using gmtest::random_vec;

// A reference result: exact-ish values plus the sum of |terms| of each
// element, which scales the rounding the kernel may legitimately make.
template <class T>
struct Ref {
  std::vector<typename Wide<T>::type> val, mag;
  explicit Ref(int64_t n) : val(std::size_t(n), 0), mag(std::size_t(n), 0) {}
  void add(int64_t i, typename Wide<T>::type a, typename Wide<T>::type b) {
    val[std::size_t(i)] += a * b;
    mag[std::size_t(i)] += std::fabs(a * b);
  }
};

// |got - ref| <= 4 * sqrt(terms) * eps(T) * sum|terms| per element (plus a
// denormal floor): rounding of a sum of `terms` products in T, not more.
template <class T>
void check_close(const std::vector<T>& got, const Ref<T>& ref, int64_t terms, const char* what) {
  REQUIRE(got.size() == ref.val.size());
  const double eps = std::numeric_limits<T>::epsilon();
  const double scale = 4.0 * std::sqrt(double(std::max<int64_t>(terms, 1))) * eps;
  double worst = 0;
  std::size_t worst_i = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double err = std::fabs(double(got[i]) - double(ref.val[i]));
    const double bound = scale * double(ref.mag[i]) + std::numeric_limits<T>::min();
    const double r = err / bound;
    if (r > worst) {
      worst = r;
      worst_i = i;
    }
  }
  INFO(what << ": worst element " << worst_i << " got " << double(got[worst_i]) << " want "
            << double(ref.val[worst_i]) << " (error / bound = " << worst << ")");
  CHECK(worst <= 1.0);
}

// ---- direct loops ---------------------------------------------------------

// y[n][o][oy][ox] = sum_{ci,ki,kj} x[n][g*cg+ci][oy*s-p+ki*d][ox*s-p+kj*d] * w[o][ci][ki][kj]
// The visitor gets (y index, x index, w index) for every contributing term.
template <class F>
void for_each_conv_term(const Conv2dGeometry& g, F&& f) {
  const int64_t cg = g.c / g.groups, og = g.o / g.groups;
  for (int64_t n = 0; n < g.n; ++n)
    for (int64_t o = 0; o < g.o; ++o)
      for (int64_t oy = 0; oy < g.oh; ++oy)
        for (int64_t ox = 0; ox < g.ow; ++ox)
          for (int64_t ci = 0; ci < cg; ++ci)
            for (int64_t ki = 0; ki < g.kh; ++ki)
              for (int64_t kj = 0; kj < g.kw; ++kj) {
                const int64_t iy = oy * g.stride_h - g.pad_h + ki * g.dil_h;
                const int64_t ix = ox * g.stride_w - g.pad_w + kj * g.dil_w;
                if (iy < 0 || iy >= g.h || ix < 0 || ix >= g.w) continue;
                const int64_t c = (o / og) * cg + ci;
                f(((n * g.o + o) * g.oh + oy) * g.ow + ox, ((n * g.c + c) * g.h + iy) * g.w + ix,
                  ((o * cg + ci) * g.kh + ki) * g.kw + kj);
              }
}

template <class T>
Ref<T> ref_forward(const Conv2dGeometry& g, const std::vector<T>& x, const std::vector<T>& w) {
  Ref<T> r(g.n * g.o * g.oh * g.ow);
  for_each_conv_term(g, [&](int64_t yi, int64_t xi, int64_t wi) { r.add(yi, x[xi], w[wi]); });
  return r;
}
template <class T>
Ref<T> ref_backward_data(const Conv2dGeometry& g, const std::vector<T>& dy,
                         const std::vector<T>& w) {
  Ref<T> r(g.n * g.c * g.h * g.w);
  for_each_conv_term(g, [&](int64_t yi, int64_t xi, int64_t wi) { r.add(xi, dy[yi], w[wi]); });
  return r;
}
template <class T>
Ref<T> ref_backward_weight(const Conv2dGeometry& g, const std::vector<T>& x,
                           const std::vector<T>& dy) {
  Ref<T> r(g.o * (g.c / g.groups) * g.kh * g.kw);
  for_each_conv_term(g, [&](int64_t yi, int64_t xi, int64_t wi) { r.add(wi, x[xi], dy[yi]); });
  return r;
}

struct TCase {  // a transposed convolution as PyTorch's ConvTranspose2d sees it
  int64_t n, cin, h, w, cout, kh, kw, sh, sw, ph, pw, oph, opw, dh, dw, groups;
};

// Direct transposed convolution: every input element x_t[n][ci][iy][ix]
// scatters x * w[ci][co][ki][kj] to y_t[n][g*coutg+co][iy*s-p+ki*d][ix*s-p+kj*d].
// The visitor gets (y_t index, x_t index, w index).
template <class F>
void for_each_tconv_term(const TCase& t, int64_t oh, int64_t ow, F&& f) {
  const int64_t cing = t.cin / t.groups, coutg = t.cout / t.groups;
  for (int64_t n = 0; n < t.n; ++n)
    for (int64_t ci = 0; ci < t.cin; ++ci)
      for (int64_t iy = 0; iy < t.h; ++iy)
        for (int64_t ix = 0; ix < t.w; ++ix)
          for (int64_t co = 0; co < coutg; ++co)
            for (int64_t ki = 0; ki < t.kh; ++ki)
              for (int64_t kj = 0; kj < t.kw; ++kj) {
                const int64_t oy = iy * t.sh - t.ph + ki * t.dh;
                const int64_t ox = ix * t.sw - t.pw + kj * t.dw;
                if (oy < 0 || oy >= oh || ox < 0 || ox >= ow) continue;
                const int64_t c = (ci / cing) * coutg + co;
                f(((n * t.cout + c) * oh + oy) * ow + ox, ((n * t.cin + ci) * t.h + iy) * t.w + ix,
                  ((ci * coutg + co) * t.kh + ki) * t.kw + kj);
              }
}

// ---- random shapes --------------------------------------------------------

int64_t uni(std::mt19937_64& rng, int64_t lo, int64_t hi) {
  return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
}

Conv2dGeometry random_conv(std::mt19937_64& rng) {
  for (;;) {
    const int64_t groups = uni(rng, 1, 3);
    const int64_t kh = uni(rng, 1, 4), kw = uni(rng, 1, 4), dh = uni(rng, 1, 2),
                  dw = uni(rng, 1, 2), ph = uni(rng, 0, 2), pw = uni(rng, 0, 2);
    const int64_t h = uni(rng, 1, 11), w = uni(rng, 1, 11);
    if (h + 2 * ph < dh * (kh - 1) + 1 || w + 2 * pw < dw * (kw - 1) + 1) continue;
    return conv2d_geometry(uni(rng, 1, 4), groups * uni(rng, 1, 3), h, w, groups * uni(rng, 1, 3),
                           kh, kw, uni(rng, 1, 3), uni(rng, 1, 3), ph, pw, dh, dw, groups);
  }
}

TCase random_tconv(std::mt19937_64& rng) {
  for (;;) {
    TCase t{};
    t.groups = uni(rng, 1, 3);
    t.n = uni(rng, 1, 3);
    t.cin = t.groups * uni(rng, 1, 3);
    t.cout = t.groups * uni(rng, 1, 3);
    t.h = uni(rng, 1, 7);
    t.w = uni(rng, 1, 7);
    t.kh = uni(rng, 1, 4);
    t.kw = uni(rng, 1, 4);
    t.sh = uni(rng, 1, 3);
    t.sw = uni(rng, 1, 3);
    t.ph = uni(rng, 0, 2);
    t.pw = uni(rng, 0, 2);
    t.dh = uni(rng, 1, 2);
    t.dw = uni(rng, 1, 2);
    t.oph = uni(rng, 0, std::max(t.sh, t.dh) - 1);  // < stride or < dilation
    t.opw = uni(rng, 0, std::max(t.sw, t.dw) - 1);
    const int64_t oh = (t.h - 1) * t.sh - 2 * t.ph + t.dh * (t.kh - 1) + t.oph + 1;
    const int64_t ow = (t.w - 1) * t.sw - 2 * t.pw + t.dw * (t.kw - 1) + t.opw + 1;
    if (oh >= 1 && ow >= 1) return t;
  }
}

Conv2dGeometry tgeom(const TCase& t) {
  return conv_transpose2d_geometry(t.n, t.cin, t.h, t.w, t.cout, t.kh, t.kw, t.sh, t.sw, t.ph,
                                   t.pw, t.oph, t.opw, t.dh, t.dw, t.groups);
}

int64_t x_size(const Conv2dGeometry& g) { return g.n * g.c * g.h * g.w; }
int64_t y_size(const Conv2dGeometry& g) { return g.n * g.o * g.oh * g.ow; }
int64_t w_size(const Conv2dGeometry& g) { return g.o * (g.c / g.groups) * g.kh * g.kw; }

std::string describe(const Conv2dGeometry& g) {
  return genmodel::detail::concat("n=", g.n, " c=", g.c, " h=", g.h, " w=", g.w, " o=", g.o,
                                  " k=(", g.kh, ",", g.kw, ") s=(", g.stride_h, ",", g.stride_w,
                                  ") p=(", g.pad_h, ",", g.pad_w, ") d=(", g.dil_h, ",", g.dil_w,
                                  ") groups=", g.groups, " out=(", g.oh, ",", g.ow, ")");
}

// Shapes every test runs besides the random ones: pointwise (the no-im2col
// path, with and without groups), batches large enough to be chunked, DCGAN-
// and U-Net-like layers at small batch, and planes large enough to be split
// into row tiles (for both float and double block sizes).
std::vector<Conv2dGeometry> fixed_convs() {
  return {
      conv2d_geometry(3, 6, 5, 7, 4, 1, 1, 1, 1, 0, 0, 1, 1, 1),
      conv2d_geometry(2, 6, 4, 3, 9, 1, 1, 1, 1, 0, 0, 1, 1, 3),
      conv2d_geometry(9, 4, 1, 1, 5, 1, 1, 1, 1, 0, 0, 1, 1, 1),    // pointwise on 1x1, chunked
      conv2d_geometry(2, 3, 6, 6, 4, 1, 1, 2, 2, 0, 0, 1, 1, 1),    // 1x1 stride 2
      conv2d_geometry(2, 2, 4, 4, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1),    // 1x1 padded
      conv2d_geometry(7, 1, 28, 28, 8, 4, 4, 2, 2, 1, 1, 1, 1, 1),  // DCGAN D1, fewer channels
      conv2d_geometry(5, 8, 14, 14, 6, 4, 4, 2, 2, 1, 1, 1, 1, 1),  // DCGAN D2
      conv2d_geometry(13, 5, 3, 3, 7, 3, 3, 1, 1, 1, 1, 1, 1, 1),   // tiny planes, many images
      conv2d_geometry(3, 4, 8, 8, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1),    // U-Net 3x3 pad 1
      conv2d_geometry(2, 6, 9, 5, 6, 3, 2, 2, 1, 2, 1, 2, 1, 2),
      conv2d_geometry(2, 2, 3, 1, 2, 3, 5, 1, 1, 1, 2, 1, 1, 1),    // padding wider than input
      conv2d_geometry(2, 2, 1, 2, 4, 3, 3, 1, 1, 2, 2, 2, 2, 2),    // dilated, pad > size
      // Planes large enough to be processed a few output rows at a time.
      conv2d_geometry(2, 16, 33, 30, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1),  // 3x3 "same"
      conv2d_geometry(2, 8, 70, 69, 6, 4, 4, 2, 2, 1, 1, 1, 1, 1),   // stride 2
      conv2d_geometry(2, 4, 50, 45, 3, 1, 1, 1, 1, 0, 0, 1, 1, 1),   // pointwise
      conv2d_geometry(1, 24, 30, 36, 4, 3, 3, 1, 1, 2, 2, 2, 2, 1),  // dilated "same"
      // Strides whose output plane is the input's divided by the stride: the
      // phase-plane path of im2col/col2im.
      conv2d_geometry(3, 4, 32, 32, 5, 3, 3, 2, 2, 1, 1, 1, 1, 1),   // U-Net down-sampling
      conv2d_geometry(2, 4, 8, 8, 6, 4, 4, 2, 2, 1, 1, 1, 1, 2),     // with groups
      conv2d_geometry(2, 3, 8, 8, 4, 5, 5, 2, 2, 2, 2, 1, 1, 1),     // taps two rows outside
      conv2d_geometry(2, 4, 9, 9, 3, 3, 3, 3, 3, 0, 0, 1, 1, 1),     // stride 3
      conv2d_geometry(2, 8, 70, 70, 6, 4, 4, 2, 2, 1, 1, 1, 1, 1),   // in row tiles
  };
}

// Runs f() once per implementation T has: im2col, and for float oneDNN too
// when the build has it. The global choice is restored afterwards.
template <class T, class F>
void for_each_impl(F&& f) {
  struct Restore {
    ConvImpl saved = conv_impl();
    ~Restore() { set_conv_impl(saved); }
  } restore;
  std::vector<ConvImpl> impls{ConvImpl::im2col};
  if (std::is_same_v<T, float> && conv_has_onednn()) impls.push_back(ConvImpl::onednn);
  for (ConvImpl impl : impls) {
    INFO((impl == ConvImpl::onednn ? "oneDNN" : "im2col"));
    set_conv_impl(impl);
    f();
  }
}

template <class T>
void check_conv_case(const Conv2dGeometry& g, std::mt19937_64& rng) {
  INFO(describe(g));
  const auto x = random_vec<T>(x_size(g), rng), w = random_vec<T>(w_size(g), rng),
             dy = random_vec<T>(y_size(g), rng);
  std::vector<T> y(std::size_t(y_size(g)), T(7)), dx(std::size_t(x_size(g)), T(7)),
      dw(std::size_t(w_size(g)), T(7));  // garbage: the kernels overwrite
  conv2d_forward(g, x.data(), w.data(), y.data());
  conv2d_backward_data(g, dy.data(), w.data(), dx.data());
  conv2d_backward_weight(g, x.data(), dy.data(), dw.data());
  const int64_t cg = g.c / g.groups, og = g.o / g.groups;
  check_close(y, ref_forward(g, x, w), cg * g.kh * g.kw, "forward");
  check_close(dx, ref_backward_data(g, dy, w), og * g.kh * g.kw, "backward_data");
  check_close(dw, ref_backward_weight(g, x, dy), g.n * g.oh * g.ow, "backward_weight");

  // With a bias: the reference plus bias[o] as one more term per output.
  const auto bias = random_vec<T>(g.o, rng);
  std::fill(y.begin(), y.end(), T(7));
  conv2d_forward(g, x.data(), w.data(), y.data(), bias.data());
  auto ref = ref_forward(g, x, w);
  const int64_t plane = g.oh * g.ow;
  for (int64_t i = 0; i < y_size(g); ++i) ref.add(i, bias[std::size_t((i / plane) % g.o)], 1);
  check_close(y, ref, cg * g.kh * g.kw + 1, "forward with bias");
}

template <class T>
void check_tconv_case(const TCase& t, std::mt19937_64& rng) {
  const Conv2dGeometry g = tgeom(t);
  INFO("transposed: n=" << t.n << " cin=" << t.cin << " h=" << t.h << " w=" << t.w
                        << " cout=" << t.cout << " k=(" << t.kh << "," << t.kw << ") s=(" << t.sh
                        << "," << t.sw << ") p=(" << t.ph << "," << t.pw << ") op=(" << t.oph
                        << "," << t.opw << ") d=(" << t.dh << "," << t.dw
                        << ") groups=" << t.groups << " out=(" << g.h << "," << g.w << ")");
  REQUIRE(g.c == t.cout);
  REQUIRE(g.o == t.cin);
  REQUIRE(g.oh == t.h);
  REQUIRE(g.ow == t.w);
  const int64_t oh = g.h, ow = g.w;
  const int64_t xt_n = t.n * t.cin * t.h * t.w, yt_n = t.n * t.cout * oh * ow;
  const int64_t w_n = t.cin * (t.cout / t.groups) * t.kh * t.kw;
  const auto xt = random_vec<T>(xt_n, rng), w = random_vec<T>(w_n, rng),
             dyt = random_vec<T>(yt_n, rng);

  // forward: y_t = conv2d_backward_data(g, x_t as dy, w)
  std::vector<T> yt(std::size_t(yt_n), T(7));
  conv2d_backward_data(g, xt.data(), w.data(), yt.data());
  Ref<T> ryt(yt_n);
  for_each_tconv_term(t, oh, ow, [&](int64_t yi, int64_t xi, int64_t wi) { ryt.add(yi, xt[xi], w[wi]); });
  check_close(yt, ryt, (t.cin / t.groups) * t.kh * t.kw, "conv_transpose2d forward");

  // backward-data: dx_t = conv2d_forward(g, dy_t, w)
  std::vector<T> dxt(std::size_t(xt_n), T(7));
  conv2d_forward(g, dyt.data(), w.data(), dxt.data());
  Ref<T> rdxt(xt_n);
  for_each_tconv_term(t, oh, ow, [&](int64_t yi, int64_t xi, int64_t wi) { rdxt.add(xi, dyt[yi], w[wi]); });
  check_close(dxt, rdxt, (t.cout / t.groups) * t.kh * t.kw, "conv_transpose2d backward_data");

  // weight gradient: conv2d_backward_weight(g, dy_t as x, x_t as dy)
  std::vector<T> dw(std::size_t(w_n), T(7));
  conv2d_backward_weight(g, dyt.data(), xt.data(), dw.data());
  Ref<T> rdw(w_n);
  for_each_tconv_term(t, oh, ow, [&](int64_t yi, int64_t xi, int64_t wi) { rdw.add(wi, xt[xi], dyt[yi]); });
  check_close(dw, rdw, t.n * t.h * t.w, "conv_transpose2d backward_weight");
}

}  // namespace

TEMPLATE_TEST_CASE("conv2d kernels match direct loops on random shapes", "[kernels][conv]", float,
                   double) {
  for_each_impl<TestType>([] {
    std::mt19937_64 rng(20240611);
    for (const auto& g : fixed_convs()) check_conv_case<TestType>(g, rng);
    for (int i = 0; i < 60; ++i) check_conv_case<TestType>(random_conv(rng), rng);
  });
}

TEMPLATE_TEST_CASE("conv_transpose2d from the conv kernels matches a direct transposed loop",
                   "[kernels][conv]", float, double) {
  for_each_impl<TestType>([] {
  std::mt19937_64 rng(77);
  // DCGAN-like generator layers at small batch and channel counts.
  check_tconv_case<TestType>(TCase{3, 6, 7, 7, 4, 4, 4, 2, 2, 1, 1, 0, 0, 1, 1, 1}, rng);
  check_tconv_case<TestType>(TCase{5, 4, 14, 14, 1, 4, 4, 2, 2, 1, 1, 0, 0, 1, 1, 1}, rng);
  // output_padding with stride, and output_padding allowed only by dilation.
  check_tconv_case<TestType>(TCase{2, 4, 5, 4, 6, 3, 3, 2, 3, 1, 0, 1, 2, 1, 1, 2}, rng);
  check_tconv_case<TestType>(TCase{2, 3, 4, 5, 3, 3, 2, 1, 1, 1, 0, 1, 1, 2, 2, 3}, rng);
  // 1x1 stride 1 (pointwise geometry) and 1x1 with output_padding via dilation.
  check_tconv_case<TestType>(TCase{3, 4, 3, 5, 6, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 2}, rng);
  check_tconv_case<TestType>(TCase{2, 2, 3, 3, 2, 1, 1, 1, 1, 0, 0, 1, 1, 2, 2, 1}, rng);
  for (int i = 0; i < 60; ++i) check_tconv_case<TestType>(random_tconv(rng), rng);
  });
}

TEST_CASE("conv2d backward kernels are adjoints of the forward", "[kernels][conv]") {
  std::mt19937_64 rng(5);
  auto dot = [](const std::vector<double>& a, const std::vector<double>& b, long double& mag) {
    long double s = 0;
    mag = 0;
    for (std::size_t i = 0; i < a.size(); ++i) {
      s += (long double)a[i] * b[i];
      mag += std::fabs((long double)a[i] * b[i]);
    }
    return s;
  };
  auto cases = fixed_convs();
  for (int i = 0; i < 40; ++i) cases.push_back(random_conv(rng));
  for (const auto& g : cases) {
    INFO(describe(g));
    const auto x = random_vec<double>(x_size(g), rng), w = random_vec<double>(w_size(g), rng),
               ybar = random_vec<double>(y_size(g), rng);
    std::vector<double> y(std::size_t(y_size(g))), xbar(std::size_t(x_size(g))),
        wbar(std::size_t(w_size(g)));
    conv2d_forward(g, x.data(), w.data(), y.data());
    conv2d_backward_data(g, ybar.data(), w.data(), xbar.data());
    conv2d_backward_weight(g, x.data(), ybar.data(), wbar.data());
    long double m1, m2, m3;
    const long double lhs = dot(ybar, y, m1);  // <y_bar, conv(x, w)>
    const long double rx = dot(xbar, x, m2);   // <conv_backward_data(y_bar), x>
    const long double rw = dot(wbar, w, m3);   // <conv_backward_weight(x, y_bar), w>
    const long double tol = 1e-13L * (m1 + m2 + m3) + 1e-300L;
    CHECK(std::fabs(lhs - rx) <= tol);
    CHECK(std::fabs(lhs - rw) <= tol);
  }
}

TEMPLATE_TEST_CASE("conv kernels: 1 and 2 threads agree, same count is bitwise reproducible",
                   "[kernels][conv][threads]", float, double) {
  gmtest::ThreadCount guard;
  for_each_impl<TestType>([] {
  std::mt19937_64 rng(99);
  const std::vector<Conv2dGeometry> cases = {
      conv2d_geometry(16, 8, 14, 14, 12, 4, 4, 2, 2, 1, 1, 1, 1, 1),  // chunked small planes
      conv2d_geometry(5, 6, 16, 16, 6, 3, 3, 1, 1, 1, 1, 1, 1, 2),
      conv2d_geometry(7, 12, 6, 6, 8, 1, 1, 1, 1, 0, 0, 1, 1, 1),     // pointwise
      conv2d_geometry(1, 8, 20, 20, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1),   // batch 1: gemm threads
      conv2d_geometry(3, 4, 7, 9, 4, 3, 3, 2, 1, 1, 0, 2, 1, 1),
      conv2d_geometry(3, 16, 33, 30, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1),  // row tiles
  };
  for (const auto& g : cases) {
    INFO(describe(g));
    const auto x = random_vec<TestType>(x_size(g), rng), w = random_vec<TestType>(w_size(g), rng),
               dy = random_vec<TestType>(y_size(g), rng);
    struct Out {
      std::vector<TestType> y, dx, dw;
    };
    auto run = [&](int threads) {
      genmodel::set_num_threads(threads);
      Out o{std::vector<TestType>(std::size_t(y_size(g))),
            std::vector<TestType>(std::size_t(x_size(g))),
            std::vector<TestType>(std::size_t(w_size(g)))};
      conv2d_forward(g, x.data(), w.data(), o.y.data());
      conv2d_backward_data(g, dy.data(), w.data(), o.dx.data());
      conv2d_backward_weight(g, x.data(), dy.data(), o.dw.data());
      return o;
    };
    const Out one = run(1), two = run(2), two_again = run(2), one_again = run(1);
    auto bitwise = [](const std::vector<TestType>& a, const std::vector<TestType>& b) {
      return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(TestType)) == 0;
    };
    CHECK(bitwise(two.y, two_again.y));
    CHECK(bitwise(two.dx, two_again.dx));
    CHECK(bitwise(two.dw, two_again.dw));
    CHECK(bitwise(one.y, one_again.y));
    CHECK(bitwise(one.dx, one_again.dx));
    CHECK(bitwise(one.dw, one_again.dw));
    // 1 vs 2 threads: within rounding of the sums (terms = reduction length).
    auto close = [](const std::vector<TestType>& a, const std::vector<TestType>& b, int64_t terms,
                    const std::vector<TestType>& scale_src) {
      double amax = 0;
      for (auto v : scale_src) amax = std::max(amax, std::fabs(double(v)));
      double worst = 0;
      for (std::size_t i = 0; i < a.size(); ++i)
        worst = std::max(worst, std::fabs(double(a[i]) - double(b[i])));
      // Inputs are in [-1, 1], so |each sum| <= terms * max|factor|.
      return worst <= 8.0 * std::sqrt(double(terms)) * double(terms) * amax *
                          std::numeric_limits<TestType>::epsilon();
    };
    const int64_t cg = g.c / g.groups, og = g.o / g.groups;
    CHECK(close(one.y, two.y, cg * g.kh * g.kw, x));
    CHECK(close(one.dx, two.dx, og * g.kh * g.kw, dy));
    CHECK(close(one.dw, two.dw, g.n * g.oh * g.ow, dy));
  }
  });
}

TEST_CASE("conv kernels accept an empty batch", "[kernels][conv]") {
  const auto g = conv2d_geometry(0, 2, 5, 5, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1);
  CHECK(g.oh == 5);
  for_each_impl<float>([&] {
    std::vector<float> dw(std::size_t(w_size(g)), 3.0f);
    conv2d_forward<float>(g, nullptr, dw.data(), nullptr);
    conv2d_backward_data<float>(g, nullptr, dw.data(), nullptr);
    conv2d_backward_weight<float>(g, nullptr, nullptr, dw.data());
    for (float v : dw) CHECK(v == 0.0f);
  });
}

TEST_CASE("conv kernels: oneDNN is the float default exactly when the build has it", "[kernels][conv]") {
  if (conv_has_onednn()) {
    CHECK(conv_impl() == ConvImpl::onednn);
  } else {
    CHECK(conv_impl() == ConvImpl::im2col);
    CHECK_THROWS_WITH(set_conv_impl(ConvImpl::onednn), Catch::Contains("this build has no oneDNN"));
  }
}

TEST_CASE("conv geometry sizes follow PyTorch", "[kernels][conv]") {
  const auto d1 = conv2d_geometry(64, 1, 28, 28, 64, 4, 4, 2, 2, 1, 1, 1, 1, 1);
  CHECK(d1.oh == 14);
  CHECK(d1.ow == 14);
  const auto d2 = conv2d_geometry(64, 64, 14, 14, 128, 4, 4, 2, 2, 1, 1, 1, 1, 1);
  CHECK(d2.oh == 7);
  const auto u = conv2d_geometry(2, 32, 32, 16, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1);
  CHECK(u.oh == 32);
  CHECK(u.ow == 16);
  const auto dil = conv2d_geometry(1, 1, 10, 9, 1, 3, 2, 3, 2, 1, 0, 2, 3, 1);
  CHECK(dil.oh == (10 + 2 - 2 * 2 - 1) / 3 + 1);
  CHECK(dil.ow == (9 - 3 * 1 - 1) / 2 + 1);

  const auto t1 = conv_transpose2d_geometry(64, 128, 7, 7, 64, 4, 4, 2, 2, 1, 1, 0, 0, 1, 1, 1);
  CHECK(t1.c == 64);
  CHECK(t1.o == 128);
  CHECK(t1.h == 14);
  CHECK(t1.w == 14);
  CHECK(t1.oh == 7);
  CHECK(t1.ow == 7);
  const auto t2 = conv_transpose2d_geometry(64, 64, 14, 14, 1, 4, 4, 2, 2, 1, 1, 0, 0, 1, 1, 1);
  CHECK(t2.h == 28);
  const auto t3 = conv_transpose2d_geometry(1, 4, 5, 6, 2, 3, 3, 2, 3, 1, 0, 1, 2, 1, 1, 2);
  CHECK(t3.h == (5 - 1) * 2 - 2 + 2 + 1 + 1);
  CHECK(t3.w == (6 - 1) * 3 + 2 + 2 + 1);
  CHECK(t3.groups == 2);
}

TEST_CASE("conv geometry rejects bad arguments with a message naming the value", "[kernels][conv]") {
  using Catch::Contains;
  // c not divisible by groups
  REQUIRE_THROWS_AS(conv2d_geometry(2, 3, 8, 8, 4, 3, 3, 1, 1, 0, 0, 1, 1, 2), genmodel::Error);
  REQUIRE_THROWS_WITH(conv2d_geometry(2, 3, 8, 8, 4, 3, 3, 1, 1, 0, 0, 1, 1, 2),
                      Contains("conv2d") && Contains("in_channels (3)") && Contains("groups (2)"));
  REQUIRE_THROWS_WITH(conv2d_geometry(2, 4, 8, 8, 5, 3, 3, 1, 1, 0, 0, 1, 1, 2),
                      Contains("conv2d") && Contains("out_channels (5)"));
  REQUIRE_THROWS_WITH(conv2d_geometry(2, 4, 8, 8, 4, 3, 3, 1, 1, 0, 0, 1, 1, 0),
                      Contains("conv2d") && Contains("groups") && Contains("0"));
  REQUIRE_THROWS_WITH(conv2d_geometry(2, 4, 8, 8, 4, 3, 3, 0, 1, 0, 0, 1, 1, 1),
                      Contains("conv2d") && Contains("stride") && Contains("(0, 1)"));
  REQUIRE_THROWS_WITH(conv2d_geometry(2, 4, 8, 8, 4, 3, 3, 1, 1, -1, 0, 1, 1, 1),
                      Contains("conv2d") && Contains("padding") && Contains("(-1, 0)"));
  REQUIRE_THROWS_WITH(conv2d_geometry(2, 4, 8, 8, 4, 3, 3, 1, 1, 0, 0, 1, 0, 1),
                      Contains("conv2d") && Contains("dilation") && Contains("(1, 0)"));
  REQUIRE_THROWS_WITH(conv2d_geometry(2, 4, 8, 8, 4, 0, 3, 1, 1, 0, 0, 1, 1, 1),
                      Contains("conv2d") && Contains("kernel") && Contains("(0, 3)"));
  REQUIRE_THROWS_WITH(conv2d_geometry(2, 0, 8, 8, 4, 3, 3, 1, 1, 0, 0, 1, 1, 1),
                      Contains("conv2d") && Contains("(0, 8, 8)"));
  REQUIRE_THROWS_WITH(conv2d_geometry(-1, 4, 8, 8, 4, 3, 3, 1, 1, 0, 0, 1, 1, 1),
                      Contains("conv2d") && Contains("-1"));
  // kernel larger than the padded input: output would be empty
  REQUIRE_THROWS_WITH(conv2d_geometry(2, 4, 2, 8, 4, 5, 3, 1, 1, 1, 0, 1, 1, 1),
                      Contains("conv2d") && Contains("input (2, 8)") && Contains("(5, 3)"));
  REQUIRE_THROWS_WITH(conv2d_geometry(2, 4, 8, 8, 4, 3, 3, 1, 1, 0, 0, 4, 1, 1),
                      Contains("conv2d") && Contains("(9, 3)"));
  REQUIRE_NOTHROW(conv2d_geometry(2, 4, 3, 3, 4, 3, 3, 1, 1, 0, 0, 1, 1, 1));

  REQUIRE_THROWS_AS(conv_transpose2d_geometry(1, 4, 5, 5, 4, 3, 3, 2, 2, 1, 1, 2, 0, 1, 1, 1),
                    genmodel::Error);
  REQUIRE_THROWS_WITH(conv_transpose2d_geometry(1, 4, 5, 5, 4, 3, 3, 2, 2, 1, 1, 2, 0, 1, 1, 1),
                      Contains("conv_transpose2d") && Contains("output_padding (2, 0)"));
  REQUIRE_THROWS_WITH(conv_transpose2d_geometry(1, 4, 5, 5, 4, 3, 3, 1, 1, 1, 1, 0, 1, 1, 1, 1),
                      Contains("conv_transpose2d") && Contains("output_padding (0, 1)"));
  // output_padding >= stride is fine when it is below the dilation
  REQUIRE_NOTHROW(conv_transpose2d_geometry(1, 4, 5, 5, 4, 3, 3, 1, 1, 1, 1, 1, 1, 2, 2, 1));
  REQUIRE_THROWS_WITH(conv_transpose2d_geometry(1, 6, 5, 5, 4, 3, 3, 1, 1, 1, 1, 0, 0, 1, 1, 4),
                      Contains("conv_transpose2d") && Contains("in_channels (6)") &&
                          Contains("groups (4)"));
  REQUIRE_THROWS_WITH(conv_transpose2d_geometry(1, 4, 5, 5, 6, 3, 3, 1, 1, 1, 1, 0, 0, 1, 1, 4),
                      Contains("conv_transpose2d") && Contains("out_channels (6)"));
  REQUIRE_THROWS_WITH(conv_transpose2d_geometry(1, 4, 1, 5, 4, 1, 1, 1, 1, 1, 0, 0, 0, 1, 1, 1),
                      Contains("conv_transpose2d") && Contains("output size (-1, 5)"));
  REQUIRE_THROWS_WITH(conv_transpose2d_geometry(1, 4, 5, 5, 4, 3, 3, 1, 0, 1, 1, 0, 0, 1, 1, 1),
                      Contains("conv_transpose2d") && Contains("stride") && Contains("(1, 0)"));
}
