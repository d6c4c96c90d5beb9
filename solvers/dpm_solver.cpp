#include "solvers/dpm_solver.h"

#include <cmath>

#include <ATen/ATen.h>

#include "core/config.h"
#include "networks/score_model.h"
#include "solvers/grid_config.h"

namespace scorelab {

namespace {
struct MultistepState : RuleState {
  at::Tensor prev_x0;
  double prev_h = 0;
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

}  // namespace scorelab
