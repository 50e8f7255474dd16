// genmodel/kernels/cpu/gemm.hpp: row-major GEMM,
// C = alpha * op(A) * op(B) + beta * C, with all four transpose cases and a
// batched form. Large products go to OpenBLAS when the build found it
// (GENMODEL_WITH_CBLAS: about 1.5x Eigen's own product on this project's
// machines, see benchmarks/RESULTS.md), otherwise to Eigen maps. Small batched
// products are spread over the batch, one single-threaded Eigen product each.
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <cstdint>
#include <type_traits>

#ifdef GENMODEL_WITH_CBLAS
#include <cblas.h>
#endif

#include "genmodel/core/parallel.hpp"

namespace genmodel::kernels::cpu {

namespace detail {
template <class T>
using RowMat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <class T>
using ConstMap = Eigen::Map<const RowMat<T>, Eigen::Unaligned, Eigen::OuterStride<>>;
template <class T>
using MutMap = Eigen::Map<RowMat<T>, Eigen::Unaligned, Eigen::OuterStride<>>;

template <class T, class OA, class OB>
void assign_product(MutMap<T>& c, const OA& a, const OB& b, T alpha, T beta) {
  if (beta == T(0)) {
    if (alpha == T(1)) c.noalias() = a * b;
    else c.noalias() = alpha * (a * b);
  } else {
    if (beta != T(1)) c *= beta;
    c.noalias() += alpha * (a * b);
  }
}
}  // namespace detail

/// Eigen's product on one call: single-threaded inside a parallel region.
template <class T>
void gemm_eigen(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a,
          int64_t lda, const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  using detail::ConstMap;
  detail::MutMap<T> cm(c, m, n, Eigen::OuterStride<>(ldc));
  if (k == 0) {
    if (beta == T(0)) cm.setZero();
    else cm *= beta;
    return;
  }
  ConstMap<T> am(a, trans_a ? k : m, trans_a ? m : k, Eigen::OuterStride<>(lda));
  ConstMap<T> bm(b, trans_b ? n : k, trans_b ? k : n, Eigen::OuterStride<>(ldb));
  if (!trans_a && !trans_b) detail::assign_product(cm, am, bm, alpha, beta);
  else if (!trans_a && trans_b) detail::assign_product(cm, am, bm.transpose(), alpha, beta);
  else if (trans_a && !trans_b) detail::assign_product(cm, am.transpose(), bm, alpha, beta);
  else detail::assign_product(cm, am.transpose(), bm.transpose(), alpha, beta);
}

/// C (m x n, leading dim ldc) = alpha * op(A) * op(B) + beta * C, where op(A)
/// is m x k (A stored k x m when trans_a) and op(B) is k x n. Uses the
/// configured thread count.
template <class T>
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a,
          int64_t lda, const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
#ifdef GENMODEL_WITH_CBLAS
  if (m * n * k >= (int64_t(1) << 15) && k > 0) {
    // OpenBLAS's second thread costs more than it saves below ~4M multiply-adds.
    openblas_set_num_threads(m * n * k < (int64_t(1) << 22) ? 1 : num_threads());
    const auto ta = trans_a ? CblasTrans : CblasNoTrans, tb = trans_b ? CblasTrans : CblasNoTrans;
    if constexpr (std::is_same_v<T, float>)
      cblas_sgemm(CblasRowMajor, ta, tb, int(m), int(n), int(k), alpha, a, int(lda), b, int(ldb),
                  beta, c, int(ldc));
    else
      cblas_dgemm(CblasRowMajor, ta, tb, int(m), int(n), int(k), alpha, a, int(lda), b, int(ldb),
                  beta, c, int(ldc));
    return;
  }
#endif
  Eigen::setNbThreads(num_threads());
  gemm_eigen(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

/// `batch` independent GEMMs on densely packed operands: A_i = a + i*stride_a,
/// and so on. A stride of 0 reuses one operand for every batch entry.
template <class T>
void gemm_batched(bool trans_a, bool trans_b, int64_t batch, int64_t m, int64_t n, int64_t k,
                  T alpha, const T* a, int64_t stride_a, const T* b, int64_t stride_b, T beta,
                  T* c, int64_t stride_c) {
  const int64_t lda = trans_a ? m : k, ldb = trans_b ? k : n;
  auto run = [&](int64_t i) {
    gemm(trans_a, trans_b, m, n, k, alpha, a + i * stride_a, lda, b + i * stride_b, ldb, beta,
         c + i * stride_c, n);
  };
  // Small products do not scale inside Eigen; give each thread whole entries.
  if (batch > 1 && m * n * k < (int64_t(1) << 21)) {
    // Each product on one thread, also when parallel_for runs inline: Eigen
    // would otherwise open its own OpenMP team (omp_get_max_threads(), not
    // genmodel's count) for every small product; on a busy machine that made
    // the U-Net's attention half of a one-thread DDPM step.
    Eigen::setNbThreads(1);
    // At least ~64k multiply-adds per thread, or waking the pool costs more.
    parallel_for(0, batch, std::max<int64_t>(1, (int64_t(1) << 16) / std::max<int64_t>(1, m * n * k)),
                 [&](int64_t b0, int64_t b1) {
      for (int64_t i = b0; i < b1; ++i)
        gemm_eigen(trans_a, trans_b, m, n, k, alpha, a + i * stride_a, lda, b + i * stride_b, ldb,
                   beta, c + i * stride_c, n);
    });
  } else {
    for (int64_t i = 0; i < batch; ++i) run(i);
  }
}

}  // namespace genmodel::kernels::cpu
