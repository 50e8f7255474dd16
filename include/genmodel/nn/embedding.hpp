// genmodel/nn/embedding.hpp: Embedding, a lookup table of learned rows
// (torch.nn.Embedding), initialised N(0, 1) as in PyTorch.
#pragma once

#include "genmodel/nn/init.hpp"
#include "genmodel/nn/module.hpp"

namespace genmodel::nn {

template <class T = float, class D = cpu>
class Embedding : public Module<T, D> {
 public:
  using Tensor = genmodel::Tensor<T, D>;

  /// weight (num_embeddings, embedding_dim).
  Embedding(int64_t num_embeddings, int64_t embedding_dim, Generator& gen = default_generator())
      : Module<T, D>("Embedding") {
    GM_CHECK(num_embeddings > 0 && embedding_dim > 0, "Embedding: sizes must be positive, got (", num_embeddings,
             ", ", embedding_dim, ")");
    Tensor w = Tensor::empty({num_embeddings, embedding_dim});
    init::normal_(w, 0.0, 1.0, gen);
    weight = this->register_parameter("weight", w);
  }

  /// index of any shape, values in [0, num_embeddings) -> index.shape + (dim);
  /// one out of range throws the embedding op's error, naming it and its position.
  Tensor forward(const genmodel::Tensor<int64_t, D>& index) { return embedding(weight, index); }
  Tensor operator()(const genmodel::Tensor<int64_t, D>& index) { return forward(index); }

  Tensor weight;
};

}  // namespace genmodel::nn
