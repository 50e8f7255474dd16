// genmodel/core/storage.hpp: reference-counted element buffers. CPU buffers
// come from the pooled allocator; external memory (Eigen, xtensor, user
// arrays) can be wrapped without a copy.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>

#include "genmodel/core/allocator.hpp"
#include "genmodel/core/device.hpp"

namespace genmodel {

template <class T, class D>
struct StorageTraits {
  static_assert(std::is_same_v<D, cpu>,
                "genmodel: this device's backend is not compiled in; include "
                "<genmodel/cuda.hpp> from an nvcc-compiled file with GENMODEL_WITH_CUDA");
};

template <class T>
struct StorageTraits<T, cpu> {
  /// A buffer of n elements from the pool, shared by every view of it.
  static std::shared_ptr<T> allocate(int64_t n) {
    const std::size_t bytes = static_cast<std::size_t>(n) * sizeof(T);
    T* p = static_cast<T*>(CpuAllocator::instance().allocate(bytes));
    return std::shared_ptr<T>(p, [bytes](T* q) { CpuAllocator::instance().deallocate(q, bytes); });
  }
  static void copy(T* dst, const T* src, int64_t n) { std::memcpy(dst, src, sizeof(T) * std::size_t(n)); }
  static void fill(T* dst, int64_t n, T value) { std::fill_n(dst, n, value); }
};

/// Copies a tensor between devices (Tensor::to<cuda>(), to<cpu>()); the CUDA
/// backend specialises it. To the tensor's own device it is the tensor itself.
template <class From, class To>
struct DeviceTransfer {
  static_assert(std::is_same_v<From, cpu> && std::is_same_v<To, cpu>,
                "genmodel: copying to or from this device needs its backend; include "
                "<genmodel/cuda.hpp> from an nvcc-compiled file with GENMODEL_WITH_CUDA");
};

}  // namespace genmodel
