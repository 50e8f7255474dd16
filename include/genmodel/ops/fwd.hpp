// genmodel/ops/fwd.hpp: declarations of the differentiable functional API,
// with its default arguments. The definitions live in the headers beside
// this one; include <genmodel/ops.hpp> to get them all. Ops take and return
// contiguous tensors; binary elementwise ops broadcast by NumPy rules.
#pragma once

#include <cstdint>
#include <type_traits>
#include <vector>

#include "genmodel/core/philox.hpp"
#include "genmodel/core/tensor.hpp"

namespace genmodel {

using Dims = std::vector<int64_t>;
template <class T>
using ScalarArg = std::type_identity_t<T>;  // a scalar that takes the tensor's type

/// A (height, width) pair for kernel sizes, strides and paddings; an int means both.
struct Size2 {
  int64_t h, w;
  Size2(int64_t both) : h(both), w(both) {}  // NOLINT: implicit by design, like PyTorch's int-or-tuple
  Size2(int64_t h_, int64_t w_) : h(h_), w(w_) {}
};

// ---- elementwise (ops/elementwise.hpp, ops/unary.hpp) -------------------
template <class T, class D> Tensor<T, D> add(const Tensor<T, D>& a, const Tensor<T, D>& b);
template <class T, class D> Tensor<T, D> sub(const Tensor<T, D>& a, const Tensor<T, D>& b);
template <class T, class D> Tensor<T, D> mul(const Tensor<T, D>& a, const Tensor<T, D>& b);
template <class T, class D> Tensor<T, D> div(const Tensor<T, D>& a, const Tensor<T, D>& b);
template <class T, class D> Tensor<T, D> pow(const Tensor<T, D>& a, const Tensor<T, D>& b);
template <class T, class D> Tensor<T, D> pow(const Tensor<T, D>& a, ScalarArg<T> exponent);
template <class T, class D> Tensor<T, D> add(const Tensor<T, D>& a, ScalarArg<T> s);
template <class T, class D> Tensor<T, D> mul(const Tensor<T, D>& a, ScalarArg<T> s);
template <class T, class D> Tensor<T, D> rsub(ScalarArg<T> s, const Tensor<T, D>& a);  // s - a
template <class T, class D> Tensor<T, D> rdiv(ScalarArg<T> s, const Tensor<T, D>& a);  // s / a
template <class T, class D> Tensor<T, D> neg(const Tensor<T, D>& a);
template <class T, class D> Tensor<T, D> exp(const Tensor<T, D>& a);
template <class T, class D> Tensor<T, D> log(const Tensor<T, D>& a);
template <class T, class D> Tensor<T, D> sqrt(const Tensor<T, D>& a);
template <class T, class D> Tensor<T, D> rsqrt(const Tensor<T, D>& a);
template <class T, class D> Tensor<T, D> abs(const Tensor<T, D>& a);
template <class T, class D> Tensor<T, D> sign(const Tensor<T, D>& a);  // not differentiable
template <class T, class D> Tensor<T, D> erf(const Tensor<T, D>& a);
template <class T, class D> Tensor<T, D> clamp(const Tensor<T, D>& a, ScalarArg<T> lo, ScalarArg<T> hi);
/// Comparisons give a 0/1 mask of the broadcast shape (not differentiable).
template <class T, class D> Tensor<T, D> eq(const Tensor<T, D>& a, const Tensor<T, D>& b);
template <class T, class D> Tensor<T, D> ne(const Tensor<T, D>& a, const Tensor<T, D>& b);
template <class T, class D> Tensor<T, D> lt(const Tensor<T, D>& a, const Tensor<T, D>& b);
template <class T, class D> Tensor<T, D> le(const Tensor<T, D>& a, const Tensor<T, D>& b);
template <class T, class D> Tensor<T, D> gt(const Tensor<T, D>& a, const Tensor<T, D>& b);
template <class T, class D> Tensor<T, D> ge(const Tensor<T, D>& a, const Tensor<T, D>& b);
template <class T, class D> Tensor<T, D> gt(const Tensor<T, D>& a, ScalarArg<T> s);
template <class T, class D> Tensor<T, D> lt(const Tensor<T, D>& a, ScalarArg<T> s);
/// cond ? a : b elementwise, cond a 0/1 mask; differentiable in a and b.
template <class T, class D>
Tensor<T, D> where(const Tensor<T, D>& cond, const Tensor<T, D>& a, const Tensor<T, D>& b);

// ---- activations (ops/activation.hpp) -----------------------------------
template <class T, class D> Tensor<T, D> relu(const Tensor<T, D>& x);
template <class T, class D> Tensor<T, D> leaky_relu(const Tensor<T, D>& x, ScalarArg<T> slope = T(0.01));
template <class T, class D> Tensor<T, D> sigmoid(const Tensor<T, D>& x);
template <class T, class D> Tensor<T, D> tanh(const Tensor<T, D>& x);
template <class T, class D> Tensor<T, D> silu(const Tensor<T, D>& x);
template <class T, class D> Tensor<T, D> gelu(const Tensor<T, D>& x);  // exact (erf) form
template <class T, class D> Tensor<T, D> softplus(const Tensor<T, D>& x);  // log(1 + e^x)
template <class T, class D> Tensor<T, D> softmax(const Tensor<T, D>& x, int64_t dim);
template <class T, class D> Tensor<T, D> log_softmax(const Tensor<T, D>& x, int64_t dim);

// ---- reductions (ops/reduce.hpp) ----------------------------------------
template <class T, class D> Tensor<T, D> sum(const Tensor<T, D>& x);
template <class T, class D> Tensor<T, D> sum(const Tensor<T, D>& x, const Dims& dims, bool keepdim = false);
template <class T, class D> Tensor<T, D> mean(const Tensor<T, D>& x);
template <class T, class D> Tensor<T, D> mean(const Tensor<T, D>& x, const Dims& dims, bool keepdim = false);
template <class T, class D> Tensor<T, D> max(const Tensor<T, D>& x);
template <class T, class D> Tensor<T, D> max(const Tensor<T, D>& x, const Dims& dims, bool keepdim = false);
template <class T, class D> Tensor<T, D> min(const Tensor<T, D>& x);
template <class T, class D> Tensor<T, D> min(const Tensor<T, D>& x, const Dims& dims, bool keepdim = false);
/// Variance with Bessel's correction by default (correction = 1), like torch.var.
template <class T, class D>
Tensor<T, D> var(const Tensor<T, D>& x, const Dims& dims, bool keepdim = false, int64_t correction = 1);
template <class T, class D>
Tensor<T, D> logsumexp(const Tensor<T, D>& x, const Dims& dims, bool keepdim = false);
/// L2 norm over dims (all dims when empty).
template <class T, class D> Tensor<T, D> norm(const Tensor<T, D>& x, const Dims& dims = {}, bool keepdim = false);
template <class T, class D>
Tensor<int64_t, D> argmax(const Tensor<T, D>& x, int64_t dim, bool keepdim = false);
/// Sums x down to `shape` (the reverse of broadcasting).
template <class T, class D> Tensor<T, D> sum_to(const Tensor<T, D>& x, const Shape& shape);

// ---- shape ops (ops/shape_ops.hpp) ---------------------------------------
/// A view with the same storage; one dim may be -1.
template <class T, class D> Tensor<T, D> reshape(const Tensor<T, D>& x, const std::vector<int64_t>& dims);
template <class T, class D> Tensor<T, D> flatten(const Tensor<T, D>& x, int64_t start_dim = 0, int64_t end_dim = -1);
template <class T, class D> Tensor<T, D> unsqueeze(const Tensor<T, D>& x, int64_t dim);
template <class T, class D> Tensor<T, D> squeeze(const Tensor<T, D>& x, int64_t dim);
template <class T, class D> Tensor<T, D> permute(const Tensor<T, D>& x, const std::vector<int>& perm);
template <class T, class D> Tensor<T, D> transpose(const Tensor<T, D>& x, int64_t d0 = -2, int64_t d1 = -1);
template <class T, class D>
Tensor<T, D> narrow(const Tensor<T, D>& x, int64_t dim, int64_t start, int64_t length);
template <class T, class D> Tensor<T, D> concat(const std::vector<Tensor<T, D>>& xs, int64_t dim = 0);
template <class T, class D> Tensor<T, D> stack(const std::vector<Tensor<T, D>>& xs, int64_t dim = 0);
template <class T, class D>
Tensor<T, D> index_select(const Tensor<T, D>& x, int64_t dim, const Tensor<int64_t, D>& index);
/// out[i][j] = x[index[i][j]][j] for dim 0 (and so on), index of x's rank.
template <class T, class D>
Tensor<T, D> gather(const Tensor<T, D>& x, int64_t dim, const Tensor<int64_t, D>& index);
/// zeros(shape) with src scattered and added at index along dim (the adjoint of gather).
template <class T, class D>
Tensor<T, D> scatter_add(const Shape& shape, int64_t dim, const Tensor<int64_t, D>& index,
                         const Tensor<T, D>& src);
template <class T, class D> Tensor<T, D> broadcast_to(const Tensor<T, D>& x, const Shape& shape);
/// A differentiable copy with its own storage.
template <class T, class D> Tensor<T, D> clone(const Tensor<T, D>& x);

// ---- linear algebra (ops/matmul.hpp) -------------------------------------
/// (m, k) @ (k, n); (b, m, k) @ (b, k, n); (b, m, k) @ (k, n).
template <class T, class D> Tensor<T, D> matmul(const Tensor<T, D>& a, const Tensor<T, D>& b);
/// x @ weight^T + bias, weight (out, in) as in torch.nn.Linear; bias may be undefined.
template <class T, class D>
Tensor<T, D> linear(const Tensor<T, D>& x, const Tensor<T, D>& weight, const Tensor<T, D>& bias = {});

// ---- convolution, pooling, resampling (ops/conv.hpp, ops/pool.hpp) ------
/// x (N, C, H, W), weight (O, C/groups, kh, kw), bias (O) or undefined.
template <class T, class D>
Tensor<T, D> conv2d(const Tensor<T, D>& x, const Tensor<T, D>& weight, const Tensor<T, D>& bias = {},
                    Size2 stride = 1, Size2 padding = 0, Size2 dilation = 1, int64_t groups = 1);
/// x (N, Cin, H, W), weight (Cin, Cout/groups, kh, kw) as torch.nn.ConvTranspose2d.
template <class T, class D>
Tensor<T, D> conv_transpose2d(const Tensor<T, D>& x, const Tensor<T, D>& weight,
                              const Tensor<T, D>& bias = {}, Size2 stride = 1, Size2 padding = 0,
                              Size2 output_padding = 0, Size2 dilation = 1, int64_t groups = 1);
template <class T, class D>
Tensor<T, D> max_pool2d(const Tensor<T, D>& x, Size2 kernel, Size2 stride = 0, Size2 padding = 0);
template <class T, class D>
Tensor<T, D> avg_pool2d(const Tensor<T, D>& x, Size2 kernel, Size2 stride = 0, Size2 padding = 0);
/// Resize (N, C, H, W) to (N, C, size.h, size.w).
template <class T, class D> Tensor<T, D> upsample_nearest2d(const Tensor<T, D>& x, Size2 size);
template <class T, class D>
Tensor<T, D> upsample_bilinear2d(const Tensor<T, D>& x, Size2 size, bool align_corners = false);

// ---- normalisation, dropout, embedding (ops/norm.hpp, ops/sampling.hpp) --
/// x (N, C) or (N, C, H, W). In training, batch statistics normalise and
/// running_mean/var (if defined) are updated in place; in eval they normalise.
template <class T, class D>
Tensor<T, D> batch_norm(const Tensor<T, D>& x, const Tensor<T, D>& running_mean,
                        const Tensor<T, D>& running_var, const Tensor<T, D>& weight,
                        const Tensor<T, D>& bias, bool training, double momentum = 0.1, double eps = 1e-5);
/// Normalises over the last `normalized_ndim` dims; weight/bias of that shape or undefined.
template <class T, class D>
Tensor<T, D> layer_norm(const Tensor<T, D>& x, int normalized_ndim, const Tensor<T, D>& weight = {},
                        const Tensor<T, D>& bias = {}, double eps = 1e-5);
/// x (N, C, ...) in `groups` groups of channels; weight/bias (C) or undefined.
template <class T, class D>
Tensor<T, D> group_norm(const Tensor<T, D>& x, int64_t groups, const Tensor<T, D>& weight = {},
                        const Tensor<T, D>& bias = {}, double eps = 1e-5);
/// Zeroes each element with probability p and scales the rest by 1/(1-p) in training.
template <class T, class D>
Tensor<T, D> dropout(const Tensor<T, D>& x, double p, bool training, Generator& gen = default_generator());
/// Rows of weight (num, dim) picked by index: out has shape index.shape + (dim).
template <class T, class D>
Tensor<T, D> embedding(const Tensor<T, D>& weight, const Tensor<int64_t, D>& index);

}  // namespace genmodel
