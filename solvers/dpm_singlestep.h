// DPM-Solver (Lu et al. 2022, "DPM-Solver", Algorithms 1-2 and the adaptive solver of sec. 3.3 /
// app. C): single-step exponential integrators of the probability-flow ODE in lambda =
// log(alpha / sigma) with noise prediction, written in y = x / alpha, sigma~ = e^{-lambda}
// (k-diffusion's DPMSolver class). A step from lambda_i to lambda_{i+1}, h = lambda_{i+1} - lambda_i:
//   order 1 (DDIM):  y' = y - sigma~_{i+1} (e^h - 1) eps(y, lambda_i)
//   order 2 (r1 = 1/2): u = y - sigma~_s (e^{r1 h} - 1) eps,  s = lambda_i + r1 h,
//                    y' = y - sigma~_{i+1}(e^h - 1) eps - sigma~_{i+1}/(2 r1) (e^h - 1)(eps(u, s) - eps)
//   order 3 (r1 = 1/3, r2 = 2/3): DPM-Solver-3 (Lu et al. 2022, Alg. 2 with the r1, r2 of app. B).
// NFE = order per step. The adaptive solver pairs order 2 with 1 (DPM-Solver-12) or 3 with 2
// (DPM-Solver-23, sharing the r1 = 1/3 evaluation) and controls h in lambda from the difference:
//   err = RMS((y_low - y_high) / max(atol, rtol max(|y_low|, |y_prev|))),
//   h <- h (1 + atan(err^{-1/order} - 1)), accepted when that factor is >= accept_safety,
// continuing from y_high (k-diffusion's dpm_solver_adaptive with its default I-controller).
// Like RK45, the error norm is over the whole batch, so a sample depends on its batch.
#pragma once
#include <memory>

#include "solvers/sampler.h"

namespace scorelab {

class Config;
class SDE;

class DPMSolverStep : public StepRule {
 public:
  explicit DPMSolverStep(int order) : order_(order) {}
  // The intermediate points' sigma~, time and alpha of every step, once per run.
  void prepare(const ScoreModel& model, Schedule& s) const override;
  at::Tensor step(const ScoreModel& model, const at::Tensor& x, StepContext& ctx) const override;

 private:
  int order_;
};

struct DPMAdaptiveOptions {
  int order = 3;  // 2 (DPM-Solver-12) or 3 (DPM-Solver-23)
  double rtol = 0.05, atol = 0.0078, h_init = 0.05, accept_safety = 0.81;
  int64_t max_steps = 100000;
};

// Integrates the grid's one interval [T, eps] with step-size control; the accepted and rejected
// steps are the run's stats.
class DPMSolverAdaptiveStep : public StepRule {
 public:
  explicit DPMSolverAdaptiveStep(DPMAdaptiveOptions o) : o_(o) {}
  std::unique_ptr<RuleState> state() const override;
  at::Tensor step(const ScoreModel& model, const at::Tensor& x, StepContext& ctx) const override;

 private:
  DPMAdaptiveOptions o_;
};

std::shared_ptr<Sampler> dpm_solver_sampler_from(const Config& c, const SDE& sde);
std::shared_ptr<Sampler> dpm_solver_adaptive_sampler_from(const Config& c, const SDE& sde);

}  // namespace scorelab
