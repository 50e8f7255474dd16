// Tests of DataLoader: each index once per epoch, seeded and per-epoch
// orders, drop_last, identical results with and without prefetch, worker
// exceptions re-thrown on the consumer, clean shutdown mid-epoch.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <numeric>
#include <thread>

#include "genmodel/core/factories.hpp"
#include "genmodel/core/random.hpp"
#include "genmodel/data/dataloader.hpp"
#include "genmodel/data/transforms.hpp"

using namespace genmodel::data;
using genmodel::Generator;
using genmodel::Shape;
using genmodel::Tensor;
using Catch::Contains;

namespace {
/// n examples; image i is (1, 1, 2) = {i, -i}, label i. Optionally throws
/// at one index or sleeps in get() to make the worker slow.
struct Toy {
  int64_t n = 103;
  int64_t throw_at = -1;
  int sleep_us = 0;
  int64_t size() const { return n; }
  Example get(int64_t i) const {
    GM_CHECK(i != throw_at, "Toy: cannot load example ", i);
    if (sleep_us) std::this_thread::sleep_for(std::chrono::microseconds(sleep_us));
    return {genmodel::from_vector<float>({float(i), float(-i)}, {1, 1, 2}), i};
  }
};
static_assert(Dataset<Toy>);
static_assert(!BatchDataset<Toy>);

/// Every batch of one epoch, copied out.
template <class DS>
std::vector<Batch> run_epoch(DataLoader<DS>& loader) {
  std::vector<Batch> out;
  for (Batch& b : loader) out.push_back(b);
  return out;
}

std::vector<int64_t> labels_of(const std::vector<Batch>& batches) {
  std::vector<int64_t> all;
  for (const Batch& b : batches) {
    const auto l = b.labels.to_vector();
    all.insert(all.end(), l.begin(), l.end());
  }
  return all;
}
}  // namespace

TEST_CASE("DataLoader visits every index once per epoch, in batches", "[data][loader]") {
  for (bool prefetch : {false, true}) {
    DataLoader loader(Toy{}, {.batch_size = 10, .seed = 3, .prefetch = prefetch});
    CHECK(loader.num_batches() == 11);
    for (int epoch = 0; epoch < 2; ++epoch) {
      CHECK(loader.epoch() == epoch);
      const auto batches = run_epoch(loader);
      REQUIRE(batches.size() == 11);
      for (std::size_t k = 0; k < 11; ++k) {
        const int64_t b = k < 10 ? 10 : 3;
        REQUIRE(batches[k].images.shape() == Shape({b, 1, 1, 2}));
        REQUIRE(batches[k].labels.shape() == Shape({b}));
        for (int64_t j = 0; j < b; ++j) {  // images travel with their labels
          const float l = float(batches[k].labels.data()[j]);
          CHECK(batches[k].images.at(j, 0, 0, 0) == l);
          CHECK(batches[k].images.at(j, 0, 0, 1) == -l);
        }
      }
      auto labels = labels_of(batches);
      CHECK(labels == loader.order(epoch));
      std::sort(labels.begin(), labels.end());
      std::vector<int64_t> all(103);
      std::iota(all.begin(), all.end(), 0);
      CHECK(labels == all);
    }
  }
}

TEST_CASE("DataLoader's order depends on (seed, epoch) only", "[data][loader]") {
  DataLoader a(Toy{}, {.batch_size = 16, .seed = 7});
  DataLoader b(Toy{}, {.batch_size = 16, .seed = 7});
  DataLoader c(Toy{}, {.batch_size = 16, .seed = 8});
  const auto a0 = labels_of(run_epoch(a)), a1 = labels_of(run_epoch(a));
  CHECK(labels_of(run_epoch(b)) == a0);
  CHECK(labels_of(run_epoch(b)) == a1);
  CHECK(a0 != a1);  // a new permutation each epoch
  CHECK(labels_of(run_epoch(c)) != a0);

  std::vector<int64_t> identity(103);
  std::iota(identity.begin(), identity.end(), 0);
  CHECK(a0 != identity);

  // Resuming at an epoch gives that epoch's order.
  DataLoader r(Toy{}, {.batch_size = 16, .seed = 7});
  r.set_epoch(1);
  CHECK(labels_of(run_epoch(r)) == a1);
  CHECK(r.epoch() == 2);

  DataLoader plain(Toy{}, {.batch_size = 16, .shuffle = false});
  CHECK(labels_of(run_epoch(plain)) == identity);
  CHECK(labels_of(run_epoch(plain)) == identity);

  // A larger shuffle is still a permutation.
  const auto big = DataLoader(Toy{.n = 60000}, {.seed = 1}).order(5);
  std::vector<char> seen(60000, 0);
  for (int64_t i : big) seen.at(i)++;
  CHECK(std::all_of(seen.begin(), seen.end(), [](char s) { return s == 1; }));
}

