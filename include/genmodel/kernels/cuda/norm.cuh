// genmodel/kernels/cuda/norm.cuh: batch, layer and group normalisation,
// forward and backward, the device side of kernels/cpu/norm.hpp (same names,
// parameters, layouts, checks and semantics; pointers are device pointers).
// Each statistic (per channel, row or (sample, group)) is reduced by one
// block: every thread sums a fixed stride of the values in double, then a
// shared-memory tree combines the threads, so the order depends on the shape
// only and results repeat run to run (no float atomics). The block then
// applies the normalisation to its own values. The dgamma/dbeta column sums
// of layer norm are cut into at most kMaxChunks fixed row chunks, summed per
// column and combined in chunk order. Rounding differs from the CPU's lanes,
// so results agree to the element type's rounding, not bitwise.
#pragma once

#include <cmath>
#include <cstdint>
#include <type_traits>

#include "genmodel/cuda/allocator.hpp"
#include "genmodel/kernels/cpu/norm.hpp"
#include "genmodel/kernels/cuda/launch.cuh"

namespace genmodel::kernels::cuda {

namespace norm_detail {

constexpr int64_t kMaxChunks = 64;  // row chunks of the layer-norm dgamma/dbeta sums

/// Blocks for nseg segments, one per segment; kernels loop by gridDim.x past the cap.
inline unsigned segment_grid(int64_t nseg) {
  return unsigned(std::clamp<int64_t>(nseg, 1, int64_t(1) << 20));
}

/// v[k] summed over the block's kThreads threads in a fixed tree order; every
/// thread gets the totals. Ends on a barrier so the next call can reuse part.
template <int K>
__device__ void block_sum(double (&v)[K]) {
  __shared__ double part[K][kThreads];
  const int t = threadIdx.x;
  for (int k = 0; k < K; ++k) part[k][t] = v[k];
  __syncthreads();
  for (int half = kThreads / 2; half > 0; half /= 2) {
    if (t < half)
      for (int k = 0; k < K; ++k) part[k][t] += part[k][t + half];
    __syncthreads();
  }
  for (int k = 0; k < K; ++k) v[k] = part[k][0];
  __syncthreads();
}

/// Two-pass mean and biased variance of the block's len values at(j), in
/// double; 0 and 0 for an empty segment, as on the CPU.
template <class At>
__device__ void block_stats(int64_t len, At at, double& mean, double& var) {
  double s[1] = {0.0};
  for (int64_t j = threadIdx.x; j < len; j += kThreads) s[0] += double(at(j));
  block_sum(s);
  mean = len > 0 ? s[0] / double(len) : 0.0;
  double ss[1] = {0.0};
  for (int64_t j = threadIdx.x; j < len; j += kThreads) {
    const double v = double(at(j)) - mean;
    ss[0] += v * v;
  }
  block_sum(ss);
  var = len > 0 ? ss[0] / double(len) : 0.0;
}

__device__ inline double rstd_of(double var, double eps) { return 1.0 / sqrt(var + eps); }

/// Flat index of element k (of n*s) of channel ch in x (n, c, s).
__device__ inline int64_t bn_index(int64_t k, int64_t ch, int64_t c, int64_t s) {
  return ((k / s) * c + ch) * s + k % s;
}

template <class T>
__global__ void bn_train_kernel(const T* x, const T* gamma, const T* beta, T* y, T* save_mean, T* save_rstd,
                                int64_t n, int64_t c, int64_t s, double eps, T* running_mean, T* running_var,
                                double mom) {
  const int64_t N = n * s;
  for (int64_t ch = blockIdx.x; ch < c; ch += gridDim.x) {
    double mean, var;
    block_stats(N, [=](int64_t k) { return x[bn_index(k, ch, c, s)]; }, mean, var);
    const double r = rstd_of(var, eps);
    if (threadIdx.x == 0) {
      if (save_mean) save_mean[ch] = T(mean);
      if (save_rstd) save_rstd[ch] = T(r);
      if (N > 0) {  // running_var takes the unbiased variance
        if (running_mean) running_mean[ch] = T((1.0 - mom) * double(running_mean[ch]) + mom * mean);
        if (running_var)
          running_var[ch] = T((1.0 - mom) * double(running_var[ch]) + mom * var * double(N) / double(N - 1));
      }
    }
    const T m = T(mean), a = gamma ? T(double(gamma[ch]) * r) : T(r), b = beta ? beta[ch] : T(0);
    for (int64_t k = threadIdx.x; k < N; k += kThreads) {
      const int64_t f = bn_index(k, ch, c, s);
      y[f] = (x[f] - m) * a + b;
    }
  }
}

// Elementwise: the per-channel coefficients are recomputed per element (as
// the CPU computes them, in double), which keeps the accesses coalesced.
template <class T>
__global__ void bn_eval_kernel(const T* x, const T* gamma, const T* beta, T* y, int64_t total, int64_t c,
                               int64_t s, double eps, const T* running_mean, const T* running_var) {
  GM_CUDA_LOOP(f, total) {
    const int64_t ch = (f / s) % c;
    const double r = rstd_of(double(running_var[ch]), eps);
    const T a = gamma ? T(double(gamma[ch]) * r) : T(r), b = beta ? beta[ch] : T(0);
    y[f] = (x[f] - running_mean[ch]) * a + b;
  }
}

template <class T>
__global__ void bn_backward_kernel(const T* dy, const T* x, const T* gamma, const T* save_mean,
                                   const T* save_rstd, T* dx, T* dgamma, T* dbeta, int64_t n, int64_t c,
                                   int64_t s) {
  const int64_t N = n * s;
  for (int64_t ch = blockIdx.x; ch < c; ch += gridDim.x) {
    const double mu = double(save_mean[ch]);
    double t[2] = {0.0, 0.0};  // sum dy, sum dy * (x - mean)
    for (int64_t k = threadIdx.x; k < N; k += kThreads) {
      const int64_t f = bn_index(k, ch, c, s);
      const double g = double(dy[f]);
      t[0] += g;
      t[1] += g * (double(x[f]) - mu);
    }
    block_sum(t);
    if (threadIdx.x == 0) {
      if (dbeta) dbeta[ch] = T(t[0]);
      if (dgamma) dgamma[ch] = T(t[1] * double(save_rstd[ch]));
    }
    if (!dx || N == 0) continue;
    const double r = double(save_rstd[ch]), g = gamma ? double(gamma[ch]) : 1.0;
    const T m = save_mean[ch], a = T(g * r), b = T(-g * r * r * r * t[1] / double(N)),
            c2 = T(-g * r * t[0] / double(N));
    for (int64_t k = threadIdx.x; k < N; k += kThreads) {
      const int64_t f = bn_index(k, ch, c, s);
      dx[f] = a * dy[f] + b * (x[f] - m) + c2;
    }
  }
}

template <class T>
__global__ void ln_forward_kernel(const T* x, const T* gamma, const T* beta, T* y, T* save_mean, T* save_rstd,
                                  int64_t rows, int64_t d, double eps) {
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const T* xr = x + r * d;
    T* yr = y + r * d;
    double mean, var;
    block_stats(d, [=](int64_t j) { return xr[j]; }, mean, var);
    const double rs = rstd_of(var, eps);
    if (threadIdx.x == 0) {
      if (save_mean) save_mean[r] = T(mean);
      if (save_rstd) save_rstd[r] = T(rs);
    }
    const T m = T(mean), rt = T(rs);
    for (int64_t j = threadIdx.x; j < d; j += kThreads) {
      T v = (xr[j] - m) * rt;
      if (gamma) v = v * gamma[j];
      if (beta) v = v + beta[j];
      yr[j] = v;
    }
  }
}

template <class T>
__global__ void ln_backward_dx_kernel(const T* dy, const T* x, const T* gamma, const T* save_mean,
                                      const T* save_rstd, T* dx, int64_t rows, int64_t d) {
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const T *xr = x + r * d, *dyr = dy + r * d;
    T* dxr = dx + r * d;
    const double m = double(save_mean[r]), rs = double(save_rstd[r]);
    const T mt = save_mean[r], rt = save_rstd[r];
    double t[2] = {0.0, 0.0};  // sum g, sum g * (x - mean), g = dy * gamma
    for (int64_t j = threadIdx.x; j < d; j += kThreads) {
      const double g = double(dyr[j]) * (gamma ? double(gamma[j]) : 1.0);
      t[0] += g;
      t[1] += g * (double(xr[j]) - m);
    }
    block_sum(t);
    const T bc = T(-rs * rs * rs * t[1] / double(d)), c2 = T(-rs * t[0] / double(d));
    for (int64_t j = threadIdx.x; j < d; j += kThreads)
      dxr[j] = rt * (gamma ? gamma[j] : T(1)) * dyr[j] + bc * (xr[j] - mt) + c2;
  }
}

