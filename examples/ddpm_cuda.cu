// examples/ddpm_cuda.cu: the ddpm trainer on the GPU (--device cuda),
// compiled by nvcc in a build with the CUDA backend: run_ddpm (ddpm_run.hpp)
// for Dev = cuda.
#include <genmodel/cuda.hpp>

#include "ddpm_run.hpp"

namespace genmodel::examples {

int run_ddpm_cuda(const DdpmFlags& f) {
  if (!cuda_backend::available()) {
    std::fprintf(stderr, "ddpm: --device cuda: no CUDA device is present\n");
    return 2;
  }
  return run_ddpm<cuda>(f);
}

}  // namespace genmodel::examples
