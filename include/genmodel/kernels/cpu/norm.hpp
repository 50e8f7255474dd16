// genmodel/kernels/cpu/norm.hpp: raw-pointer CPU kernels for batch, layer and
// group normalisation, forward and backward (no Tensor, no autograd).
//
// Layouts (row-major, contiguous):
//   batch norm  x (n, c, s), s = H*W (1 for BatchNorm1d): statistics per
//               channel over n*s values; gamma/beta/mean/rstd/running (c).
//   layer norm  x (rows, d): statistics per row over d values; gamma/beta (d),
//               save_mean/save_rstd (rows).
//   group norm  x (n, c, s), `groups` groups of c/groups channels: statistics
//               per (n, group) over (c/groups)*s values; gamma/beta (c),
//               save_mean/save_rstd (n, groups).
// Statistics are accumulated in double with the two-pass formula (mean, then
// centred sum of squares); save_rstd = 1/sqrt(biased var + eps). Every
// reduction is split by the shape only (fixed pieces and row chunks combined in
// a fixed order), never by the thread count, so results are bitwise the same
// for any number of threads. gamma/beta == nullptr means no affine transform;
// dx/dgamma/dbeta == nullptr (and save_mean/save_rstd in the forwards) skip that
// output. Outputs must not overlap inputs. Sizes are validated before any
// parallel region; nothing throws inside one.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <type_traits>

#include "genmodel/core/error.hpp"
#include "genmodel/core/parallel.hpp"
#include "genmodel/kernels/cpu/simd.hpp"
#include "genmodel/core/scratch.hpp"


namespace genmodel::kernels::cpu {

namespace norm_detail {

constexpr int64_t kGrain = int64_t(1) << 14;  // elements per task below which splitting does not pay
constexpr int64_t kPiece = int64_t(1) << 14;  // contiguous segments longer than this are reduced in pieces
constexpr int64_t kMaxChunks = 64;            // row chunks of a column reduction
constexpr int64_t kPartialBudget = int64_t(1) << 22;  // doubles of chunk partials (32 MiB) at most
constexpr int64_t kSmallS = 16;               // batch norm: below this spatial size, reduce by columns

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
inline int64_t grain_rows(int64_t len) { return std::max<int64_t>(1, kGrain / std::max<int64_t>(len, 1)); }

/// acc[k] = sum over i in [b, e) of term k, where f(i, t) writes the K terms
/// of element i into t. Double accumulation in 8 interleaved lanes combined
/// pairwise: a fixed order that depends only on (b, e).
template <int K, class F>
inline void lane_sums(int64_t b, int64_t e, double* acc, F&& f) {
  double a[K][8] = {};
  int64_t i = b;
  for (; i + 8 <= e; i += 8) {
    for (int l = 0; l < 8; ++l) {
      double t[K];
      f(i + l, t);
      for (int k = 0; k < K; ++k) a[k][l] += t[k];
    }
  }
  for (int l = 0; l < 8 && i < e; ++i, ++l) {
    double t[K];
    f(i, t);
    for (int k = 0; k < K; ++k) a[k][l] += t[k];
  }
  for (int k = 0; k < K; ++k)
    acc[k] = ((a[k][0] + a[k][4]) + (a[k][1] + a[k][5])) + ((a[k][2] + a[k][6]) + (a[k][3] + a[k][7]));
}

/// out[r*K + k] = sum of term k over segment r (len elements), r < nseg.
/// make_term(r) returns the segment's term(i, t), i in [0, len). Segments
/// longer than kPiece are cut into fixed pieces reduced in parallel and
/// combined in order.
template <int K, class MakeTerm>
void segment_sums(int64_t nseg, int64_t len, double* out, MakeTerm&& make_term) {
  if (nseg <= 0) return;
  if (len <= kPiece) {
    parallel_for(0, nseg, grain_rows(len), [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) lane_sums<K>(0, len, out + r * K, make_term(r));
    });
    return;
  }
  const int64_t np = ceil_div(len, kPiece);
  Scratch<double> part(nseg * np * K);
  double* p = part.data();
  parallel_for(0, nseg * np, 1, [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) {
      const int64_t r = t / np, q = t % np;
      lane_sums<K>(q * kPiece, std::min(len, (q + 1) * kPiece), p + t * K, make_term(r));
    }
  });
  for (int64_t r = 0; r < nseg; ++r)
    for (int k = 0; k < K; ++k) {
      double acc = 0;
      for (int64_t q = 0; q < np; ++q) acc += p[(r * np + q) * K + k];
      out[r * K + k] = acc;
    }
}