// Chunk blockIdx.y of `chunk` rows: part[q][0][j] = sum dy * xhat, part[q][1][j] = sum dy.
template <class T>
__global__ void ln_param_partial_kernel(const T* dy, const T* x, const T* save_mean, const T* save_rstd,
                                        double* part, int64_t rows, int64_t d, int64_t chunk) {
  const int64_t r0 = int64_t(blockIdx.y) * chunk, r1 = r0 + chunk < rows ? r0 + chunk : rows;
  double* p = part + int64_t(blockIdx.y) * 2 * d;
  GM_CUDA_LOOP(j, d) {
    double ag = 0.0, ab = 0.0;
    for (int64_t r = r0; r < r1; ++r) {
      const double g = double(dy[r * d + j]);
      ag += g * ((double(x[r * d + j]) - double(save_mean[r])) * double(save_rstd[r]));
      ab += g;
    }
    p[j] = ag;
    p[d + j] = ab;
  }
}

template <class T>
__global__ void ln_param_finish_kernel(const double* part, T* dgamma, T* dbeta, int64_t d, int64_t nch) {
  GM_CUDA_LOOP(j, d) {
    double ag = 0.0, ab = 0.0;
    for (int64_t q = 0; q < nch; ++q) {
      ag += part[q * 2 * d + j];
      ab += part[q * 2 * d + d + j];
    }
    if (dgamma) dgamma[j] = T(ag);
    if (dbeta) dbeta[j] = T(ab);
  }
}

