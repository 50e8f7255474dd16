// genmodel/kernels/cuda/optim.cuh: the fused optimizer updates of
// kernels/cpu/optim.hpp on the device, one thread per element, with the same
// coefficients (SgdCoeffs, AdamCoeffs) and the same order of operations, so
// a step matches the CPU's to the rounding of the element type.
#pragma once

#include <cmath>

#include "genmodel/kernels/cpu/optim.hpp"
#include "genmodel/kernels/cuda/launch.cuh"

namespace genmodel::kernels::cuda {

namespace detail {
template <class T>
__global__ void sgd_kernel(T* p, const T* g, T* buf, int64_t n, cpu::SgdElement<T> update) {
  GM_CUDA_LOOP(i, n) {
    T unused = T(0);
    update(p[i], g[i], update.use_mom ? buf[i] : unused);
  }
}

template <class T>
__global__ void adam_kernel(T* p, const T* g, T* m, T* v, int64_t n, T step_size, T bc2_sqrt,
                            T one_m_b1, T b2, T one_m_b2, T eps, T wd, T shrink, bool l2, bool decay) {
  GM_CUDA_LOOP(i, n) {
    T pi = p[i];
    if (decay) pi *= shrink;
    const T gi = l2 ? g[i] + wd * pi : g[i];
    const T mi = m[i] + (gi - m[i]) * one_m_b1;
    const T vi = v[i] * b2 + (one_m_b2 * gi) * gi;
    m[i] = mi;
    v[i] = vi;
    p[i] = pi - step_size * (mi / (::sqrt(vi) / bc2_sqrt + eps));
  }
}

template <class T>
__global__ void ema_kernel(T* shadow, const T* p, int64_t n, T w) {
  GM_CUDA_LOOP(i, n) shadow[i] += w * (p[i] - shadow[i]);
}
}  // namespace detail

template <class T>
void sgd_step(T* p, const T* g, T* buf, int64_t n, const cpu::SgdCoeffs& c, bool first) {
  if (n == 0) return;
  detail::sgd_kernel<<<grid_for(n), kThreads, 0, cuda_backend::stream()>>>(p, g, buf, n,
                                                                             cpu::SgdElement<T>(c, first));
  check_launch("SGD::step");
}

template <class T>
void adam_step(T* p, const T* g, T* m, T* v, int64_t n, const cpu::AdamCoeffs& c) {
  if (n == 0) return;
  const double bc1 = 1 - std::pow(c.beta1, double(c.step));
  const double bc2 = 1 - std::pow(c.beta2, double(c.step));
  detail::adam_kernel<<<grid_for(n), kThreads, 0, cuda_backend::stream()>>>(
      p, g, m, v, n, T(c.lr / bc1), T(std::sqrt(bc2)), T(1 - c.beta1), T(c.beta2), T(1 - c.beta2),
      T(c.eps), T(c.weight_decay), T(1 - c.lr * c.weight_decay),
      !c.decoupled && c.weight_decay != 0, c.decoupled && c.weight_decay != 0);
  check_launch("Adam::step");
}

template <class T>
void ema_update(T* shadow, const T* p, int64_t n, double decay) {
  if (n == 0) return;
  detail::ema_kernel<<<grid_for(n), kThreads, 0, cuda_backend::stream()>>>(shadow, p, n, T(1 - decay));
  check_launch("EMA::update");
}

}  // namespace genmodel::kernels::cuda
