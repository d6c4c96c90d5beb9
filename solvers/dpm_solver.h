// DPM-Solver++(2M) (Lu et al. 2022, "DPM-Solver++", Algorithm 2): a second-order multistep
// solver of the probability-flow ODE in lambda = log(alpha / sigma) with data prediction:
//   h_i = lambda_i - lambda_{i-1},  r_i = h_{i-1} / h_i,
//   D_i = (1 + 1/(2 r_i)) x0_hat_{i-1} - 1/(2 r_i) x0_hat_{i-2}   (first step: D = x0_hat_0)
//   x_i = (sigma_i / sigma_{i-1}) x_{i-1} - alpha_i (e^{-h_i} - 1) D_i.
// The last step is first order (lower_order_final, as diffusers does below 15 steps, for
// stability at few steps). One model evaluation per step. The previous x0_hat and h are the
// run's state (RuleState), so one rule serves any number of runs, interleaved or concurrent.
#pragma once
#include <memory>

#include "solvers/sampler.h"

namespace scorelab {

class Config;
class SDE;

class DPMSolver2MStep : public StepRule {
 public:
  explicit DPMSolver2MStep(bool lower_order_final = true) : lower_order_final_(lower_order_final) {}
  std::unique_ptr<RuleState> state() const override;
  at::Tensor step(const ScoreModel& model, const at::Tensor& x, StepContext& ctx) const override;

 private:
  bool lower_order_final_;
};

std::shared_ptr<Sampler> dpm_solver_2m_sampler_from(const Config& c, const SDE& sde);

}  // namespace scorelab
