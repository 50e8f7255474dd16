// genmodel/metrics/fid.hpp: FID with any feature extractor. extract_features
// runs the extractor over images (N, ...) in batches without recording a
// graph and stacks its outputs into features (N, F); fid() is the Frechet
// distance between the Gaussians fitted to two such feature sets.
//
// The extractor is anything that maps a batch (B, ...) to (B, F): a
// callable, a module (.forward) or a pointer to one (->forward), e.g. the
// Fashion-MNIST classifier's `net.features`. A module must be in eval mode:
// in training mode BatchNorm would normalise with each batch's statistics
// (the features would depend on the batching) and overwrite its running
// statistics, so extract_features refuses it.
//
// The number means what the extractor means: with Inception-v3 pool
// features it is the FID of the literature; with another network it is
// only comparable with itself.
#pragma once

#include <algorithm>
#include <concepts>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>

#include "genmodel/autograd/grad_mode.hpp"
#include "genmodel/core/error.hpp"
#include "genmodel/core/tensor.hpp"
#include "genmodel/metrics/frechet.hpp"
#include "genmodel/nn/module.hpp"

namespace genmodel::metrics {

/// Maps a batch of images (B, ...) to features (B, F).
template <class E>
concept FeatureExtractor =
    std::is_invocable_r_v<Tensor<float>, E&, const Tensor<float>&> ||
    requires(E& f, const Tensor<float>& x) {
      { f.forward(x) } -> std::convertible_to<Tensor<float>>;
    } || requires(E& f, const Tensor<float>& x) {
      { f->forward(x) } -> std::convertible_to<Tensor<float>>;
    };

namespace detail {

template <class E>
Tensor<float> run_extractor(E& f, const Tensor<float>& x) {
  if constexpr (std::is_invocable_r_v<Tensor<float>, E&, const Tensor<float>&>)
    return f(x);
  else if constexpr (requires { f.forward(x); })
    return f.forward(x);
  else
    return f->forward(x);
}

/// The module behind an extractor (itself or what it points to), or null.
template <class E>
const nn::Module<float>* module_of(const E& f) {
  using U = std::remove_cvref_t<E>;
  if constexpr (std::is_base_of_v<nn::Module<float>, U>) {
    return &f;
  } else if constexpr (requires { f.get(); *f; }) {
    if constexpr (std::is_base_of_v<nn::Module<float>, std::remove_cvref_t<decltype(*f)>>)
      return f.get();
    else
      return nullptr;
  } else {
    return nullptr;
  }
}

}  // namespace detail

/// Features (N, F) of images (N, ...), `batch` images per extractor call,
/// under NoGradGuard.
template <FeatureExtractor E>
Tensor<float> extract_features(E&& f, const Tensor<float>& images, int64_t batch = 500) {
  GM_CHECK(images.defined() && images.dim() >= 1, "extract_features: expected images (N, ...), got ",
           images.defined() ? images.shape().str() : "an undefined tensor");
  GM_CHECK(images.size(0) >= 1, "extract_features: no images (shape ", images.shape(), ")");
  GM_CHECK(batch >= 1, "extract_features: batch must be positive, got ", batch);
  if (const auto* m = detail::module_of(f))
    GM_CHECK(!m->is_training(), "extract_features: the extractor ", m->type_name(),
             " is in training mode; call eval() first (BatchNorm would use batch statistics)");
  NoGradGuard no_grad;
  const int64_t n = images.size(0), per = images.numel() / n;
  Tensor<float> out;
  for (int64_t start = 0; start < n; start += batch) {
    const int64_t len = std::min(batch, n - start);
    Shape shape = images.shape();
    shape[0] = len;
    const auto x = Tensor<float>::from_storage(images.storage(), shape, images.storage_offset() + start * per);
    const Tensor<float> y = detail::run_extractor(f, x);
    GM_CHECK(y.defined() && y.dim() == 2 && y.size(0) == len && y.size(1) >= 1,
             "extract_features: the extractor must map a batch of ", len, " images (shape ", shape,
             ") to features (", len, ", F), got ", y.defined() ? y.shape().str() : "an undefined tensor");
    if (!out.defined()) out = Tensor<float>::empty({n, y.size(1)});
    GM_CHECK(y.size(1) == out.size(1), "extract_features: the extractor gave ", out.size(1),
             " features for the first batch but ", y.size(1), " for the batch at image ", start);
    std::memcpy(out.data() + start * out.size(1), y.data(), sizeof(float) * y.numel());
  }
  return out;
}

/// FID between two image sets (each N >= 2) in the extractor's feature space.
template <FeatureExtractor E>
double fid(E&& f, const Tensor<float>& images_a, const Tensor<float>& images_b, int64_t batch = 500) {
  const FeatureStats a = feature_stats(extract_features(f, images_a, batch));
  const FeatureStats b = feature_stats(extract_features(f, images_b, batch));
  return frechet_distance(a, b);
}

}  // namespace genmodel::metrics
