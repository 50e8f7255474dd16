// wgan_gp: WGAN-GP (Gulrajani et al., 2017) with the DCGAN generator and the
// batch-norm-free critic of genmodel/models/dcgan.hpp on Fashion-MNIST:
// gradient penalty lambda 10 on interpolates, 5 critic updates (each on a
// fresh batch) per generator update, Adam 1e-4 (0, 0.9). One step is one
// generator update. metrics.csv's penalty column is the gradient penalty.
//   wgan_gp --epochs 10
#include "gan_trainers.hpp"

int main(int argc, char** argv) { return genmodel::examples::wgan_gp_main(argc, argv); }
