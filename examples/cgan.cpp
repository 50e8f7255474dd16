// cgan: the class-conditional DCGAN of genmodel/models/conditional_gan.hpp
// (label embedding concatenated to z; projection discriminator) on
// Fashion-MNIST. Its sample grid has one class per column; --samples-out also
// writes the labels (cycling 0..9) to FILE.labels for the evaluator.
//   cgan --epochs 10
#include "gan_trainers.hpp"

int main(int argc, char** argv) { return genmodel::examples::cgan_main(argc, argv); }
