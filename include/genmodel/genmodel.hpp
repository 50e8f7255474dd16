// genmodel/genmodel.hpp: the umbrella header. Finer-grained headers live in
// core/, kernels/, autograd/ and ops/ for translation units that want less.
#pragma once

#include "genmodel/core/allocator.hpp"
#include "genmodel/core/parallel.hpp"
#include "genmodel/ops.hpp"
