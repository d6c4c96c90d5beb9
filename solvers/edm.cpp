#include "solvers/edm.h"

#include <cmath>

#include <ATen/ATen.h>

#include "core/config.h"
#include "networks/score_model.h"
#include "sde/sde.h"
#include "solvers/grid_config.h"
#include "solvers/time_grid.h"

namespace scorelab {

void EDMStep::prepare(const ScoreModel& model, Schedule& s) const {
  const SDE& sde = model.sde();
  const int64_t K = s.steps();
  const double s_max = sigma_tilde(sde, sde.T());
  std::vector<double> s_hat(K), t_hat(s.t.begin(), s.t.end() - 1), lam_hat;
  std::vector<int64_t> churned;  // steps whose sigma^ lies strictly inside (sigma~_i, sigma~(T))
  for (int64_t k = 0; k < K; ++k) {
    const double s_i = s.sigma_tilde(k);
    double gamma = (s_i >= o_.s_tmin && s_i <= o_.s_tmax) ? std::min(o_.churn / o_.steps, std::sqrt(2.0) - 1) : 0.0;
    s_hat[k] = s_i * (1 + gamma);
    if (gamma > 0 && s_hat[k] >= s_max) {
      s_hat[k] = s_max;
      t_hat[k] = sde.T();
    } else if (gamma > 0) {
      churned.push_back(k);
      lam_hat.push_back(-2 * std::log(s_hat[k]));
    }
  }
  if (!churned.empty()) {  // t^ = lambda^-1(-2 log sigma^), one vectorised bisection for all steps
    at::Tensor th = t_of_log_snr(sde, at::tensor(lam_hat, at::kDouble), s.t.back(), sde.T()).contiguous();
    for (size_t j = 0; j < churned.size(); ++j) t_hat[churned[j]] = th.data_ptr<double>()[j];
  }
  at::Tensor a_hat = sde.alpha(at::tensor(t_hat, at::kDouble)).contiguous();
  s.extra["sigma_hat"] = s_hat;
  s.extra["t_hat"] = t_hat;
  s.extra["alpha_hat"] = std::vector<double>(a_hat.data_ptr<double>(), a_hat.data_ptr<double>() + K);
}

at::Tensor EDMStep::step(const ScoreModel& model, const at::Tensor& x, StepContext& ctx) const {
  const Schedule& s = ctx.schedule;
  const int64_t k = ctx.k;
  const double s_i = s.sigma_tilde(k), s_next = s.sigma_tilde(k + 1);
  const double s_hat = s.extra.at("sigma_hat")[k], t_hat = s.extra.at("t_hat")[k], a_hat = s.extra.at("alpha_hat")[k];
  at::Tensor y = x / ctx.alpha();
  if (s_hat > s_i) y = y + std::sqrt(std::max(0.0, s_hat * s_hat - s_i * s_i)) * o_.s_noise * ctx.normal_like(x);
  at::Tensor tt_hat = t_hat == ctx.t() ? ctx.time(x) : at::full({x.size(0)}, t_hat, x.options());
  at::Tensor x0 = model.x0(a_hat * y, tt_hat);
  ctx.x0 = x0;
  at::Tensor d = (y - x0) / s_hat;
  at::Tensor y_next = y + (s_next - s_hat) * d;
  if (s_next > 0) {
    at::Tensor d2 = (y_next - model.x0(ctx.alpha_next() * y_next, ctx.time_next(x))) / s_next;
    y_next = y + (s_next - s_hat) * 0.5 * (d + d2);
  }
  return ctx.alpha_next() * y_next;
}

std::shared_ptr<Sampler> edm_sampler_from(const Config& c, const SDE& sde) {
  EDMOptions o;
  GridSpec g = continuous_grid(c, sde, 18, "karras");
  o.steps = g.grid.size(0) - 1;
  o.churn = c.get_string("type", "edm") == "heun" ? fixed_by_alias(c, "churn", 0.0, "edm") : c.get_double("churn", 0.0, 0.0);
  o.s_tmin = c.get_double("s_tmin", 0.0, 0.0);
  o.s_tmax = c.get_double("s_tmax", o.s_tmax, 0.0);
  o.s_noise = c.get_double("s_noise", 1.0, 0.0);
  return std::make_shared<Sampler>("edm", g.grid, std::make_shared<EDMStep>(o), g.denoise);
}

}  // namespace scorelab