template <class T>
__global__ void gn_forward_kernel(const T* x, const T* gamma, const T* beta, T* y, T* save_mean, T* save_rstd,
                                  int64_t nseg, int64_t groups, int64_t cg, int64_t s, double eps) {
  const int64_t M = cg * s;
  for (int64_t r = blockIdx.x; r < nseg; r += gridDim.x) {
    const T* xs = x + r * M;
    T* ys = y + r * M;
    double mean, var;
    block_stats(M, [=](int64_t j) { return xs[j]; }, mean, var);
    const double rs = rstd_of(var, eps);
    if (threadIdx.x == 0) {
      if (save_mean) save_mean[r] = T(mean);
      if (save_rstd) save_rstd[r] = T(rs);
    }
    const T m = T(mean);
    const int64_t c0 = (r % groups) * cg;
    for (int64_t j = threadIdx.x; j < M; j += kThreads) {  // M > 0 here, so s > 0
      const int64_t ch = c0 + j / s;
      const T a = gamma ? T(double(gamma[ch]) * rs) : T(rs), b = beta ? beta[ch] : T(0);
      ys[j] = (xs[j] - m) * a + b;
    }
  }
}

// Per (n, c) row of s values: sums[2 row] = sum dy, sums[2 row + 1] = sum dy * (x - mean).
template <class T>
__global__ void gn_row_sums_kernel(const T* dy, const T* x, const T* save_mean, double* sums, int64_t nc,
                                   int64_t c, int64_t s, int64_t groups, int64_t cg) {
  for (int64_t row = blockIdx.x; row < nc; row += gridDim.x) {
    const T *xr = x + row * s, *dyr = dy + row * s;
    const double m = double(save_mean[(row / c) * groups + (row % c) / cg]);
    double t[2] = {0.0, 0.0};
    for (int64_t q = threadIdx.x; q < s; q += kThreads) {
      const double g = double(dyr[q]);
      t[0] += g;
      t[1] += g * (double(xr[q]) - m);
    }
    block_sum(t);
    if (threadIdx.x == 0) {
      sums[2 * row] = t[0];
      sums[2 * row + 1] = t[1];
    }
  }
}

template <class T>
__global__ void gn_param_kernel(const double* sums, const T* save_rstd, T* dgamma, T* dbeta, int64_t n,
                                int64_t c, int64_t groups, int64_t cg) {
  GM_CUDA_LOOP(ch, c) {
    double sg = 0.0, sb = 0.0;
    for (int64_t i = 0; i < n; ++i) {
      const int64_t row = i * c + ch;
      sg += sums[2 * row + 1] * double(save_rstd[i * groups + ch / cg]);
      sb += sums[2 * row];
    }
    if (dgamma) dgamma[ch] = T(sg);
    if (dbeta) dbeta[ch] = T(sb);
  }
}

