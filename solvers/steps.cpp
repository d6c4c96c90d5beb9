#include "solvers/steps.h"

#include <cmath>

#include <ATen/ATen.h>

#include "core/config.h"
#include "core/tensor_util.h"
#include "networks/score_model.h"
#include "sde/ddpm.h"
#include "solvers/grid_config.h"

namespace scorelab {

Transition transition(const StepContext& ctx) {
  Transition r;
  r.alpha_t = ctx.alpha();
  r.alpha_s = ctx.alpha_next();
  r.sigma_t = ctx.sigma();
  r.sigma_s = ctx.sigma_next();
  r.a_ts = r.alpha_t / r.alpha_s;
  r.v_ts = std::max(0.0, r.sigma_t * r.sigma_t - r.a_ts * r.a_ts * r.sigma_s * r.sigma_s);
  return r;
}

at::Tensor AncestralStep::step(const ScoreModel& model, const at::Tensor& x, StepContext& ctx) const {
  Transition tr = transition(ctx);
  at::Tensor x0 = model.x0(x, ctx.time(x));
  ctx.x0 = x0;
  double s2 = tr.sigma_t * tr.sigma_t;
  at::Tensor mean = (tr.a_ts * tr.sigma_s * tr.sigma_s / s2) * x + (tr.alpha_s * tr.v_ts / s2) * x0;
  if (ctx.last) return mean;
  double var = beta_tilde_ ? tr.posterior_variance() : tr.v_ts;
  return mean + std::sqrt(var) * ctx.normal_like(x);
}

at::Tensor DDIMStep::step(const ScoreModel& model, const at::Tensor& x, StepContext& ctx) const {
  Transition tr = transition(ctx);
  at::Tensor eps = model.eps(x, ctx.time(x));
  at::Tensor x0 = (x - tr.sigma_t * eps) / tr.alpha_t;
  ctx.x0 = x0;
  double c = ctx.last ? 0.0 : eta_ * std::sqrt(tr.posterior_variance());
  at::Tensor out = tr.alpha_s * x0 + std::sqrt(std::max(0.0, tr.sigma_s * tr.sigma_s - c * c)) * eps;
  if (c > 0) out = out + c * ctx.normal_like(x);
  return out;
}

at::Tensor ReverseDiffusionStep::step(const ScoreModel& model, const at::Tensor& x, StepContext& ctx) const {
  at::Tensor tt = ctx.time(x);
  SDE::Discrete d = model.sde().discretize(x, tt, ctx.t() - ctx.t_next());
  at::Tensor G = append_dims(d.G, x.dim());
  at::Tensor s = model.score(x, tt);
  ctx.record_score(x, s);
  at::Tensor x_mean = x - d.f + G.pow(2) * s;
  if (ctx.last) return x_mean;
  return x_mean + G * ctx.normal_like(x);
}

std::shared_ptr<Sampler> ancestral_sampler_from(const Config& c, const SDE& sde) {
  bool beta_tilde = c.get_choice("variance", "beta", {"beta", "beta_tilde"}) == "beta_tilde";
  GridSpec g = sde.ddpm_chain() ? chain_grid(c, *sde.ddpm_chain(), sde.ddpm_chain()->N)
                                : continuous_grid(c, sde, 1000, "uniform");
  return std::make_shared<Sampler>("ancestral", g.grid, std::make_shared<AncestralStep>(beta_tilde), g.denoise);
}

std::shared_ptr<Sampler> ddim_sampler_from(const Config& c, const SDE& sde) {
  if (!sde.ddpm_chain())
    c.fail("type", "ddim takes its time subsequence from a discrete DDPM chain (sde.type: ddpm); sde '" + sde.name() +
                       "' has none. For continuous SDEs use ode, dpm_solver_2m or edm");
  double eta = c.get_double("eta", 0.0, 0.0, 1.0);
  GridSpec g = chain_grid(c, *sde.ddpm_chain(), 50);
  return std::make_shared<Sampler>("ddim", g.grid, std::make_shared<DDIMStep>(eta), g.denoise);
}

std::shared_ptr<Sampler> reverse_diffusion_sampler_from(const Config& c, const SDE& sde) {
  GridSpec g = continuous_grid(c, sde, 500, "uniform");
  return std::make_shared<Sampler>("reverse_diffusion", g.grid, std::make_shared<ReverseDiffusionStep>(), g.denoise);
}

}  // namespace scorelab
