#include "solvers/dpm_solver.h"

#include <cmath>

#include <ATen/ATen.h>

#include "core/config.h"
#include "networks/score_model.h"
#include "solvers/grid_config.h"

namespace scorelab {

namespace {
struct MultistepState : RuleState {
  at::Tensor prev_x0, prev2_x0;
  double prev_h = 0, prev2_h = 0;
};
}  // namespace

std::unique_ptr<RuleState> DPMSolver2MStep::state() const { return std::make_unique<MultistepState>(); }

at::Tensor DPMSolver2MStep::step(const ScoreModel& model, const at::Tensor& x, StepContext& ctx) const {
  MultistepState& st = ctx.state_as<MultistepState>();
  // lambda here is log(alpha / sigma), half the schedule's log-SNR.
  const double h = 0.5 * (ctx.schedule.log_snr[ctx.k + 1] - ctx.schedule.log_snr[ctx.k]);
  at::Tensor x0 = model.x0(x, ctx.time(x));
  ctx.x0 = x0;
  at::Tensor D = x0;
  if (ctx.k > 0 && st.prev_x0.defined() && !(ctx.last && lower_order_final_)) {
    double r = st.prev_h / h;
    D = (1 + 0.5 / r) * x0 - (0.5 / r) * st.prev_x0;
  }
  st.prev_x0 = x0;
  st.prev_h = h;
  return (ctx.sigma_next() / ctx.sigma()) * x - ctx.alpha_next() * std::expm1(-h) * D;
}

std::shared_ptr<Sampler> dpm_solver_2m_sampler_from(const Config& c, const SDE& sde) {
  GridSpec g = continuous_grid(c, sde, 20, "log_snr");
  bool lof = c.get_bool("lower_order_final", true);
  return std::make_shared<Sampler>("dpm_solver_2m", g.grid, std::make_shared<DPMSolver2MStep>(lof), g.denoise);
}

std::unique_ptr<RuleState> DPMSolverSDEStep::state() const { return std::make_unique<MultistepState>(); }

at::Tensor DPMSolverSDEStep::step(const ScoreModel& model, const at::Tensor& x, StepContext& ctx) const {
  MultistepState& st = ctx.state_as<MultistepState>();
  const Schedule& s = ctx.schedule;
  at::Tensor D = model.x0(x, ctx.time(x));
  ctx.x0 = D;
  const double h = 0.5 * (s.log_snr[ctx.k + 1] - s.log_snr[ctx.k]);
  const double eta = ctx.last ? 0.0 : o_.eta, h_eta = (1 + eta) * h;
  const double one_minus = -std::expm1(-h_eta);  // 1 - e^{-h_eta}
  at::Tensor y = x / ctx.alpha();
  at::Tensor out = (s.sigma_tilde(ctx.k + 1) / s.sigma_tilde(ctx.k) * std::exp(-eta * h)) * y + one_minus * D;
  const double phi2 = -one_minus / h_eta + 1;  // (e^{-h_eta} - 1) / h_eta + 1
  if (o_.order == 3 && st.prev2_x0.defined()) {
    const double r0 = st.prev_h / h, r1 = st.prev2_h / h;
    at::Tensor d1_0 = (D - st.prev_x0) / r0, d1_1 = (st.prev_x0 - st.prev2_x0) / r1;
    at::Tensor d1 = d1_0 + (d1_0 - d1_1) * (r0 / (r0 + r1)), d2 = (d1_0 - d1_1) / (r0 + r1);
    const double phi3 = phi2 / h_eta - 0.5;
    out = out + phi2 * d1 - phi3 * d2;
  } else if (st.prev_x0.defined()) {
    const double r = st.prev_h / h;
    at::Tensor d = (D - st.prev_x0) / r;
    if (o_.order == 3)
      out = out + phi2 * d;
    else
      out = out + (o_.heun ? phi2 : 0.5 * one_minus) * d;
  }
  if (eta > 0 && o_.s_noise > 0)
    out = out + (s.sigma_tilde(ctx.k + 1) * std::sqrt(-std::expm1(-2 * eta * h)) * o_.s_noise) * ctx.normal_like(x);
  st.prev2_x0 = st.prev_x0;
  st.prev2_h = st.prev_h;
  st.prev_x0 = D;
  st.prev_h = h;
  return ctx.alpha_next() * out;
}

namespace {
DPMSolverSDEStep::Options sde_options(const Config& c, int order) {
  DPMSolverSDEStep::Options o;
  o.order = order;
  if (order == 2) o.heun = c.get_choice("solver_type", "midpoint", {"midpoint", "heun"}) == "heun";
  o.eta = c.get_double("eta", 1.0, 0.0);
  o.s_noise = c.get_double("s_noise", 1.0, 0.0);
  return o;
}
}  // namespace

std::shared_ptr<Sampler> dpm_solver_2m_sde_sampler_from(const Config& c, const SDE& sde) {
  auto o = sde_options(c, 2);
  GridSpec g = continuous_grid(c, sde, 25, "karras");
  return std::make_shared<Sampler>("dpm_solver_2m_sde", g.grid, std::make_shared<DPMSolverSDEStep>(o), g.denoise);
}

std::shared_ptr<Sampler> dpm_solver_3m_sde_sampler_from(const Config& c, const SDE& sde) {
  auto o = sde_options(c, 3);
  GridSpec g = continuous_grid(c, sde, 25, "karras");
  return std::make_shared<Sampler>("dpm_solver_3m_sde", g.grid, std::make_shared<DPMSolverSDEStep>(o), g.denoise);
}

}  // namespace scorelab
