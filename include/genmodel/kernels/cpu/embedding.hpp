// genmodel/kernels/cpu/embedding.hpp: raw-pointer CPU kernels for embedding
// lookup (a row gather) and its backward (a row scatter-add), no Tensor, no
// autograd.
//
// Layout: idx (n_idx) int64 indices; table / dtable (num_embeddings, dim);
// out / dout (n_idx, dim); all row-major and contiguous. Every index is checked
// before any parallel work. The backward groups the positions of each table
// row with a counting sort and gives each row to one thread, which adds its
// gradients in increasing position order: the result is bitwise that of the
// sequential loop, for any thread count.
#pragma once

#include <algorithm>
#include <cstdint>
#include <type_traits>

#include "genmodel/core/error.hpp"
#include "genmodel/core/parallel.hpp"
#include "genmodel/kernels/cpu/simd.hpp"
#include "genmodel/core/scratch.hpp"


namespace genmodel::kernels::cpu {

namespace embedding_detail {

constexpr int64_t kGrain = int64_t(1) << 14;  // elements per task below which splitting does not pay

inline int64_t grain_rows(int64_t len) { return std::max<int64_t>(1, kGrain / std::max<int64_t>(len, 1)); }

inline void check(const char* op, const int64_t* idx, int64_t n_idx, int64_t num_embeddings, int64_t dim) {
  GM_CHECK(n_idx >= 0 && num_embeddings >= 0 && dim >= 0, op,
           ": sizes must be non-negative, got n_idx=", n_idx, ", num_embeddings=", num_embeddings,
           ", dim=", dim);
  for (int64_t i = 0; i < n_idx; ++i)
    GM_CHECK(idx[i] >= 0 && idx[i] < num_embeddings, op, ": index ", idx[i], " at position ", i,
             " is out of range for num_embeddings = ", num_embeddings);
}

}  // namespace embedding_detail

/// out[i, :] = table[idx[i], :]. Throws genmodel::Error naming the bad index.
template <class T>
void embedding_forward(const int64_t* idx, int64_t n_idx, const T* table, int64_t num_embeddings, int64_t dim,
                       T* out) {
  embedding_detail::check("embedding", idx, n_idx, num_embeddings, dim);
  if (dim == 0) return;
  parallel_for(0, n_idx, embedding_detail::grain_rows(dim), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) std::copy_n(table + idx[i] * dim, dim, out + i * dim);
  });
}

/// dtable = 0, then dtable[idx[i], :] += dout[i, :] for i = 0, 1, ... in order
/// (dtable is overwritten). Deterministic: see the top of the file.
template <class T>
void embedding_backward(const int64_t* idx, int64_t n_idx, const T* dout, int64_t num_embeddings, int64_t dim,
                        T* dtable) {
  embedding_detail::check("embedding_backward", idx, n_idx, num_embeddings, dim);
  if (dim == 0 || num_embeddings == 0) return;
  // Counting sort of positions by table row: positions of row t are
  // pos[start[t] .. start[t+1]), ascending.
  Scratch<int64_t> sb(num_embeddings + 1 + n_idx);
  int64_t* start = sb.data();
  int64_t* pos = start + num_embeddings + 1;
  std::fill(start, start + num_embeddings + 1, int64_t(0));
  for (int64_t i = 0; i < n_idx; ++i) ++start[idx[i] + 1];
  for (int64_t t = 0; t < num_embeddings; ++t) start[t + 1] += start[t];
  {
    Scratch<int64_t> fill(num_embeddings);
    int64_t* next = fill.data();
    std::copy_n(start, num_embeddings, next);
    for (int64_t i = 0; i < n_idx; ++i) pos[next[idx[i]]++] = i;
  }
  const int64_t avg = 1 + n_idx / num_embeddings;  // rows written + added per table row, on average
  parallel_for(0, num_embeddings, embedding_detail::grain_rows(dim * avg), [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) {
      T* dst = dtable + t * dim;
      std::fill(dst, dst + dim, T(0));
      for (int64_t k = start[t]; k < start[t + 1]; ++k) {
        const T* src = dout + pos[k] * dim;
        GM_KERNEL_SIMD
        for (int64_t j = 0; j < dim; ++j) dst[j] += src[j];
      }
    }
  });
}

}  // namespace genmodel::kernels::cpu
