// Tensor construction, views, element access, conversion, printing and the
// errors of misuse.
#include <catch2/catch.hpp>
#include <sstream>

#include "genmodel/genmodel.hpp"

namespace gm = genmodel;

TEST_CASE("tensor: shape, numel and row-major element access", "[tensor]") {
  auto t = gm::arange<float>(0, 24).reshape({2, 3, 4});
  REQUIRE(t.dim() == 3);
  REQUIRE(t.numel() == 24);
  REQUIRE(t.size(-1) == 4);
  REQUIRE(t.at(1, 2, 3) == 23.0f);
  REQUIRE(t.at(0, 1, 0) == 4.0f);
  REQUIRE(t.at(-1, -1, -1) == 23.0f);
  t.at(0, 0, 1) = 7.0f;
  REQUIRE(t.data()[1] == 7.0f);
}

TEST_CASE("tensor: reshape is a view sharing storage; permute and narrow copy", "[tensor]") {
  auto t = gm::arange<double>(0, 6);
  auto v = gm::reshape(t, {2, -1});
  REQUIRE(v.shape() == gm::Shape{2, 3});
  REQUIRE(v.shares_storage(t));
  v.at(1, 1) = 42;
  REQUIRE(t.at(4) == 42);
  auto p = gm::transpose(v);
  REQUIRE(p.shape() == gm::Shape{3, 2});
  REQUIRE_FALSE(p.shares_storage(t));
  REQUIRE(p.at(1, 1) == 42);
  REQUIRE(p.at(2, 0) == 2);
  auto n = gm::narrow(v, 1, 1, 2);
  REQUIRE(n.shape() == gm::Shape{2, 2});
  REQUIRE(n.to_vector() == std::vector<double>{1, 2, 42, 5});
}

TEST_CASE("tensor: concat, stack, index_select and gather against hand-written results", "[tensor]") {
  auto a = gm::tensor<float>({1, 2, 3, 4}, {2, 2});
  auto b = gm::tensor<float>({5, 6}, {2, 1});
  REQUIRE(gm::concat<float, gm::cpu>({a, b}, 1).to_vector() == std::vector<float>{1, 2, 5, 3, 4, 6});
  REQUIRE(gm::concat<float, gm::cpu>({a, gm::transpose(b)}, 0).to_vector() == std::vector<float>{1, 2, 3, 4, 5, 6});
  auto s = gm::stack<float, gm::cpu>({a, a}, 0);
  REQUIRE(s.shape() == gm::Shape{2, 2, 2});
  auto idx = gm::from_vector<int64_t>({1, 1, 0}, {3});
  REQUIRE(gm::index_select(a, 0, idx).to_vector() == std::vector<float>{3, 4, 3, 4, 1, 2});
  REQUIRE(gm::index_select(a, 1, idx).to_vector() == std::vector<float>{2, 2, 1, 4, 4, 3});
  auto gidx = gm::from_vector<int64_t>({1, 0, 0, 0}, {2, 2});
  REQUIRE(gm::gather(a, 1, gidx).to_vector() == std::vector<float>{2, 1, 3, 3});
}

TEST_CASE("tensor: factories", "[tensor]") {
  REQUIRE(gm::zeros<float>({2, 2}).to_vector() == std::vector<float>(4, 0.0f));
  REQUIRE(gm::ones<double>({3}).to_vector() == std::vector<double>(3, 1.0));
  REQUIRE(gm::full<float>({2}, 2.5f).to_vector() == std::vector<float>{2.5f, 2.5f});
  REQUIRE(gm::arange<float>(1, 2, 0.25f).to_vector() == std::vector<float>{1, 1.25f, 1.5f, 1.75f});
  REQUIRE(gm::arange<double>(3, 0, -1).to_vector() == std::vector<double>{3, 2, 1});
  auto l = gm::linspace<double>(-1, 1, 5);
  REQUIRE(l.to_vector() == std::vector<double>{-1, -0.5, 0, 0.5, 1});
  REQUIRE(gm::linspace<float>(0, 1, 1).to_vector() == std::vector<float>{0});
}

TEST_CASE("tensor: casting between scalar types", "[tensor]") {
  auto f = gm::tensor<float>({1.5f, -2.25f});
  auto d = f.to<double>();
  REQUIRE(d.to_vector() == std::vector<double>{1.5, -2.25});
  REQUIRE(d.to<float>().to_vector() == f.to_vector());
  REQUIRE(f.to<int64_t>().to_vector() == std::vector<int64_t>{1, -2});
}

TEST_CASE("tensor: detach shares storage, clone_data copies", "[tensor]") {
  auto x = gm::ones<float>({3});
  x.requires_grad_();
  auto d = x.detach();
  REQUIRE_FALSE(d.requires_grad());
  REQUIRE(d.shares_storage(x));
  auto c = x.clone_data();
  c.data()[0] = 5;
  REQUIRE(x.data()[0] == 1.0f);
}

TEST_CASE("tensor: printing shows shape and values, eliding long rows", "[tensor]") {
  std::ostringstream os;
  os << gm::arange<float>(0, 4).reshape({2, 2});
  REQUIRE(os.str() == "Tensor[2, 2](\n  [0, 1]\n  [2, 3])");
  std::ostringstream long_row;
  long_row << gm::arange<float>(0, 10);
  REQUIRE(long_row.str() == "Tensor[10](\n  [0, 1, 2, ..., 7, 8, 9])");
  std::ostringstream undef;
  undef << gm::Tensor<float>();
  REQUIRE(undef.str() == "Tensor(undefined)");
}

