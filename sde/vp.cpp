#include "sde/vp.h"

#include <cmath>

#include <ATen/ATen.h>

#include "core/config.h"
#include "core/tensor_util.h"

namespace scorelab {

VPSDEOptions VPSDE::options_from(const Config& cfg) {
  VPSDEOptions o;
  o.beta_min = cfg.get_double("beta_min", o.beta_min, 0.0, 1e4);
  o.beta_max = cfg.get_double("beta_max", o.beta_max, 0.0, 1e4);
  if (o.beta_max <= o.beta_min) cfg.fail("beta_max", "must be > beta_min (" + std::to_string(o.beta_min) + ")");
  return o;
}

at::Tensor VPSDE::beta(const at::Tensor& t) const { return o_.beta_min + t * (o_.beta_max - o_.beta_min); }

// log alpha(t) = -1/2 int_0^t beta(s) ds  (Song et al. 2021, eq. 33).
at::Tensor VPSDE::log_alpha(const at::Tensor& t) const {
  return -0.25 * t.pow(2) * (o_.beta_max - o_.beta_min) - 0.5 * t * o_.beta_min;
}

at::Tensor VPSDE::drift(const at::Tensor& x, const at::Tensor& t) const {
  return -0.5 * append_dims(beta(t), x.dim()) * x;
}

at::Tensor VPSDE::diffusion(const at::Tensor& t) const { return at::sqrt(beta(t)); }
at::Tensor VPSDE::alpha(const at::Tensor& t) const { return at::exp(log_alpha(t)); }
// sigma^2 = 1 - alpha^2, computed with expm1 so that it stays accurate for small t.
at::Tensor VPSDE::sigma(const at::Tensor& t) const { return at::sqrt(-at::expm1(2.0 * log_alpha(t))); }

at::Tensor VPSDE::prior_log_prob(const at::Tensor& x) const {
  double d = static_cast<double>(x[0].numel());
  return -0.5 * d * std::log(2 * M_PI) - 0.5 * sum_except_batch(x.pow(2));
}

}  // namespace scorelab
