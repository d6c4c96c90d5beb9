#include "experiments/evaluation/metrics.h"

#include <algorithm>
#include <cmath>

#include <ATen/ATen.h>

namespace scorelab {

namespace {
// Midpoint quantiles (i + 1/2)/n of a sorted [m, P] set, by nearest rank: [n, P].
at::Tensor quantiles_of(const at::Tensor& sorted, int64_t n) {
  if (sorted.size(0) == n) return sorted;
  at::Tensor idx =
      at::floor((at::arange(n, sorted.options()) + 0.5) * (static_cast<double>(sorted.size(0)) / n)).to(at::kLong);
  return sorted.index_select(0, idx);
}
}  // namespace

SlicedW2Reference::SlicedW2Reference(const at::Tensor& ref, int64_t projections, at::Generator& gen) {
  at::Tensor r = ref.detach().to(at::kCPU, at::kDouble).reshape({ref.size(0), -1});
  theta_ = at::randn({r.size(1), projections}, gen, r.options());
  theta_ = theta_ / theta_.norm(2, 0, true);
  ref_sorted_ = std::get<0>(at::sort(at::matmul(r, theta_), 0));
}

double SlicedW2Reference::distance(const at::Tensor& x_in) const {
  at::Tensor x = x_in.detach().to(at::kCPU, at::kDouble).reshape({x_in.size(0), -1});
  at::Tensor px = std::get<0>(at::sort(at::matmul(x, theta_), 0));
  int64_t n = std::min(px.size(0), ref_sorted_.size(0));
  return std::sqrt((quantiles_of(px, n) - quantiles_of(ref_sorted_, n)).pow(2).mean().item<double>());
}

namespace {
at::Tensor flat64(const at::Tensor& x) { return x.detach().to(at::kCPU, at::kDouble).reshape({x.size(0), -1}); }
// Mean of the off-diagonal entries of a square matrix.
double off_diagonal_mean(const at::Tensor& m) {
  int64_t n = m.size(0);
  return ((m.sum() - m.diagonal().sum()) / static_cast<double>(n * (n - 1))).item<double>();
}
}  // namespace

std::pair<double, double> mmd_rbf(const at::Tensor& x_in, const at::Tensor& y_in) {
  at::Tensor x = flat64(x_in), y = flat64(y_in);
  // The bandwidth from the pooled points: up to 1000 of each set (the first ones), so that it
  // does not depend on the samples alone when they are many.
  at::Tensor sub = at::cat({x.slice(0, 0, std::min<int64_t>(x.size(0), 1000)), y.slice(0, 0, std::min<int64_t>(y.size(0), 1000))});
  at::Tensor d = at::cdist(sub, sub);
  at::Tensor upper = d.masked_select(at::triu(at::ones_like(d, at::kBool), 1));
  double h = std::max(1e-12, upper.median().item<double>());
  auto k = [h](const at::Tensor& a, const at::Tensor& b) { return at::exp(-at::cdist(a, b).pow(2) / (2 * h * h)); };
  double kxx = off_diagonal_mean(k(x, x)), kyy = off_diagonal_mean(k(y, y)), kxy = k(x, y).mean().item<double>();
  return {kxx + kyy - 2 * kxy, h};
}

double energy_distance(const at::Tensor& x_in, const at::Tensor& y_in) {
  at::Tensor x = flat64(x_in), y = flat64(y_in);
  return 2 * at::cdist(x, y).mean().item<double>() - off_diagonal_mean(at::cdist(x, x)) -
         off_diagonal_mean(at::cdist(y, y));
}

GaussianStats gaussian_stats(const at::Tensor& features) {
  at::Tensor f = features.detach().to(at::kCPU, at::kDouble).reshape({features.size(0), -1});
  TORCH_CHECK(f.size(0) >= 2, "gaussian_stats needs at least 2 feature vectors");
  at::Tensor mean = f.mean(0);
  at::Tensor c = f - mean;
  return {mean, at::matmul(c.t(), c) / static_cast<double>(f.size(0) - 1)};
}

double frechet_distance(const GaussianStats& a, const GaussianStats& b) {
  auto sym_sqrt = [](const at::Tensor& s) {
    auto [w, v] = at::linalg_eigh(0.5 * (s + s.t()));
    return at::matmul(v * w.clamp_min(0).sqrt().unsqueeze(0), v.t());
  };
  at::Tensor r1 = sym_sqrt(a.cov);
  at::Tensor m = at::matmul(at::matmul(r1, b.cov), r1);
  double tr_sqrt = at::linalg_eigvalsh(0.5 * (m + m.t())).clamp_min(0).sqrt().sum().item<double>();
  double mean_term = (a.mean - b.mean).pow(2).sum().item<double>();
  double fd = mean_term + a.cov.trace().item<double>() + b.cov.trace().item<double>() - 2.0 * tr_sqrt;
  return std::max(0.0, fd);
}

}  // namespace scorelab
