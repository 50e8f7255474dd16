// genmodel/kernels/cuda/embedding.cuh: embedding lookup (a row gather) and
// its backward (a row scatter-add), the device side of
// kernels/cpu/embedding.hpp, same layout. The indices (labels, timesteps:
// few) are copied to the host and checked there with the CPU's check, so an
// out-of-range index throws the same error before anything is launched. The
// backward builds the CPU's counting sort of positions by table row on the
// host and gives each (row, column) of dtable to one thread, which adds its
// gradients in increasing position order: no atomics, and the result is the
// CPU's bit for bit.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "genmodel/core/device.hpp"
#include "genmodel/cuda/allocator.hpp"
#include "genmodel/kernels/cpu/embedding.hpp"
#include "genmodel/kernels/cuda/launch.cuh"

namespace genmodel::kernels::cuda {

namespace detail {

/// The device indices on the host, checked as cpu::embedding_detail::check.
inline std::vector<int64_t> checked_indices(const char* op, const int64_t* idx, int64_t n_idx,
                                            int64_t num_embeddings, int64_t dim) {
  std::vector<int64_t> h(n_idx > 0 ? std::size_t(n_idx) : 0);
  if (!h.empty()) {
    GM_CUDA_CHECK(cudaMemcpyAsync(h.data(), idx, sizeof(int64_t) * h.size(), cudaMemcpyDeviceToHost,
                                  cuda_backend::stream()),
                  op);
    cuda_backend::synchronize();
  }
  cpu::embedding_detail::check(op, h.data(), n_idx, num_embeddings, dim);
  return h;
}

template <class T>
GENMODEL_HOST_DEVICE inline void embedding_forward_at(const int64_t* idx, const T* table, int64_t dim, T* out,
                                                      int64_t i) {
  out[i] = table[idx[i / dim] * dim + i % dim];
}

/// dtable[t, j] = sum over k in [start[t], start[t + 1]) of dout[pos[k], j].
template <class T>
GENMODEL_HOST_DEVICE inline void embedding_backward_at(const int64_t* start, const int64_t* pos, const T* dout,
                                                       int64_t dim, T* dtable, int64_t i) {
  const int64_t t = i / dim, j = i % dim;
  T acc = T(0);
  for (int64_t k = start[t]; k < start[t + 1]; ++k) acc += dout[pos[k] * dim + j];
  dtable[i] = acc;
}

template <class T>
__global__ void embedding_forward_kernel(const int64_t* idx, const T* table, int64_t dim, T* out, int64_t n) {
  GM_CUDA_LOOP(i, n) embedding_forward_at(idx, table, dim, out, i);
}

template <class T>
__global__ void embedding_backward_kernel(const int64_t* start, const int64_t* pos, const T* dout, int64_t dim,
                                          T* dtable, int64_t n) {
  GM_CUDA_LOOP(i, n) embedding_backward_at(start, pos, dout, dim, dtable, i);
}

}  // namespace detail

/// out[i, :] = table[idx[i], :] (device pointers). Throws genmodel::Error
/// naming the bad index, like cpu::embedding_forward.
template <class T>
void embedding_forward(const int64_t* idx, int64_t n_idx, const T* table, int64_t num_embeddings, int64_t dim,
                       T* out) {
  detail::checked_indices("embedding", idx, n_idx, num_embeddings, dim);
  const int64_t n = n_idx * dim;
  if (n == 0) return;
  detail::embedding_forward_kernel<<<grid_for(n), kThreads, 0, cuda_backend::stream()>>>(idx, table, dim, out, n);
  check_launch("embedding");
}

/// dtable = 0, then dtable[idx[i], :] += dout[i, :] for i = 0, 1, ... in
/// order (dtable is overwritten), like cpu::embedding_backward.
template <class T>
void embedding_backward(const int64_t* idx, int64_t n_idx, const T* dout, int64_t num_embeddings, int64_t dim,
                        T* dtable) {
  const std::vector<int64_t> h = detail::checked_indices("embedding_backward", idx, n_idx, num_embeddings, dim);
  const int64_t n = num_embeddings * dim;
  if (n == 0) return;
  // The CPU's counting sort: positions of row t are pos[start[t] .. start[t+1]), ascending.
  std::vector<int64_t> csr(std::size_t(num_embeddings + 1 + n_idx), 0);
  int64_t* start = csr.data();
  int64_t* pos = start + num_embeddings + 1;
  for (int64_t i = 0; i < n_idx; ++i) ++start[h[i] + 1];
  for (int64_t t = 0; t < num_embeddings; ++t) start[t + 1] += start[t];
  std::vector<int64_t> next(start, start + num_embeddings);
  for (int64_t i = 0; i < n_idx; ++i) pos[next[h[i]]++] = i;
  // Stream-ordered: the block goes back to this stream's pool after the
  // launch, and a pageable host-to-device copy has read csr when it returns.
  const std::shared_ptr<int64_t> d = cuda_backend::device_buffer<int64_t>(int64_t(csr.size()));
  GM_CUDA_CHECK(cudaMemcpyAsync(d.get(), csr.data(), sizeof(int64_t) * csr.size(), cudaMemcpyHostToDevice,
                                cuda_backend::stream()),
                "embedding_backward");
  detail::embedding_backward_kernel<<<grid_for(n), kThreads, 0, cuda_backend::stream()>>>(
      d.get(), d.get() + num_embeddings + 1, dout, dim, dtable, n);
  check_launch("embedding_backward");
}

}  // namespace genmodel::kernels::cuda
