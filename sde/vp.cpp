#include "sde/vp.h"

#include <cmath>

#include <ATen/ATen.h>

#include "core/config.h"
#include "core/tensor_util.h"

namespace scorelab {

at::Tensor LinearBeta::beta(const at::Tensor& t) const { return o_.beta_min + t * (o_.beta_max - o_.beta_min); }

// log alpha(t) = -1/2 int_0^t beta(s) ds  (Song et al. 2021, eq. 33).
at::Tensor LinearBeta::log_alpha(const at::Tensor& t) const {
  return t * (t * (-0.25 * (o_.beta_max - o_.beta_min)) - 0.5 * o_.beta_min);  // 3 operations
}

CosineBeta::CosineBeta(CosineBetaOptions o) : o_(o) {
  // beta(T) = beta_clip  <=>  tan(phi(T)) = beta_clip (1 + s) / pi.
  double phi = std::atan(o_.beta_clip * (1 + o_.s) / M_PI);
  T_ = std::min(1.0, phi * 2 * (1 + o_.s) / M_PI - o_.s);
}

at::Tensor CosineBeta::beta(const at::Tensor& t) const {
  return (M_PI / (1 + o_.s)) * at::tan((t + o_.s) / (1 + o_.s) * (M_PI / 2));
}

at::Tensor CosineBeta::log_alpha(const at::Tensor& t) const {
  double c0 = std::cos(o_.s / (1 + o_.s) * M_PI / 2);
  return at::log(at::cos((t + o_.s) / (1 + o_.s) * (M_PI / 2))) - std::log(c0);
}

std::shared_ptr<BetaSchedule> beta_schedule_from(const Config& cfg) {
  std::string kind = cfg.get_choice("schedule", "linear", {"linear", "cosine"});
  if (kind == "cosine") {
    CosineBetaOptions o;
    o.s = cfg.get_double("cosine_s", o.s, 0.0, 1.0);
    o.beta_clip = cfg.get_positive("beta_clip", o.beta_clip);
    return std::make_shared<CosineBeta>(o);
  }
  LinearBetaOptions o;
  o.beta_min = cfg.get_double("beta_min", o.beta_min, 0.0, 1e4);
  o.beta_max = cfg.get_double("beta_max", o.beta_max, 0.0, 1e4);
  if (o.beta_max <= o.beta_min) cfg.fail("beta_max", "must be > beta_min (" + std::to_string(o.beta_min) + ")");
  return std::make_shared<LinearBeta>(o);
}

at::Tensor VPSDE::drift(const at::Tensor& x, const at::Tensor& t) const {
  return -0.5 * append_dims(beta(t), x.dim()) * x;
}
at::Tensor VPSDE::diffusion(const at::Tensor& t) const { return at::sqrt(beta(t)); }
at::Tensor VPSDE::alpha(const at::Tensor& t) const { return at::exp(s_->log_alpha(t)); }
at::Tensor VPSDE::sigma(const at::Tensor& t) const { return at::sqrt(-at::expm1(2.0 * s_->log_alpha(t))); }
// lambda = log alpha^2 - log(1 - alpha^2); d/dt = -beta - alpha^2 beta / sigma^2 = -beta / sigma^2.
at::Tensor VPSDE::dlog_snr_dt(const at::Tensor& t) const { return -beta(t) / (-at::expm1(2.0 * s_->log_alpha(t))); }

// g^2 = beta (1 - exp(-2 int_0^t beta)) = beta (1 - alpha^4)  (Song et al. 2021, eq. 12).
at::Tensor SubVPSDE::diffusion(const at::Tensor& t) const {
  return at::sqrt(-beta(t) * at::expm1(4.0 * s_->log_alpha(t)));
}
at::Tensor SubVPSDE::sigma(const at::Tensor& t) const { return -at::expm1(2.0 * s_->log_alpha(t)); }
// lambda = 2 log alpha - 2 log(1 - alpha^2); d/dt = -beta - 2 alpha^2 beta / (1 - alpha^2).
at::Tensor SubVPSDE::dlog_snr_dt(const at::Tensor& t) const {
  at::Tensor a2 = at::exp(2.0 * s_->log_alpha(t));
  return -beta(t) * (1.0 + 2.0 * a2 / (1.0 - a2));
}

}  // namespace scorelab

namespace scorelab {

SDE::Discrete VPSDE::discretize(const at::Tensor& x, const at::Tensor& t, double dt) const {
  at::Tensor b = at::clamp_max(beta(t) * dt, 0.999);
  return {(append_dims(at::sqrt(1.0 - b), x.dim()) - 1.0) * x, at::sqrt(b)};
}

}  // namespace scorelab
