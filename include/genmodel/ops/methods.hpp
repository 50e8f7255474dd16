// genmodel/ops/methods.hpp: the Tensor member conveniences (t.sum(),
// t.backward(), ...) and the arithmetic operators, all forwarding to ops.
#pragma once

#include "genmodel/autograd/engine.hpp"
#include "genmodel/ops/fwd.hpp"

namespace genmodel {

template <class T, class D>
Tensor<T, D> Tensor<T, D>::reshape(const Shape& shape) const {
  return genmodel::reshape(*this, shape.vec());
}
template <class T, class D>
Tensor<T, D> Tensor<T, D>::sum() const {
  return genmodel::sum(*this);
}
template <class T, class D>
Tensor<T, D> Tensor<T, D>::mean() const {
  return genmodel::mean(*this);
}
template <class T, class D>
void Tensor<T, D>::backward() const {
  genmodel::backward(*this);
}
template <class T, class D>
void Tensor<T, D>::backward(const Tensor& grad, bool retain_graph, bool create_graph) const {
  genmodel::backward(*this, grad, retain_graph, create_graph);
}

template <class T, class D> Tensor<T, D> operator+(const Tensor<T, D>& a, const Tensor<T, D>& b) { return add(a, b); }
template <class T, class D> Tensor<T, D> operator-(const Tensor<T, D>& a, const Tensor<T, D>& b) { return sub(a, b); }
template <class T, class D> Tensor<T, D> operator*(const Tensor<T, D>& a, const Tensor<T, D>& b) { return mul(a, b); }
template <class T, class D> Tensor<T, D> operator/(const Tensor<T, D>& a, const Tensor<T, D>& b) { return div(a, b); }
template <class T, class D> Tensor<T, D> operator-(const Tensor<T, D>& a) { return neg(a); }
template <class T, class D> Tensor<T, D> operator+(const Tensor<T, D>& a, ScalarArg<T> s) { return add(a, s); }
template <class T, class D> Tensor<T, D> operator+(ScalarArg<T> s, const Tensor<T, D>& a) { return add(a, s); }
template <class T, class D> Tensor<T, D> operator-(const Tensor<T, D>& a, ScalarArg<T> s) { return add(a, -s); }
template <class T, class D> Tensor<T, D> operator-(ScalarArg<T> s, const Tensor<T, D>& a) { return rsub(s, a); }
template <class T, class D> Tensor<T, D> operator*(const Tensor<T, D>& a, ScalarArg<T> s) { return mul(a, s); }
template <class T, class D> Tensor<T, D> operator*(ScalarArg<T> s, const Tensor<T, D>& a) { return mul(a, s); }
template <class T, class D> Tensor<T, D> operator/(const Tensor<T, D>& a, ScalarArg<T> s) { return mul(a, T(1) / s); }
template <class T, class D> Tensor<T, D> operator/(ScalarArg<T> s, const Tensor<T, D>& a) { return rdiv(s, a); }

}  // namespace genmodel
