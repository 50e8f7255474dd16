// genmodel/core/scratch.hpp: a temporary buffer from the pooled allocator for
// kernels (im2col columns, partial sums), released when it goes out of scope.
#pragma once

#include <cstdint>

#include "genmodel/core/allocator.hpp"

namespace genmodel {

template <class T>
class Scratch {
 public:
  explicit Scratch(int64_t n)
      : n_(n), p_(static_cast<T*>(CpuAllocator::instance().allocate(sizeof(T) * std::size_t(n)))) {}
  ~Scratch() { CpuAllocator::instance().deallocate(p_, sizeof(T) * std::size_t(n_)); }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;

  T* data() const { return p_; }
  int64_t size() const { return n_; }

 private:
  int64_t n_;
  T* p_;
};

}  // namespace genmodel