/// Column reduction of a (rows, cols) layout: rows are cut into at most
/// kMaxChunks fixed chunks (by shape only, fewer when the partials would
/// exceed kPartialBudget); chunk(i0, i1, acc) adds its rows' terms into acc (K arrays
/// of cols doubles, zeroed), and the chunk partials are summed in chunk order
/// into out (K arrays of cols). chunk may also write per-row outputs.
template <int K, class Chunk>
void column_sums(int64_t rows, int64_t cols, double* out, Chunk&& chunk) {
  if (cols <= 0) return;
  if (rows <= 0) {
    std::fill(out, out + K * cols, 0.0);
    return;
  }
  const int64_t w = K * cols;
  const int64_t max_chunks = std::clamp<int64_t>(kPartialBudget / w, 1, kMaxChunks);
  const int64_t cr = std::max(ceil_div(kGrain, cols), ceil_div(rows, max_chunks));
  const int64_t nch = ceil_div(rows, cr);
  Scratch<double> part(nch * w);
  double* p = part.data();
  parallel_for(0, nch, 1, [&](int64_t b, int64_t e) {
    for (int64_t q = b; q < e; ++q) {
      double* acc = p + q * w;
      std::fill(acc, acc + w, 0.0);
      chunk(q * cr, std::min(rows, (q + 1) * cr), acc);
    }
  });
  parallel_for(0, w, kGrain / 16, [&](int64_t b, int64_t e) {
    GM_KERNEL_SIMD
    for (int64_t j = b; j < e; ++j) out[j] = p[j];
    for (int64_t q = 1; q < nch; ++q) {
      const double* pq = p + q * w;
      GM_KERNEL_SIMD
      for (int64_t j = b; j < e; ++j) out[j] += pq[j];
    }
  });
}

/// Batch-norm style per-channel sums over x viewed as (n, c, s):
/// out[k*c + ch] = sum over (i, q) of term k, where term(f, mu, t) gets the
/// flat index f and mu[ch] (mu == nullptr: 0).
template <int K, class Term>
void channel_sums(int64_t n, int64_t c, int64_t s, const double* mu, double* out, Term&& term) {
  if (s >= kSmallS) {
    Scratch<double> seg(n * c * K);
    segment_sums<K>(n * c, s, seg.data(), [&](int64_t r) {
      const int64_t base = r * s;
      const double m = mu ? mu[r % c] : 0.0;
      return [&term, base, m](int64_t q, double* t) { term(base + q, m, t); };
    });
    const double* sp = seg.data();
    for (int64_t ch = 0; ch < c; ++ch)
      for (int k = 0; k < K; ++k) {
        double acc = 0;
        for (int64_t i = 0; i < n; ++i) acc += sp[(i * c + ch) * K + k];
        out[k * c + ch] = acc;
      }
    return;
  }
  const int64_t cols = c * s;
  Scratch<double> buf(cols * (K + 1));
  double* colsum = buf.data();
  double* mcol = colsum + K * cols;
  for (int64_t j = 0; j < cols; ++j) mcol[j] = mu ? mu[j / s] : 0.0;
  column_sums<K>(n, cols, colsum, [&](int64_t i0, int64_t i1, double* acc) {
    for (int64_t i = i0; i < i1; ++i) {
      const int64_t base = i * cols;
      GM_KERNEL_SIMD
      for (int64_t j = 0; j < cols; ++j) {
        double t[K];
        term(base + j, mcol[j], t);
        for (int k = 0; k < K; ++k) acc[k * cols + j] += t[k];
      }
    }
  });
  for (int64_t ch = 0; ch < c; ++ch)
    for (int k = 0; k < K; ++k) {
      double acc = 0;
      for (int64_t q = 0; q < s; ++q) acc += colsum[k * cols + ch * s + q];
      out[k * c + ch] = acc;
    }
}

