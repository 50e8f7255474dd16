// genmodel/cuda/dnn.hpp: 2-D convolution on the device through cuDNN, with
// the signatures of kernels/cpu/conv.hpp (NCHW, no bias; a transposed
// convolution is the same three calls on conv_transpose2d_geometry()).
// Each (geometry, type, TF32 and benchmark setting) gets a plan, kept for
// the process: its descriptors and, per direction, the algorithm chosen at
// the first call (cuDNN's heuristics, or with set_cudnn_benchmark(true) the
// fastest on a timed trial); the workspace comes from the caching
// allocator, so a repeated shape allocates nothing new. With TF32
// off (the default) cuDNN is held to FMA math, so float32 results match the
// CPU's to float32 rounding.
#pragma once

#include <cudnn.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>

#include "genmodel/cuda/allocator.hpp"
#include "genmodel/cuda/blas.hpp"  // the TF32 switch
#include "genmodel/kernels/conv_geometry.hpp"
#include "genmodel/kernels/cuda/elementwise.cuh"  // the bias add

namespace genmodel::cuda_backend {

/// The cuDNN handle of the current device and stream.
inline cudnnHandle_t dnn_handle() {
  return stream_handle<cudnnHandle_t>(cudnnCreate, cudnnSetStream, "cuDNN");
}

template <class T>
constexpr cudnnDataType_t dnn_type() {
  return std::is_same_v<T, float> ? CUDNN_DATA_FLOAT : CUDNN_DATA_DOUBLE;
}

/// The three descriptors of one convolution, released together.
template <class T>
class ConvDescriptors {
 public:
  ConvDescriptors(const kernels::Conv2dGeometry& g, const char* op) {
    GM_CUDA_CHECK(cudnnCreateTensorDescriptor(&x_), op);
    GM_CUDA_CHECK(cudnnCreateTensorDescriptor(&y_), op);
    GM_CUDA_CHECK(cudnnCreateFilterDescriptor(&w_), op);
    GM_CUDA_CHECK(cudnnCreateConvolutionDescriptor(&conv_), op);
    GM_CUDA_CHECK(cudnnSetTensor4dDescriptor(x_, CUDNN_TENSOR_NCHW, dnn_type<T>(), int(g.n), int(g.c),
                                             int(g.h), int(g.w)),
                  op);
    GM_CUDA_CHECK(cudnnSetTensor4dDescriptor(y_, CUDNN_TENSOR_NCHW, dnn_type<T>(), int(g.n), int(g.o),
                                             int(g.oh), int(g.ow)),
                  op);
    GM_CUDA_CHECK(cudnnSetFilter4dDescriptor(w_, dnn_type<T>(), CUDNN_TENSOR_NCHW, int(g.o),
                                             int(g.c / g.groups), int(g.kh), int(g.kw)),
                  op);
    // Cross-correlation, as PyTorch (and the CPU kernels) define conv2d.
    GM_CUDA_CHECK(cudnnSetConvolution2dDescriptor(conv_, int(g.pad_h), int(g.pad_w), int(g.stride_h),
                                                  int(g.stride_w), int(g.dil_h), int(g.dil_w),
                                                  CUDNN_CROSS_CORRELATION, dnn_type<T>()),
                  op);
    GM_CUDA_CHECK(cudnnSetConvolutionGroupCount(conv_, int(g.groups)), op);
    GM_CUDA_CHECK(cudnnSetConvolutionMathType(conv_, allow_tf32() ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH),
                  op);
  }
  ~ConvDescriptors() {
    cudnnDestroyConvolutionDescriptor(conv_);
    cudnnDestroyFilterDescriptor(w_);
    cudnnDestroyTensorDescriptor(y_);
    cudnnDestroyTensorDescriptor(x_);
  }
  ConvDescriptors(const ConvDescriptors&) = delete;
  ConvDescriptors& operator=(const ConvDescriptors&) = delete;

  cudnnTensorDescriptor_t x() const { return x_; }
  cudnnTensorDescriptor_t y() const { return y_; }
  cudnnFilterDescriptor_t w() const { return w_; }
  cudnnConvolutionDescriptor_t conv() const { return conv_; }

 private:
  cudnnTensorDescriptor_t x_{}, y_{};
  cudnnFilterDescriptor_t w_{};
  cudnnConvolutionDescriptor_t conv_{};
};

/// Workspace of `bytes` from the current device's pool, for one call.
class Workspace {
 public:
  explicit Workspace(std::size_t bytes)
      : bytes_(bytes), stream_(stream()), p_(bytes ? allocator().allocate(bytes, stream_) : nullptr) {}
  ~Workspace() {
    if (p_) allocator().deallocate(p_, bytes_, stream_);
  }
  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;
  void* data() const { return p_; }
  std::size_t size() const { return bytes_; }

