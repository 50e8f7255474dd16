// Every differentiable op on Tensor<T, cuda> against the same op on the CPU:
// the same random inputs, the forward output, and the gradient of each input
// for the same random upstream gradient, to 1e-4 relative in float32 (TF32
// off) and 1e-12 in double. The ops a WGAN-GP or R1 penalty differentiates
// twice are also checked through a second derivative (grad with
// create_graph, then the gradient of its squared norm).
#include <functional>
#include <string>

#include "cuda_test_util.hpp"
#include "genmodel/genmodel.hpp"

namespace gm = genmodel;
using gm::cpu;
using gm::cuda;

namespace {

/// One op as a function of its inputs on either device.
template <class T>
struct OpCase {
  std::string name;
  std::vector<gm::Shape> shapes;
  std::function<gm::Tensor<T, cpu>(const std::vector<gm::Tensor<T, cpu>>&)> on_cpu;
  std::function<gm::Tensor<T, cuda>(const std::vector<gm::Tensor<T, cuda>>&)> on_cuda;
  bool second_order = false;
  double input_offset = 0;  // shifts the inputs, e.g. positive for log and sqrt
};

/// Builds an OpCase from one generic body `f(inputs)` used for both devices.
template <class T, class F>
OpCase<T> op_case(std::string name, std::vector<gm::Shape> shapes, F f, bool second_order = false,
                  double input_offset = 0) {
  return {std::move(name), std::move(shapes), f, f, second_order, input_offset};
}

template <class T, class D>
std::vector<gm::Tensor<T, D>> leaves(const std::vector<gm::Tensor<T, cpu>>& host) {
  std::vector<gm::Tensor<T, D>> out;
  for (const auto& h : host) out.push_back(h.template to<D>().requires_grad_(true));
  return out;
}

template <class T, class D>
std::vector<std::vector<T>> to_vectors(const std::vector<gm::Tensor<T, D>>& ts) {
  std::vector<std::vector<T>> out;
  for (const auto& t : ts) out.push_back(t.defined() ? t.to_vector() : std::vector<T>{});
  return out;
}

/// Forward output, first-order input gradients (and, when asked, the
/// gradients of sum(grad^2), the penalty's second derivative) on device D.
template <class T, class D, class F>
std::vector<std::vector<T>> run_case(const F& f, const std::vector<gm::Tensor<T, cpu>>& host_inputs,
                                     const gm::Tensor<T, cpu>& host_upstream, bool second_order) {
  auto xs = leaves<T, D>(host_inputs);
  const auto y = f(xs);
  const auto g = host_upstream.template to<D>();
  auto grads = gm::grad<T, D>({y}, xs, {g}, /*create_graph=*/second_order);
  std::vector<std::vector<T>> out{y.to_vector()};
  for (auto& v : to_vectors(grads)) out.push_back(std::move(v));
  if (second_order) {
    gm::Tensor<T, D> penalty;
    for (const auto& gi : grads) {
      const auto s = gm::sum(gm::mul(gi, gi));
      penalty = penalty.defined() ? gm::add(penalty, s) : s;
    }
    for (auto& v : to_vectors(gm::grad<T, D>({penalty}, xs, {}, false, true))) out.push_back(std::move(v));
  }
  return out;
}

template <class T>
void check_case(const OpCase<T>& c, std::mt19937_64& rng) {
  INFO("op " << c.name);
  std::vector<gm::Tensor<T, cpu>> inputs;
  for (const auto& s : c.shapes) {
    auto t = gm::Tensor<T, cpu>::empty(s);
    const auto v = gmtest::random_vec<T>(s.numel(), rng);
    for (int64_t i = 0; i < s.numel(); ++i) t.data()[i] = v[std::size_t(i)] + T(c.input_offset);
    inputs.push_back(t);
  }
  // The upstream gradient has the output's shape: run once on the CPU to learn it.
  std::vector<gm::Tensor<T, cpu>> probe;
  for (const auto& t : inputs) probe.push_back(t.detach());
  const gm::Shape out_shape = c.on_cpu(probe).shape();
  auto upstream = gm::Tensor<T, cpu>::empty(out_shape);
  const auto u = gmtest::random_vec<T>(out_shape.numel(), rng);
  std::copy(u.begin(), u.end(), upstream.data());

  const auto want = run_case<T, cpu>(c.on_cpu, inputs, upstream, c.second_order);
  const auto got = run_case<T, cuda>(c.on_cuda, inputs, upstream, c.second_order);
  REQUIRE(got.size() == want.size());
  for (std::size_t k = 0; k < want.size(); ++k) {
    INFO((k == 0 ? "output" : k <= inputs.size() ? "gradient of input " : "second-order gradient of input ")
         << (k == 0 ? 0 : (k - 1) % inputs.size()));
    CHECK(gmtest::rel_error(got[k], want[k]) < gmtest::parity_tol<T>());
  }
}

template <class T>
std::vector<OpCase<T>> all_cases() {
  using V = std::vector<gm::Shape>;
  // Generic bodies: one lambda per op, instantiated for both devices.
#define GM_OP(NAME, SHAPES, BODY, ...) \
  op_case<T>(NAME, SHAPES, [](const auto& x) { return BODY; } __VA_OPT__(, ) __VA_ARGS__)
  return {
      GM_OP("add broadcast", (V{{4, 1, 5}, {3, 5}}), gm::add(x[0], x[1]), true),
      GM_OP("sub", (V{{6, 7}, {6, 7}}), gm::sub(x[0], x[1])),
      GM_OP("mul broadcast", (V{{2, 3, 4}, {3, 1}}), gm::mul(x[0], x[1]), true),
      GM_OP("div", (V{{5, 6}, {5, 6}}), gm::div(x[0], gm::add(gm::mul(x[1], x[1]), 1.0)), true),
      GM_OP("pow tensor", (V{{4, 5}, {4, 5}}), gm::pow(x[0], x[1]), false, 2.0),
      GM_OP("pow scalar", (V{{9}}), gm::pow(x[0], 3.0), true),
      GM_OP("scalar ops", (V{{8}}), gm::rdiv(2.0, gm::rsub(3.0, gm::mul(gm::add(x[0], 0.5), 2.0)))),
      GM_OP("neg", (V{{7}}), gm::neg(x[0])),
      GM_OP("where", (V{{3, 4}, {3, 4}}), gm::where(gm::gt(x[0], 0.0), x[0], x[1])),
      GM_OP("exp", (V{{5, 5}}), gm::exp(x[0]), true),
      GM_OP("log", (V{{5, 5}}), gm::log(x[0]), true, 2.0),
      GM_OP("sqrt", (V{{5, 5}}), gm::sqrt(x[0]), true, 2.0),
      GM_OP("rsqrt", (V{{5, 5}}), gm::rsqrt(x[0]), false, 2.0),
      GM_OP("abs", (V{{5, 5}}), gm::abs(x[0])),
      GM_OP("erf", (V{{5, 5}}), gm::erf(x[0])),
      GM_OP("clamp", (V{{5, 5}}), gm::clamp(x[0], -0.5, 0.4)),
      GM_OP("relu", (V{{6, 6}}), gm::relu(x[0])),
      GM_OP("leaky_relu", (V{{6, 6}}), gm::leaky_relu(x[0], 0.2), true),
      GM_OP("sigmoid", (V{{6, 6}}), gm::sigmoid(x[0]), true),
      GM_OP("tanh", (V{{6, 6}}), gm::tanh(x[0]), true),
      GM_OP("silu", (V{{6, 6}}), gm::silu(x[0]), true),
      GM_OP("gelu", (V{{6, 6}}), gm::gelu(x[0]), true),
      GM_OP("softplus", (V{{6, 6}}), gm::softplus(x[0]), true),
      GM_OP("softmax", (V{{3, 7, 4}}), gm::softmax(x[0], 1), true),
      GM_OP("log_softmax", (V{{5, 300}}), gm::log_softmax(x[0], -1), true),
      GM_OP("sum dims", (V{{3, 4, 5}}), gm::sum(x[0], {0, 2}, true), true),
      GM_OP("mean", (V{{3, 4, 5}}), gm::mean(x[0], {1}, false)),
      GM_OP("max", (V{{3, 4, 5}}), gm::max(x[0], {2}, false)),
      GM_OP("min", (V{{3, 4, 5}}), gm::min(x[0], {0}, true)),
      GM_OP("var", (V{{6, 9}}), gm::var(x[0], {1}, true)),
      GM_OP("logsumexp", (V{{4, 33}}), gm::logsumexp(x[0], {1}, false)),
      GM_OP("norm", (V{{4, 6}}), gm::norm(x[0], {1}, false), true),
      GM_OP("permute", (V{{2, 3, 4, 5}}), gm::permute(x[0], {3, 1, 0, 2})),
      GM_OP("narrow", (V{{4, 9, 3}}), gm::narrow(x[0], 1, 2, 5)),
      GM_OP("concat", (V{{2, 3, 4}, {2, 5, 4}}), gm::concat(std::vector{x[0], x[1]}, 1), true),
      GM_OP("stack", (V{{3, 4}, {3, 4}}), gm::stack(std::vector{x[0], x[1]}, 0)),
      GM_OP("broadcast_to", (V{{3, 1}}), gm::broadcast_to(x[0], gm::Shape{2, 3, 4})),
      GM_OP("matmul batched", (V{{3, 5, 7}, {7, 4}}), gm::matmul(x[0], x[1]), true),
      GM_OP("linear", (V{{6, 10}, {4, 10}, {4}}), gm::linear(x[0], x[1], x[2]), true),
      GM_OP("conv2d", (V{{2, 3, 9, 9}, {5, 3, 3, 3}, {5}}), gm::conv2d(x[0], x[1], x[2], 2, 1), true),
      GM_OP("conv2d grouped", (V{{2, 4, 8, 8}, {6, 2, 3, 3}}), gm::conv2d(x[0], x[1], {}, 1, 1, 1, 2)),
      GM_OP("conv_transpose2d", (V{{2, 4, 5, 5}, {4, 3, 4, 4}, {3}}),
            gm::conv_transpose2d(x[0], x[1], x[2], 2, 1), true),
      GM_OP("max_pool2d", (V{{2, 3, 8, 8}}), gm::max_pool2d(x[0], 2)),
      GM_OP("avg_pool2d", (V{{2, 3, 9, 9}}), gm::avg_pool2d(x[0], 3, 2, 1)),
      GM_OP("upsample nearest", (V{{2, 3, 4, 5}}), gm::upsample_nearest2d(x[0], gm::Size2{8, 10})),
      GM_OP("upsample bilinear", (V{{2, 3, 4, 5}}), gm::upsample_bilinear2d(x[0], gm::Size2{7, 9}, false)),
      GM_OP("batch_norm train", (V{{8, 3, 4, 4}, {3}, {3}}),
            gm::batch_norm(x[0], {}, {}, x[1], x[2], true), true),
      GM_OP("layer_norm", (V{{4, 6, 5}, {6, 5}, {6, 5}}), gm::layer_norm(x[0], 2, x[1], x[2]), true),
      GM_OP("group_norm", (V{{2, 6, 3, 3}, {6}, {6}}), gm::group_norm(x[0], 3, x[1], x[2]), true),
  };
#undef GM_OP
}

}  // namespace

