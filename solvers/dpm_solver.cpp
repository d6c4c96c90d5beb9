#include "solvers/dpm_solver.h"

#include <cmath>

#include <ATen/ATen.h>

#include "networks/score_model.h"
#include "solvers/steps.h"

namespace scorelab {

at::Tensor DPMSolver2MStep::step(const ScoreModel& model, const at::Tensor& x, double t, double t_next, int64_t k,
                                 bool last, const NoiseSource&) const {
  Transition tr = transition(model.sde(), t, t_next);
  const double lam_t = std::log(tr.alpha_t / tr.sigma_t), lam_s = std::log(tr.alpha_s / tr.sigma_s);
  const double h = lam_s - lam_t;
  at::Tensor x0 = model.x0(x, at::full({x.size(0)}, t, x.options()));
  at::Tensor D = x0;
  if (k > 0 && prev_x0_.defined() && !(last && lower_order_final_)) {
    double r = prev_h_ / h;
    D = (1 + 0.5 / r) * x0 - (0.5 / r) * prev_x0_;
  }
  prev_x0_ = x0;
  prev_h_ = h;
  at::Tensor out = (tr.sigma_s / tr.sigma_t) * x - tr.alpha_s * std::expm1(-h) * D;
  if (last) prev_x0_ = at::Tensor();
  return out;
}

}  // namespace scorelab
