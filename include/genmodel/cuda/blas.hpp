// genmodel/cuda/blas.hpp: row-major GEMM on the device through cuBLAS, with
// the signature of kernels/cpu/gemm.hpp. cuBLAS is column-major, so
// C = op(A) op(B) in row-major is computed as C^T = op(B)^T op(A)^T: the
// operands swap places and keep their transpose flags. One handle per device
// and stream, created on first use. TF32 tensor-core math is off by default
// (float32 results then match the CPU to float32 rounding) and can be
// switched on with set_allow_tf32(true), like
// torch.backends.cuda.matmul.allow_tf32.
#pragma once

#include <cublas_v2.h>

#include <atomic>
#include <cstdint>
#include <type_traits>

#include "genmodel/cuda/runtime.hpp"

namespace genmodel::cuda_backend {

inline std::atomic<bool>& allow_tf32_flag() {
  static std::atomic<bool> on{false};
  return on;
}
inline void set_allow_tf32(bool on) { allow_tf32_flag() = on; }
inline bool allow_tf32() { return allow_tf32_flag(); }

/// The cuBLAS handle of the current device and stream, with the math mode
/// that the TF32 switch asks for.
inline cublasHandle_t blas_handle() {
  const cublasHandle_t h = stream_handle<cublasHandle_t>(cublasCreate, cublasSetStream, "cuBLAS");
  GM_CUDA_CHECK(cublasSetMathMode(h, allow_tf32() ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH),
                "cuBLAS");
  return h;
}

inline cublasOperation_t blas_op(bool trans) { return trans ? CUBLAS_OP_T : CUBLAS_OP_N; }

}  // namespace genmodel::cuda_backend

namespace genmodel::kernels::cuda {

/// C (m x n, leading dim ldc) = alpha * op(A) * op(B) + beta * C, row-major,
/// all pointers on the current device.
template <class T>
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a,
          int64_t lda, const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  using namespace cuda_backend;
  if (m == 0 || n == 0) return;
  const auto tb = blas_op(trans_b), ta = blas_op(trans_a);
  if constexpr (std::is_same_v<T, float>)
    GM_CUDA_CHECK(cublasSgemm(blas_handle(), tb, ta, int(n), int(m), int(k), &alpha, b, int(ldb), a,
                              int(lda), &beta, c, int(ldc)),
                  "matmul");
  else
    GM_CUDA_CHECK(cublasDgemm(blas_handle(), tb, ta, int(n), int(m), int(k), &alpha, b, int(ldb), a,
                              int(lda), &beta, c, int(ldc)),
                  "matmul");
}

/// `batch` GEMMs on densely packed operands (A_i = a + i * stride_a, ...);
/// a stride of 0 reuses one operand for every entry.
template <class T>
void gemm_batched(bool trans_a, bool trans_b, int64_t batch, int64_t m, int64_t n, int64_t k,
                  T alpha, const T* a, int64_t stride_a, const T* b, int64_t stride_b, T beta,
                  T* c, int64_t stride_c) {
  using namespace cuda_backend;
  if (batch == 0 || m == 0 || n == 0) return;
  const int64_t lda = trans_a ? m : k, ldb = trans_b ? k : n;
  const auto tb = blas_op(trans_b), ta = blas_op(trans_a);
  if constexpr (std::is_same_v<T, float>)
    GM_CUDA_CHECK(cublasSgemmStridedBatched(blas_handle(), tb, ta, int(n), int(m), int(k), &alpha, b,
                                            int(ldb), stride_b, a, int(lda), stride_a, &beta, c,
                                            int(n), stride_c, int(batch)),
                  "bmm");
  else
    GM_CUDA_CHECK(cublasDgemmStridedBatched(blas_handle(), tb, ta, int(n), int(m), int(k), &alpha, b,
                                            int(ldb), stride_b, a, int(lda), stride_a, &beta, c,
                                            int(n), stride_c, int(batch)),
                  "bmm");
}

}  // namespace genmodel::kernels::cuda
