// benchmarks/conv_shapes.hpp: the convolutions the kernel benchmarks time
// (bench_cuda_kernels, bench_conv_cpu; torch_cuda_kernels.py lists the
// same). The DCGAN generator's transposed convolutions (128 -> 64 on
// 7 -> 14, 64 -> 1 on 14 -> 28) have the discriminator's geometries: their
// forward is the backward-data of conv2 and conv1, their backward-data the
// forward.
#pragma once

#include <cstdint>

namespace bench {

/// A convolution (c, h, w) -> o with a k x k kernel, stride and padding.
struct ConvShape {
  const char* name;
  int64_t c, h, w, o, k, stride, pad;
};

inline constexpr ConvShape kConvShapes[] = {
    {"dcgan.conv1", 1, 28, 28, 64, 4, 2, 1}, {"dcgan.conv2", 64, 14, 14, 128, 4, 2, 1},
    {"unet.32x32", 32, 32, 32, 32, 3, 1, 1}, {"unet.16x16", 64, 16, 16, 64, 3, 1, 1},
    {"unet.8x8", 128, 8, 8, 128, 3, 1, 1},
};

}  // namespace bench
