// genmodel/nn/attention.hpp: AttentionBlock2d, single-head self-attention
// over the H*W positions of a feature map, as in the DDPM U-Net:
// x + proj_out(softmax(Q^T K / sqrt(C)) applied to V), with Q, K, V from a
// 1x1 convolution of GroupNorm(x).
#pragma once

#include <cmath>
#include <memory>

#include "genmodel/nn/conv.hpp"
#include "genmodel/nn/normalization.hpp"

namespace genmodel::nn {

template <class T = float, class D = cpu>
class AttentionBlock2d : public Module<T, D> {
 public:
  using Tensor = genmodel::Tensor<T, D>;

  /// Children: norm (GroupNorm), qkv (1x1 conv, C -> 3C), proj_out (1x1 conv, C -> C).
  AttentionBlock2d(int64_t channels, int64_t groups = 32, double eps = 1e-5, Generator& gen = default_generator())
      : Module<T, D>("AttentionBlock2d"), channels_(channels) {
    GM_CHECK(groups > 0 && channels % groups == 0, "AttentionBlock2d: groups (", groups,
             ") must divide channels (", channels, ")");
    norm = this->register_module("norm", std::make_shared<GroupNorm<T, D>>(groups, channels, eps));
    qkv = this->register_module("qkv", std::make_shared<Conv2d<T, D>>(channels, 3 * channels, 1, ConvOptions{}, gen));
    proj_out =
        this->register_module("proj_out", std::make_shared<Conv2d<T, D>>(channels, channels, 1, ConvOptions{}, gen));
  }

  /// x is (N, C, H, W) -> (N, C, H, W).
  Tensor forward(const Tensor& x) {
    GM_CHECK(x.dim() == 4 && x.size(1) == channels_, "AttentionBlock2d(", channels_, "): input must be (N, ",
             channels_, ", H, W), got ", x.shape());
    const int64_t n = x.size(0), c = channels_, hw = x.size(2) * x.size(3);
    Tensor proj = reshape(qkv->forward(norm->forward(x)), {n, 3, c, hw});
    auto part = [&](int64_t i) { return reshape(narrow(proj, 1, i, 1), {n, c, hw}); };
    const Tensor q = part(0), k = part(1), v = part(2);
    // scores (N, HW, HW): position i attends over positions j.
    // The transposes are the products' flags, not copies.
    Tensor scores = mul(matmul_t(q, k, true, false), T(1.0 / std::sqrt(double(c))));
    Tensor attn = softmax(scores, -1);
    Tensor out = matmul_t(v, attn, false, true);  // (N, C, HW): out[:, :, i] = sum_j attn[i, j] v[:, :, j]
    return add(x, proj_out->forward(reshape(out, x.shape().vec())));
  }
  Tensor operator()(const Tensor& x) { return forward(x); }

  std::shared_ptr<GroupNorm<T, D>> norm;
  std::shared_ptr<Conv2d<T, D>> qkv, proj_out;

 private:
  int64_t channels_;
};

}  // namespace genmodel::nn
