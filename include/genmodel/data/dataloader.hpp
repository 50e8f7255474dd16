// genmodel/data/dataloader.hpp: DataLoader, which walks a Dataset in batches
// of {images (B, C, H, W), labels (B)}:
//   DataLoader loader(FashionMNIST(Split::train), {.batch_size = 64, .seed = 1});
//   for (int epoch = 0; epoch < 10; ++epoch)
//     for (Batch& b : loader) train_step(b.images, b.labels);
// Each range-for runs one epoch: a permutation drawn from (seed, epoch), then
// the batches in that order. Batch k of an epoch is a pure function of (seed,
// epoch, k), so the result is the same with or without background prefetch,
// which builds the next batches on a worker thread (a queue of at most 2).
// An exception in the worker is re-thrown on the consuming thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <numeric>
#include <span>
#include <thread>
#include <utility>
#include <vector>

#include "genmodel/core/error.hpp"
#include "genmodel/core/philox.hpp"
#include "genmodel/data/dataset.hpp"

namespace genmodel::data {

struct DataLoaderOptions {
  int64_t batch_size = 64;
  bool shuffle = true;
  uint64_t seed = 0;
  bool drop_last = false;  // drop a last batch smaller than batch_size
  bool prefetch = true;    // build the next batches on a background thread
};

/// Called on each batch after gathering (augmentation). The generator is
/// seeded from (seed, epoch, batch index), so a transform is deterministic
/// and independent of prefetching.
using BatchTransform = std::function<Batch(Batch, Generator&)>;

namespace detail {
/// SplitMix64's finaliser: derives well-mixed, distinct Philox keys.
inline uint64_t mix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

/// Runs make(0), make(1), ..., make(n - 1) on a worker thread, at most two
/// batches ahead of the consumer. Destroying it stops and joins the worker.
class Prefetcher {
 public:
  Prefetcher(int64_t n, std::function<Batch(int64_t)> make)
      : make_(std::move(make)), thread_([this, n] { run(n); }) {}

  ~Prefetcher() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  Prefetcher(const Prefetcher&) = delete;
  Prefetcher& operator=(const Prefetcher&) = delete;

  /// The next batch in order; re-throws the worker's exception once the
  /// batches built before it have been taken.
  Batch next() {
    std::unique_lock lock(mutex_);
    cv_.wait(lock, [&] { return !queue_.empty() || error_; });
    if (queue_.empty()) std::rethrow_exception(error_);
    Batch b = std::move(queue_.front());
    queue_.pop_front();
    cv_.notify_all();
    return b;
  }

 private:
  static constexpr std::size_t kDepth = 2;

  void run(int64_t n) {
    for (int64_t k = 0; k < n; ++k) {
      {
        std::unique_lock lock(mutex_);
        cv_.wait(lock, [&] { return stop_ || queue_.size() < kDepth; });
        if (stop_) return;
      }
      try {
        Batch b = make_(k);
        std::lock_guard lock(mutex_);
        queue_.push_back(std::move(b));
      } catch (...) {
        std::lock_guard lock(mutex_);
        error_ = std::current_exception();
      }
      cv_.notify_all();
      if (error_) return;  // only this thread writes error_
    }
  }

  std::function<Batch(int64_t)> make_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Batch> queue_;
  std::exception_ptr error_;
  bool stop_ = false;
  std::thread thread_;  // last: starts after the members it uses exist
};
}  // namespace detail

template <Dataset DS>
class DataLoader {
 public:
  /// Takes the dataset by value (FashionMNIST copies share their bytes).
  explicit DataLoader(DS dataset, DataLoaderOptions opt = {}, BatchTransform transform = {})
      : dataset_(std::move(dataset)), opt_(opt), transform_(std::move(transform)) {
    GM_CHECK(opt_.batch_size > 0, "DataLoader: batch_size must be positive, got ", opt_.batch_size);
    GM_CHECK(dataset_.size() > 0, "DataLoader: the dataset is empty");
  }

  // Not copyable or movable: the worker thread points into the loader.
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  const DS& dataset() const { return dataset_; }
  const DataLoaderOptions& options() const { return opt_; }

  /// Batches per epoch.
  int64_t num_batches() const {
    const int64_t n = dataset_.size(), b = opt_.batch_size;
    return opt_.drop_last ? n / b : (n + b - 1) / b;
  }

  /// The epoch the next range-for runs; set it to resume a run.
  int64_t epoch() const { return epoch_; }
  void set_epoch(int64_t e) {
    GM_CHECK(e >= 0, "DataLoader::set_epoch: epoch must be non-negative, got ", e);
    epoch_ = e;
    start_batch_ = 0;
  }

