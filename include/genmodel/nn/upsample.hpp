// genmodel/nn/upsample.hpp: Upsample (torch.nn.Upsample) for (N, C, H, W)
// inputs, nearest or bilinear, to a fixed size or by a scale factor.
#pragma once

#include <cmath>
#include <optional>

#include "genmodel/nn/module.hpp"

namespace genmodel::nn {

enum class UpsampleMode { nearest, bilinear };

struct UpsampleOptions {
  std::optional<Size2> size = std::nullopt;           // the output (H, W); or
  std::optional<double> scale_factor = std::nullopt;  // the output is floor(H * s), floor(W * s)
  UpsampleMode mode = UpsampleMode::nearest;
  bool align_corners = false;  // bilinear only
};

template <class T = float, class D = cpu>
class Upsample : public Module<T, D> {
 public:
  using Tensor = genmodel::Tensor<T, D>;

  /// Upsample<>({.scale_factor = 2}) or Upsample<>({.size = Size2(8, 8), .mode = UpsampleMode::bilinear}).
  explicit Upsample(UpsampleOptions opts) : Module<T, D>("Upsample"), opts_(opts) {
    GM_CHECK(opts.size.has_value() != opts.scale_factor.has_value(),
             "Upsample: give exactly one of size and scale_factor");
    GM_CHECK(!opts.scale_factor || *opts.scale_factor > 0, "Upsample: scale_factor must be positive, got ",
             opts.scale_factor.value_or(0));
    GM_CHECK(!opts.size || (opts.size->h > 0 && opts.size->w > 0), "Upsample: size must be positive");
  }

  /// x is (N, C, H, W) -> (N, C, H', W').
  Tensor forward(const Tensor& x) {
    GM_CHECK(x.dim() == 4, "Upsample: input must be (N, C, H, W), got ", x.shape());
    const Size2 out = opts_.size ? *opts_.size
                                 : Size2(int64_t(std::floor(double(x.size(2)) * *opts_.scale_factor)),
                                         int64_t(std::floor(double(x.size(3)) * *opts_.scale_factor)));
    GM_CHECK(out.h > 0 && out.w > 0, "Upsample: input ", x.shape(), " gives an empty output");
    return opts_.mode == UpsampleMode::nearest ? upsample_nearest2d(x, out)
                                               : upsample_bilinear2d(x, out, opts_.align_corners);
  }
  Tensor operator()(const Tensor& x) { return forward(x); }

 private:
  UpsampleOptions opts_;
};

}  // namespace genmodel::nn