TEST_CASE("DataLoader drop_last drops the short batch", "[data][loader]") {
  DataLoader keep(Toy{}, {.batch_size = 25});
  DataLoader drop(Toy{}, {.batch_size = 25, .drop_last = true});
  CHECK(keep.num_batches() == 5);
  CHECK(drop.num_batches() == 4);
  const auto kb = run_epoch(keep), db = run_epoch(drop);
  REQUIRE(kb.size() == 5);
  REQUIRE(db.size() == 4);
  CHECK(kb.back().labels.numel() == 3);
  for (const Batch& b : db) CHECK(b.labels.numel() == 25);

  DataLoader none(Toy{.n = 5}, {.batch_size = 8, .drop_last = true});
  CHECK(none.num_batches() == 0);
  CHECK(run_epoch(none).empty());
  DataLoader one(Toy{.n = 5}, {.batch_size = 8});
  CHECK(run_epoch(one).size() == 1);
}

TEST_CASE("DataLoader gives the same batches with and without prefetch", "[data][loader]") {
  // A transform that draws random numbers: deterministic per (seed, epoch, batch).
  const BatchTransform noisy = [](Batch b, Generator& gen) {
    b.images = random_hflip(b.images, gen);
    const auto noise = genmodel::rand<float>(b.images.shape(), gen);
    for (int64_t i = 0; i < noise.numel(); ++i) b.images.data()[i] += noise.data()[i];
    return b;
  };
  DataLoader on(Toy{}, {.batch_size = 8, .seed = 11, .prefetch = true}, noisy);
  DataLoader off(Toy{}, {.batch_size = 8, .seed = 11, .prefetch = false}, noisy);
  for (int epoch = 0; epoch < 3; ++epoch) {
    const auto x = run_epoch(on), y = run_epoch(off);
    REQUIRE(x.size() == y.size());
    for (std::size_t k = 0; k < x.size(); ++k) {
      CHECK(x[k].labels.to_vector() == y[k].labels.to_vector());
      CHECK(x[k].images.to_vector() == y[k].images.to_vector());
    }
  }
  // An abandoned epoch does not shift the next one.
  for (Batch& b : on) {
    (void)b;
    break;
  }
  on.set_epoch(1);
  off.set_epoch(1);
  const auto x = run_epoch(on), y = run_epoch(off);
  CHECK(x.back().images.to_vector() == y.back().images.to_vector());
}

TEST_CASE("DataLoader re-throws a dataset's exception on the consumer thread", "[data][loader]") {
  for (bool prefetch : {false, true}) {
    // Index 57 sits in batch 5 of an unshuffled epoch of batch size 10.
    DataLoader loader(Toy{.throw_at = 57},
                      {.batch_size = 10, .shuffle = false, .prefetch = prefetch});
    int received = 0;
    const auto consume = [&] {
      for (Batch& b : loader) {
        (void)b;
        ++received;
      }
    };
    REQUIRE_THROWS_AS(consume(), genmodel::Error);
    CHECK(received == 5);  // the batches before the bad one arrive first
    received = 0;
    REQUIRE_THROWS_WITH(consume(), Contains("Toy: cannot load example 57"));
  }
  DataLoader first(Toy{.throw_at = 0}, {.shuffle = false});
  REQUIRE_THROWS_WITH(first.begin(), Contains("cannot load example 0"));
}

TEST_CASE("DataLoader stops its worker cleanly mid-epoch", "[data][loader]") {
  for (int rep = 0; rep < 20; ++rep) {
    DataLoader loader(Toy{.n = 400, .sleep_us = rep % 2 ? 50 : 0}, {.batch_size = 4, .seed = 2});
    int seen = 0;
    for (Batch& b : loader) {
      CHECK(b.labels.numel() == 4);
      if (++seen == 3) break;  // the worker is still running or waiting on a full queue
    }
    // A new epoch while the old one is live restarts cleanly.
    auto it = loader.begin();
    const auto order = loader.order(1);
    CHECK(it->labels.to_vector() == std::vector<int64_t>(order.begin(), order.begin() + 4));
  }  // destroyed mid-epoch: must join, not hang or crash
}

TEST_CASE("DataLoader and gather check their inputs", "[data][loader]") {
  REQUIRE_THROWS_WITH(DataLoader(Toy{}, {.batch_size = 0}),
                      Contains("batch_size must be positive"));
  REQUIRE_THROWS_WITH(DataLoader(Toy{.n = 0}), Contains("the dataset is empty"));
  DataLoader loader(Toy{});
  REQUIRE_THROWS_WITH(loader.set_epoch(-1), Contains("epoch must be non-negative"));
  REQUIRE_THROWS_WITH(gather(Toy{}, std::vector<int64_t>{}), Contains("empty list of indices"));
  REQUIRE_THROWS_WITH(gather(Toy{}, std::vector<int64_t>{0, 103}),
                      Contains("index 103 out of range for a dataset of 103"));

  struct Ragged {
    int64_t size() const { return 2; }
    Example get(int64_t i) const { return {Tensor<float>::empty({1, 2, 2 + i}), i}; }
  };
  REQUIRE_THROWS_WITH(gather(Ragged{}, std::vector<int64_t>{0, 1}),
                      Contains("example 1 has an image of shape [1, 2, 3], unlike the first "
                               "example's [1, 2, 2]"));
  struct Flat {
    int64_t size() const { return 1; }
    Example get(int64_t) const { return {Tensor<float>::empty({4}), 0}; }
  };
  REQUIRE_THROWS_WITH(gather(Flat{}, std::vector<int64_t>{0}),
                      Contains("example 0 has an image of shape [4], expected (C, H, W)"));
}
