// genmodel/kernels/cpu/conv_onednn.hpp: float 2-D convolution through
// oneDNN, the library behind PyTorch's CPU convolutions: forward,
// backward-data and backward-weight on the same Conv2dGeometry and the same
// NCHW / OIHW pointers as the im2col kernels of kernels/cpu/conv.hpp, which
// call these when the build has oneDNN (GENMODEL_WITH_DNNL) and
// conv_impl() is ConvImpl::onednn (the default then).
//
// oneDNN picks its own (blocked) layouts for the primitive; the operands are
// reordered to and from them at every call, as PyTorch does for NCHW
// tensors. The primitive descriptors, primitives and reorders of each shape
// (and thread count: oneDNN's blocking depends on it) are built once and
// cached. Every buffer oneDNN needs, the reordered operands and its
// scratchpad, comes from genmodel's pooled allocator, so the allocator's
// statistics and peak see it. Results are reproducible for a given thread
// count (oneDNN's guarantee for its CPU primitives).
#pragma once

// nvcc (CUDA 13, C++20) stops with an internal compiler error inside
// oneDNN's header, so files nvcc compiles keep the im2col kernels for their
// CPU convolutions: GENMODEL_CONV_ONEDNN says whether this one has oneDNN.
#if defined(GENMODEL_WITH_DNNL) && !defined(__CUDACC__)
#define GENMODEL_CONV_ONEDNN 1
#endif

#ifdef GENMODEL_CONV_ONEDNN

#include <oneapi/dnnl/dnnl.hpp>

#include <algorithm>
#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <vector>

#include "genmodel/core/error.hpp"
#include "genmodel/core/parallel.hpp"
#include "genmodel/core/scratch.hpp"
#include "genmodel/kernels/conv_geometry.hpp"

namespace genmodel::kernels::cpu::onednn {

namespace detail {

using dnnl::memory;
using Dims = memory::dims;
using Tag = memory::format_tag;

/// The CPU engine, created once.
inline const dnnl::engine& engine() {
  static const dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}

/// oneDNN (built on OpenMP here) sizes its parallel regions by
/// omp_get_max_threads(); this makes that genmodel's num_threads() for the
/// lifetime of the guard and restores the caller's setting afterwards.
class ThreadCountGuard {
 public:
  ThreadCountGuard() {
#ifdef _OPENMP
    saved_ = omp_get_max_threads();
    if (saved_ != num_threads()) omp_set_num_threads(num_threads());
#endif
  }
  ~ThreadCountGuard() {
#ifdef _OPENMP
    if (saved_ != num_threads()) omp_set_num_threads(saved_);
#endif
  }
  ThreadCountGuard(const ThreadCountGuard&) = delete;
  ThreadCountGuard& operator=(const ThreadCountGuard&) = delete;

 private:
  [[maybe_unused]] int saved_ = 0;
};

enum class Pass { forward, backward_data, backward_weight };

/// The layouts genmodel's tensors have: x and y NCHW, the weight OIHW (with
/// a leading group dimension when grouped), the bias a vector.
struct PlainDescs {
  memory::desc x, w, y, bias;
  explicit PlainDescs(const Conv2dGeometry& g) {
    const auto f32 = memory::data_type::f32;
    x = memory::desc({g.n, g.c, g.h, g.w}, f32, Tag::nchw);
    y = memory::desc({g.n, g.o, g.oh, g.ow}, f32, Tag::nchw);
    w = g.groups == 1 ? memory::desc({g.o, g.c, g.kh, g.kw}, f32, Tag::oihw)
                      : memory::desc({g.groups, g.o / g.groups, g.c / g.groups, g.kh, g.kw}, f32, Tag::goihw);
    bias = memory::desc({g.o}, f32, Tag::x);
  }
};

/// The same shapes with format_tag::any: the primitive chooses.
inline memory::desc any_of(const memory::desc& d) {
  return memory::desc(d.dims(), memory::data_type::f32, Tag::any);
}

/// The convolution's parameters in oneDNN's terms (dilation counts the
/// holes: genmodel's dilation minus one). The right padding is what makes
/// the output exactly (oh, ow): below the left padding when PyTorch's floor
/// drops input rows, negative when a transposed convolution's
/// output_padding adds rows no output reads.
struct Window {
  Dims strides, dilates, pad_l, pad_r;
  explicit Window(const Conv2dGeometry& g)
      : strides{g.stride_h, g.stride_w},
        dilates{g.dil_h - 1, g.dil_w - 1},
        pad_l{g.pad_h, g.pad_w},
        pad_r{(g.oh - 1) * g.stride_h + g.dil_h * (g.kh - 1) + 1 - g.h - g.pad_h,
              (g.ow - 1) * g.stride_w + g.dil_w * (g.kw - 1) + 1 - g.w - g.pad_w} {}
};

inline dnnl::primitive_attr user_scratchpad() {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}

inline dnnl::convolution_forward::primitive_desc forward_pd(const Conv2dGeometry& g, bool bias) {
  const PlainDescs p(g);
  const Window win(g);
  const auto prop = dnnl::prop_kind::forward_training;
  const auto algo = dnnl::algorithm::convolution_direct;
  const auto desc = bias ? dnnl::convolution_forward::desc(prop, algo, any_of(p.x), any_of(p.w), p.bias, any_of(p.y),
                                                           win.strides, win.dilates, win.pad_l, win.pad_r)
                         : dnnl::convolution_forward::desc(prop, algo, any_of(p.x), any_of(p.w), any_of(p.y),
                                                           win.strides, win.dilates, win.pad_l, win.pad_r);
  return {desc, user_scratchpad(), engine()};
}

/// Floats of scratch a buffer of layout d takes, rounded up to 64 bytes so
/// that every buffer carved out of one Scratch stays cache-line aligned.
inline int64_t scratch_floats_of(const memory::desc& d) { return int64_t((d.get_size() + 63) / 64 * 16); }

/// One operand of a primitive: genmodel's layout, the primitive's, and the
/// reorder between them when they differ (to the primitive's for inputs,
/// back to genmodel's for the output).
struct Operand {
  int arg;
  memory::desc plain, chosen;
  std::optional<dnnl::reorder> reorder;
  Operand(int a, const memory::desc& plain_desc, const memory::desc& chosen_desc, bool is_output)
      : arg(a), plain(plain_desc), chosen(chosen_desc) {
    if (plain == chosen) return;
    const auto& e = engine();
    reorder = is_output ? dnnl::reorder(dnnl::reorder::primitive_desc(e, chosen, e, plain))
                        : dnnl::reorder(dnnl::reorder::primitive_desc(e, plain, e, chosen));
  }
  /// Floats of scratch the reordered copy needs (0 when none).
  int64_t scratch_floats() const { return reorder ? scratch_floats_of(chosen) : 0; }
};

/// A primitive with its operands (inputs first, the output last) and its
/// scratchpad size, for one pass of one geometry.
struct Plan {
  dnnl::primitive primitive;
  std::vector<Operand> operands;
  memory::desc scratchpad;

