// genmodel/data/dataset.hpp: what a dataset is, like PyTorch's map-style
// datasets: size() examples, get(i) returns one {image (C, H, W), label}.
// A dataset may also provide get_batch(indices), a fast path that fills a
// whole (B, C, H, W) batch at once; gather() uses it when it is there and
// stacks get(i) results otherwise.
#pragma once

#include <algorithm>
#include <concepts>
#include <cstdint>
#include <span>

#include "genmodel/core/error.hpp"
#include "genmodel/core/tensor.hpp"

namespace genmodel::data {

/// One example: an image (C, H, W) and its class label.
struct Example {
  Tensor<float> image;
  int64_t label = 0;
};

/// A batch: images (B, C, H, W) and labels (B).
struct Batch {
  Tensor<float> images;
  Tensor<int64_t> labels;
};

template <class DS>
concept Dataset = requires(const DS& ds, int64_t i) {
  { ds.size() } -> std::convertible_to<int64_t>;
  { ds.get(i) } -> std::same_as<Example>;
};

/// A dataset with the optional fast path get_batch(indices) -> Batch.
template <class DS>
concept BatchDataset = Dataset<DS> && requires(const DS& ds, std::span<const int64_t> idx) {
  { ds.get_batch(idx) } -> std::same_as<Batch>;
};

/// The examples at `indices`, as one batch.
template <Dataset DS>
Batch gather(const DS& ds, std::span<const int64_t> indices) {
  GM_CHECK(!indices.empty(), "gather: empty list of indices");
  const int64_t n = static_cast<int64_t>(ds.size());
  for (int64_t i : indices)
    GM_CHECK(i >= 0 && i < n, "gather: index ", i, " out of range for a dataset of ", n,
             " examples");
  if constexpr (BatchDataset<DS>) {
    return ds.get_batch(indices);
  } else {
    const int64_t b = static_cast<int64_t>(indices.size());
    Batch out;
    out.labels = Tensor<int64_t>::empty({b});
    for (int64_t k = 0; k < b; ++k) {
      Example ex = ds.get(indices[k]);
      GM_CHECK(ex.image.defined() && ex.image.dim() == 3, "gather: example ", indices[k],
               " has an image of shape ", ex.image.defined() ? ex.image.shape().str() : "undefined",
               ", expected (C, H, W)");
      if (k == 0) {
        const Shape& s = ex.image.shape();
        out.images = Tensor<float>::empty({b, s[0], s[1], s[2]});
      }
      const Shape& s = out.images.shape();
      GM_CHECK(ex.image.shape() == Shape({s[1], s[2], s[3]}), "gather: example ", indices[k],
               " has an image of shape ", ex.image.shape(), ", unlike the first example's ",
               Shape({s[1], s[2], s[3]}));
      std::copy_n(ex.image.data(), ex.image.numel(), out.images.data() + k * ex.image.numel());
      out.labels.data()[k] = ex.label;
    }
    return out;
  }
}

}  // namespace genmodel::data
