// Eigen and xtensor views share the tensor's memory (a write through a view
// is seen by the tensor); tensors made from Eigen and xtensor values copy them
// in row-major order.
#include <catch2/catch.hpp>
#include <xtensor/xbuilder.hpp>
#include <xtensor/xmath.hpp>

#include "genmodel/genmodel.hpp"
#include "genmodel/interop.hpp"

namespace gm = genmodel;
namespace interop = genmodel::interop;

TEST_CASE("Eigen views share the tensor's memory", "[interop]") {
  auto t = gm::tensor<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  auto m = interop::as_eigen_matrix(t);
  CHECK(m.rows() == 2);
  CHECK(m.cols() == 3);
  CHECK(m.data() == t.data());
  CHECK(m(1, 0) == 4);  // row-major
  m(0, 2) = 30;
  CHECK(t.at(0, 2) == 30);
  m.row(1) *= 2;
  CHECK(t.to_vector() == std::vector<float>{1, 2, 30, 8, 10, 12});

  auto t3 = gm::tensor<double>({1, 2, 3, 4, 5, 6, 7, 8}, {2, 2, 2});
  auto v = interop::as_eigen_vector(t3);
  CHECK(v.size() == 8);
  CHECK(v.sum() == 36);
  auto a = interop::as_eigen_array(t3);
  a = a.square();
  CHECK(t3.at(1, 1, 1) == 64);
  CHECK(v(7) == 64);
  CHECK_THROWS_WITH(interop::as_eigen_matrix(t3), Catch::Contains("as_eigen_matrix") && Catch::Contains("[2, 2, 2]"));
}

TEST_CASE("tensors from Eigen matrices are row-major copies", "[interop]") {
  Eigen::MatrixXd col(2, 3);  // column-major by default
  col << 1, 2, 3, 4, 5, 6;
  auto t = interop::from_eigen(col);
  CHECK(t.shape() == gm::Shape{2, 3});
  CHECK(t.to_vector() == std::vector<double>{1, 2, 3, 4, 5, 6});
  col(0, 0) = 100;  // a copy
  CHECK(t.at(0, 0) == 1);
  auto p = interop::from_eigen(col.transpose() * col);  // any expression
  CHECK(p.shape() == gm::Shape{3, 3});
  CHECK(p.at(0, 1) == Approx(100 * 2 + 4 * 5));
  Eigen::ArrayXf arr(3);
  arr << 1, 2, 3;
  CHECK(interop::from_eigen(arr).shape() == gm::Shape{3, 1});
}

TEST_CASE("xtensor adaptors share the tensor's memory", "[interop]") {
  auto t = gm::tensor<float>({1, 2, 3, 4, 5, 6}, {3, 2});
  auto x = interop::as_xtensor(t);
  REQUIRE(x.dimension() == 2);
  CHECK(x.shape()[0] == 3);
  CHECK(x.shape()[1] == 2);
  CHECK(x.data() == t.data());
  CHECK(x(2, 1) == 6);
  x(1, 0) = -3;
  CHECK(t.at(1, 0) == -3);
  x *= 2.0f;
  CHECK(t.to_vector() == std::vector<float>{2, 4, -6, 8, 10, 12});
}

TEST_CASE("tensors from xtensor expressions are evaluated copies", "[interop]") {
  xt::xarray<double> a = {{1, 2, 3}, {4, 5, 6}};
  auto t = interop::from_xtensor(a + 1.0);
  CHECK(t.shape() == gm::Shape{2, 3});
  CHECK(t.to_vector() == std::vector<double>{2, 3, 4, 5, 6, 7});
  auto col = xt::xarray<float, xt::layout_type::column_major>({{1, 2}, {3, 4}});
  CHECK(interop::from_xtensor(col).to_vector() == std::vector<float>{1, 2, 3, 4});
  auto r = interop::from_xtensor(xt::arange<double>(24.0));
  CHECK(r.shape() == gm::Shape{24});
  // A round trip: tensor -> view -> expression -> tensor.
  auto back = interop::from_xtensor(xt::sqrt(interop::as_xtensor(gm::tensor<double>({4, 9, 16}, {1, 3}))));
  CHECK(back.shape() == gm::Shape{1, 3});
  CHECK(back.to_vector() == std::vector<double>{2, 3, 4});
}