  /// Runs the primitive on genmodel's buffers (ptrs in operand order).
  void execute(const std::vector<const float*>& ptrs) const {
    const auto& e = engine();
    int64_t floats = scratch_floats_of(scratchpad);
    for (const auto& op : operands) floats += op.scratch_floats();
    Scratch<float> scratch(std::max<int64_t>(floats, 1));
    float* next = scratch.data();
    thread_local dnnl::stream s(e);  // in-order, one per calling thread
    std::unordered_map<int, memory> args;
    args.reserve(operands.size() + 1);
    args.emplace(DNNL_ARG_SCRATCHPAD, memory(scratchpad, e, next));
    next += scratch_floats_of(scratchpad);
    std::optional<std::pair<memory, memory>> write_back;  // (chosen, plain) of the output
    for (std::size_t i = 0; i < operands.size(); ++i) {
      const Operand& op = operands[i];
      memory plain(op.plain, e, const_cast<float*>(ptrs[i]));
      if (!op.reorder) {
        args.emplace(op.arg, plain);
        continue;
      }
      memory chosen(op.chosen, e, next);
      next += op.scratch_floats();
      const bool is_output = i + 1 == operands.size();
      if (is_output) write_back.emplace(chosen, plain);
      else op.reorder->execute(s, plain, chosen);
      args.emplace(op.arg, chosen);
    }
    primitive.execute(s, args);
    if (write_back) operands.back().reorder->execute(s, write_back->first, write_back->second);
    s.wait();
  }
};

inline Plan make_plan(Pass pass, const Conv2dGeometry& g, bool bias) {
  const PlainDescs p(g);
  const Window win(g);
  const auto algo = dnnl::algorithm::convolution_direct;
  const auto fwd = forward_pd(g, bias);
  switch (pass) {
    case Pass::forward: {
      std::vector<Operand> ops{{DNNL_ARG_SRC, p.x, fwd.src_desc(), false},
                               {DNNL_ARG_WEIGHTS, p.w, fwd.weights_desc(), false}};
      if (bias) ops.emplace_back(DNNL_ARG_BIAS, p.bias, fwd.bias_desc(), false);
      ops.emplace_back(DNNL_ARG_DST, p.y, fwd.dst_desc(), true);
      return {dnnl::convolution_forward(fwd), std::move(ops), fwd.scratchpad_desc()};
    }
    case Pass::backward_data: {
      const dnnl::convolution_backward_data::primitive_desc pd(
          dnnl::convolution_backward_data::desc(algo, any_of(p.x), any_of(p.w), any_of(p.y), win.strides,
                                                win.dilates, win.pad_l, win.pad_r),
          user_scratchpad(), engine(), fwd);
      return {dnnl::convolution_backward_data(pd),
              {{DNNL_ARG_DIFF_DST, p.y, pd.diff_dst_desc(), false},
               {DNNL_ARG_WEIGHTS, p.w, pd.weights_desc(), false},
               {DNNL_ARG_DIFF_SRC, p.x, pd.diff_src_desc(), true}},
              pd.scratchpad_desc()};
    }
    case Pass::backward_weight: {
      const dnnl::convolution_backward_weights::primitive_desc pd(
          dnnl::convolution_backward_weights::desc(algo, any_of(p.x), any_of(p.w), any_of(p.y), win.strides,
                                                   win.dilates, win.pad_l, win.pad_r),
          user_scratchpad(), engine(), fwd);
      return {dnnl::convolution_backward_weights(pd),
              {{DNNL_ARG_SRC, p.x, pd.src_desc(), false},
               {DNNL_ARG_DIFF_DST, p.y, pd.diff_dst_desc(), false},
               {DNNL_ARG_DIFF_WEIGHTS, p.w, pd.diff_weights_desc(), true}},
              pd.scratchpad_desc()};
    }
  }
  throw Error("conv2d (oneDNN): unknown pass");
}

/// What a cached plan depends on: the pass, the geometry, whether there is
/// a bias, and the thread count.
using PlanKey = std::array<int64_t, 19>;

inline PlanKey plan_key(Pass pass, const Conv2dGeometry& g, bool bias) {
  return {int64_t(pass), g.n,        g.c,        g.h,     g.w,     g.o,     g.kh,     g.kw,   g.oh, g.ow,
          g.stride_h,    g.stride_w, g.pad_h,    g.pad_w, g.dil_h, g.dil_w, g.groups, bias, num_threads()};
}

/// The cached plan for (pass, g, bias), built on first use, or null when
/// oneDNN has no primitive for that geometry (a negative right padding on
/// some shapes, say). Plans live for the program; a training run has a
/// handful of shapes.
inline const Plan* plan(Pass pass, const Conv2dGeometry& g, bool bias) {
  static std::mutex mutex;
  static std::map<PlanKey, std::unique_ptr<Plan>> plans;
  const PlanKey key = plan_key(pass, g, bias);
  const std::lock_guard lock(mutex);
  auto it = plans.find(key);
  if (it == plans.end()) {
    std::unique_ptr<Plan> p;
    try {
      p = std::make_unique<Plan>(make_plan(pass, g, bias));
    } catch (const dnnl::error&) {
      // Left null: the caller takes the im2col kernels for this shape.
    }
    it = plans.emplace(key, std::move(p)).first;
  }
  return it->second.get();
}

/// Runs the pass; false when oneDNN cannot serve this geometry.
inline bool run(Pass pass, const Conv2dGeometry& g, const std::vector<const float*>& ptrs, bool bias) {
  const ThreadCountGuard threads;
  const Plan* p = plan(pass, g, bias);
  if (!p) return false;
  try {
    p->execute(ptrs);
  } catch (const dnnl::error& e) {
    throw Error(genmodel::detail::concat("conv2d (oneDNN): executing on input (", g.n, ", ", g.c, ", ", g.h, ", ",
                                         g.w, "), output channels ", g.o, ": ", e.what()));
  }
  return true;
}

}  // namespace detail

// Each returns false, having done nothing, when oneDNN has no primitive for
// the geometry or is known to be slower on it; conv.hpp's kernels then run
// instead.

/// y (n, o, oh, ow) = conv(x, weight) (+ bias (o) when non-null).
inline bool conv2d_forward(const Conv2dGeometry& g, const float* x, const float* weight, float* y,
                           const float* bias) {
  if (g.n <= 0) return true;
  if (bias) return detail::run(detail::Pass::forward, g, {x, weight, bias, y}, true);
  return detail::run(detail::Pass::forward, g, {x, weight, y}, false);
}

/// dx (n, c, h, w) from dy (n, o, oh, ow) and the weight; dx is overwritten.
inline bool conv2d_backward_data(const Conv2dGeometry& g, const float* dy, const float* weight, float* dx) {
  if (g.n <= 0) return true;
  // With few input channels oneDNN pads dx's channels to its 16-wide
  // blocks: 1 channel (the DCGAN generator's last transposed convolution)
  // took 5.5 times im2col's time (benchmarks/RESULTS.md, bench_conv_cpu).
  if (g.c / g.groups < 8) return false;
  return detail::run(detail::Pass::backward_data, g, {dy, weight, dx}, false);
}

/// dw (o, c/groups, kh, kw) from x and dy; dw is overwritten (zero for an
/// empty batch).
inline bool conv2d_backward_weight(const Conv2dGeometry& g, const float* x, const float* dy, float* dw) {
  if (g.n <= 0) {
    std::fill(dw, dw + g.o * (g.c / g.groups) * g.kh * g.kw, 0.0f);
    return true;
  }
  return detail::run(detail::Pass::backward_weight, g, {x, dy, dw}, false);
}

}  // namespace genmodel::kernels::cpu::onednn

#endif  // GENMODEL_CONV_ONEDNN
