// genmodel/kernels/cuda/backend.cuh: Backend<cuda>, the CUDA kernels behind
// the op templates (kernels/backend.hpp): every name Backend<cpu> has, with
// the same parameters, on device pointers and the device's stream. cuBLAS
// for GEMM, cuDNN for convolution, genmodel's kernels for the rest.
#pragma once

#include "genmodel/cuda/blas.hpp"
#include "genmodel/cuda/dnn.hpp"
#include "genmodel/kernels/backend.hpp"
#include "genmodel/kernels/cuda/broadcast_ops.cuh"
#include "genmodel/kernels/cuda/dropout.cuh"
#include "genmodel/kernels/cuda/elementwise.cuh"
#include "genmodel/kernels/cuda/embedding.cuh"
#include "genmodel/kernels/cuda/index.cuh"
#include "genmodel/kernels/cuda/norm.cuh"
#include "genmodel/kernels/cuda/optim.cuh"
#include "genmodel/kernels/cuda/pool.cuh"
#include "genmodel/kernels/cuda/reduce.cuh"
#include "genmodel/kernels/cuda/softmax.cuh"
#include "genmodel/kernels/cuda/upsample.cuh"

namespace genmodel::kernels {

template <>
struct Backend<::genmodel::cuda> {
  GENMODEL_BACKEND_KERNELS(::genmodel::kernels::cuda)
};

}  // namespace genmodel::kernels
