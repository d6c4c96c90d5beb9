#include "losses/time_sampling.h"

#include <ATen/ATen.h>

#include "sde/sde.h"

namespace scorelab {

TimeSampler::TimeSampler(const std::string& mode, const SDE& sde, double eps,
                         const std::function<at::Tensor(const at::Tensor&)>& weight, int64_t table)
    : mode_(mode), eps_(eps), T_(sde.T()) {
  if (mode_ == "uniform") return;
  grid_ = at::linspace(eps_, T_, table + 1, at::kDouble);
  at::Tensor mass;  // per cell, >= 0
  if (mode_ == "log_snr") {
    at::Tensor lam = sde.log_snr(grid_);
    mass = (lam.slice(0, 0, table) - lam.slice(0, 1)).abs();
  } else {
    TORCH_CHECK(weight, "TimeSampler: importance sampling needs a weight function");
    at::Tensor w = weight(grid_).to(at::kDouble).clamp_min(0);
    mass = 0.5 * (w.slice(0, 0, table) + w.slice(0, 1)) * (grid_.slice(0, 1) - grid_.slice(0, 0, table));
  }
  at::Tensor c = at::cumsum(mass, 0);
  TORCH_CHECK(c[-1].item<double>() > 0, "TimeSampler: the weight vanishes on [eps, T]");
  cdf_ = at::cat({at::zeros({1}, at::kDouble), c / c[-1]});
}

std::optional<double> TimeSampler::constant_density() const {
  if (mode_ == "uniform") return 1.0 / (T_ - eps_);
  return std::nullopt;
}

at::Tensor TimeSampler::sample_t(int64_t n, at::Generator& gen, const at::TensorOptions& opts) const {
  if (mode_ == "uniform") return at::empty({n}, opts).uniform_(eps_, T_, gen);  // the draws of at::rand
  return sample(n, gen, opts).first;
}

std::pair<at::Tensor, at::Tensor> TimeSampler::sample(int64_t n, at::Generator& gen,
                                                      const at::TensorOptions& opts) const {
  if (mode_ == "uniform") return {sample_t(n, gen, opts), at::full({n}, 1.0 / (T_ - eps_), opts)};
  at::Tensor u = at::rand({n}, gen, at::TensorOptions().dtype(at::kDouble).device(opts.device()));
  const at::Tensor &cdf = cache_->as(cdf_, opts.device(), at::kDouble), &grid = cache_->as(grid_, opts.device(), at::kDouble);
  int64_t M = grid.size(0) - 1;
  at::Tensor j = at::clamp(at::searchsorted(cdf, u, /*out_int32=*/false, /*right=*/true) - 1, 0, M - 1);
  at::Tensor c0 = cdf.index_select(0, j), c1 = cdf.index_select(0, j + 1);
  at::Tensor t0 = grid.index_select(0, j), t1 = grid.index_select(0, j + 1);
  at::Tensor cell = (c1 - c0).clamp_min(1e-300);
  at::Tensor t = t0 + (u - c0) / cell * (t1 - t0);
  at::Tensor q = cell / (t1 - t0);
  return {t.to(opts), q.to(opts)};
}

}  // namespace scorelab