  /// Resumes mid-epoch: the next range-for runs epoch `e` from its batch `k`
  /// (the batches it yields are those an uninterrupted epoch yields from k on).
  void set_position(int64_t e, int64_t k) {
    GM_CHECK(e >= 0 && k >= 0 && k <= num_batches(), "DataLoader::set_position: need epoch >= 0 and batch in [0, ",
             num_batches(), "], got epoch ", e, ", batch ", k);
    epoch_ = e;
    start_batch_ = k;
  }

  /// The dataset indices of epoch `e` in visiting order: 0..n-1 unshuffled,
  /// else a Fisher-Yates shuffle driven by a Philox stream keyed by (seed, e).
  std::vector<int64_t> order(int64_t e) const {
    std::vector<int64_t> idx(static_cast<std::size_t>(dataset_.size()));
    std::iota(idx.begin(), idx.end(), int64_t(0));
    if (!opt_.shuffle) return idx;
    const Generator gen(detail::mix64(opt_.seed ^ detail::mix64(uint64_t(e))));
    for (std::size_t i = idx.size(); i > 1; --i) {
      // j uniform on [0, i) from a 64-bit draw (modulo bias below i / 2^64).
      const PhiloxBlock w = gen.block(i);
      const auto j = static_cast<std::size_t>(((uint64_t(w[0]) << 32) | w[1]) % i);
      std::swap(idx[i - 1], idx[j]);
    }
    return idx;
  }

  /// Batch k of epoch e, given that epoch's order (what the iteration yields).
  Batch make_batch(const std::vector<int64_t>& order, int64_t e, int64_t k) const {
    const int64_t begin = k * opt_.batch_size;
    const int64_t end = std::min<int64_t>(begin + opt_.batch_size, dataset_.size());
    Batch b = gather(dataset_, std::span<const int64_t>(order.data() + begin, end - begin));
    if (!transform_) return b;
    // ~seed keeps this stream apart from the shuffle's.
    const uint64_t key = detail::mix64(uint64_t(e) ^ detail::mix64(uint64_t(k)));
    Generator gen(detail::mix64(~opt_.seed ^ key));
    return transform_(std::move(b), gen);
  }

  class Sentinel {};

  /// Walks one epoch; it is an input iterator, as the batches are made on demand.
  class Iterator {
   public:
    using value_type = Batch;
    using difference_type = std::ptrdiff_t;

    Batch& operator*() const { return loader_->current_; }
    Batch* operator->() const { return &loader_->current_; }
    Iterator& operator++() {
      loader_->advance();
      return *this;
    }
    void operator++(int) { ++*this; }
    friend bool operator==(const Iterator& it, Sentinel) { return it.at_end(); }

   private:
    friend class DataLoader;
    explicit Iterator(DataLoader* loader) : loader_(loader) {}
    bool at_end() const { return loader_->done(); }
    DataLoader* loader_;
  };

  /// Starts the next epoch (stopping one still in progress) and returns its
  /// first batch. Only one iteration of a loader is live at a time.
  Iterator begin() {
    prefetcher_.reset();
    run_epoch_ = epoch_++;
    run_order_ = order(run_epoch_);
    next_ = std::exchange(start_batch_, 0);
    if (opt_.prefetch)
      prefetcher_ = std::make_unique<detail::Prefetcher>(
          num_batches() - next_, [this, first = next_](int64_t k) { return make_batch(run_order_, run_epoch_, first + k); });
    advance();
    return Iterator(this);
  }
  Sentinel end() const { return {}; }

 private:
  bool done() const { return next_ > num_batches(); }

  void advance() {
    if (next_ < num_batches())
      current_ = prefetcher_ ? prefetcher_->next() : make_batch(run_order_, run_epoch_, next_);
    else
      current_ = {};
    ++next_;
  }

  DS dataset_;
  DataLoaderOptions opt_;
  BatchTransform transform_;
  int64_t epoch_ = 0;
  int64_t start_batch_ = 0;  // where the next epoch starts (set_position)
  // The live epoch: its number, its order, how many of its batches have been
  // taken (the current one included) and the worker building those ahead.
  int64_t run_epoch_ = 0;
  std::vector<int64_t> run_order_;
  int64_t next_ = 0;
  Batch current_;
  std::unique_ptr<detail::Prefetcher> prefetcher_;
};

}  // namespace genmodel::data
