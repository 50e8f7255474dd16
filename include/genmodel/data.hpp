// genmodel/data.hpp: data loading: IDX files (plain or gzipped), the
// Fashion-MNIST dataset, the Dataset concept, the DataLoader and transforms.
// Kept out of genmodel.hpp so code that loads no data needs no zlib.
#pragma once

#include "genmodel/data/dataloader.hpp"
#include "genmodel/data/dataset.hpp"
#include "genmodel/data/fashion_mnist.hpp"
#include "genmodel/data/idx.hpp"
#include "genmodel/data/subset.hpp"
#include "genmodel/data/transforms.hpp"
