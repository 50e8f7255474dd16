// genmodel/data/subset.hpp: Prefix, the first n examples of a dataset (a
// trainer's --limit, a quick test on a few hundred images). It is a Dataset
// itself and keeps the wrapped dataset's fast batch path.
#pragma once

#include <algorithm>
#include <cstdint>
#include <span>
#include <utility>

#include "genmodel/data/dataset.hpp"

namespace genmodel::data {

template <Dataset DS>
class Prefix {
 public:
  /// The first min(n, ds.size()) examples; n must be positive.
  Prefix(DS ds, int64_t n) : ds_(std::move(ds)), n_(std::min<int64_t>(n, ds_.size())) {
    GM_CHECK(n > 0, "Prefix: the number of examples must be positive, got ", n);
  }
  int64_t size() const { return n_; }
  Example get(int64_t i) const {
    check(i);
    return ds_.get(i);
  }
  Batch get_batch(std::span<const int64_t> idx) const {
    for (int64_t i : idx) check(i);
    return gather(ds_, idx);
  }

 private:
  void check(int64_t i) const { GM_CHECK(i >= 0 && i < n_, "Prefix: index ", i, " out of range for ", n_, " examples"); }

  DS ds_;
  int64_t n_;
};

}  // namespace genmodel::data
