// vae: the convolutional VAE of genmodel/models/vae_architectures.hpp on
// Fashion-MNIST (see vae_trainer.hpp for the outputs).
//   vae --epochs 20                 # train; runs/vae/samples.png, reconstructions.png, interpolation.png
//   vae --beta 4 --out runs/beta4   # a beta-VAE
//   vae --resume runs/vae/checkpoint.safetensors --sample-only --samples 10000 --samples-out s.idx3
#include "vae_trainer.hpp"

int main(int argc, char** argv) { return genmodel::examples::train_vae("vae", /*conditional=*/false, argc, argv); }
