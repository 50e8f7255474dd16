// genmodel/cuda/tensor.hpp: Tensor<T, cuda>: storage from the device pool
// and copies between host and device. A host-to-device copy stages through
// a pinned buffer, so the transfer runs at full bus speed; both directions
// wait for the copy, so the source may be changed or freed as soon as to()
// returns.
#pragma once

#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstring>

#include "genmodel/core/tensor.hpp"
#include "genmodel/cuda/allocator.hpp"

namespace genmodel {

namespace cuda_backend {
template <class T>
__global__ void fill_kernel(T* y, int64_t n, T value) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(blockDim.x) * gridDim.x)
    y[i] = value;
}
}  // namespace cuda_backend

template <class T>
struct StorageTraits<T, cuda> {
  static std::shared_ptr<T> allocate(int64_t n) { return cuda_backend::device_buffer<T>(n); }
  static void copy(T* dst, const T* src, int64_t n) {
    GM_CUDA_CHECK(cudaMemcpyAsync(dst, src, sizeof(T) * std::size_t(n), cudaMemcpyDeviceToDevice,
                                  cuda_backend::stream()),
                  "Tensor<cuda>::clone_data");
  }
  static void fill(T* dst, int64_t n, T value) {
    if (n == 0) return;
    const cudaStream_t s = cuda_backend::stream();
    if (value == T(0)) {  // all-zero bits for float, double and int64
      GM_CUDA_CHECK(cudaMemsetAsync(dst, 0, sizeof(T) * std::size_t(n), s), "fill");
      return;
    }
    const unsigned blocks = unsigned(std::min<int64_t>((n + 255) / 256, int64_t(1) << 20));
    cuda_backend::fill_kernel<<<blocks, 256, 0, s>>>(dst, n, value);
    cuda_backend::check(cudaGetLastError(), "kernel launch", "fill");
  }
};

namespace cuda_backend {
/// A pinned host block of `bytes`, returned to its pool on scope exit.
class PinnedBuffer {
 public:
  explicit PinnedBuffer(std::size_t bytes) : bytes_(bytes), p_(pinned_allocator().allocate(bytes)) {}
  ~PinnedBuffer() { pinned_allocator().deallocate(p_, bytes_); }
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;
  void* data() const { return p_; }

 private:
  std::size_t bytes_;
  void* p_;
};

/// A host <-> device copy of `bytes` staged through a pinned block, which
/// returns once the copy is done.
inline void pinned_copy(void* dst, const void* src, std::size_t bytes, cudaMemcpyKind kind, const char* op) {
  if (bytes == 0) return;
  PinnedBuffer staging(bytes);
  const bool to_device = kind == cudaMemcpyHostToDevice;
  if (to_device) std::memcpy(staging.data(), src, bytes);
  GM_CUDA_CHECK(cudaMemcpyAsync(to_device ? dst : staging.data(), to_device ? staging.data() : src, bytes,
                                kind, stream()),
                op);
  synchronize();  // the staging block goes back to the pool next
  if (!to_device) std::memcpy(dst, staging.data(), bytes);
}
}  // namespace cuda_backend

template <>
struct DeviceTransfer<cpu, cuda> {
  template <class T>
  static Tensor<T, cuda> copy(const Tensor<T, cpu>& src) {
    auto out = Tensor<T, cuda>::empty(src.shape());
    cuda_backend::pinned_copy(out.data(), src.data(), sizeof(T) * std::size_t(src.numel()),
                              cudaMemcpyHostToDevice, "to<cuda>");
    return out;
  }
};

template <>
struct DeviceTransfer<cuda, cpu> {
  template <class T>
  static Tensor<T, cpu> copy(const Tensor<T, cuda>& src) {
    auto out = Tensor<T, cpu>::empty(src.shape());
    cuda_backend::pinned_copy(out.data(), src.data(), sizeof(T) * std::size_t(src.numel()),
                              cudaMemcpyDeviceToHost, "to<cpu>");
    return out;
  }
};

}  // namespace genmodel
