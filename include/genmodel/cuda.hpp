// genmodel/cuda.hpp: the CUDA backend. Include it (after or instead of
// genmodel.hpp) from a translation unit that nvcc compiles, in a build with
// GENMODEL_WITH_CUDA (the CMake option of that name, on by default when a
// CUDA compiler is found). What it gives:
//   - Tensor<T, cuda>: device memory from a caching allocator (one pool per
//     device, blocks reused per stream, statistics), one stream per device,
//     to<cuda>() / to<cpu>() through pinned buffers, item(), to_vector();
//   - rand / randn / randint / bernoulli and dropout on the device, the
//     CPU's Philox stream; full / zeros / ones filled in place, the other
//     factories built on the host and copied;
//   - Backend<cuda> (kernels/cuda/backend.cuh): every kernel the ops call, so
//     the differentiable ops, the layers and the optimizers run on
//     Tensor<T, cuda> unchanged: cuBLAS GEMM (TF32 off unless
//     set_allow_tf32(true)), cuDNN convolution (descriptors and algorithm
//     cached per shape; set_cudnn_benchmark(true) times the candidates, like
//     torch.backends.cudnn.benchmark), genmodel's kernels for the rest;
//   - errors from CUDA, cuBLAS and cuDNN as genmodel::Error naming the call.
// A model moves to the GPU by building it with the device parameter cuda and
// loading the CPU model's state_dict() (Module::load_state_dict copies
// across devices).
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
#include "genmodel/kernels/cuda/backend.cuh"
