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

// DPM-Solver++(2M) SDE and (3M) SDE (Lu et al. 2022, DPM-Solver++ sec. 4 and app. B; the
// variance-preserving SDE form of Gonzalez et al. 2023, SEEDS; k-diffusion sample_dpmpp_2m_sde
// and sample_dpmpp_3m_sde), in y = x / alpha with lambda = -log sigma~, h = lambda_{i+1} - lambda_i,
// h_eta = (1 + eta) h and the last one (two) denoised estimates D_{i-1} (D_{i-2}):
//   y' = (sigma~_{i+1} / sigma~_i) e^{-eta h} y + (1 - e^{-h_eta}) D_i + correction
//        + s_noise sigma~_{i+1} sqrt(1 - e^{-2 eta h}) z
//   2M, midpoint: correction = (1 - e^{-h_eta}) / (2 r) (D_i - D_{i-1}),  r = h_{i-1} / h
//   2M, heun:     correction = (1 - (1 - e^{-h_eta}) / h_eta) / r (D_i - D_{i-1})
//   3M:           with phi_2 = (e^{-h_eta} - 1) / h_eta + 1 and phi_3 = phi_2 / h_eta - 1/2, and the
//                 divided differences d1, d2 of D over lambda: correction = phi_2 d1 - phi_3 d2
//                 (phi_2 d with one earlier estimate, at the second step).
// eta = 1 solves the reverse SDE; eta = 0 is the
// probability-flow ODE (2M midpoint, eta 0 = DPM-Solver++(2M)). The last step adds no noise.
class DPMSolverSDEStep : public StepRule {
 public:
  struct Options {
    int order = 2;          // 2 or 3
    bool heun = false;      // 2M: the heun correction instead of midpoint
    double eta = 1.0, s_noise = 1.0;
  };
  explicit DPMSolverSDEStep(Options o) : o_(o) {}
  std::unique_ptr<RuleState> state() const override;
  at::Tensor step(const ScoreModel& model, const at::Tensor& x, StepContext& ctx) const override;
  bool stochastic() const override { return o_.eta > 0 && o_.s_noise > 0; }

 private:
  Options o_;
};

std::shared_ptr<Sampler> dpm_solver_2m_sampler_from(const Config& c, const SDE& sde);
std::shared_ptr<Sampler> dpm_solver_2m_sde_sampler_from(const Config& c, const SDE& sde);
std::shared_ptr<Sampler> dpm_solver_3m_sde_sampler_from(const Config& c, const SDE& sde);

}  // namespace scorelab
