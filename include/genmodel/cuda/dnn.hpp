// genmodel/cuda/dnn.hpp: 2-D convolution on the device through cuDNN, with
// the signatures of kernels/cpu/conv.hpp (NCHW, no bias; a transposed
// convolution is the same three calls on conv_transpose2d_geometry()).
// The algorithm of each (direction, geometry, type, TF32 setting) is chosen
// once, from cuDNN's heuristics, and cached; its workspace comes from the
// caching allocator, so a repeated shape allocates nothing new. With TF32
// off (the default) cuDNN is held to FMA math, so float32 results match the
// CPU's to float32 rounding.
#pragma once

#include <cudnn.h>

#include <map>
#include <mutex>
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

enum class ConvDirection { forward, backward_data, backward_weight };

/// A chosen algorithm (as an int: the three directions have their own enums)
/// and its workspace size.
struct ConvAlgo {
  int algo;
  std::size_t workspace;
};

/// Picks the first of cuDNN's ranked algorithms that succeeds for this
/// geometry; `rank(count, results, returned)` wraps the direction's
/// cudnnGet*Algorithm_v7 call.
template <class Perf, class Rank>
ConvAlgo best_algo(Rank rank, const char* op) {
  constexpr int kCandidates = 8;
  Perf perf[kCandidates];
  int returned = 0;
  GM_CUDA_CHECK(rank(kCandidates, perf, &returned), op);
  for (int i = 0; i < returned; ++i)
    if (perf[i].status == CUDNN_STATUS_SUCCESS) return ConvAlgo{int(perf[i].algo), perf[i].memory};
  throw Error(detail::concat(op, ": cuDNN has no algorithm for this convolution"));
}

/// The cached choice for one direction and geometry.
template <class T>
ConvAlgo conv_algo(ConvDirection dir, const kernels::Conv2dGeometry& g, const ConvDescriptors<T>& d,
                   const char* op) {
  using Key = std::tuple<int, int, bool, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t,
                         int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int>;
  static std::map<Key, ConvAlgo> cache;
  static std::mutex mu;
  const Key key{int(dir), int(sizeof(T)), allow_tf32(), g.n, g.c, g.h, g.w, g.o, g.kh, g.kw,
                g.stride_h, g.stride_w, g.pad_h, g.pad_w, g.dil_h, g.dil_w, g.groups,
                current_device()};
  std::lock_guard<std::mutex> lock(mu);
  if (auto it = cache.find(key); it != cache.end()) return it->second;
  const cudnnHandle_t h = dnn_handle();
  ConvAlgo a{};
  switch (dir) {
    case ConvDirection::forward:
      a = best_algo<cudnnConvolutionFwdAlgoPerf_t>(
          [&](int n, auto* p, int* r) {
            return cudnnGetConvolutionForwardAlgorithm_v7(h, d.x(), d.w(), d.conv(), d.y(), n, r, p);
          },
          op);
      break;
    case ConvDirection::backward_data:
      a = best_algo<cudnnConvolutionBwdDataAlgoPerf_t>(
          [&](int n, auto* p, int* r) {
            return cudnnGetConvolutionBackwardDataAlgorithm_v7(h, d.w(), d.y(), d.conv(), d.x(), n, r, p);
          },
          op);
      break;
    case ConvDirection::backward_weight:
      a = best_algo<cudnnConvolutionBwdFilterAlgoPerf_t>(
          [&](int n, auto* p, int* r) {
            return cudnnGetConvolutionBackwardFilterAlgorithm_v7(h, d.x(), d.y(), d.conv(), d.w(), n, r, p);
          },
          op);
      break;
  }
  cache.emplace(key, a);
  return a;
}

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

}  // namespace genmodel::cuda_backend

namespace genmodel::kernels::cuda {

/// y = conv(x, weight) [+ bias per output channel]; x (n, c, h, w), weight
/// (o, c/groups, kh, kw), y (n, o, oh, ow), bias (o) or nullptr.
template <class T>
void conv2d_forward(const Conv2dGeometry& g, const T* x, const T* weight, T* y, const T* bias = nullptr) {
  using namespace cuda_backend;
  if (g.n <= 0) return;
  const ConvDescriptors<T> d(g, "conv2d");
  const ConvAlgo a = conv_algo(ConvDirection::forward, g, d, "conv2d");
  const Workspace ws(a.workspace);
  const T one = 1, zero = 0;
  GM_CUDA_CHECK(cudnnConvolutionForward(dnn_handle(), &one, d.x(), x, d.w(), weight, d.conv(),
                                        cudnnConvolutionFwdAlgo_t(a.algo), ws.data(), ws.size(),
                                        &zero, d.y(), y),
                "conv2d");
  if (bias) add_channel_bias(y, bias, g.n * g.o * g.oh * g.ow, g.o, g.oh * g.ow, "conv2d bias");
}

/// dx = the gradient of conv2d_forward with respect to x (overwritten).
template <class T>
void conv2d_backward_data(const Conv2dGeometry& g, const T* dy, const T* weight, T* dx) {
  using namespace cuda_backend;
  if (g.n <= 0) return;
  const ConvDescriptors<T> d(g, "conv2d backward-data");
  const ConvAlgo a = conv_algo(ConvDirection::backward_data, g, d, "conv2d backward-data");
  const Workspace ws(a.workspace);
  const T one = 1, zero = 0;
  GM_CUDA_CHECK(cudnnConvolutionBackwardData(dnn_handle(), &one, d.w(), weight, d.y(), dy, d.conv(),
                                             cudnnConvolutionBwdDataAlgo_t(a.algo), ws.data(),
                                             ws.size(), &zero, d.x(), dx),
                "conv2d backward-data");
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
  const ConvDescriptors<T> d(g, "conv2d backward-weight");
  const ConvAlgo a = conv_algo(ConvDirection::backward_weight, g, d, "conv2d backward-weight");
  const Workspace ws(a.workspace);
  const T one = 1, zero = 0;
  GM_CUDA_CHECK(cudnnConvolutionBackwardFilter(dnn_handle(), &one, d.x(), x, d.y(), dy, d.conv(),
                                               cudnnConvolutionBwdFilterAlgo_t(a.algo), ws.data(),
                                               ws.size(), &zero, d.w(), dw),
                "conv2d backward-weight");
}

}  // namespace genmodel::kernels::cuda