/// y[r, q] = (x[r, q] - m[k]) * a[k] + b[k], k = r % period, rows of s
/// elements. Elementwise, so any split of the range gives the same bits.
template <class T>
void affine_rows(const T* x, T* y, const T* m, const T* a, const T* b, int64_t rows, int64_t s,
                 int64_t period) {
  parallel_for(0, rows * s, kGrain, [&](int64_t lo, int64_t hi) {
    int64_t pos = lo;
    while (pos < hi) {
      const T* xp = x + pos;
      T* yp = y + pos;
      if (s == 1) {
        const int64_t k = pos % period, len = std::min(hi - pos, period - k);
        const T *mk = m + k, *ak = a + k, *bk = b + k;
        GM_KERNEL_SIMD
        for (int64_t j = 0; j < len; ++j) yp[j] = (xp[j] - mk[j]) * ak[j] + bk[j];
        pos += len;
      } else {
        const int64_t r = pos / s, q = pos - r * s, len = std::min(hi - pos, s - q), k = r % period;
        const T mk = m[k], ak = a[k], bk = b[k];
        GM_KERNEL_SIMD
        for (int64_t j = 0; j < len; ++j) yp[j] = (xp[j] - mk) * ak + bk;
        pos += len;
      }
    }
  });
}

/// dx[r, q] = a[k] * dy[r, q] + b[k] * (x[r, q] - m[k]) + c2[k], k = r % period.
template <class T>
void affine2_rows(const T* dy, const T* x, T* dx, const T* m, const T* a, const T* b, const T* c2,
                  int64_t rows, int64_t s, int64_t period) {
  parallel_for(0, rows * s, kGrain, [&](int64_t lo, int64_t hi) {
    int64_t pos = lo;
    while (pos < hi) {
      const T *xp = x + pos, *dyp = dy + pos;
      T* dxp = dx + pos;
      if (s == 1) {
        const int64_t k = pos % period, len = std::min(hi - pos, period - k);
        const T *mk = m + k, *ak = a + k, *bk = b + k, *ck = c2 + k;
        GM_KERNEL_SIMD
        for (int64_t j = 0; j < len; ++j) dxp[j] = ak[j] * dyp[j] + bk[j] * (xp[j] - mk[j]) + ck[j];
        pos += len;
      } else {
        const int64_t r = pos / s, q = pos - r * s, len = std::min(hi - pos, s - q), k = r % period;
        const T mk = m[k], ak = a[k], bk = b[k], ck = c2[k];
        GM_KERNEL_SIMD
        for (int64_t j = 0; j < len; ++j) dxp[j] = ak * dyp[j] + bk * (xp[j] - mk) + ck;
        pos += len;
      }
    }
  });
}

/// Per-channel biased mean and variance of x viewed as (n, c, s), two-pass.
template <class T>
void bn_stats(const T* x, int64_t n, int64_t c, int64_t s, double* mean, double* var) {
  const int64_t N = n * s;
  if (N == 0) {
    std::fill(mean, mean + c, 0.0);
    std::fill(var, var + c, 0.0);
    return;
  }
  channel_sums<1>(n, c, s, nullptr, mean, [x](int64_t f, double, double* t) { t[0] = double(x[f]); });
  for (int64_t ch = 0; ch < c; ++ch) mean[ch] /= double(N);
  channel_sums<1>(n, c, s, mean, var, [x](int64_t f, double m, double* t) {
    const double d = double(x[f]) - m;
    t[0] = d * d;
  });
  for (int64_t ch = 0; ch < c; ++ch) var[ch] /= double(N);
}

/// One layer-norm row segment: y[j] = (x[j] - m) * r * gamma[j] + beta[j], j in [j0, j1).
template <class T>
inline void ln_apply(const T* x, T* y, const T* gamma, const T* beta, T m, T r, int64_t j0, int64_t j1) {
  if (gamma && beta) {
    GM_KERNEL_SIMD
    for (int64_t j = j0; j < j1; ++j) y[j] = (x[j] - m) * r * gamma[j] + beta[j];
  } else if (gamma) {
    GM_KERNEL_SIMD
    for (int64_t j = j0; j < j1; ++j) y[j] = (x[j] - m) * r * gamma[j];
  } else if (beta) {
    GM_KERNEL_SIMD
    for (int64_t j = j0; j < j1; ++j) y[j] = (x[j] - m) * r + beta[j];
  } else {
    GM_KERNEL_SIMD
    for (int64_t j = j0; j < j1; ++j) y[j] = (x[j] - m) * r;
  }
}

