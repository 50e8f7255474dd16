// genmodel/cuda/runtime.hpp: devices and streams. Each device gets one
// non-blocking stream, created on first use, on which every genmodel kernel,
// copy and library call for that device is queued; work on it runs in order,
// so tensors need no events between ops.
#pragma once

#include <cuda_runtime_api.h>

#include <array>
#include <map>
#include <mutex>
#include <utility>

#include "genmodel/cuda/error.hpp"

namespace genmodel::cuda_backend {

inline constexpr int kMaxDevices = 16;

/// How many CUDA devices this process can use: 0 when there is no GPU or no
/// driver (cudaGetDeviceCount's error is swallowed here, on purpose: this is
/// the question "is there a GPU?", and the tests ask it to decide to skip).
inline int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  return n;
}

inline bool available() { return device_count() > 0; }

inline int current_device() {
  int d = 0;
  GM_CUDA_CHECK(cudaGetDevice(&d), "cuda::current_device");
  return d;
}

/// The stream of the current device, created non-blocking on first use.
inline cudaStream_t stream() {
  static std::array<cudaStream_t, kMaxDevices> streams{};
  static std::mutex mu;
  const int d = current_device();
  GM_CHECK(d < kMaxDevices, "cuda::stream: device ", d, " is past the ", kMaxDevices, " supported");
  std::lock_guard<std::mutex> lock(mu);
  if (!streams[d]) GM_CUDA_CHECK(cudaStreamCreateWithFlags(&streams[d], cudaStreamNonBlocking), "cuda::stream");
  return streams[d];
}

/// Waits for everything queued on the current device's stream.
inline void synchronize() { GM_CUDA_CHECK(cudaStreamSynchronize(stream()), "cuda::synchronize"); }

/// A library handle (cuBLAS, cuDNN) per device and stream, made on first
/// use by create(&h) and bound to the stream by bind(h, stream); handles
/// live as long as the process.
template <class Handle, class Create, class Bind>
Handle stream_handle(Create create, Bind bind, const char* library) {
  static std::map<std::pair<int, cudaStream_t>, Handle> handles;
  static std::mutex mu;
  const int device = current_device();
  const cudaStream_t s = stream();
  std::lock_guard<std::mutex> lock(mu);
  Handle& h = handles[{device, s}];
  if (!h) {
    check(create(&h), "create handle", library);
    check(bind(h, s), "set stream", library);
  }
  return h;
}

/// Makes `device` current for the lifetime of the guard.
class DeviceGuard {
 public:
  explicit DeviceGuard(int device) : previous_(current_device()) {
    GM_CHECK(device >= 0 && device < device_count(), "cuda::DeviceGuard: no device ", device,
             " (", device_count(), " present)");
    GM_CUDA_CHECK(cudaSetDevice(device), "cuda::DeviceGuard");
  }
  ~DeviceGuard() { cudaSetDevice(previous_); }
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int previous_;
};

}  // namespace genmodel::cuda_backend
