// genmodel/kernels/cuda/reduce.cuh: the rest of kernels/cpu/reduce.hpp on
// the device, with its names and parameters: sum / max / min of x viewed as
// (outer, r, inner) over the middle axis, argmax (the first maximum) and the
// n-d permute copy. As in reduce.cuh, a contiguous reduction (inner == 1)
// gets one block per row and a fixed-order shared-memory tree; otherwise each
// thread walks one output's column in the CPU's order. No atomics, so results
// repeat run to run. block_tree and the combiners serve softmax.cuh too.
#pragma once

#include <vector>

#include "genmodel/kernels/cpu/reduce.hpp"
#include "genmodel/kernels/cuda/launch.cuh"

namespace genmodel::kernels::cuda {

namespace detail {
/// Blocks for a one-block-per-row kernel; past the cap each block loops on.
inline unsigned row_grid(int64_t rows) { return unsigned(std::clamp<int64_t>(rows, 1, int64_t(1) << 20)); }

/// Combines every thread's v with f in a fixed-order tree through part (a
/// __shared__ array of kThreads) and returns the result to every thread. All
/// threads of the block must call it; part is free again when it returns.
template <class A, class F>
__device__ A block_tree(A v, A* part, F f) {
  part[threadIdx.x] = v;
  __syncthreads();
  for (int half = kThreads / 2; half > 0; half /= 2) {
    if (int(threadIdx.x) < half) part[threadIdx.x] = f(part[threadIdx.x], part[threadIdx.x + half]);
    __syncthreads();
  }
  const A r = part[0];
  __syncthreads();
  return r;
}

// The combiners, each with the start of a thread's partial: 0 for a sum, the
// row's first element for max and min (seeing an element twice leaves them
// unchanged, and it needs no +-inf, which integers lack). Max and min pick
// what std::max / std::min pick, as the CPU's column loops do.
struct SumOp {
  template <class T> __device__ static T start(const T*) { return T(0); }
  template <class T> __device__ T operator()(T a, T b) const { return a + b; }
};
struct MaxOp {
  template <class T> __device__ static T start(const T* row) { return row[0]; }
  template <class T> __device__ T operator()(T a, T b) const { return a < b ? b : a; }
};
struct MinOp {
  template <class T> __device__ static T start(const T* row) { return row[0]; }
  template <class T> __device__ T operator()(T a, T b) const { return b < a ? b : a; }
};

template <class T, class F>
__global__ void reduce_rows_kernel(const T* x, T* y, int64_t rows, int64_t r, F f) {
  __shared__ T part[kThreads];
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const T* xr = x + row * r;
    T acc = F::start(xr);
    for (int64_t k = threadIdx.x; k < r; k += kThreads) acc = f(acc, xr[k]);
    acc = block_tree(acc, part, f);
    if (threadIdx.x == 0) y[row] = acc;
  }
}

template <class T, class F>
__global__ void reduce_columns_kernel(const T* x, T* y, int64_t outer, int64_t r, int64_t inner, F f) {
  GM_CUDA_LOOP(j, outer * inner) {
    const T* col = x + (j / inner) * r * inner + j % inner;
    T acc = col[0];
    for (int64_t k = 1; k < r; ++k) acc = f(acc, col[k * inner]);
    y[j] = acc;
  }
}

/// A candidate maximum and its index along the row.
template <class T>
struct ArgBest {
  T v;
  int64_t k;
};

/// The larger value wins, a tie goes to the lower index. A NaN neither wins
/// nor loses (every comparison with it is false), and every partial starts
/// at element 0, so the tree gives what the CPU's scan gives in any order:
/// 0 when element 0 is NaN, else the first maximum of the other values.
struct ArgmaxOp {
  template <class T>
  __device__ ArgBest<T> operator()(ArgBest<T> a, ArgBest<T> b) const {
    return (a.v < b.v || (b.v == a.v && b.k < a.k)) ? b : a;
  }
};

template <class T>
__global__ void argmax_rows_kernel(const T* x, int64_t* idx, int64_t rows, int64_t r) {
  __shared__ ArgBest<T> part[kThreads];
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const T* xr = x + row * r;
    ArgBest<T> best{xr[0], 0};
    for (int64_t k = threadIdx.x; k < r; k += kThreads) best = ArgmaxOp{}(best, ArgBest<T>{xr[k], k});
    best = block_tree(best, part, ArgmaxOp{});
    if (threadIdx.x == 0) idx[row] = best.k;
  }
}

