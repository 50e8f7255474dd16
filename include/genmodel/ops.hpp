// genmodel/ops.hpp: the differentiable functional API (tensors, factories,
// random numbers, autograd and every op). Declarations with their defaults
// are listed in genmodel/ops/fwd.hpp.
#pragma once

#include "genmodel/autograd/engine.hpp"
#include "genmodel/autograd/grad_mode.hpp"
#include "genmodel/core/factories.hpp"
#include "genmodel/core/random.hpp"
#include "genmodel/ops/activation.hpp"
#include "genmodel/ops/conv.hpp"
#include "genmodel/ops/elementwise.hpp"
#include "genmodel/ops/matmul.hpp"
#include "genmodel/ops/methods.hpp"
#include "genmodel/ops/norm.hpp"
#include "genmodel/ops/pool.hpp"
#include "genmodel/ops/reduce.hpp"
#include "genmodel/ops/sampling.hpp"
#include "genmodel/ops/shape_ops.hpp"
#include "genmodel/ops/unary.hpp"