TEMPLATE_TEST_CASE("cuda ops: forward and backward match the CPU on the same inputs", "[device]", float,
                   double) {
  std::mt19937_64 rng(11);
  for (const auto& c : all_cases<TestType>()) check_case(c, rng);
}

TEMPLATE_TEST_CASE("cuda ops: index ops, embedding and dropout match the CPU", "[device]", float, double) {
  using T = TestType;
  std::mt19937_64 rng(12);
  const auto x = gmtest::random_both<T>({4, 6, 3}, rng);
  const auto idx = gm::from_vector<int64_t>({2, 0, 2, 5}, gm::Shape{4});
  const auto idx_dev = idx.template to<cuda>();
  auto sel_h = gm::index_select(x.host, 1, idx);
  auto sel_d = gm::index_select(x.dev, 1, idx_dev);
  CHECK(sel_d.to_vector() == sel_h.to_vector());

  const auto gidx = gm::from_vector<int64_t>({0, 3, 3, 1, 2, 0, 3, 1}, gm::Shape{4, 2, 1});
  CHECK(gm::gather(x.host, 1, gidx).to_vector() == gm::gather(x.dev, 1, gidx.template to<cuda>()).to_vector());
  const auto src = gmtest::random_both<T>({4, 2, 1}, rng);
  CHECK(gmtest::rel_error(gm::scatter_add(gm::Shape{4, 6, 3}, 1, gidx.template to<cuda>(), src.dev).to_vector(),
                          gm::scatter_add(gm::Shape{4, 6, 3}, 1, gidx, src.host).to_vector()) <
        gmtest::parity_tol<T>());

  // Embedding with repeated rows: forward and the summed gradient.
  auto w = gmtest::random_both<T>({7, 5}, rng);
  const auto labels = gm::from_vector<int64_t>({3, 1, 3, 6, 0, 3}, gm::Shape{2, 3});
  auto wh = w.host.detach().requires_grad_(true);
  auto wd = w.dev.detach().requires_grad_(true);
  auto eh = gm::embedding(wh, labels);
  auto ed = gm::embedding(wd, labels.template to<cuda>());
  CHECK(ed.to_vector() == eh.to_vector());
  gm::sum(gm::mul(eh, eh)).backward();
  gm::sum(gm::mul(ed, ed)).backward();
  CHECK(gmtest::rel_error(wd.grad().to_vector(), wh.grad().to_vector()) < gmtest::parity_tol<T>());
  CHECK_THROWS_WITH(gm::embedding(wd, gm::from_vector<int64_t>({7}, gm::Shape{1}).template to<cuda>()),
                    Catch::Contains("out of range"));

  // Dropout: the same generator state gives the same mask on both devices.
  gm::Generator gh(5), gd(5);
  const auto ones = gm::ones<T>({1000});
  CHECK(gm::dropout(ones.template to<cuda>(), 0.3, true, gd).to_vector() ==
        gm::dropout(ones, 0.3, true, gh).to_vector());
  CHECK(gd.offset() == gh.offset());
}

