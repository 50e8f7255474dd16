// genmodel/cuda/allocator.hpp: the device memory of CUDA tensors, from the
// same caching allocator as host tensors (core/allocator.hpp), one pool per
// device, blocks cached per stream. A training step whose shapes repeat calls
// cudaMalloc only in its first iteration; stats().system_allocs counts the
// calls. Pinned host buffers for copies come from a second pool.
#pragma once

#include <cuda_runtime_api.h>

#include <array>
#include <memory>

#include "genmodel/core/allocator.hpp"
#include "genmodel/cuda/runtime.hpp"

namespace genmodel::cuda_backend {

/// Runs a CUDA allocation call: nullptr when memory is exhausted (the
/// caching allocator then frees its cache and retries), an Error for any
/// other failure (no device, no driver).
template <class Call>
void* raw_allocate(Call call, const char* call_name, const char* pool) {
  void* p = nullptr;
  const cudaError_t status = call(&p);
  if (status == cudaErrorMemoryAllocation) {
    cudaGetLastError();
    return nullptr;
  }
  check(status, call_name, pool);
  return p;
}

/// cudaMalloc on the current device.
struct DeviceMemory {
  static constexpr const char* name = "CudaAllocator";
  static void* allocate(std::size_t bytes) {
    return raw_allocate([bytes](void** p) { return cudaMalloc(p, bytes); }, "cudaMalloc", name);
  }
  static void free(void* p) { cudaFree(p); }  // synchronises the device
};

/// Page-locked host memory, so copies to and from the device run at full
/// bus speed and asynchronously.
struct PinnedMemory {
  static constexpr const char* name = "PinnedAllocator";
  static void* allocate(std::size_t bytes) {
    return raw_allocate([bytes](void** p) { return cudaMallocHost(p, bytes); }, "cudaMallocHost", name);
  }
  static void free(void* p) { cudaFreeHost(p); }
};

using CudaAllocator = CachingAllocator<DeviceMemory>;
using PinnedAllocator = CachingAllocator<PinnedMemory>;

/// The pool of `device` (default: the current one). Pools are never
/// destroyed, because tensors may outlive static destructors.
inline CudaAllocator& allocator(int device = -1) {
  static std::array<CudaAllocator*, kMaxDevices> pools = [] {
    std::array<CudaAllocator*, kMaxDevices> a{};
    for (auto& p : a) p = new CudaAllocator;
    return a;
  }();
  if (device < 0) device = current_device();
  GM_CHECK(device < kMaxDevices, "cuda::allocator: device ", device, " is past the ", kMaxDevices,
           " supported");
  return *pools[device];
}

inline PinnedAllocator& pinned_allocator() {
  static PinnedAllocator* a = new PinnedAllocator;
  return *a;
}

/// n elements of device memory on the current device and its stream,
/// returned to that pool and stream when the last handle goes.
template <class T>
std::shared_ptr<T> device_buffer(int64_t n) {
  const std::size_t bytes = static_cast<std::size_t>(n) * sizeof(T);
  const int device = current_device();
  const cudaStream_t s = stream();
  T* p = static_cast<T*>(allocator(device).allocate(bytes, s));
  return std::shared_ptr<T>(p, [bytes, device, s](T* q) { allocator(device).deallocate(q, bytes, s); });
}

}  // namespace genmodel::cuda_backend
