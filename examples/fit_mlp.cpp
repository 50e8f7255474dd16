// fit_mlp: fits a two-layer network to a smooth 2-D function with plain
// gradient descent and prints the loss as it falls. The smallest complete use
// of genmodel's tensors and autograd; the model trainers build on the same
// pieces with nn/ and optim/. Exits non-zero if the loss did not fall tenfold.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <genmodel/genmodel.hpp>

namespace gm = genmodel;
using Tensor = gm::Tensor<float>;

namespace {
/// y = sin(3 x0) cos(2 x1) for each row of x (N, 2): the function to learn.
Tensor target(const Tensor& x) {
  auto y = Tensor::empty({x.size(0), 1});
  for (int64_t i = 0; i < x.size(0); ++i) y.at(i, 0) = std::sin(3 * x.at(i, 0)) * std::cos(2 * x.at(i, 1));
  return y;
}

/// p -= lr * p.grad, outside the graph.
void sgd_step(Tensor& p, float lr) {
  float* w = p.data();
  const float* g = p.grad().data();
  for (int64_t i = 0; i < p.numel(); ++i) w[i] -= lr * g[i];
  p.zero_grad();
}
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Fit y = sin(3 x0) cos(2 x1) on [-1, 1]^2 with a 2-H-1 tanh network"};
  int steps = 3000, hidden = 64, threads = 0, log_every = 250;
  uint64_t seed = 0;
  float lr = 0.2f;
  app.add_option("--steps", steps, "gradient steps")->check(CLI::PositiveNumber);
  app.add_option("--hidden", hidden, "hidden units")->check(CLI::PositiveNumber);
  app.add_option("--lr", lr, "learning rate")->check(CLI::PositiveNumber);
  app.add_option("--seed", seed, "random seed");
  app.add_option("--log-every", log_every, "print the loss every N steps")->check(CLI::PositiveNumber);
  app.add_option("--threads", threads, "threads (default: GENMODEL_NUM_THREADS or all cores)")
      ->check(CLI::PositiveNumber);
  CLI11_PARSE(app, argc, argv);

  try {
    if (threads > 0) gm::set_num_threads(threads);
    gm::Generator gen(seed);
    const Tensor x = gm::rand<float>({512, 2}, gen, -1.0f, 1.0f);
    const Tensor y = target(x);

    // PyTorch's nn.Linear initialisation: U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
    auto uniform = [&](gm::Shape s, int64_t fan_in) {
      const float b = 1.0f / std::sqrt(float(fan_in));
      return gm::rand<float>(s, gen, -b, b).requires_grad_();
    };
    Tensor w1 = uniform({hidden, 2}, 2), b1 = uniform({hidden}, 2);
    Tensor w2 = uniform({1, hidden}, hidden), b2 = uniform({1}, hidden);

    const auto start = std::chrono::steady_clock::now();
    float first = 0, last = 0;
    for (int step = 1; step <= steps; ++step) {
      const Tensor pred = gm::linear(gm::tanh(gm::linear(x, w1, b1)), w2, b2);
      const Tensor loss = gm::mean(gm::pow(gm::sub(pred, y), 2.0f));
      loss.backward();
      for (Tensor* p : {&w1, &b1, &w2, &b2}) sgd_step(*p, lr);
      last = loss.item();
      if (step == 1) first = last;
      if (step == 1 || step % log_every == 0 || step == steps) std::printf("step %5d  mse %.6f\n", step, last);
    }
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("%d steps in %.2f s (%.0f steps/s, %d threads): mse %.6f -> %.6f\n", steps, secs, steps / secs,
                gm::num_threads(), first, last);
    if (!(last < first / 10)) {
      std::fprintf(stderr, "fit_mlp: the loss did not fall tenfold (%.6f -> %.6f)\n", first, last);
      return 1;
    }
  } catch (const gm::Error& e) {
    std::fprintf(stderr, "fit_mlp: %s\n", e.what());
    return 1;
  }
  return 0;
}
