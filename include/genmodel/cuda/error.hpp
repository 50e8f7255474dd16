// genmodel/cuda/error.hpp: every CUDA runtime, cuBLAS and cuDNN call goes
// through one of these checks, which throw genmodel::Error naming the call,
// its status and the operation that made it:
//   "conv2d: cudnnConvolutionForward failed: CUDNN_STATUS_BAD_PARAM (...)".
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <cudnn.h>

#include "genmodel/core/error.hpp"

namespace genmodel::cuda_backend {

inline void check(cudaError_t status, const char* call, const char* op) {
  if (status == cudaSuccess) [[likely]]
    return;
  cudaGetLastError();  // clear the sticky copy so the next call starts clean
  throw Error(detail::concat(op, ": ", call, " failed: ", cudaGetErrorName(status), " (",
                             cudaGetErrorString(status), ")"));
}

inline void check(cublasStatus_t status, const char* call, const char* op) {
  if (status == CUBLAS_STATUS_SUCCESS) [[likely]]
    return;
  throw Error(detail::concat(op, ": ", call, " failed: ", cublasGetStatusName(status), " (",
                             cublasGetStatusString(status), ")"));
}

inline void check(cudnnStatus_t status, const char* call, const char* op) {
  if (status == CUDNN_STATUS_SUCCESS) [[likely]]
    return;
  throw Error(detail::concat(op, ": ", call, " failed: ", cudnnGetErrorString(status)));
}

}  // namespace genmodel::cuda_backend

/// GM_CUDA_CHECK(cudaMemcpyAsync(...), "to<cuda>") checks a CUDA runtime,
/// cuBLAS or cuDNN status; the call's own text names it in the error.
#define GM_CUDA_CHECK(call, op) ::genmodel::cuda_backend::check((call), #call, (op))