/// The argument checks of the norm kernels, shared with their CUDA versions
/// (kernels/cuda/norm.cuh) so both devices refuse the same input alike.
inline void check_eps(const char* op, double eps) {
  GM_CHECK(eps >= 0, op, ": eps must be non-negative, got ", eps);
}

inline void check_batch_norm(const char* op, int64_t n, int64_t c, int64_t s) {
  GM_CHECK(n >= 0 && c >= 0 && s >= 0, op, ": sizes must be non-negative, got n=", n, ", c=", c, ", s=", s);
}

inline void check_batch_norm_train(int64_t n, int64_t c, int64_t s, double eps) {
  check_batch_norm("batch_norm", n, c, s);
  GM_CHECK(n * s != 1, "batch_norm: expected more than 1 value per channel when training, got n=", n, ", s=", s);
  check_eps("batch_norm", eps);
}

inline void check_layer_norm(const char* op, int64_t rows, int64_t d) {
  GM_CHECK(rows >= 0 && d >= 0, op, ": sizes must be non-negative, got rows=", rows, ", d=", d);
}

inline double rstd_of(double var, double eps) { return 1.0 / std::sqrt(var + eps); }

}  // namespace norm_detail

// ---------------------------------------------------------------- batch norm

/// Training-mode batch norm over x (n, c, s): y = (x - mean) * rstd * gamma +
/// beta with the biased batch variance; save_mean/save_rstd (c) receive the
/// statistics. running_mean/running_var (c, may be nullptr) are updated as
/// r = (1 - momentum) * r + momentum * stat with the UNBIASED variance. An
/// empty batch (n*s == 0) leaves the running statistics untouched.
template <class T>
void batch_norm_forward_train(const T* x, const T* gamma, const T* beta, T* y, T* save_mean, T* save_rstd,
                              int64_t n, int64_t c, int64_t s, T eps, T* running_mean, T* running_var,
                              T momentum) {
  static_assert(std::is_floating_point_v<T>, "batch_norm: floating-point types only");
  norm_detail::check_batch_norm_train(n, c, s, double(eps));
  const int64_t N = n * s;
  if (c == 0) return;
  Scratch<double> st(2 * c);
  double* mean = st.data();
  double* var = mean + c;
  norm_detail::bn_stats(x, n, c, s, mean, var);

  Scratch<T> coef(3 * c);
  T* m = coef.data();
  T* a = m + c;
  T* b = a + c;
  const double mom = double(momentum);
  for (int64_t ch = 0; ch < c; ++ch) {
    const double r = norm_detail::rstd_of(var[ch], double(eps));
    m[ch] = T(mean[ch]);
    a[ch] = gamma ? T(double(gamma[ch]) * r) : T(r);
    b[ch] = beta ? beta[ch] : T(0);
    if (save_mean) save_mean[ch] = T(mean[ch]);
    if (save_rstd) save_rstd[ch] = T(r);
    if (N > 0) {
      if (running_mean) running_mean[ch] = T((1.0 - mom) * double(running_mean[ch]) + mom * mean[ch]);
      if (running_var)
        running_var[ch] =
            T((1.0 - mom) * double(running_var[ch]) + mom * var[ch] * double(N) / double(N - 1));
    }
  }
  norm_detail::affine_rows(x, y, m, a, b, n * c, s, c);
}

/// Inference-mode batch norm: y = (x - running_mean) / sqrt(running_var + eps) * gamma + beta.
template <class T>
void batch_norm_forward_eval(const T* x, const T* gamma, const T* beta, T* y, int64_t n, int64_t c,
                             int64_t s, T eps, const T* running_mean, const T* running_var) {
  static_assert(std::is_floating_point_v<T>, "batch_norm: floating-point types only");
  norm_detail::check_batch_norm("batch_norm", n, c, s);
  GM_CHECK(running_mean && running_var, "batch_norm: eval mode needs running_mean and running_var");
  if (c == 0) return;
  Scratch<T> coef(3 * c);
  T* m = coef.data();
  T* a = m + c;
  T* b = a + c;
  for (int64_t ch = 0; ch < c; ++ch) {
    const double r = norm_detail::rstd_of(double(running_var[ch]), double(eps));
    m[ch] = running_mean[ch];
    a[ch] = gamma ? T(double(gamma[ch]) * r) : T(r);
    b[ch] = beta ? beta[ch] : T(0);
  }
  norm_detail::affine_rows(x, y, m, a, b, n * c, s, c);
}

