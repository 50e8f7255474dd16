// examples/gan_trainers.hpp: the programs of the GAN trainers, defined in
// gan_trainers.cpp (compiled once for the four of them). Each parses argv
// and returns the exit code.
#pragma once

namespace genmodel::examples {

int mlp_gan_main(int argc, char** argv);
int dcgan_main(int argc, char** argv);
int cgan_main(int argc, char** argv);
int wgan_gp_main(int argc, char** argv);

}  // namespace genmodel::examples
