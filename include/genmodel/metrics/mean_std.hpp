// genmodel/metrics/mean_std.hpp: MeanStd, the (mean, std) pair that the
// subset- and split-averaged metrics return (KID over random subsets, the
// classifier score over splits), and mean_std() over a list of values. The
// std is the population one (divides by n), as numpy.std and so
// torch-fidelity and the Inception Score code report it.
#pragma once

#include <cmath>
#include <span>

#include "genmodel/core/error.hpp"

namespace genmodel::metrics {

struct MeanStd {
  double mean = 0;
  double std = 0;
};

/// Mean and population standard deviation of at least one value.
inline MeanStd mean_std(std::span<const double> values) {
  GM_CHECK(!values.empty(), "mean_std: no values");
  double sum = 0;
  for (double v : values) sum += v;
  const double mean = sum / double(values.size());
  double sq = 0;
  for (double v : values) sq += (v - mean) * (v - mean);
  return {mean, std::sqrt(sq / double(values.size()))};
}

}  // namespace genmodel::metrics
