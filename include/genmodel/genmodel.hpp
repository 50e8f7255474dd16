// genmodel/genmodel.hpp: the umbrella header: tensors, autograd, ops,
// modules, optimizers, losses and the model templates. Files, data loading and interop have their
// own umbrellas (genmodel/io.hpp, genmodel/data.hpp, genmodel/interop.hpp);
// finer-grained headers live in each folder.
#pragma once

#include "genmodel/core/allocator.hpp"
#include "genmodel/core/parallel.hpp"
#include "genmodel/losses.hpp"
#include "genmodel/models.hpp"
#include "genmodel/nn.hpp"
#include "genmodel/ops.hpp"
#include "genmodel/optim.hpp"
