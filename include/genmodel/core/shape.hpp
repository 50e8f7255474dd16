// genmodel/core/shape.hpp: a tensor shape held inline (no heap), with the
// helpers every op needs: numel, dim wrapping, printing.
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <ostream>
#include <string>
#include <vector>

#include "genmodel/core/error.hpp"

namespace genmodel {

class Shape {
 public:
  static constexpr int kMaxDims = 8;

  Shape() = default;
  Shape(std::initializer_list<int64_t> dims) { assign(dims.begin(), dims.end()); }
  explicit Shape(const std::vector<int64_t>& dims) { assign(dims.begin(), dims.end()); }

  int size() const { return n_; }
  bool empty() const { return n_ == 0; }
  int64_t operator[](int i) const { return d_[i]; }
  int64_t& operator[](int i) { return d_[i]; }
  const int64_t* begin() const { return d_.data(); }
  const int64_t* end() const { return d_.data() + n_; }
  int64_t* begin() { return d_.data(); }
  int64_t* end() { return d_.data() + n_; }
  int64_t back() const { return d_[n_ - 1]; }

  void push_back(int64_t v) {
    GM_CHECK(n_ < kMaxDims, "Shape: at most ", kMaxDims, " dimensions are supported");
    d_[n_++] = v;
  }

  int64_t numel() const {
    int64_t n = 1;
    for (int i = 0; i < n_; ++i) n *= d_[i];
    return n;
  }

  /// Product of dims in [from, to).
  int64_t prod(int from, int to) const {
    int64_t n = 1;
    for (int i = from; i < to; ++i) n *= d_[i];
    return n;
  }

  std::vector<int64_t> vec() const { return {begin(), end()}; }

  std::string str() const {
    std::string s = "[";
    for (int i = 0; i < n_; ++i) s += (i ? ", " : "") + std::to_string(d_[i]);
    return s + "]";
  }

  friend bool operator==(const Shape& a, const Shape& b) {
    if (a.n_ != b.n_) return false;
    for (int i = 0; i < a.n_; ++i)
      if (a.d_[i] != b.d_[i]) return false;
    return true;
  }
  friend std::ostream& operator<<(std::ostream& os, const Shape& s) { return os << s.str(); }

 private:
  template <class It>
  void assign(It first, It last) {
    for (; first != last; ++first) {
      GM_CHECK(*first >= 0, "Shape: negative dimension ", *first);
      push_back(*first);
    }
  }

  std::array<int64_t, kMaxDims> d_{};
  int n_ = 0;
};

/// Wraps a possibly negative dim index into [0, ndim); throws naming `op`.
inline int wrap_dim(int64_t dim, int ndim, const char* op) {
  GM_CHECK(dim >= -ndim && dim < (ndim == 0 ? 1 : ndim), op, ": dim ", dim,
           " is out of range for a tensor of ", ndim, " dimensions");
  return static_cast<int>(dim < 0 ? dim + ndim : dim);
}

}  // namespace genmodel
