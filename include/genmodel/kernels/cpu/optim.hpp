// genmodel/kernels/cpu/optim.hpp: fused optimizer updates over contiguous
// buffers, one pass over a parameter each (SGD with momentum / Nesterov,
// Adam / AdamW, the EMA of weights). The arithmetic follows PyTorch's
// single-tensor implementations operation by operation, so results match
// torch.optim up to the rounding of the element type. Callers validate the
// shapes first: nothing here throws.
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "genmodel/core/device.hpp"
#include "genmodel/core/parallel.hpp"

namespace genmodel::kernels::cpu {

inline constexpr int64_t kOptimGrain = 16384;

struct SgdCoeffs {
  double lr, momentum, dampening, weight_decay;
  bool nesterov;
};

/// SgdCoeffs in the element type, with the branches decided once.
template <class T>
struct SgdElement {
  T lr, mom, wd, keep;
  bool use_wd, use_mom, nesterov, first;

  SgdElement(const SgdCoeffs& c, bool first_step)
      : lr(T(c.lr)), mom(T(c.momentum)), wd(T(c.weight_decay)), keep(T(1 - c.dampening)),
        use_wd(c.weight_decay != 0), use_mom(c.momentum != 0), nesterov(c.nesterov), first(first_step) {}

  /// The update of one element; the CUDA kernel runs the same code.
  GENMODEL_HOST_DEVICE void operator()(T& p, T g, T& buf) const {
    T d = use_wd ? g + wd * p : g;
    if (use_mom) {
      const T b = first ? d : buf * mom + keep * d;
      buf = b;
      d = nesterov ? d + mom * b : b;
    }
    p = p - lr * d;
  }
};

/// One SGD step of p (n elements) with gradient g. `buf` is the momentum
/// buffer (unused when momentum is 0); `first` means it is uninitialised and
/// starts as the (weight-decayed) gradient, as in torch.optim.SGD.
template <class T>
void sgd_step(T* p, const T* g, T* buf, int64_t n, const SgdCoeffs& c, bool first) {
  const SgdElement<T> update(c, first);
  parallel_for(0, n, kOptimGrain, [&](int64_t i0, int64_t i1) {
    if (update.use_mom) {
      for (int64_t i = i0; i < i1; ++i) update(p[i], g[i], buf[i]);
    } else {  // buf may be null without momentum
      T unused = T(0);
      for (int64_t i = i0; i < i1; ++i) update(p[i], g[i], unused);
    }
  });
}

struct AdamCoeffs {
  double lr, beta1, beta2, eps, weight_decay;
  bool decoupled;  // AdamW: p *= 1 - lr * wd before the update; Adam: g += wd * p
  int64_t step;    // 1 on the first update
};

/// One Adam / AdamW step of p with gradient g and moments m (exp_avg) and
/// v (exp_avg_sq), with PyTorch's bias correction.
template <class T>
void adam_step(T* p, const T* g, T* m, T* v, int64_t n, const AdamCoeffs& c) {
  const double bc1 = 1 - std::pow(c.beta1, double(c.step));
  const double bc2 = 1 - std::pow(c.beta2, double(c.step));
  const T step_size = T(c.lr / bc1), bc2_sqrt = T(std::sqrt(bc2));
  const T one_m_b1 = T(1 - c.beta1), b2 = T(c.beta2), one_m_b2 = T(1 - c.beta2), eps = T(c.eps);
  const T wd = T(c.weight_decay), shrink = T(1 - c.lr * c.weight_decay);
  const bool l2 = !c.decoupled && c.weight_decay != 0, decay = c.decoupled && c.weight_decay != 0;
  // Eigen arrays, not a scalar loop: std::sqrt must set errno for a
  // negative input, which keeps GCC from vectorising a loop that calls it,
  // and the scalar square root and division made Adam 17% of an MLP-GAN step.
  // Blocks of 1024 keep the three passes over each block in L1.
  using Arr = Eigen::Array<T, Eigen::Dynamic, 1>;
  parallel_for(0, n, kOptimGrain, [&](int64_t i0, int64_t i1) {
    for (int64_t b0 = i0; b0 < i1; b0 += 1024) {
      const int64_t k = std::min<int64_t>(1024, i1 - b0);
      Eigen::Map<Arr> pa(p + b0, k), ma(m + b0, k), va(v + b0, k);
      const Eigen::Map<const Arr> ga(g + b0, k);
      if (decay) pa *= shrink;
      const auto update = [&](const auto& gi) {
        ma += (gi - ma) * one_m_b1;           // exp_avg.lerp_(grad, 1 - beta1)
        va = va * b2 + (one_m_b2 * gi) * gi;  // exp_avg_sq * beta2 + (1 - beta2) grad^2
        pa -= step_size * (ma / (va.sqrt() / bc2_sqrt + eps));
      };
      if (l2)
        update(ga + wd * pa);
      else
        update(ga);
    }
  });
}

/// shadow += (1 - decay) * (p - shadow), the EMA of weights.
template <class T>
void ema_update(T* shadow, const T* p, int64_t n, double decay) {
  const T w = T(1 - decay);
  parallel_for(0, n, kOptimGrain, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) shadow[i] += w * (p[i] - shadow[i]);
  });
}

}  // namespace genmodel::kernels::cpu