/// Backward of training-mode batch norm (batch statistics depend on x):
/// dx = gamma*rstd * (dy - mean(dy) - xhat * mean(dy * xhat)), per channel,
/// dgamma = sum(dy * xhat), dbeta = sum(dy); xhat = (x - save_mean) * save_rstd.
template <class T>
void batch_norm_backward(const T* dy, const T* x, const T* gamma, const T* save_mean, const T* save_rstd,
                         T* dx, T* dgamma, T* dbeta, int64_t n, int64_t c, int64_t s) {
  static_assert(std::is_floating_point_v<T>, "batch_norm: floating-point types only");
  norm_detail::check_batch_norm("batch_norm_backward", n, c, s);
  if (c == 0) return;
  const int64_t N = n * s;
  Scratch<double> buf(3 * c);
  double* mu = buf.data();
  double* sums = mu + c;  // sums[ch] = sum dy, sums[c + ch] = sum dy * (x - mean)
  for (int64_t ch = 0; ch < c; ++ch) mu[ch] = double(save_mean[ch]);
  if (N == 0) {
    std::fill(sums, sums + 2 * c, 0.0);
  } else {
    norm_detail::channel_sums<2>(n, c, s, mu, sums, [dy, x](int64_t f, double m, double* t) {
      const double g = double(dy[f]);
      t[0] = g;
      t[1] = g * (double(x[f]) - m);
    });
  }
  for (int64_t ch = 0; ch < c; ++ch) {
    if (dbeta) dbeta[ch] = T(sums[ch]);
    if (dgamma) dgamma[ch] = T(sums[c + ch] * double(save_rstd[ch]));
  }
  if (!dx || N == 0) return;
  Scratch<T> coef(4 * c);
  T* m = coef.data();
  T* a = m + c;
  T* b = a + c;
  T* c2 = b + c;
  for (int64_t ch = 0; ch < c; ++ch) {
    const double r = double(save_rstd[ch]), g = gamma ? double(gamma[ch]) : 1.0;
    m[ch] = save_mean[ch];
    a[ch] = T(g * r);
    b[ch] = T(-g * r * r * r * sums[c + ch] / double(N));
    c2[ch] = T(-g * r * sums[ch] / double(N));
  }
  norm_detail::affine2_rows(dy, x, dx, m, a, b, c2, n * c, s, c);
}

// ---------------------------------------------------------------- layer norm

/// Layer norm over the last d elements of each of `rows` rows:
/// y = (x - mean) * rstd * gamma + beta; save_mean/save_rstd (rows).
template <class T>
void layer_norm_forward(const T* x, const T* gamma, const T* beta, T* y, T* save_mean, T* save_rstd,
                        int64_t rows, int64_t d, T eps) {
  static_assert(std::is_floating_point_v<T>, "layer_norm: floating-point types only");
  norm_detail::check_layer_norm("layer_norm", rows, d);
  norm_detail::check_eps("layer_norm", double(eps));
  using namespace norm_detail;
  if (rows == 0) return;
  if (d == 0) {
    for (int64_t r = 0; r < rows; ++r) {
      if (save_mean) save_mean[r] = T(0);
      if (save_rstd) save_rstd[r] = T(rstd_of(0.0, double(eps)));
    }
    return;
  }
  if (d <= kPiece) {  // one task per row: statistics and output while the row is in cache
    parallel_for(0, rows, grain_rows(d), [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) {
        const T* xr = x + r * d;
        double mean, ss;
        lane_sums<1>(0, d, &mean, [xr](int64_t j, double* t) { t[0] = double(xr[j]); });
        mean /= double(d);
        lane_sums<1>(0, d, &ss, [xr, mean](int64_t j, double* t) {
          const double v = double(xr[j]) - mean;
          t[0] = v * v;
        });
        const double rs = rstd_of(ss / double(d), double(eps));
        if (save_mean) save_mean[r] = T(mean);
        if (save_rstd) save_rstd[r] = T(rs);
        ln_apply(xr, y + r * d, gamma, beta, T(mean), T(rs), 0, d);
      }
    });
    return;
  }
  // Long rows: reduce each row in fixed pieces, then apply over the flat range.
  Scratch<double> st(2 * rows);
  double* mean = st.data();
  double* ss = mean + rows;
  segment_sums<1>(rows, d, mean, [x, d](int64_t r) {
    const T* xr = x + r * d;
    return [xr](int64_t j, double* t) { t[0] = double(xr[j]); };
  });
  for (int64_t r = 0; r < rows; ++r) mean[r] /= double(d);
  segment_sums<1>(rows, d, ss, [x, d, mean](int64_t r) {
    const T* xr = x + r * d;
    const double m = mean[r];
    return [xr, m](int64_t j, double* t) {
      const double v = double(xr[j]) - m;
      t[0] = v * v;
    };
  });
  Scratch<T> mr(2 * rows);
  T* mt = mr.data();
  T* rt = mt + rows;
  for (int64_t r = 0; r < rows; ++r) {
    const double rs = rstd_of(ss[r] / double(d), double(eps));
    mt[r] = T(mean[r]);
    rt[r] = T(rs);
    if (save_mean) save_mean[r] = mt[r];
    if (save_rstd) save_rstd[r] = rt[r];
  }
  parallel_for(0, rows * d, kGrain, [&](int64_t lo, int64_t hi) {
    for (int64_t pos = lo; pos < hi;) {
      const int64_t r = pos / d, j0 = pos - r * d, j1 = std::min(d, j0 + (hi - pos));
      ln_apply(x + r * d, y + r * d, gamma, beta, mt[r], rt[r], j0, j1);
      pos += j1 - j0;
    }
  });
}

