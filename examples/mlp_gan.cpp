// mlp_gan: the fully connected GAN of genmodel/models/mlp_gan.hpp on
// Fashion-MNIST (Adam 2e-4 (0.5, 0.999)); --loss bce|lsgan|hinge picks the
// objective.
//   mlp_gan --epochs 20                 # writes runs/mlp_gan/samples.png
#include "gan_trainers.hpp"

int main(int argc, char** argv) { return genmodel::examples::mlp_gan_main(argc, argv); }
