// genmodel/kernels/conv_geometry.hpp: the shape arithmetic and validation
// of 2-D convolution and transposed convolution (NCHW), shared by the CPU
// kernels (kernels/cpu/conv.hpp) and the cuDNN path (cuda/dnn.hpp).
#pragma once

#include <cstdint>

#include "genmodel/core/error.hpp"

namespace genmodel::kernels {

/// x is (n, c, h, w), weight is (o, c/groups, kh, kw), y is (n, o, oh, ow).
struct Conv2dGeometry {
  int64_t n, c, h, w, o, kh, kw, oh, ow;
  int64_t stride_h, stride_w, pad_h, pad_w, dil_h, dil_w, groups;
};

/// Validates a convolution and computes its output size like PyTorch:
/// oh = (h + 2*pad_h - dil_h*(kh-1) - 1) / stride_h + 1 (floor), same for ow.
/// A batch of n == 0 is accepted (the kernels then do nothing and the weight
/// gradient is zero). Throws genmodel::Error naming "conv2d" and the values.
inline Conv2dGeometry conv2d_geometry(int64_t n, int64_t c, int64_t h, int64_t w, int64_t o,
                                      int64_t kh, int64_t kw, int64_t stride_h, int64_t stride_w,
                                      int64_t pad_h, int64_t pad_w, int64_t dil_h, int64_t dil_w,
                                      int64_t groups) {
  GM_CHECK(n >= 0, "conv2d: batch size must be non-negative, got ", n);
  GM_CHECK(c > 0 && h > 0 && w > 0, "conv2d: input (c, h, w) must be positive, got (", c, ", ",
           h, ", ", w, ")");
  GM_CHECK(o > 0, "conv2d: out_channels must be positive, got ", o);
  GM_CHECK(kh > 0 && kw > 0, "conv2d: kernel size must be positive, got (", kh, ", ", kw, ")");
  GM_CHECK(stride_h > 0 && stride_w > 0, "conv2d: stride must be positive, got (", stride_h, ", ",
           stride_w, ")");
  GM_CHECK(pad_h >= 0 && pad_w >= 0, "conv2d: padding must be non-negative, got (", pad_h, ", ",
           pad_w, ")");
  GM_CHECK(dil_h > 0 && dil_w > 0, "conv2d: dilation must be positive, got (", dil_h, ", ", dil_w,
           ")");
  GM_CHECK(groups > 0, "conv2d: groups must be positive, got ", groups);
  GM_CHECK(c % groups == 0, "conv2d: in_channels (", c, ") must be divisible by groups (", groups,
           ")");
  GM_CHECK(o % groups == 0, "conv2d: out_channels (", o, ") must be divisible by groups (", groups,
           ")");
  const int64_t eh = h + 2 * pad_h - dil_h * (kh - 1) - 1;
  const int64_t ew = w + 2 * pad_w - dil_w * (kw - 1) - 1;
  GM_CHECK(eh >= 0 && ew >= 0, "conv2d: output size would be empty: input (", h, ", ", w,
           ") with padding (", pad_h, ", ", pad_w, ") is smaller than the dilated kernel (",
           dil_h * (kh - 1) + 1, ", ", dil_w * (kw - 1) + 1, ")");
  return Conv2dGeometry{n,      c,        h,        w,     o,     kh,    kw,    eh / stride_h + 1,
                        ew / stride_w + 1, stride_h, stride_w, pad_h, pad_w, dil_h, dil_w, groups};
}

/// Geometry of the convolution whose backward-data is conv_transpose2d.
/// x_t is (n, cin, h, w), weight is (cin, cout/groups, kh, kw) (PyTorch's
/// ConvTranspose2d layout) and the transposed output y_t is (n, cout, oh, ow)
/// with oh = (h-1)*stride_h - 2*pad_h + dil_h*(kh-1) + out_pad_h + 1.
/// The returned geometry describes the forward convolution y_t -> x_t:
/// c = cout, (h, w) = the transposed output size, o = cin, (oh, ow) = (h, w)
/// of x_t. output_padding must be smaller than stride or dilation.
inline Conv2dGeometry conv_transpose2d_geometry(int64_t n, int64_t cin, int64_t h, int64_t w,
                                                int64_t cout, int64_t kh, int64_t kw,
                                                int64_t stride_h, int64_t stride_w, int64_t pad_h,
                                                int64_t pad_w, int64_t out_pad_h,
                                                int64_t out_pad_w, int64_t dil_h, int64_t dil_w,
                                                int64_t groups) {
  GM_CHECK(n >= 0, "conv_transpose2d: batch size must be non-negative, got ", n);
  GM_CHECK(cin > 0 && h > 0 && w > 0, "conv_transpose2d: input (c, h, w) must be positive, got (",
           cin, ", ", h, ", ", w, ")");
  GM_CHECK(cout > 0, "conv_transpose2d: out_channels must be positive, got ", cout);
  GM_CHECK(kh > 0 && kw > 0, "conv_transpose2d: kernel size must be positive, got (", kh, ", ",
           kw, ")");
  GM_CHECK(stride_h > 0 && stride_w > 0, "conv_transpose2d: stride must be positive, got (",
           stride_h, ", ", stride_w, ")");
  GM_CHECK(pad_h >= 0 && pad_w >= 0, "conv_transpose2d: padding must be non-negative, got (",
           pad_h, ", ", pad_w, ")");
  GM_CHECK(dil_h > 0 && dil_w > 0, "conv_transpose2d: dilation must be positive, got (", dil_h,
           ", ", dil_w, ")");
  GM_CHECK(out_pad_h >= 0 && out_pad_w >= 0,
           "conv_transpose2d: output_padding must be non-negative, got (", out_pad_h, ", ",
           out_pad_w, ")");
  GM_CHECK((out_pad_h < stride_h || out_pad_h < dil_h) && (out_pad_w < stride_w || out_pad_w < dil_w),
           "conv_transpose2d: output_padding (", out_pad_h, ", ", out_pad_w,
           ") must be smaller than either stride (", stride_h, ", ", stride_w,
           ") or dilation (", dil_h, ", ", dil_w, ")");
  GM_CHECK(groups > 0, "conv_transpose2d: groups must be positive, got ", groups);
  GM_CHECK(cin % groups == 0, "conv_transpose2d: in_channels (", cin,
           ") must be divisible by groups (", groups, ")");
  GM_CHECK(cout % groups == 0, "conv_transpose2d: out_channels (", cout,
           ") must be divisible by groups (", groups, ")");
  const int64_t th = (h - 1) * stride_h - 2 * pad_h + dil_h * (kh - 1) + out_pad_h + 1;
  const int64_t tw = (w - 1) * stride_w - 2 * pad_w + dil_w * (kw - 1) + out_pad_w + 1;
  GM_CHECK(th > 0 && tw > 0, "conv_transpose2d: output size (", th, ", ", tw,
           ") is not positive for input (", h, ", ", w, ") with padding (", pad_h, ", ", pad_w,
           ")");
  return Conv2dGeometry{n,        cout,     th,    tw,    cin,   kh,    kw,    h,
                        w,        stride_h, stride_w, pad_h, pad_w, dil_h, dil_w, groups};
}

}  // namespace genmodel::kernels
