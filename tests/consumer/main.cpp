// The consumer check: a program outside the genmodel tree that finds the
// library through CMake (find_package or add_subdirectory), multiplies
// matrices with genmodel::kernels::cpu::gemm<float>, takes a gradient through
// the umbrella header's autograd, runs a convolution, and checks the results.
// Exit status 0 = the headers, the include path, the dependencies and the
// link (OpenBLAS and oneDNN when the build uses them) all work from outside.
#include <genmodel/genmodel.hpp>

#include <cmath>
#include <cstdio>

namespace gm = genmodel;

int main() {
  int failures = 0;

  // 1. By hand: A (2x3) * B (3x2).
  //   [1 2 3]   [ 7  8]   [1*7+2*9+3*11  1*8+2*10+3*12]   [ 58  64]
  //   [4 5 6] * [ 9 10] = [4*7+5*9+6*11  4*8+5*10+6*12] = [139 154]
  //             [11 12]
  auto a = gm::Tensor<float>::empty({2, 3});
  auto b = gm::Tensor<float>::empty({3, 2});
  auto c = gm::Tensor<float>::empty({2, 2});
  const float av[] = {1, 2, 3, 4, 5, 6}, bv[] = {7, 8, 9, 10, 11, 12};
  for (int i = 0; i < 6; ++i) a.data()[i] = av[i], b.data()[i] = bv[i];
  gm::kernels::cpu::gemm<float>(false, false, 2, 2, 3, 1.0f, a.data(), 3, b.data(), 2, 0.0f,
                                c.data(), 2);
  const float expect[] = {58, 64, 139, 154};
  for (int i = 0; i < 4; ++i) {
    if (c.data()[i] != expect[i]) {
      std::printf("small gemm: c[%d] = %g, expected %g\n", i, c.data()[i], expect[i]);
      ++failures;
    }
  }

  // 2. Large enough (m*n*k >= 2^15) to take the BLAS path when the build has
  //    one: a 40x50 by 50x30 product of small integers (exact in float),
  //    checked against a plain triple loop.
  const int m = 40, k = 50, n = 30;
  auto x = gm::Tensor<float>::empty({m, k});
  auto y = gm::Tensor<float>::empty({k, n});
  auto z = gm::Tensor<float>::empty({m, n});
  for (int i = 0; i < m * k; ++i) x.data()[i] = float(i % 7 - 3);
  for (int i = 0; i < k * n; ++i) y.data()[i] = float(i % 5 - 2);
  gm::kernels::cpu::gemm<float>(false, false, m, n, k, 1.0f, x.data(), k, y.data(), n, 0.0f,
                                z.data(), n);
  for (int i = 0; i < m; ++i) {
    for (int j = 0; j < n; ++j) {
      float ref = 0;
      for (int p = 0; p < k; ++p) ref += x.data()[i * k + p] * y.data()[p * n + j];
      if (std::fabs(z.data()[i * n + j] - ref) > 1e-4f) {
        if (failures < 10)
          std::printf("large gemm: z(%d,%d) = %g, expected %g\n", i, j, z.data()[i * n + j], ref);
        ++failures;
      }
    }
  }

  // 3. Autograd through the umbrella header: d/dx sum(x * x) = 2 x.
  auto v = gm::tensor<float>({1, -2, 3});
  v.requires_grad_();
  gm::sum(gm::mul(v, v)).backward();
  for (int i = 0; i < 3; ++i) {
    if (v.grad().data()[i] != 2 * v.data()[i]) {
      std::printf("autograd: grad[%d] = %g, expected %g\n", i, v.grad().data()[i], 2 * v.data()[i]);
      ++failures;
    }
  }

  // 4. A convolution (oneDNN when the build has it): a 2x2 kernel of ones
  // over a 3x3 image of ones with no padding sums 4 ones at each of 2x2
  // outputs; bias 0.5 on top.
  const auto conv_y = gm::conv2d(gm::ones<float>({1, 1, 3, 3}), gm::ones<float>({1, 1, 2, 2}),
                            gm::full<float>({1}, 0.5f), 1, 0, 1, 1);
  if (conv_y.shape() != gm::Shape{1, 1, 2, 2}) {
    std::printf("conv2d: shape %s, expected (1, 1, 2, 2)\n", conv_y.shape().str().c_str());
    ++failures;
  } else {
    for (int i = 0; i < 4; ++i)
      if (conv_y.data()[i] != 4.5f) {
        std::printf("conv2d: y[%d] = %g, expected 4.5\n", i, conv_y.data()[i]);
        ++failures;
      }
  }

#ifdef GENMODEL_WITH_CBLAS
  const char* path = "OpenBLAS";
#else
  const char* path = "Eigen";
#endif
  const char* conv = gm::kernels::cpu::conv_impl() == gm::kernels::cpu::ConvImpl::onednn ? "oneDNN" : "im2col";
  if (failures) {
    std::printf("genmodel consumer: FAIL (%d wrong entries, gemm through %s, convolution through %s)\n", failures,
                path, conv);
    return 1;
  }
  std::printf("genmodel consumer: OK (gemm through %s, convolution through %s)\n", path, conv);
  return 0;
}
