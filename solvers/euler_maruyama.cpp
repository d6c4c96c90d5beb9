#include "solvers/euler_maruyama.h"

#include <cmath>

#include <ATen/ATen.h>

#include "core/tensor_util.h"
#include "networks/score_model.h"
#include "solvers/grid_config.h"

namespace scorelab {

void EulerMaruyamaStep::prepare(const ScoreModel& model, Schedule& schedule) const {
  at::Tensor t = at::tensor(schedule.t, at::kDouble);
  at::Tensor c = model.sde().drift_coefficient(t);
  if (!c.defined()) return;
  at::Tensor g = model.sde().diffusion(t).contiguous();
  c = c.contiguous();
  schedule.extra["drift_c"] = std::vector<double>(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
  schedule.extra["g"] = std::vector<double>(g.data_ptr<double>(), g.data_ptr<double>() + g.numel());
}

at::Tensor EulerMaruyamaStep::step(const ScoreModel& model, const at::Tensor& x, StepContext& ctx) const {
  const SDE& sde = model.sde();
  const double dt = ctx.t() - ctx.t_next();
  at::Tensor tt = ctx.time(x);
  at::Tensor s = model.score(x, tt);
  ctx.record_score(x, s);
  auto c = ctx.schedule.extra.find("drift_c");
  if (c != ctx.schedule.extra.end()) {
    // In place on the score (a fresh tensor the step owns, unless a model hands back its input):
    // no new [B, D] array but the noise.
    const double ck = c->second[ctx.k], gk = ctx.schedule.extra.at("g")[ctx.k];
    at::Tensor x_next = (s.is_alias_of(x) ? s.clone() : s).mul_(gk * gk * dt).add_(x, 1.0 - ck * dt);
    return ctx.last ? x_next : x_next.add_(ctx.normal_like(x), gk * std::sqrt(dt));
  }
  at::Tensor x_mean = x - reverse_drift(sde, x, tt, s, /*probability_flow=*/false) * dt;
  if (ctx.last) return x_mean;
  at::Tensor g = append_dims(sde.diffusion(tt), x.dim());
  return x_mean + g * std::sqrt(dt) * ctx.normal_like(x);
}

std::shared_ptr<Sampler> euler_maruyama_sampler_from(const Config& c, const SDE& sde) {
  GridSpec g = continuous_grid(c, sde, 500, "uniform");
  return std::make_shared<Sampler>("euler_maruyama", g.grid, std::make_shared<EulerMaruyamaStep>(), g.denoise);
}

}  // namespace scorelab
