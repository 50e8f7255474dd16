// genmodel/core/device.hpp: device tags. The device is a template parameter
// of tensors, layers and models, so CPU-only code never sees CUDA.
#pragma once

#include <type_traits>

/// Marks code both devices run: the Philox generator and its conversions,
/// and the elementwise lambdas of the ops (nvcc's --extended-lambda), so the
/// CPU and the GPU compute the same numbers from one definition.
#if defined(__CUDACC__)
#define GENMODEL_HOST_DEVICE __host__ __device__
#else
#define GENMODEL_HOST_DEVICE
#endif

namespace genmodel {

struct cpu {
  static constexpr const char* name = "cpu";
};

/// Tag of the CUDA backend; its specialisations live in headers that only an
/// nvcc-compiled translation unit includes (GENMODEL_WITH_CUDA).
struct cuda {
  static constexpr const char* name = "cuda";
};

template <class D>
concept Device = requires { D::name; };

template <class T>
concept Scalar = std::is_same_v<T, float> || std::is_same_v<T, double>;

}  // namespace genmodel
