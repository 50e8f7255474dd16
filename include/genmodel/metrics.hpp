// genmodel/metrics.hpp: sample-quality metrics: the Frechet distance and
// FID with any feature extractor, KID, and the Inception-Score-style
// classifier score. Kept out of genmodel.hpp: training code needs none of
// it, and the metrics pull in Eigen's eigen-solvers.
#pragma once

#include "genmodel/metrics/classifier_score.hpp"
#include "genmodel/metrics/fid.hpp"
#include "genmodel/metrics/frechet.hpp"
#include "genmodel/metrics/kid.hpp"
#include "genmodel/metrics/matrix.hpp"
#include "genmodel/metrics/mean_std.hpp"
