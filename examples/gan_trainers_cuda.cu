// examples/gan_trainers_cuda.cu: the GAN trainers on the GPU (--device
// cuda), compiled by nvcc in a build with the CUDA backend: run_gan (gan_runs.hpp)
// for Dev = cuda. Batches come from the host stream and are copied to the
// device each step; grids, sample files and checkpoints are written from
// host copies, so a checkpoint of either device resumes on the other.
#include <genmodel/cuda.hpp>

#include "gan_runs.hpp"

namespace genmodel::examples {

int run_gan_cuda(const std::string& name, const GanFlags& f) {
  if (!cuda_backend::available()) {
    std::fprintf(stderr, "%s: --device cuda: no CUDA device is present\n", name.c_str());
    return 2;
  }
  return run_gan<cuda>(name, f);
}

}  // namespace genmodel::examples
