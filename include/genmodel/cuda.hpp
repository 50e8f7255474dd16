// genmodel/cuda.hpp: the CUDA backend. Include it (after or instead of
// genmodel.hpp) from a translation unit that nvcc compiles, in a build with
// GENMODEL_WITH_CUDA (the CMake option of that name, on by default when a
// CUDA compiler is found). What it gives so far:
//   - Tensor<T, cuda>: device memory from a caching allocator (one pool per
//     device, blocks reused per stream, statistics), one stream per device,
//     to<cuda>() / to<cpu>() through pinned buffers, item(), to_vector();
//   - rand / randn / randint / bernoulli on the device, the CPU's Philox stream;
//   - the factories (full, zeros, ones, arange, linspace, from_vector), built
//     on the host and copied;
//   - kernels::cuda: cuBLAS GEMM (TF32 off unless set_allow_tf32(true)),
//     cuDNN convolution, broadcasting elementwise, reductions, the fused
//     optimizer updates;
//   - errors from CUDA, cuBLAS and cuDNN as genmodel::Error naming the call.
// The differentiable ops, layers and optimizers do not dispatch to the
// device yet: instantiating them for cuda stops the build with a message.
#pragma once

#if !defined(__CUDACC__)
#error "genmodel/cuda.hpp holds CUDA kernels: include it from a .cu file compiled by nvcc"
#endif

#include "genmodel/core/factories.hpp"
#include "genmodel/cuda/allocator.hpp"
#include "genmodel/cuda/blas.hpp"
#include "genmodel/cuda/dnn.hpp"
#include "genmodel/cuda/error.hpp"
#include "genmodel/cuda/random.hpp"
#include "genmodel/cuda/runtime.hpp"
#include "genmodel/cuda/tensor.hpp"
#include "genmodel/kernels/cuda/elementwise.cuh"
#include "genmodel/kernels/cuda/optim.cuh"
#include "genmodel/kernels/cuda/reduce.cuh"
