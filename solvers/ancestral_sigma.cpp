#include "solvers/ancestral_sigma.h"

#include <cmath>

#include <ATen/ATen.h>

#include "core/config.h"
#include "networks/score_model.h"
#include "sde/sde.h"
#include "solvers/grid_config.h"
#include "solvers/sigma_frame.h"

namespace scorelab {

void EulerAncestralStep::prepare(const ScoreModel&, Schedule& s) const {
  const int64_t K = s.steps();
  std::vector<double> down(K), up(K);
  for (int64_t k = 0; k < K; ++k) {
    const double to = s.alpha[k + 1] > 0 ? s.sigma[k + 1] / s.alpha[k + 1] : 0.0;
    AncestralSplit a = ancestral_split(s.sigma_tilde(k), to, k == K - 1 ? 0.0 : o_.eta);
    down[k] = a.down;
    up[k] = a.up;
  }
  s.extra["sigma_down"] = down;
  s.extra["sigma_up"] = up;
}

namespace {
// Adds the step's noise s_noise sigma_up z to y (nothing when sigma_up = 0) and returns x.
at::Tensor add_noise_and_scale(at::Tensor y, const StepContext& ctx, double s_noise) {
  const double up = ctx.schedule.extra.at("sigma_up")[ctx.k];
  if (up > 0) y = y + (up * s_noise) * ctx.normal_like(y);
  return ctx.alpha_next() * y;
}
}  // namespace

at::Tensor EulerAncestralStep::step(const ScoreModel& model, const at::Tensor& x, StepContext& ctx) const {
  const double s_i = ctx.schedule.sigma_tilde(ctx.k), down = ctx.schedule.extra.at("sigma_down")[ctx.k];
  at::Tensor D = model.x0(x, ctx.time(x));
  ctx.x0 = D;
  at::Tensor y = x / ctx.alpha();
  const double r = down / s_i;  // y + (down - s_i)(y - D)/s_i = r y + (1 - r) D
  return add_noise_and_scale(r * y + (1 - r) * D, ctx, o_.s_noise);
}

void DPMSolver2SAncestralStep::prepare(const ScoreModel& model, Schedule& s) const {
  EulerAncestralStep::prepare(model, s);
  const int64_t K = s.steps();
  const std::vector<double>& down = s.extra.at("sigma_down");
  std::vector<double> mid(K, 0.0), wanted;
  for (int64_t k = 0; k < K; ++k)
    if (down[k] > 0) wanted.push_back(mid[k] = std::sqrt(s.sigma_tilde(k) * down[k]));
  TimesOf at_mid = times_of_sigma_tilde(model.sde(), wanted, s.t.back());
  std::vector<double> t_mid(K, 0.0), a_mid(K, 0.0);
  for (int64_t k = 0, j = 0; k < K; ++k)
    if (down[k] > 0) t_mid[k] = at_mid.t[j], a_mid[k] = at_mid.alpha[j++];
  s.extra["sigma_mid"] = mid;
  s.extra["t_mid"] = t_mid;
  s.extra["alpha_mid"] = a_mid;
}

at::Tensor DPMSolver2SAncestralStep::step(const ScoreModel& model, const at::Tensor& x, StepContext& ctx) const {
  const Schedule& s = ctx.schedule;
  const int64_t k = ctx.k;
  const double s_i = s.sigma_tilde(k), down = s.extra.at("sigma_down")[k];
  at::Tensor D = model.x0(x, ctx.time(x));
  ctx.x0 = D;
  at::Tensor y = x / ctx.alpha();
  if (down <= 0) return add_noise_and_scale(D, ctx, o_.s_noise);  // the step ends on the data: y' = D
  const double h = std::log(s_i / down), s_mid = s.extra.at("sigma_mid")[k];
  at::Tensor y2 = (s_mid / s_i) * y - std::expm1(-0.5 * h) * D;
  at::Tensor D2 = x0_at(model, s.extra.at("alpha_mid")[k] * y2, s.extra.at("t_mid")[k]);
  return add_noise_and_scale((down / s_i) * y - std::expm1(-h) * D2, ctx, o_.s_noise);
}

namespace {
AncestralOptions ancestral_options(const Config& c, bool euler_alias) {
  AncestralOptions o;
  o.eta = euler_alias ? fixed_by_alias(c, "eta", 0.0, "euler_ancestral") : c.get_double("eta", 1.0, 0.0);
  o.s_noise = c.get_double("s_noise", 1.0, 0.0);
  return o;
}
}  // namespace

std::shared_ptr<Sampler> euler_ancestral_sampler_from(const Config& c, const SDE& sde) {
  AncestralOptions o = ancestral_options(c, c.get_string("type", "") == "euler");
  GridSpec g = continuous_grid(c, sde, 50, "karras");
  return std::make_shared<Sampler>("euler_ancestral", g.grid, std::make_shared<EulerAncestralStep>(o), g.denoise);
}

std::shared_ptr<Sampler> dpm_solver_2s_ancestral_sampler_from(const Config& c, const SDE& sde) {
  AncestralOptions o = ancestral_options(c, false);
  GridSpec g = continuous_grid(c, sde, 25, "karras");
  return std::make_shared<Sampler>("dpm_solver_2s_ancestral", g.grid, std::make_shared<DPMSolver2SAncestralStep>(o),
                                   g.denoise);
}

}  // namespace scorelab
