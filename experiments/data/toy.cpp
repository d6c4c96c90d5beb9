#include "experiments/data/toy.h"

#include <cmath>
#include <stdexcept>

#include <ATen/ATen.h>

namespace scorelab {

const std::vector<std::string>& toy_names() {
  static const std::vector<std::string> names{"eight_gaussians", "checkerboard", "swiss_roll", "two_moons"};
  return names;
}

at::Tensor sample_toy(const std::string& name, int64_t n, at::Generator& gen) {
  auto f = at::TensorOptions().dtype(at::kFloat);
  if (name == "eight_gaussians") {
    // The 8 centres 2 (cos, sin)(2 pi k / 8), computed once (and never freed: no destruction
    // order to worry about at exit); a batch is 4 operations.
    static const at::Tensor* centres = [] {
      at::Tensor angle = at::arange(8, at::kFloat) * (2 * M_PI / 8);
      return new at::Tensor(2.0 * at::stack({at::cos(angle), at::sin(angle)}, 1));
    }();
    at::Tensor k = at::randint(8, {n}, gen, at::kLong);
    return at::add(centres->index_select(0, k), at::randn({n, 2}, gen, f), 0.2);
  }
  if (name == "checkerboard") {
    // Column c = floor(x1 + 2) in 0..3; rows of the same parity as c are filled.
    at::Tensor x1 = at::rand({n}, gen, f) * 4 - 2;
    at::Tensor row = at::randint(2, {n}, gen, at::kLong).to(at::kFloat) * 2;  // 0 or 2
    at::Tensor col_parity = at::remainder(at::floor(x1 + 2), 2);
    at::Tensor x2 = at::rand({n}, gen, f) + row + col_parity - 2;
    return at::stack({x1, x2}, 1);
  }
  if (name == "swiss_roll") {
    at::Tensor t = 1.5 * M_PI * (1 + 2 * at::rand({n}, gen, f));
    at::Tensor xy = at::stack({t * at::cos(t), t * at::sin(t)}, 1);
    return (xy + 0.5 * at::randn({n, 2}, gen, f)) / 5.0;
  }
  if (name == "two_moons") {
    at::Tensor theta = M_PI * at::rand({n}, gen, f);
    at::Tensor upper = at::randint(2, {n}, gen, at::kLong).to(at::kFloat).unsqueeze(1);
    at::Tensor outer = at::stack({at::cos(theta), at::sin(theta)}, 1);
    at::Tensor inner = at::stack({1 - at::cos(theta), 0.5 - at::sin(theta)}, 1);
    at::Tensor x = upper * outer + (1 - upper) * inner + 0.08 * at::randn({n, 2}, gen, f);
    return (x - at::tensor({0.5f, 0.25f})) * 1.5;
  }
  throw std::invalid_argument("unknown toy data set '" + name + "'");
}

}  // namespace scorelab
