// genmodel/core/device.hpp: device tags. The device is a template parameter
// of tensors, layers and models, so CPU-only code never sees CUDA.
#pragma once

#include <type_traits>

/// Marks the few core functions (the Philox generator and its conversions)
/// that CUDA kernels call too, so both devices compute the same numbers.
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

/// The message of the static_asserts that stop CPU-only code (ops, layers,
/// optimizers) from being instantiated for a device whose backend does not
/// implement it yet: they would run host loops over device memory.
#define GENMODEL_CPU_ONLY(D, what)                                                             \
  static_assert(std::is_same_v<D, ::genmodel::cpu>,                                        \
                what " runs on the CPU only so far: a CUDA tensor has storage, copies "     \
                "(to<cpu>(), to<cuda>()) and random numbers, and kernels/cuda has the "    \
                "device kernels, but the differentiable ops do not dispatch to them yet")

template <class T>
concept Scalar = std::is_same_v<T, float> || std::is_same_v<T, double>;

}  // namespace genmodel
