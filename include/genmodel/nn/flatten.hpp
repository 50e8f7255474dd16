// genmodel/nn/flatten.hpp: Flatten and Unflatten (torch.nn.Flatten,
// torch.nn.Unflatten), reshaping views with no parameters.
#pragma once

#include <string>
#include <vector>

#include "genmodel/nn/module.hpp"

namespace genmodel::nn {

template <class T = float, class D = cpu>
class Flatten : public Module<T, D> {
 public:
  using Tensor = genmodel::Tensor<T, D>;

  /// Merges dims start_dim..end_dim; the default keeps the batch dim.
  explicit Flatten(int64_t start_dim = 1, int64_t end_dim = -1)
      : Module<T, D>("Flatten"), start_(start_dim), end_(end_dim) {}

  Tensor forward(const Tensor& x) { return flatten(x, start_, end_); }
  Tensor operator()(const Tensor& x) { return forward(x); }

 private:
  int64_t start_, end_;
};

template <class T = float, class D = cpu>
class Unflatten : public Module<T, D> {
 public:
  using Tensor = genmodel::Tensor<T, D>;

  /// Splits dim `dim` into `sizes` (one may be -1): Unflatten(1, {C, H, W}).
  Unflatten(int64_t dim, std::vector<int64_t> sizes)
      : Module<T, D>("Unflatten"), dim_(dim), sizes_(std::move(sizes)) {
    GM_CHECK(!sizes_.empty(), "Unflatten: sizes must not be empty");
  }

  Tensor forward(const Tensor& x) {
    const int d = wrap_dim(dim_, x.dim(), "Unflatten");
    int64_t known = 1;
    int unknown = 0;
    for (int64_t s : sizes_) s == -1 ? ++unknown : known *= s;
    std::string want;
    for (int64_t s : sizes_) want += (want.empty() ? "" : ", ") + std::to_string(s);
    GM_CHECK(unknown <= 1 && (unknown ? known > 0 && x.size(d) % known == 0 : x.size(d) == known),
             "Unflatten: cannot split dim ", d, " of ", x.shape(), " into (", want, ")");
    std::vector<int64_t> out(x.shape().begin(), x.shape().begin() + d);
    for (int64_t s : sizes_) out.push_back(s);
    out.insert(out.end(), x.shape().begin() + d + 1, x.shape().end());
    return reshape(x, out);
  }
  Tensor operator()(const Tensor& x) { return forward(x); }

 private:
  int64_t dim_;
  std::vector<int64_t> sizes_;
};

}  // namespace genmodel::nn
