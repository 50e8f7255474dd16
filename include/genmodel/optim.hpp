// genmodel/optim.hpp: optimizers (SGD, Adam, AdamW), gradient clipping,
// learning-rate schedules and the EMA of weights.
#pragma once

#include "genmodel/optim/adam.hpp"
#include "genmodel/optim/clip_grad.hpp"
#include "genmodel/optim/ema.hpp"
#include "genmodel/optim/lr_scheduler.hpp"
#include "genmodel/optim/optimizer.hpp"
#include "genmodel/optim/sgd.hpp"
