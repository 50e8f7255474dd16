// first_program: the README's first program, built and run by the tests so that
// the README stays true. Fits a linear map to row sums by gradient descent.
#include <genmodel/genmodel.hpp>
#include <iostream>

namespace gm = genmodel;

int main() {
  gm::Generator gen(42);                                  // explicit seed: same numbers on every run
  auto x = gm::randn<float>({64, 3}, gen);                 // a batch of inputs
  auto y = gm::sum(x, {1}, true);                           // target: the sum of each row
  auto w = gm::mul(gm::randn<float>({1, 3}, gen), 0.1f).requires_grad_();
  for (int step = 0; step < 200; ++step) {
    auto loss = gm::mean(gm::pow(gm::linear(x, w) - y, 2.0f));
    loss.backward();                                          // w.grad() now holds dloss/dw
    {
      gm::NoGradGuard no_grad;                                // update outside the graph
      w = (w - w.grad() * 0.1f).detach().requires_grad_();
    }
    if (step % 50 == 0) std::cout << "step " << step << " loss " << loss.item() << "\n";
  }
  std::cout << w << "\n";                                  // close to [1, 1, 1]
}
