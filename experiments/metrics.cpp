#include "experiments/metrics.h"

#include <cmath>

#include <ATen/ATen.h>

namespace scorelab {

double sliced_wasserstein(const at::Tensor& x_in, const at::Tensor& y_in, int64_t projections, at::Generator& gen) {
  at::Tensor x = x_in.detach().to(at::kCPU, at::kDouble).reshape({x_in.size(0), -1});
  at::Tensor y = y_in.detach().to(at::kCPU, at::kDouble).reshape({y_in.size(0), -1});
  TORCH_CHECK(x.size(1) == y.size(1), "sliced_wasserstein: dimensions differ: ", x.size(1), " vs ", y.size(1));
  at::Tensor theta = at::randn({x.size(1), projections}, gen, x.options());
  theta = theta / theta.norm(2, 0, true);
  at::Tensor px = std::get<0>(at::sort(at::matmul(x, theta), 0));
  at::Tensor py = std::get<0>(at::sort(at::matmul(y, theta), 0));
  int64_t n = std::min(px.size(0), py.size(0));
  auto quantiles = [n](const at::Tensor& p) {
    if (p.size(0) == n) return p;
    // Midpoint quantiles (i + 1/2) / n of the larger set, by nearest rank.
    at::Tensor idx = at::floor((at::arange(n, p.options()) + 0.5) * (static_cast<double>(p.size(0)) / n)).to(at::kLong);
    return p.index_select(0, idx);
  };
  return std::sqrt((quantiles(px) - quantiles(py)).pow(2).mean().item<double>());
}

}  // namespace scorelab
