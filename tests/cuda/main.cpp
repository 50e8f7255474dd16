// The entry point of the CUDA test binary. CTest runs it twice: the tests
// tagged [device] with --needs-device, which exits 77 (reported as skipped,
// not passed) when no GPU is present, and the rest, which check the error
// paths and run on any machine.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <cstring>
#include <iostream>
#include <vector>

#include "genmodel/cuda/runtime.hpp"

int main(int argc, char** argv) {
  std::vector<char*> args(argv, argv + argc);
  if (argc > 1 && std::strcmp(argv[1], "--needs-device") == 0) {
    if (!genmodel::cuda_backend::available()) {
      std::cout << "no CUDA device: the device tests are skipped\n";
      return 77;
    }
    args.erase(args.begin() + 1);
  }
  return Catch::Session().run(int(args.size()), args.data());
}
