// genmodel/core/error.hpp: the one exception type of the library and the
// GM_CHECK macro that every public function uses to validate its inputs.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace genmodel {

/// Thrown for every user-visible failure: wrong shapes, bad files, misuse of
/// autograd. The message names the operation and the offending values.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

namespace detail {
template <class... Args>
std::string concat(Args&&... args) {
  std::ostringstream os;
  (os << ... << std::forward<Args>(args));
  return os.str();
}
}  // namespace detail

}  // namespace genmodel

/// GM_CHECK(cond, "op: ", details...) throws genmodel::Error with the
/// streamed message when cond is false.
#define GM_CHECK(cond, ...)                                                  \
  do {                                                                       \
    if (!(cond)) [[unlikely]]                                                \
      throw ::genmodel::Error(::genmodel::detail::concat(__VA_ARGS__));      \
  } while (0)
