// genmodel/nn.hpp: every nn/ header (modules, layers, blocks, init). Include
// single headers from genmodel/nn/ for translation units that want less.
#pragma once

#include "genmodel/nn/activation.hpp"
#include "genmodel/nn/attention.hpp"
#include "genmodel/nn/batchnorm.hpp"
#include "genmodel/nn/conv.hpp"
#include "genmodel/nn/dropout.hpp"
#include "genmodel/nn/embedding.hpp"
#include "genmodel/nn/flatten.hpp"
#include "genmodel/nn/init.hpp"
#include "genmodel/nn/linear.hpp"
#include "genmodel/nn/module.hpp"
#include "genmodel/nn/normalization.hpp"
#include "genmodel/nn/pooling.hpp"
#include "genmodel/nn/resblock.hpp"
#include "genmodel/nn/sequential.hpp"
#include "genmodel/nn/summary.hpp"
#include "genmodel/nn/time_embedding.hpp"
#include "genmodel/nn/upsample.hpp"