/// Backward of layer norm: with g = dy * gamma and xhat = (x - mean) * rstd,
/// dx = rstd * (g - mean_d(g) - xhat * mean_d(g * xhat)),
/// dgamma = sum_rows(dy * xhat), dbeta = sum_rows(dy).
template <class T>
void layer_norm_backward(const T* dy, const T* x, const T* gamma, const T* save_mean, const T* save_rstd,
                         T* dx, T* dgamma, T* dbeta, int64_t rows, int64_t d) {
  static_assert(std::is_floating_point_v<T>, "layer_norm: floating-point types only");
  norm_detail::check_layer_norm("layer_norm_backward", rows, d);
  using namespace norm_detail;
  if (d == 0) return;
  // Row r: dx (if wanted) in T as dx = a_j * dy + bc * (x - m) + c2 with
  // a_j = rstd * gamma_j, and, when ag/ab are given, in the same pass
  // ag[j] += dy * xhat, ab[j] += dy (double).
  Scratch<T> ones(gamma ? 0 : d);
  if (!gamma) std::fill(ones.data(), ones.data() + d, T(1));
  const T* gam = gamma ? gamma : ones.data();
  auto row = [&](int64_t r, double* ag, double* ab) {
    const T *xr = x + r * d, *dyr = dy + r * d;
    const double m = double(save_mean[r]), rs = double(save_rstd[r]);
    const T mt = save_mean[r], rt = save_rstd[r];
    T bc = T(0), c2 = T(0);
    if (dx) {
      double s[2];  // sum g, sum g * (x - mean)
      lane_sums<2>(0, d, s, [xr, dyr, gam, m](int64_t j, double* t) {
        const double g = double(dyr[j]) * double(gam[j]);
        t[0] = g;
        t[1] = g * (double(xr[j]) - m);
      });
      bc = T(-rs * rs * rs * s[1] / double(d));
      c2 = T(-rs * s[0] / double(d));
    }
    T* dxr = dx ? dx + r * d : nullptr;
    if (dxr && ag) {
      GM_KERNEL_SIMD
      for (int64_t j = 0; j < d; ++j) {
        dxr[j] = rt * gam[j] * dyr[j] + bc * (xr[j] - mt) + c2;
        const double g = double(dyr[j]);
        ag[j] += g * ((double(xr[j]) - m) * rs);
        ab[j] += g;
      }
    } else if (dxr) {
      GM_KERNEL_SIMD
      for (int64_t j = 0; j < d; ++j) dxr[j] = rt * gam[j] * dyr[j] + bc * (xr[j] - mt) + c2;
    } else {
      GM_KERNEL_SIMD
      for (int64_t j = 0; j < d; ++j) {
        const double g = double(dyr[j]);
        ag[j] += g * ((double(xr[j]) - m) * rs);
        ab[j] += g;
      }
    }
  };
  if (!dgamma && !dbeta) {
    if (dx) parallel_for(0, rows, grain_rows(d), [&](int64_t b, int64_t e) {
        for (int64_t r = b; r < e; ++r) row(r, nullptr, nullptr);
      });
    return;
  }
  Scratch<double> out(2 * d);
  double* o = out.data();  // o[j] = sum dy * xhat, o[d + j] = sum dy
  column_sums<2>(rows, d, o, [&](int64_t i0, int64_t i1, double* acc) {
    for (int64_t r = i0; r < i1; ++r) row(r, acc, acc + d);
  });
  for (int64_t j = 0; j < d; ++j) {
    if (dgamma) dgamma[j] = T(o[j]);
    if (dbeta) dbeta[j] = T(o[d + j]);
  }
}

