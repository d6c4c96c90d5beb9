#include "losses/dsm.h"

#include <cmath>

#include <ATen/ATen.h>

#include "core/config.h"
#include "core/tensor_util.h"
#include "networks/score_model.h"

namespace scorelab {

DSMOptions DSMOptions::from(const Config& cfg) {
  DSMOptions o;
  o.weighting = cfg.get_choice("weighting", o.weighting, {"plain", "likelihood", "none", "elbo", "sigmoid", "edm"});
  o.t_sampling = cfg.get_choice("t_sampling", o.t_sampling, {"uniform", "importance", "log_snr"});
  o.eps = cfg.get_double("eps", o.eps, 0.0, 0.5);
  if (o.weighting == "sigmoid") o.sigmoid_bias = cfg.get_double("sigmoid_bias", o.sigmoid_bias);
  if (o.weighting == "edm") {
    o.edm_p_mean = cfg.get_double("edm_p_mean", o.edm_p_mean);
    o.edm_p_std = cfg.get_positive("edm_p_std", o.edm_p_std);
    o.edm_sigma_data = cfg.get_positive("edm_sigma_data", o.edm_sigma_data);
  }
  return o;
}

DSMLoss::DSMLoss(DSMOptions o, const LossContext& ctx)
    : o_(std::move(o)), sde_(ctx.sde),
      times_(o_.t_sampling, *ctx.sde, o_.eps, [this](const at::Tensor& t) { return weight(t); }) {}

at::Tensor DSMLoss::weight(const at::Tensor& t) const {
  const SDE& sde = *sde_;
  const double span = sde.T() - o_.eps;
  const std::string& w = o_.weighting;
  if (w == "plain") return at::full_like(t, 1.0 / span);
  if (w == "likelihood") return sde.diffusion(t).pow(2) / sde.sigma(t).pow(2) / span;
  if (w == "none") return 1.0 / sde.sigma(t).pow(2) / span;
  at::Tensor lam = sde.log_snr(t);
  at::Tensor jac = -0.5 * sde.dlog_snr_dt(t);  // 1/2 (-d lambda / dt)
  if (w == "elbo") return jac;
  if (w == "sigmoid") return at::sigmoid(o_.sigmoid_bias - lam) * jac;
  // edm: ln sigma ~ N(P_mean, P_std^2) and lambda = -2 ln sigma.
  double mu = -2 * o_.edm_p_mean, sd = 2 * o_.edm_p_std, sd2 = o_.edm_sigma_data * o_.edm_sigma_data;
  at::Tensor pdf = at::exp(-0.5 * ((lam - mu) / sd).pow(2)) / (sd * std::sqrt(2 * M_PI));
  return pdf * (at::exp(-lam) + sd2) / sd2 * jac;
}

LossResult DSMLoss::operator()(const ScoreModel& model, const at::Tensor& x0, at::Generator& gen) const {
  const SDE& sde = model.sde();
  int64_t B = x0.size(0);
  auto [t, q] = times_.sample(B, gen, x0.options());
  at::Tensor z = at::randn(x0.sizes(), gen, x0.options());
  at::Tensor xt = append_dims(sde.alpha(t), x0.dim()) * x0 + append_dims(sde.sigma(t), x0.dim()) * z;
  at::Tensor w = weight(t) / q;
  at::Tensor per = w * sum_except_batch((model.eps(xt, t) - z).pow(2));
  LossResult r;
  r.loss = per.mean();
  r.parts["dsm"] = r.loss.detach();
  r.parts["weight_mean"] = w.mean().detach();
  return r;
}

}  // namespace scorelab
