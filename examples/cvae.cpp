// cvae: the class-conditional convolutional VAE (a label embedding fed to
// the encoder and the decoder) on Fashion-MNIST; its sample grid has one
// class per column, and --samples-out also writes the labels (cycling 0..9)
// to FILE.labels for the evaluator (see vae_trainer.hpp).
//   cvae --epochs 20
#include "vae_trainer.hpp"

int main(int argc, char** argv) { return genmodel::examples::train_vae("cvae", /*conditional=*/true, argc, argv); }