/// The CPU's scan, word for word (r == 0 reads nothing and gives 0).
template <class T>
__global__ void argmax_columns_kernel(const T* x, int64_t* idx, int64_t outer, int64_t r, int64_t inner) {
  GM_CUDA_LOOP(j, outer * inner) {
    const T* p = x + (j / inner) * r * inner + j % inner;
    int64_t best = 0;
    for (int64_t k = 1; k < r; ++k)
      if (p[k * inner] > p[best * inner]) best = k;
    idx[j] = best;
  }
}

/// y's sizes, and the stride in x of each of y's dims.
struct PermuteSpace {
  int ndim;
  int64_t size[Shape::kMaxDims];
  int64_t stride[Shape::kMaxDims];
};

template <class T>
__global__ void permute_kernel(const T* x, T* y, int64_t n, PermuteSpace p) {
  GM_CUDA_LOOP(i, n) {
    int64_t off = 0, q = i;
    for (int d = p.ndim - 1; d >= 0; --d) {
      off += (q % p.size[d]) * p.stride[d];
      q /= p.size[d];
    }
    y[i] = x[off];
  }
}
}  // namespace detail

/// y[o, i] = op over k of x[o, k, i]; device pointers, x (outer, r, inner),
/// y (outer, inner), r >= 1 (checked here: the CPU would read past x).
template <class T>
void reduce_middle(const T* x, T* y, int64_t outer, int64_t r, int64_t inner, kernels::cpu::ReduceOp op) {
  if (outer * inner == 0) return;
  GM_CHECK(r >= 1, "reduce_middle: the reduced extent must be at least 1, got ", r);
  const cudaStream_t s = cuda_backend::stream();
  auto run = [&](auto f) {
    if (inner == 1)
      detail::reduce_rows_kernel<<<detail::row_grid(outer), kThreads, 0, s>>>(x, y, outer, r, f);
    else
      detail::reduce_columns_kernel<<<grid_for(outer * inner), kThreads, 0, s>>>(x, y, outer, r, inner, f);
  };
  switch (op) {
    case cpu::ReduceOp::sum: run(detail::SumOp{}); break;
    case cpu::ReduceOp::max: run(detail::MaxOp{}); break;
    default: run(detail::MinOp{}); break;
  }
  check_launch(op == cpu::ReduceOp::sum ? "sum" : op == cpu::ReduceOp::max ? "max" : "min");
}

/// idx[o, i] = argmax over k of x[o, k, i] (the first maximum), as the CPU.
template <class T>
void argmax_middle(const T* x, int64_t* idx, int64_t outer, int64_t r, int64_t inner) {
  if (outer * inner == 0) return;
  const cudaStream_t s = cuda_backend::stream();
  if (inner == 1 && r > 1)  // r <= 1 takes the scan, which reads nothing and writes 0
    detail::argmax_rows_kernel<<<detail::row_grid(outer), kThreads, 0, s>>>(x, idx, outer, r);
  else
    detail::argmax_columns_kernel<<<grid_for(outer * inner), kThreads, 0, s>>>(x, idx, outer, r, inner);
  check_launch("argmax");
}

/// y = x permuted: y's dim d is x's dim perm[d]. Both contiguous, on the device.
template <class T>
void permute(const T* x, const Shape& xs, const std::vector<int>& perm, T* y) {
  const int64_t total = xs.numel();
  if (total == 0) return;
  const int n = xs.size();
  int64_t xstride[Shape::kMaxDims] = {}, acc = 1;
  for (int d = n - 1; d >= 0; --d) {
    xstride[d] = acc;
    acc *= xs[d];
  }
  detail::PermuteSpace p{};
  p.ndim = n;
  for (int d = 0; d < n; ++d) {
    p.size[d] = xs[perm[d]];
    p.stride[d] = xstride[perm[d]];
  }
  detail::permute_kernel<<<grid_for(total), kThreads, 0, cuda_backend::stream()>>>(x, y, total, p);
  check_launch("permute");
}

}  // namespace genmodel::kernels::cuda