template <class T>
__global__ void gn_backward_dx_kernel(const T* dy, const T* x, const T* gamma, const T* save_mean,
                                      const T* save_rstd, const double* sums, T* dx, int64_t nseg,
                                      int64_t groups, int64_t cg, int64_t s) {
  const int64_t M = cg * s;
  for (int64_t r = blockIdx.x; r < nseg; r += gridDim.x) {
    const int64_t c0 = (r % groups) * cg, row0 = r * cg;
    const double rs = double(save_rstd[r]);
    double t[2] = {0.0, 0.0};  // the group's sum g and sum g * (x - mean), g = dy * gamma
    for (int64_t k = threadIdx.x; k < cg; k += kThreads) {
      const double g = gamma ? double(gamma[c0 + k]) : 1.0;
      t[0] += g * sums[2 * (row0 + k)];
      t[1] += g * sums[2 * (row0 + k) + 1];
    }
    block_sum(t);
    const T bc = T(-rs * rs * rs * t[1] / double(M)), cc = T(-rs * t[0] / double(M)), m = save_mean[r];
    const T *xs = x + r * M, *dys = dy + r * M;
    T* dxs = dx + r * M;
    for (int64_t j = threadIdx.x; j < M; j += kThreads) {
      const int64_t ch = c0 + j / s;
      const T a = gamma ? T(double(gamma[ch]) * rs) : T(rs);
      dxs[j] = a * dys[j] + bc * (xs[j] - m) + cc;
    }
  }
}

}  // namespace norm_detail

// ---------------------------------------------------------------- batch norm

/// cpu::batch_norm_forward_train on the device: biased batch variance in
/// save_rstd, unbiased in running_var, r = (1 - momentum) r + momentum stat.
template <class T>
void batch_norm_forward_train(const T* x, const T* gamma, const T* beta, T* y, T* save_mean, T* save_rstd,
                              int64_t n, int64_t c, int64_t s, T eps, T* running_mean, T* running_var,
                              T momentum) {
  static_assert(std::is_floating_point_v<T>, "batch_norm: floating-point types only");
  cpu::norm_detail::check_batch_norm_train(n, c, s, double(eps));
  if (c == 0) return;
  norm_detail::bn_train_kernel<<<norm_detail::segment_grid(c), kThreads, 0, cuda_backend::stream()>>>(
      x, gamma, beta, y, save_mean, save_rstd, n, c, s, double(eps), running_mean, running_var,
      double(momentum));
  check_launch("batch_norm");
}

/// cpu::batch_norm_forward_eval on the device.
template <class T>
void batch_norm_forward_eval(const T* x, const T* gamma, const T* beta, T* y, int64_t n, int64_t c, int64_t s,
                             T eps, const T* running_mean, const T* running_var) {
  static_assert(std::is_floating_point_v<T>, "batch_norm: floating-point types only");
  cpu::norm_detail::check_batch_norm("batch_norm", n, c, s);
  GM_CHECK(running_mean && running_var, "batch_norm: eval mode needs running_mean and running_var");
  const int64_t total = n * c * s;
  if (total == 0) return;
  norm_detail::bn_eval_kernel<<<grid_for(total), kThreads, 0, cuda_backend::stream()>>>(
      x, gamma, beta, y, total, c, s, double(eps), running_mean, running_var);
  check_launch("batch_norm");
}

/// cpu::batch_norm_backward on the device; dgamma/dbeta are overwritten.
template <class T>
void batch_norm_backward(const T* dy, const T* x, const T* gamma, const T* save_mean, const T* save_rstd,
                         T* dx, T* dgamma, T* dbeta, int64_t n, int64_t c, int64_t s) {
  static_assert(std::is_floating_point_v<T>, "batch_norm: floating-point types only");
  cpu::norm_detail::check_batch_norm("batch_norm_backward", n, c, s);
  if (c == 0) return;
  norm_detail::bn_backward_kernel<<<norm_detail::segment_grid(c), kThreads, 0, cuda_backend::stream()>>>(
      dy, x, gamma, save_mean, save_rstd, dx, dgamma, dbeta, n, c, s);
  check_launch("batch_norm_backward");
}

// ---------------------------------------------------------------- layer norm

/// cpu::layer_norm_forward on the device.
template <class T>
void layer_norm_forward(const T* x, const T* gamma, const T* beta, T* y, T* save_mean, T* save_rstd,
                        int64_t rows, int64_t d, T eps) {
  static_assert(std::is_floating_point_v<T>, "layer_norm: floating-point types only");
  cpu::norm_detail::check_layer_norm("layer_norm", rows, d);
  cpu::norm_detail::check_eps("layer_norm", double(eps));
  if (rows == 0) return;
  norm_detail::ln_forward_kernel<<<norm_detail::segment_grid(rows), kThreads, 0, cuda_backend::stream()>>>(
      x, gamma, beta, y, save_mean, save_rstd, rows, d, double(eps));
  check_launch("layer_norm");
}