// ---------------------------------------------------------------- group norm

namespace norm_detail {
inline void check_group_norm(const char* op, int64_t n, int64_t c, int64_t s, int64_t groups) {
  GM_CHECK(n >= 0 && c >= 0 && s >= 0, op, ": sizes must be non-negative, got n=", n, ", c=", c, ", s=", s);
  GM_CHECK(groups > 0, op, ": groups must be positive, got ", groups);
  GM_CHECK(c % groups == 0, op, ": channels (", c, ") must be divisible by groups (", groups, ")");
}
}  // namespace norm_detail

/// Group norm over x (n, c, s): statistics per (n, group) over the group's
/// (c/groups)*s contiguous values, then y = (x - mean) * rstd * gamma[ch] + beta[ch].
/// save_mean/save_rstd are (n, groups).
template <class T>
void group_norm_forward(const T* x, const T* gamma, const T* beta, T* y, T* save_mean, T* save_rstd,
                        int64_t n, int64_t c, int64_t s, int64_t groups, T eps) {
  static_assert(std::is_floating_point_v<T>, "group_norm: floating-point types only");
  norm_detail::check_group_norm("group_norm", n, c, s, groups);
  norm_detail::check_eps("group_norm", double(eps));
  using namespace norm_detail;
  const int64_t cg = c / groups, M = cg * s, nseg = n * groups;
  if (nseg == 0) return;
  if (M == 0) {
    for (int64_t r = 0; r < nseg; ++r) {
      if (save_mean) save_mean[r] = T(0);
      if (save_rstd) save_rstd[r] = T(rstd_of(0.0, double(eps)));
    }
    return;
  }
  // y for segment r (sample r / groups, group r % groups) given its statistics.
  auto apply = [&](int64_t r, T mt, double rs) {
    const int64_t c0 = (r % groups) * cg;
    const T* xs = x + r * M;
    T* ys = y + r * M;
    for (int64_t k = 0; k < cg; ++k) {
      const int64_t ch = c0 + k;
      const T a = gamma ? T(double(gamma[ch]) * rs) : T(rs), b = beta ? beta[ch] : T(0);
      const T* xc = xs + k * s;
      T* yc = ys + k * s;
      GM_KERNEL_SIMD
      for (int64_t q = 0; q < s; ++q) yc[q] = (xc[q] - mt) * a + b;
    }
  };
  if (M <= kPiece) {  // one task per (sample, group): statistics and output while it is in cache
    parallel_for(0, nseg, grain_rows(M), [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) {
        const T* xs = x + r * M;
        double mean, ss;
        lane_sums<1>(0, M, &mean, [xs](int64_t j, double* t) { t[0] = double(xs[j]); });
        mean /= double(M);
        lane_sums<1>(0, M, &ss, [xs, mean](int64_t j, double* t) {
          const double v = double(xs[j]) - mean;
          t[0] = v * v;
        });
        const double rs = rstd_of(ss / double(M), double(eps));
        if (save_mean) save_mean[r] = T(mean);
        if (save_rstd) save_rstd[r] = T(rs);
        apply(r, T(mean), rs);
      }
    });
    return;
  }
  Scratch<double> st(2 * nseg);
  double* mean = st.data();
  double* ss = mean + nseg;
  segment_sums<1>(nseg, M, mean, [x, M](int64_t r) {
    const T* xs = x + r * M;
    return [xs](int64_t j, double* t) { t[0] = double(xs[j]); };
  });
  for (int64_t r = 0; r < nseg; ++r) mean[r] /= double(M);
  segment_sums<1>(nseg, M, ss, [x, M, mean](int64_t r) {
    const T* xs = x + r * M;
    const double m = mean[r];
    return [xs, m](int64_t j, double* t) {
      const double v = double(xs[j]) - m;
      t[0] = v * v;
    };
  });
  Scratch<T> coef(3 * n * c);
  T* m = coef.data();
  T* a = m + n * c;
  T* b = a + n * c;
  for (int64_t r = 0; r < nseg; ++r) {
    const double rs = rstd_of(ss[r] / double(M), double(eps));
    if (save_mean) save_mean[r] = T(mean[r]);
    if (save_rstd) save_rstd[r] = T(rs);
    const int64_t c0 = (r % groups) * cg;
    for (int64_t k = 0; k < cg; ++k) {
      const int64_t ch = c0 + k, row = r * cg + k;  // row = i * c + ch
      m[row] = T(mean[r]);
      a[row] = gamma ? T(double(gamma[ch]) * rs) : T(rs);
      b[row] = beta ? beta[ch] : T(0);
    }
  }
  affine_rows(x, y, m, a, b, n * c, s, n * c);
}

