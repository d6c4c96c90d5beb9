#include "sde/ve.h"

#include <cmath>

#include <ATen/ATen.h>

#include "core/config.h"

namespace scorelab {

VESDEOptions VESDEOptions::from(const Config& cfg) {
  VESDEOptions o;
  o.sigma_min = cfg.get_positive("sigma_min", o.sigma_min);
  o.sigma_max = cfg.get_positive("sigma_max", o.sigma_max);
  if (o.sigma_max <= o.sigma_min) cfg.fail("sigma_max", "must be > sigma_min (" + std::to_string(o.sigma_min) + ")");
  return o;
}

at::Tensor VESDE::drift(const at::Tensor& x, const at::Tensor&) const { return at::zeros_like(x); }
at::Tensor VESDE::drift_coefficient(const at::Tensor& t) const { return at::zeros_like(t); }
at::Tensor VESDE::sigma(const at::Tensor& t) const {
  return o_.sigma_min * at::exp(t * std::log(o_.sigma_max / o_.sigma_min));
}
// g^2 = d sigma^2 / dt = 2 sigma^2 log(sigma_max / sigma_min).
at::Tensor VESDE::diffusion(const at::Tensor& t) const {
  return sigma(t) * std::sqrt(2 * std::log(o_.sigma_max / o_.sigma_min));
}
at::Tensor VESDE::alpha(const at::Tensor& t) const { return at::ones_like(t); }
at::Tensor VESDE::dlog_snr_dt(const at::Tensor& t) const {
  return at::full_like(t, -2 * std::log(o_.sigma_max / o_.sigma_min));
}
at::Tensor VESDE::t_of_sigma(const at::Tensor& s) const {
  return at::log(s / o_.sigma_min) / std::log(o_.sigma_max / o_.sigma_min);
}

SDE::Discrete VESDE::discretize(const at::Tensor& x, const at::Tensor& t, double dt) const {
  at::Tensor prev = at::where(t - dt >= 0, sigma(t - dt), at::zeros_like(t));
  return {at::zeros_like(x), at::sqrt(sigma(t).pow(2) - prev.pow(2))};
}

at::Tensor ncsn_sigmas(int64_t L, double sigma_min, double sigma_max) {
  return at::exp(at::linspace(std::log(sigma_max), std::log(sigma_min), L, at::kDouble));
}

double max_pairwise_distance(const at::Tensor& x) {
  at::Tensor f = x.reshape({x.size(0), -1}).to(at::kDouble);
  return at::cdist(f, f).max().item<double>();
}

}  // namespace scorelab
