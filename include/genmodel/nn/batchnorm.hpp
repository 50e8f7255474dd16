// genmodel/nn/batchnorm.hpp: BatchNorm1d and BatchNorm2d (torch.nn.BatchNorm*d)
// with running statistics, momentum, affine and track_running_stats.
//
// num_batches_tracked is a buffer of the model's scalar type T (a 0-d
// tensor) so the state dict holds one element type; PyTorch stores it as
// int64, which a checkpoint writer converts on the way out.
#pragma once

#include <optional>

#include "genmodel/nn/module.hpp"

namespace genmodel::nn {

struct BatchNormOptions {
  double eps = 1e-5;
  std::optional<double> momentum = 0.1;  // nullopt: cumulative average (1 / num_batches_tracked)
  bool affine = true;
  bool track_running_stats = true;
};

/// The shared implementation; `ndims` lists the accepted input ranks.
template <class T = float, class D = cpu>
class BatchNormBase : public Module<T, D> {
 public:
  using Tensor = genmodel::Tensor<T, D>;

  /// x is (N, C, ...) of an accepted rank. Training normalises by batch
  /// statistics and updates the running ones (unbiased variance); eval
  /// normalises by the running ones when tracked, else by the batch's.
  Tensor forward(const Tensor& x) {
    GM_CHECK((x.dim() == rank_a_ || x.dim() == rank_b_) && x.size(1) == features_, this->type_name(), "(",
             features_, "): input must be ", shape_hint_, ", got ", x.shape());
    const bool use_batch_stats = this->is_training() || !opts_.track_running_stats;
    double momentum = opts_.momentum.value_or(0.0);
    if (this->is_training() && opts_.track_running_stats) {
      // In place, on the buffer's device; read back only for the cumulative average.
      kernels::Backend<D>::map_scalar(num_batches_tracked.data(), num_batches_tracked.data(), int64_t(1),
                                      [] GENMODEL_HOST_DEVICE(T c) { return c + T(1); });
      if (!opts_.momentum) momentum = 1.0 / double(num_batches_tracked.item());
    }
    // Undefined when not tracked: then batch_norm neither reads nor updates them.
    return batch_norm(x, running_mean, running_var, weight, bias, use_batch_stats, momentum, opts_.eps);
  }
  Tensor operator()(const Tensor& x) { return forward(x); }

  int64_t num_features() const { return features_; }
  const BatchNormOptions& options() const { return opts_; }

  Tensor weight, bias;                                   // (C), when affine
  Tensor running_mean, running_var, num_batches_tracked;  // when tracking

 protected:
  BatchNormBase(const char* name, int rank_a, int rank_b, const char* shape_hint, int64_t num_features,
                BatchNormOptions opts)
      : Module<T, D>(name), features_(num_features), rank_a_(rank_a), rank_b_(rank_b), shape_hint_(shape_hint),
        opts_(opts) {
    GM_CHECK(num_features > 0, name, ": num_features must be positive, got ", num_features);
    GM_CHECK(opts.eps > 0, name, ": eps must be positive, got ", opts.eps);
    if (opts.affine) {
      weight = this->register_parameter("weight", ones<T, D>({num_features}));
      bias = this->register_parameter("bias", zeros<T, D>({num_features}));
    }
    if (opts.track_running_stats) {
      running_mean = this->register_buffer("running_mean", zeros<T, D>({num_features}));
      running_var = this->register_buffer("running_var", ones<T, D>({num_features}));
      num_batches_tracked = this->register_buffer("num_batches_tracked", zeros<T, D>(Shape{}));
    }
  }

 private:
  int64_t features_;
  int rank_a_, rank_b_;
  const char* shape_hint_;
  BatchNormOptions opts_;
};

/// Over (N, C) or (N, C, L).
template <class T = float, class D = cpu>
class BatchNorm1d : public BatchNormBase<T, D> {
 public:
  explicit BatchNorm1d(int64_t num_features, BatchNormOptions opts = {})
      : BatchNormBase<T, D>("BatchNorm1d", 2, 3, "(N, C) or (N, C, L)", num_features, opts) {}
};

/// Over (N, C, H, W).
template <class T = float, class D = cpu>
class BatchNorm2d : public BatchNormBase<T, D> {
 public:
  explicit BatchNorm2d(int64_t num_features, BatchNormOptions opts = {})
      : BatchNormBase<T, D>("BatchNorm2d", 4, 4, "(N, C, H, W)", num_features, opts) {}
};

}  // namespace genmodel::nn
