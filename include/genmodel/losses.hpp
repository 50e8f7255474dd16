// genmodel/losses.hpp: losses built on ops (so differentiable to any order):
// MSE, L1, BCE (on probabilities and logits), cross-entropy, the Gaussian KL,
// the GAN objectives and the gradient penalties.
#pragma once

#include "genmodel/losses/classification.hpp"
#include "genmodel/losses/gan.hpp"
#include "genmodel/losses/kl.hpp"
#include "genmodel/losses/penalty.hpp"
#include "genmodel/losses/reduction.hpp"
#include "genmodel/losses/regression.hpp"