/// cpu::layer_norm_backward on the device; dgamma/dbeta are overwritten
/// (zero for rows == 0).
template <class T>
void layer_norm_backward(const T* dy, const T* x, const T* gamma, const T* save_mean, const T* save_rstd,
                         T* dx, T* dgamma, T* dbeta, int64_t rows, int64_t d) {
  static_assert(std::is_floating_point_v<T>, "layer_norm: floating-point types only");
  cpu::norm_detail::check_layer_norm("layer_norm_backward", rows, d);
  if (d == 0) return;
  const cudaStream_t st = cuda_backend::stream();
  if (dx && rows > 0) {
    norm_detail::ln_backward_dx_kernel<<<norm_detail::segment_grid(rows), kThreads, 0, st>>>(
        dy, x, gamma, save_mean, save_rstd, dx, rows, d);
    check_launch("layer_norm_backward");
  }
  if (!dgamma && !dbeta) return;
  const int64_t chunk = std::max<int64_t>(1, (rows + norm_detail::kMaxChunks - 1) / norm_detail::kMaxChunks);
  const int64_t nch = std::max<int64_t>(1, (rows + chunk - 1) / chunk);  // one empty chunk when rows == 0
  const auto part = cuda_backend::device_buffer<double>(nch * 2 * d);
  norm_detail::ln_param_partial_kernel<<<dim3(grid_for(d), unsigned(nch)), kThreads, 0, st>>>(
      dy, x, save_mean, save_rstd, part.get(), rows, d, chunk);
  check_launch("layer_norm_backward");
  norm_detail::ln_param_finish_kernel<<<grid_for(d), kThreads, 0, st>>>(part.get(), dgamma, dbeta, d, nch);
  check_launch("layer_norm_backward");
}

// ---------------------------------------------------------------- group norm

/// cpu::group_norm_forward on the device; save_mean/save_rstd are (n, groups).
template <class T>
void group_norm_forward(const T* x, const T* gamma, const T* beta, T* y, T* save_mean, T* save_rstd,
                        int64_t n, int64_t c, int64_t s, int64_t groups, T eps) {
  static_assert(std::is_floating_point_v<T>, "group_norm: floating-point types only");
  cpu::norm_detail::check_group_norm("group_norm", n, c, s, groups);
  cpu::norm_detail::check_eps("group_norm", double(eps));
  const int64_t nseg = n * groups;
  if (nseg == 0) return;
  norm_detail::gn_forward_kernel<<<norm_detail::segment_grid(nseg), kThreads, 0, cuda_backend::stream()>>>(
      x, gamma, beta, y, save_mean, save_rstd, nseg, groups, c / groups, s, double(eps));
  check_launch("group_norm");
}

/// cpu::group_norm_backward on the device; dgamma/dbeta are overwritten.
template <class T>
void group_norm_backward(const T* dy, const T* x, const T* gamma, const T* save_mean, const T* save_rstd,
                         T* dx, T* dgamma, T* dbeta, int64_t n, int64_t c, int64_t s, int64_t groups) {
  static_assert(std::is_floating_point_v<T>, "group_norm: floating-point types only");
  cpu::norm_detail::check_group_norm("group_norm_backward", n, c, s, groups);
  if (c == 0) return;
  const cudaStream_t st = cuda_backend::stream();
  if (n == 0 || s == 0) {
    if (dgamma)
      GM_CUDA_CHECK(cudaMemsetAsync(dgamma, 0, sizeof(T) * std::size_t(c), st), "group_norm_backward");
    if (dbeta)
      GM_CUDA_CHECK(cudaMemsetAsync(dbeta, 0, sizeof(T) * std::size_t(c), st), "group_norm_backward");
    return;
  }
  if (!dx && !dgamma && !dbeta) return;
  const int64_t cg = c / groups, nc = n * c;
  const auto sums = cuda_backend::device_buffer<double>(2 * nc);
  norm_detail::gn_row_sums_kernel<<<norm_detail::segment_grid(nc), kThreads, 0, st>>>(
      dy, x, save_mean, sums.get(), nc, c, s, groups, cg);
  check_launch("group_norm_backward");
  if (dgamma || dbeta) {
    norm_detail::gn_param_kernel<<<grid_for(c), kThreads, 0, st>>>(sums.get(), save_rstd, dgamma, dbeta, n, c,
                                                                   groups, cg);
    check_launch("group_norm_backward");
  }
  if (dx) {
    norm_detail::gn_backward_dx_kernel<<<norm_detail::segment_grid(n * groups), kThreads, 0, st>>>(
        dy, x, gamma, save_mean, save_rstd, sums.get(), dx, n * groups, groups, cg, s);
    check_launch("group_norm_backward");
  }
}

}  // namespace genmodel::kernels::cuda