 private:
  std::size_t bytes_;
  cudaStream_t stream_;
  void* p_;
};

/// Like torch.backends.cudnn.benchmark. Off (the default), each direction
/// and shape takes the first algorithm of cuDNN's heuristics; on, its first
/// call times the candidates on that call's own buffers
/// (cudnnFind*AlgorithmEx) and keeps the fastest. A changed setting applies
/// to shapes not yet seen.
inline std::atomic<bool>& cudnn_benchmark_flag() {
  static std::atomic<bool> on{false};
  return on;
}
inline void set_cudnn_benchmark(bool on) { cudnn_benchmark_flag() = on; }
inline bool cudnn_benchmark() { return cudnn_benchmark_flag(); }

enum class ConvDirection { forward, backward_data, backward_weight };

/// A chosen algorithm (as an int: the three directions have their own enums)
/// and its workspace size.
struct ConvAlgo {
  int algo;
  std::size_t workspace;
};

/// The most workspace a timed search offers the candidates; one needing more
/// is left out of the race.
inline constexpr std::size_t kMaxSearchWorkspace = std::size_t(1) << 30;

/// Chooses an algorithm for one direction. `rank(count, results, returned)`
/// wraps the direction's cudnnGet*Algorithm_v7 (heuristics, no work) and
/// `time(count, results, returned, workspace, bytes)` its
/// cudnnFind*AlgorithmEx (runs each candidate on the call's buffers).
template <class Perf, class Rank, class Time>
ConvAlgo choose_algo(Rank rank, Time time, const char* op) {
  constexpr int kCandidates = 8;
  Perf ranked[kCandidates];
  int returned = 0;
  GM_CUDA_CHECK(rank(kCandidates, ranked, &returned), op);
  const Perf* best = nullptr;
  std::size_t search_bytes = 0;
  for (int i = 0; i < returned; ++i)
    if (ranked[i].status == CUDNN_STATUS_SUCCESS) {
      if (!best) best = &ranked[i];
      if (ranked[i].memory <= kMaxSearchWorkspace) search_bytes = std::max(search_bytes, ranked[i].memory);
    }
  if (!best) throw Error(detail::concat(op, ": cuDNN has no algorithm for this convolution"));
  if (!cudnn_benchmark()) return ConvAlgo{int(best->algo), best->memory};
  Perf timed[kCandidates];
  const Workspace ws(search_bytes);
  GM_CUDA_CHECK(time(kCandidates, timed, &returned, ws.data(), ws.size()), op);
  for (int i = 0; i < returned; ++i)  // fastest first
    if (timed[i].status == CUDNN_STATUS_SUCCESS && timed[i].memory <= search_bytes)
      return ConvAlgo{int(timed[i].algo), timed[i].memory};
  return ConvAlgo{int(best->algo), best->memory};
}

/// What one convolution shape keeps between calls: its descriptors and the
/// algorithm of each direction, chosen at that direction's first call.
template <class T>
class ConvPlan {
 public:
  ConvPlan(const kernels::Conv2dGeometry& g, const char* op) : desc_(g, op) {}

  const ConvDescriptors<T>& desc() const { return desc_; }

  /// The algorithm of `dir`, chosen by choose_algo<Perf>(rank, time, op) the first time.
  template <class Perf, class Rank, class Time>
  ConvAlgo algorithm(ConvDirection dir, Rank rank, Time time, const char* op) {
    std::lock_guard<std::mutex> lock(mu_);
    auto& a = algos_[std::size_t(dir)];
    if (!a) a = choose_algo<Perf>(rank, time, op);
    return *a;
  }

 private:
  ConvDescriptors<T> desc_;
  std::mutex mu_;
  std::array<std::optional<ConvAlgo>, 3> algos_;
};

/// The plan of geometry g on the current device with the current TF32 and
/// benchmark settings, made on first use and kept for the process.
template <class T>
ConvPlan<T>& conv_plan(const kernels::Conv2dGeometry& g, const char* op) {
  using Key = std::tuple<bool, bool, int, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t,
                         int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t>;
  static std::map<Key, std::unique_ptr<ConvPlan<T>>> plans;
  static std::mutex mu;
  const Key key{allow_tf32(), cudnn_benchmark(), current_device(), g.n, g.c, g.h, g.w, g.o, g.kh, g.kw, g.oh,
                g.ow, g.stride_h, g.stride_w, g.pad_h, g.pad_w, g.dil_h, g.dil_w, g.groups};
  std::lock_guard<std::mutex> lock(mu);
  auto& plan = plans[key];
  if (!plan) plan = std::make_unique<ConvPlan<T>>(g, op);
  return *plan;
}

/// One cuDNN convolution call in direction `dir` on geometry g: the plan's
/// descriptors, its algorithm for dir (chosen at the first call by
/// rank / time, as choose_algo describes, each also given the handle and
/// the descriptors), a workspace from the pool, then
/// run(handle, descriptors, algorithm, workspace), whose status is checked.
template <class T, class Perf, class Rank, class Time, class Run>
void planned_conv(ConvDirection dir, const kernels::Conv2dGeometry& g, const char* op, Rank rank, Time time,
                  Run run) {
  ConvPlan<T>& plan = conv_plan<T>(g, op);
  const ConvDescriptors<T>& d = plan.desc();
  const cudnnHandle_t h = dnn_handle();
  const ConvAlgo a = plan.template algorithm<Perf>(
      dir, [&](int n, Perf* p, int* r) { return rank(h, d, n, p, r); },
      [&](int n, Perf* p, int* r, void* ws, std::size_t bytes) { return time(h, d, n, p, r, ws, bytes); }, op);
  const Workspace ws(a.workspace);
  GM_CUDA_CHECK(run(h, d, a.algo, ws), op);
}

}  // namespace genmodel::cuda_backend

