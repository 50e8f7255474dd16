// genmodel/interop.hpp: Eigen and xtensor views of tensors, and tensors made
// from Eigen matrices and xtensor expressions. Include the one you need
// (interop/eigen.hpp, interop/xtensor.hpp) to keep xtensor out of a build.
#pragma once

#include "genmodel/interop/eigen.hpp"
#include "genmodel/interop/xtensor.hpp"
