// examples/gan_trainers.cpp: the four GAN trainers' programs (one object
// file for the four mains in mlp_gan.cpp, dcgan.cpp, cgan.cpp and
// wgan_gp.cpp, so the library's templates are compiled once for all): each
// parses its flags and runs run_gan (gan_runs.hpp) on the CPU, or with
// --device cuda through run_gan_cuda (gan_trainers_cuda.cu).
#include "gan_trainers.hpp"

#include "gan_runs.hpp"

namespace genmodel::examples {

namespace {

int gan_main(const char* name, const char* title, int64_t epochs, bool choose_loss, int argc, char** argv) {
  GanFlags f;
  if (!choose_loss) f.loss = "wgan-gp";
  CLI::App app{title};
  add_gan_flags(app, f, name, epochs, choose_loss);
  if (auto rc = parse_flags(app, f, name, argc, argv)) return *rc;
  return f.device == "cuda" ? run_gan_cuda(name, f) : run_gan<cpu>(name, f);
}

}  // namespace

#if !defined(GENMODEL_TRAINERS_WITH_CUDA)
int run_gan_cuda(const std::string& name, const GanFlags&) {
  std::fprintf(stderr, "%s: --device cuda: this build has no CUDA backend (configure with GENMODEL_WITH_CUDA=ON "
               "and a CUDA compiler)\n", name.c_str());
  return 2;
}
#endif

int mlp_gan_main(int argc, char** argv) {
  return gan_main("mlp_gan", "Train the MLP GAN on Fashion-MNIST", 20, true, argc, argv);
}

int dcgan_main(int argc, char** argv) {
  return gan_main("dcgan", "Train the DCGAN on Fashion-MNIST", 10, true, argc, argv);
}

int cgan_main(int argc, char** argv) {
  return gan_main("cgan", "Train the conditional DCGAN (projection discriminator) on Fashion-MNIST", 10, true, argc,
                  argv);
}

int wgan_gp_main(int argc, char** argv) {
  return gan_main("wgan_gp", "Train WGAN-GP (DCGAN generator, critic without batch norm) on Fashion-MNIST", 10, false,
                  argc, argv);
}

}  // namespace genmodel::examples
