// genmodel/optim/lr_scheduler.hpp: learning-rate schedules. Each computes
// the lr of epoch (or step) e in closed form from every group's base lr (its
// lr when the scheduler was made) and writes it into the optimizer's groups:
// at construction (epoch 0) and on every step(), like torch.optim.lr_scheduler.
//   StepLR(step_size, gamma):      base * gamma^(e / step_size)
//   CosineAnnealingLR(T_max, eta_min): eta_min + (base - eta_min)(1 + cos(pi e / T_max)) / 2
//   LinearWarmup(warmup, after):   base * (e + 1) / warmup for e < warmup, then
//                                  `after`'s lr at e - warmup (base when none)
// To resume a run: make the scheduler on the freshly built optimizer (so the
// base lrs are the configured ones), load the optimizer's state, then
// set_epoch(the saved epoch).
#pragma once

#include <cmath>
#include <memory>
#include <numbers>
#include <vector>

#include "genmodel/optim/optimizer.hpp"

namespace genmodel::optim {

/// A schedule's formula: the lr of epoch e for a group whose base lr is `base`.
class Schedule {
 public:
  virtual ~Schedule() = default;
  virtual double lr_at(int64_t epoch, double base) const = 0;
};

class StepSchedule : public Schedule {
 public:
  StepSchedule(int64_t step_size, double gamma) : step_size_(step_size), gamma_(gamma) {
    GM_CHECK(step_size > 0, "StepLR: step_size must be positive, got ", step_size);
  }
  double lr_at(int64_t e, double base) const override { return base * std::pow(gamma_, double(e / step_size_)); }

 private:
  int64_t step_size_;
  double gamma_;
};

/// Past T_max the cosine continues (rises again), as PyTorch's closed form does.
class CosineSchedule : public Schedule {
 public:
  CosineSchedule(int64_t t_max, double eta_min) : t_max_(t_max), eta_min_(eta_min) {
    GM_CHECK(t_max > 0, "CosineAnnealingLR: T_max must be positive, got ", t_max);
  }
  double lr_at(int64_t e, double base) const override {
    return eta_min_ + (base - eta_min_) * (1 + std::cos(std::numbers::pi * double(e) / double(t_max_))) / 2;
  }

 private:
  int64_t t_max_;
  double eta_min_;
};

class WarmupSchedule : public Schedule {
 public:
  WarmupSchedule(int64_t warmup, std::shared_ptr<const Schedule> after)
      : warmup_(warmup), after_(std::move(after)) {
    GM_CHECK(warmup > 0, "LinearWarmup: warmup_steps must be positive, got ", warmup);
  }
  double lr_at(int64_t e, double base) const override {
    if (e < warmup_) return base * double(e + 1) / double(warmup_);
    return after_ ? after_->lr_at(e - warmup_, base) : base;
  }

 private:
  int64_t warmup_;
  std::shared_ptr<const Schedule> after_;
};

/// Binds a schedule to an optimizer's groups.
class LRScheduler {
 public:
  LRScheduler(LrGroups& optimizer, std::shared_ptr<const Schedule> schedule)
      : opt_(&optimizer), schedule_(std::move(schedule)) {
    for (size_t g = 0; g < opt_->num_param_groups(); ++g) base_lrs_.push_back(opt_->lr(g));
    apply();
  }
  virtual ~LRScheduler() = default;

  /// Advances one epoch (or step) and sets the groups' lr.
  void step() {
    ++epoch_;
    apply();
  }
  /// Jumps to epoch e (resuming a run) and sets the groups' lr.
  void set_epoch(int64_t e) {
    GM_CHECK(e >= 0, "LRScheduler: epoch must be >= 0, got ", e);
    epoch_ = e;
    apply();
  }
  int64_t epoch() const { return epoch_; }
  const std::vector<double>& base_lrs() const { return base_lrs_; }
  /// The lr of group g at epoch e.
  double lr_at(int64_t e, size_t g = 0) const { return schedule_->lr_at(e, base_lrs_.at(g)); }
  const std::shared_ptr<const Schedule>& schedule() const { return schedule_; }

 private:
  void apply() {
    GM_CHECK(opt_->num_param_groups() == base_lrs_.size(), "LRScheduler: the optimizer has ",
             opt_->num_param_groups(), " parameter groups, the scheduler was made for ", base_lrs_.size());
    for (size_t g = 0; g < base_lrs_.size(); ++g) opt_->set_lr(g, lr_at(epoch_, g));
  }

  LrGroups* opt_;
  std::shared_ptr<const Schedule> schedule_;
  std::vector<double> base_lrs_;
  int64_t epoch_ = 0;
};

class StepLR : public LRScheduler {
 public:
  StepLR(LrGroups& opt, int64_t step_size, double gamma = 0.1)
      : LRScheduler(opt, std::make_shared<StepSchedule>(step_size, gamma)) {}
};

class CosineAnnealingLR : public LRScheduler {
 public:
  CosineAnnealingLR(LrGroups& opt, int64_t t_max, double eta_min = 0)
      : LRScheduler(opt, std::make_shared<CosineSchedule>(t_max, eta_min)) {}
};

/// Linear warmup, then `after` (another scheduler's schedule, or constant).
class LinearWarmup : public LRScheduler {
 public:
  LinearWarmup(LrGroups& opt, int64_t warmup_steps, std::shared_ptr<const Schedule> after = nullptr)
      : LRScheduler(opt, std::make_shared<WarmupSchedule>(warmup_steps, std::move(after))) {}
};

}  // namespace genmodel::optim
