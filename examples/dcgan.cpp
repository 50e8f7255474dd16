// dcgan: the DCGAN of genmodel/models/dcgan.hpp on Fashion-MNIST (batch norm,
// DCGAN initialisation, Adam 2e-4 (0.5, 0.999)); --loss bce|lsgan|hinge picks
// the objective, --r1 adds an R1 penalty. The README's main job runs it for a
// few minutes and prints the path of its sample grid.
//   dcgan --seconds 180                 # train, write runs/dcgan/samples.png
//   dcgan --resume runs/dcgan/checkpoint.safetensors --steps 5000
//   dcgan --resume runs/dcgan/checkpoint.safetensors --sample-only --samples 10000 --samples-out s.idx3
#include "gan_trainers.hpp"

int main(int argc, char** argv) { return genmodel::examples::dcgan_main(argc, argv); }
