#include "sde/ddpm.h"

#include <cmath>

#include <ATen/ATen.h>

#include "core/config.h"
#include "core/tensor_util.h"

namespace scorelab {

DDPMChain DDPMChain::from_betas(at::Tensor betas) {
  DDPMChain c;
  c.N = betas.size(0);
  c.betas = betas.to(at::kDouble);
  c.alphas = 1.0 - c.betas;
  at::Tensor log_ab = at::cumsum(at::log1p(-c.betas), 0);
  c.alpha_bars = at::exp(log_ab);
  c.alpha_bars_prev = at::cat({at::ones({1}, at::kDouble), c.alpha_bars.slice(0, 0, c.N - 1)});
  c.log_alpha_bar_grid = at::cat({at::zeros({1}, at::kDouble), log_ab});
  c.post_c0 = at::sqrt(c.alpha_bars_prev) * c.betas / (1.0 - c.alpha_bars);
  c.post_ct = at::sqrt(c.alphas) * (1.0 - c.alpha_bars_prev) / (1.0 - c.alpha_bars);
  c.post_var = (1.0 - c.alpha_bars_prev) / (1.0 - c.alpha_bars) * c.betas;
  return c;
}

DDPMChain DDPMChain::linear(int64_t N, double beta_1, double beta_N) {
  return from_betas(at::linspace(beta_1, beta_N, N, at::kDouble));
}

// Nichol & Dhariwal 2021, eq. 17: beta_i = min(1 - abar(i/N) / abar((i-1)/N), 0.999).
DDPMChain DDPMChain::cosine(int64_t N, double s) {
  at::Tensor t = at::linspace(0.0, 1.0, N + 1, at::kDouble);
  at::Tensor f = at::cos((t + s) / (1 + s) * (M_PI / 2)).pow(2);
  at::Tensor ab = f / f[0];
  return from_betas(at::clamp_max(1.0 - ab.slice(0, 1) / ab.slice(0, 0, N), 0.999));
}

at::Tensor DDPMChain::step_index(const at::Tensor& t) const {
  return at::clamp(at::round(t.to(at::kDouble) * N), 1, N).to(at::kLong);
}

at::Tensor DDPMChain::at_step(const at::Tensor& table, const at::Tensor& i, const at::Tensor& like) const {
  return cache->as(table, like).index_select(0, (i - 1).to(like.device()));
}

at::Tensor DDPMChain::posterior_c0(const at::Tensor& i, const at::Tensor& like) const { return at_step(post_c0, i, like); }
at::Tensor DDPMChain::posterior_ct(const at::Tensor& i, const at::Tensor& like) const { return at_step(post_ct, i, like); }
at::Tensor DDPMChain::posterior_variance(const at::Tensor& i, const at::Tensor& like) const {
  return at_step(post_var, i, like);
}

DDPMChain DDPMSDE::chain_from(const Config& cfg) {
  int64_t N = cfg.get_int("N", 1000, 2, 1000000);
  std::string schedule = cfg.get_choice("schedule", "linear", {"linear", "cosine"});
  if (schedule == "cosine") return DDPMChain::cosine(N, cfg.get_double("cosine_s", 0.008, 0.0, 1.0));
  double b1 = cfg.get_double("beta_1", 1e-4, 0.0, 1.0);
  double bN = cfg.get_double("beta_N", 0.02, 0.0, 1.0);
  if (!(b1 > 0 && bN < 1 && bN >= b1)) cfg.fail("beta_N", "need 0 < beta_1 <= beta_N < 1");
  return DDPMChain::linear(N, b1, bN);
}

namespace {
// Interval index k in 0..N-1 and fraction within it, for t in [0, 1].
std::pair<at::Tensor, at::Tensor> locate(const at::Tensor& t, int64_t N) {
  at::Tensor u = at::clamp(t, 0.0, 1.0) * N;
  at::Tensor k = at::clamp(at::floor(u), 0, N - 1);
  return {k.to(at::kLong), u - k};
}
}  // namespace

at::Tensor DDPMSDE::log_alpha_bar(const at::Tensor& t) const {
  auto [k, frac] = locate(t, c_.N);
  const at::Tensor& L = c_.cache->as(c_.log_alpha_bar_grid, t);
  at::Tensor lo = L.index_select(0, k), hi = L.index_select(0, k + 1);
  return lo + frac * (hi - lo);
}

at::Tensor DDPMSDE::beta(const at::Tensor& t) const {
  auto [k, frac] = locate(t, c_.N);
  const at::Tensor& L = c_.cache->as(c_.log_alpha_bar_grid, t);
  return -(L.index_select(0, k + 1) - L.index_select(0, k)) * static_cast<double>(c_.N);
}

SDE::Discrete DDPMSDE::discretize(const at::Tensor& x, const at::Tensor& t, double dt) const {
  at::Tensor b = -at::expm1(log_alpha_bar(t) - log_alpha_bar(at::clamp_min(t - dt, 0.0)));
  return {(append_dims(at::sqrt(1.0 - b), x.dim()) - 1.0) * x, at::sqrt(b)};
}

at::Tensor DDPMSDE::drift(const at::Tensor& x, const at::Tensor& t) const {
  return -0.5 * append_dims(beta(t), x.dim()) * x;
}
at::Tensor DDPMSDE::drift_coefficient(const at::Tensor& t) const { return -0.5 * beta(t); }
at::Tensor DDPMSDE::diffusion(const at::Tensor& t) const { return at::sqrt(beta(t)); }
at::Tensor DDPMSDE::alpha(const at::Tensor& t) const { return at::exp(0.5 * log_alpha_bar(t)); }
at::Tensor DDPMSDE::sigma(const at::Tensor& t) const { return at::sqrt(-at::expm1(log_alpha_bar(t))); }
at::Tensor DDPMSDE::dlog_snr_dt(const at::Tensor& t) const { return -beta(t) / (-at::expm1(log_alpha_bar(t))); }

}  // namespace scorelab