/// Backward of group norm. With M = (c/groups)*s, g = dy * gamma[ch] and
/// xhat = (x - mean) * rstd per (n, group):
/// dx = rstd * (g - mean_M(g) - xhat * mean_M(g * xhat)),
/// dgamma[ch] = sum_{n,s}(dy * xhat), dbeta[ch] = sum_{n,s}(dy).
template <class T>
void group_norm_backward(const T* dy, const T* x, const T* gamma, const T* save_mean, const T* save_rstd,
                         T* dx, T* dgamma, T* dbeta, int64_t n, int64_t c, int64_t s, int64_t groups) {
  static_assert(std::is_floating_point_v<T>, "group_norm: floating-point types only");
  norm_detail::check_group_norm("group_norm_backward", n, c, s, groups);
  using namespace norm_detail;
  const int64_t cg = c / groups, M = cg * s;
  if (c == 0) return;
  if (n == 0 || s == 0) {
    if (dgamma) std::fill(dgamma, dgamma + c, T(0));
    if (dbeta) std::fill(dbeta, dbeta + c, T(0));
    return;
  }
  // Per (n, c) row of s values: sum dy and sum dy * (x - mean).
  Scratch<double> sb(2 * n * c);
  double* sums = sb.data();
  segment_sums<2>(n * c, s, sums, [=](int64_t row) {
    const T *xr = x + row * s, *dyr = dy + row * s;
    const double m = double(save_mean[(row / c) * groups + (row % c) / cg]);
    return [xr, dyr, m](int64_t q, double* t) {
      const double g = double(dyr[q]);
      t[0] = g;
      t[1] = g * (double(xr[q]) - m);
    };
  });
  if (dgamma || dbeta) {
    for (int64_t ch = 0; ch < c; ++ch) {
      double sg = 0, sbt = 0;
      for (int64_t i = 0; i < n; ++i) {
        const int64_t row = i * c + ch;
        sg += sums[2 * row + 1] * double(save_rstd[i * groups + ch / cg]);
        sbt += sums[2 * row];
      }
      if (dgamma) dgamma[ch] = T(sg);
      if (dbeta) dbeta[ch] = T(sbt);
    }
  }
  if (!dx) return;
  Scratch<T> coef(4 * n * c);
  T* m = coef.data();
  T* a = m + n * c;
  T* b = a + n * c;
  T* c2 = b + n * c;
  for (int64_t r = 0; r < n * groups; ++r) {
    const int64_t c0 = (r % groups) * cg, row0 = r * cg;
    const double rs = double(save_rstd[r]);
    double A = 0, B = 0;
    for (int64_t k = 0; k < cg; ++k) {
      const double g = gamma ? double(gamma[c0 + k]) : 1.0;
      A += g * sums[2 * (row0 + k)];
      B += g * sums[2 * (row0 + k) + 1];
    }
    const T bc = T(-rs * rs * rs * B / double(M)), cc = T(-rs * A / double(M));
    for (int64_t k = 0; k < cg; ++k) {
      const int64_t row = row0 + k;
      m[row] = save_mean[r];
      a[row] = gamma ? T(double(gamma[c0 + k]) * rs) : T(rs);
      b[row] = bc;
      c2[row] = cc;
    }
  }
  affine2_rows(dy, x, dx, m, a, b, c2, n * c, s, n * c);
}

}  // namespace genmodel::kernels::cpu