TEST_CASE("cuda ops: a model and its optimizer train on the GPU as on the CPU", "[device]") {
  // The same MLP on both devices (the CPU weights loaded into the cuda
  // copy), ten Adam steps on the same batch, the gradients clipped: the
  // losses, the gradient norms, the step counts and the final weights agree.
  using T = double;
  auto make = []<class D>(D) {
    auto m = std::make_shared<gm::nn::Sequential<T, D>>();
    m->push_back(std::make_shared<gm::nn::Linear<T, D>>(6, 16));
    m->push_back(std::make_shared<gm::nn::LayerNorm<T, D>>(std::vector<int64_t>{16}));
    m->push_back(std::make_shared<gm::nn::SiLU<T, D>>());
    m->push_back(std::make_shared<gm::nn::Linear<T, D>>(16, 3));
    return m;
  };
  auto host = make(cpu{});
  auto dev = make(cuda{});
  dev->load_state_dict(host->state_dict());
  std::mt19937_64 rng(13);
  const auto x = gmtest::random_both<T>({8, 6}, rng);
  const auto y = gmtest::random_both<T>({8, 3}, rng);
  gm::optim::Adam<T, cpu> opt_h(host->parameters(), {.lr = 1e-2});
  gm::optim::Adam<T, cuda> opt_d(dev->parameters(), {.lr = 1e-2});
  for (int step = 0; step < 10; ++step) {
    auto loss_h = gm::mean(gm::pow(gm::sub(host->forward(x.host), y.host), 2.0));
    auto loss_d = gm::mean(gm::pow(gm::sub(dev->forward(x.dev), y.dev), 2.0));
    CHECK(std::abs(loss_d.item() - loss_h.item()) < 1e-12 * std::abs(loss_h.item()));
    opt_h.zero_grad();
    opt_d.zero_grad();
    loss_h.backward();
    loss_d.backward();
    const double norm_h = gm::optim::clip_grad_norm_(host->parameters(), 0.5);
    const double norm_d = gm::optim::clip_grad_norm_(dev->parameters(), 0.5);
    CHECK(std::abs(norm_d - norm_h) < 1e-12 * norm_h);
    opt_h.step();
    opt_d.step();
  }
  const auto ph = host->parameters();
  const auto pd = dev->parameters();
  for (std::size_t i = 0; i < ph.size(); ++i) {
    CHECK(gmtest::rel_error(pd[i].to_vector(), ph[i].to_vector()) < 1e-12);
    CHECK(opt_d.state(i).at("step").item() == 10.0);
  }
}