namespace genmodel::kernels::cuda {

// In the lambdas below, h is the cuDNN handle, d the plan's descriptors,
// (n, p, r) the candidate count, results and returned count of an algorithm
// search, and (ws, bytes) the workspace of a timed trial.

/// y = conv(x, weight) [+ bias per output channel]; x (n, c, h, w), weight
/// (o, c/groups, kh, kw), y (n, o, oh, ow), bias (o) or nullptr.
template <class T>
void conv2d_forward(const Conv2dGeometry& g, const T* x, const T* weight, T* y, const T* bias = nullptr) {
  using namespace cuda_backend;
  if (g.n <= 0) return;
  const T one = 1, zero = 0;
  planned_conv<T, cudnnConvolutionFwdAlgoPerf_t>(
      ConvDirection::forward, g, "conv2d",
      [](auto h, auto& d, int n, auto* p, int* r) {
        return cudnnGetConvolutionForwardAlgorithm_v7(h, d.x(), d.w(), d.conv(), d.y(), n, r, p);
      },
      [&](auto h, auto& d, int n, auto* p, int* r, void* ws, std::size_t bytes) {
        return cudnnFindConvolutionForwardAlgorithmEx(h, d.x(), x, d.w(), weight, d.conv(), d.y(), y, n, r, p,
                                                      ws, bytes);
      },
      [&](auto h, auto& d, int algo, const Workspace& ws) {
        return cudnnConvolutionForward(h, &one, d.x(), x, d.w(), weight, d.conv(), cudnnConvolutionFwdAlgo_t(algo),
                                       ws.data(), ws.size(), &zero, d.y(), y);
      });
  if (bias) add_channel_bias(y, bias, g.n * g.o * g.oh * g.ow, g.o, g.oh * g.ow, "conv2d bias");
}

/// dx = the gradient of conv2d_forward with respect to x (overwritten).
template <class T>
void conv2d_backward_data(const Conv2dGeometry& g, const T* dy, const T* weight, T* dx) {
  using namespace cuda_backend;
  if (g.n <= 0) return;
  const T one = 1, zero = 0;
  planned_conv<T, cudnnConvolutionBwdDataAlgoPerf_t>(
      ConvDirection::backward_data, g, "conv2d backward-data",
      [](auto h, auto& d, int n, auto* p, int* r) {
        return cudnnGetConvolutionBackwardDataAlgorithm_v7(h, d.w(), d.y(), d.conv(), d.x(), n, r, p);
      },
      [&](auto h, auto& d, int n, auto* p, int* r, void* ws, std::size_t bytes) {
        return cudnnFindConvolutionBackwardDataAlgorithmEx(h, d.w(), weight, d.y(), dy, d.conv(), d.x(), dx, n, r,
                                                           p, ws, bytes);
      },
      [&](auto h, auto& d, int algo, const Workspace& ws) {
        return cudnnConvolutionBackwardData(h, &one, d.w(), weight, d.y(), dy, d.conv(),
                                            cudnnConvolutionBwdDataAlgo_t(algo), ws.data(), ws.size(), &zero,
                                            d.x(), dx);
      });
}

/// dw = the gradient with respect to the weight (overwritten; zero for n == 0).
template <class T>
void conv2d_backward_weight(const Conv2dGeometry& g, const T* x, const T* dy, T* dw) {
  using namespace cuda_backend;
  if (g.n <= 0) {
    GM_CUDA_CHECK(cudaMemsetAsync(dw, 0, sizeof(T) * std::size_t(g.o * (g.c / g.groups) * g.kh * g.kw),
                                  stream()),
                  "conv2d backward-weight");
    return;
  }
  const T one = 1, zero = 0;
  planned_conv<T, cudnnConvolutionBwdFilterAlgoPerf_t>(
      ConvDirection::backward_weight, g, "conv2d backward-weight",
      [](auto h, auto& d, int n, auto* p, int* r) {
        return cudnnGetConvolutionBackwardFilterAlgorithm_v7(h, d.x(), d.y(), d.conv(), d.w(), n, r, p);
      },
      [&](auto h, auto& d, int n, auto* p, int* r, void* ws, std::size_t bytes) {
        return cudnnFindConvolutionBackwardFilterAlgorithmEx(h, d.x(), x, d.y(), dy, d.conv(), d.w(), dw, n, r,
                                                             p, ws, bytes);
      },
      [&](auto h, auto& d, int algo, const Workspace& ws) {
        return cudnnConvolutionBackwardFilter(h, &one, d.x(), x, d.y(), dy, d.conv(),
                                              cudnnConvolutionBwdFilterAlgo_t(algo), ws.data(), ws.size(), &zero,
                                              d.w(), dw);
      });
}

}  // namespace genmodel::kernels::cuda