TEST_CASE("tensor: misuse throws genmodel::Error naming the problem", "[tensor][errors]") {
  auto t = gm::zeros<float>({2, 3});
  REQUIRE_THROWS_WITH(t.at(2, 0), Catch::Contains("index 2 out of range for dim 0 of shape [2, 3]"));
  REQUIRE_THROWS_WITH(t.at(0), Catch::Contains("1 indices for a tensor of shape [2, 3]"));
  REQUIRE_THROWS_WITH(t.item(), Catch::Contains("has 6 elements, not 1"));
  REQUIRE_THROWS_WITH(gm::from_vector<float>({1, 2, 3}, {2, 2}), Catch::Contains("3 values for shape [2, 2]"));
  REQUIRE_THROWS_WITH(gm::reshape(t, {4, 2}), Catch::Contains("is invalid for a tensor of shape [2, 3]"));
  REQUIRE_THROWS_WITH(gm::reshape(t, {-1, -1}), Catch::Contains("only one dim can be -1"));
  REQUIRE_THROWS_WITH(gm::narrow(t, 1, 2, 2), Catch::Contains("[2, 4) is out of range for dim 1 of shape [2, 3]"));
  REQUIRE_THROWS_WITH(gm::permute(t, {0, 0}), Catch::Contains("appears twice"));
  REQUIRE_THROWS_WITH(gm::sum(t, {2}), Catch::Contains("sum: dim 2 is out of range for a tensor of 2 dimensions"));
  REQUIRE_THROWS_WITH(gm::index_select(t, 0, gm::from_vector<int64_t>({0, 2}, {2})),
                      Catch::Contains("index_select: index 2 at position 1 is out of range for a dim of size 2"));
  REQUIRE_THROWS_WITH((gm::concat<float, gm::cpu>({t, gm::zeros<float>({3, 3})}, 1)),
                      Catch::Contains("differs from [2, 3] outside dim 1"));
  REQUIRE_THROWS_WITH(gm::Tensor<float>().numel(), Catch::Contains("undefined Tensor"));
  REQUIRE_THROWS_AS(gm::Shape({2, -1}), gm::Error);
}

TEST_CASE("tensor: shape mismatches in ops name the op and both shapes", "[tensor][errors]") {
  auto a = gm::zeros<float>({2, 3}), b = gm::zeros<float>({4, 3});
  REQUIRE_THROWS_WITH(gm::add(a, b), Catch::Contains("add: shapes [2, 3] and [4, 3] cannot be broadcast together"));
  REQUIRE_THROWS_WITH(gm::mul(a, gm::zeros<float>({2})), Catch::Contains("mul: shapes [2, 3] and [2]"));
  REQUIRE_THROWS_WITH(gm::matmul(a, a), Catch::Contains("matmul: inner dimensions differ: [2, 3] @ [2, 3] (3 vs 2)"));
  REQUIRE_THROWS_WITH(gm::linear(a, gm::zeros<float>({5, 4})), Catch::Contains("linear: input of shape [2, 3]"));
  REQUIRE_THROWS_WITH(gm::conv2d(a, a), Catch::Contains("conv2d: input must be (N, C, H, W), got [2, 3]"));
  auto x = gm::zeros<float>({1, 3, 8, 8});
  REQUIRE_THROWS_WITH(gm::conv2d(x, gm::zeros<float>({4, 2, 3, 3})), Catch::Contains("expects 2 input channels, but the input [1, 3, 8, 8] has 3"));
  REQUIRE_THROWS_WITH(gm::group_norm(x, 2), Catch::Contains("group_norm: 3 channels are not divisible into 2 groups"));
  REQUIRE_THROWS_WITH(gm::layer_norm(x, 2, gm::ones<float>({7})), Catch::Contains("layer_norm: weight of shape [7] should have 64 elements"));
  REQUIRE_THROWS_WITH(gm::softmax(a, 3), Catch::Contains("softmax: dim 3 is out of range"));
  REQUIRE_THROWS_WITH(gm::embedding(gm::zeros<float>({5, 3}), gm::from_vector<int64_t>({1, 7}, {2})),
                      Catch::Contains("embedding: index 7 at position 1 is out of range for num_embeddings = 5"));
  REQUIRE_THROWS_WITH(gm::dropout(a, 1.0, true), Catch::Contains("dropout: probability must be in [0, 1), got 1"));
  REQUIRE_THROWS_WITH(gm::max_pool2d(x, 3, 1, 2), Catch::Contains("pad"));
  REQUIRE_THROWS_WITH(gm::conv_transpose2d(x, gm::zeros<float>({2, 2, 3, 3})), Catch::Contains("conv_transpose2d: weight must be (in, out/groups, kh, kw) with in = 3"));
  REQUIRE_THROWS_WITH(gm::batch_norm(gm::zeros<float>({1, 3}), {}, {}, {}, {}, true),
                      Catch::Contains("batch_norm: training needs more than one value per channel"));
}

// Devices are types, so mixing them is rejected at compile time; these
// assertions fail to compile if that ever changes.
template <class A, class B>
concept Addable = requires(A a, B b) { genmodel::add(a, b); };
static_assert(Addable<gm::Tensor<float, gm::cpu>, gm::Tensor<float, gm::cpu>>);
static_assert(!Addable<gm::Tensor<float, gm::cpu>, gm::Tensor<float, gm::cuda>>);
static_assert(!Addable<gm::Tensor<float, gm::cpu>, gm::Tensor<double, gm::cpu>>);
