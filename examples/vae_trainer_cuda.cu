// examples/vae_trainer_cuda.cu: the vae and cvae trainers on the GPU
// (--device cuda), compiled by nvcc in a build with the CUDA backend:
// run_vae (vae_run.hpp) for Dev = cuda.
#include <genmodel/cuda.hpp>

#include "vae_run.hpp"

namespace genmodel::examples {

int run_vae_cuda(const char* name, bool conditional, const VaeFlags& f) {
  if (!cuda_backend::available()) {
    std::fprintf(stderr, "%s: --device cuda: no CUDA device is present\n", name);
    return 2;
  }
  return run_vae<cuda>(name, conditional, f);
}

}  // namespace genmodel::examples
