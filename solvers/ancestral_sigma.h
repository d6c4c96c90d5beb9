// Ancestral samplers in the frame y = x / alpha, sigma~ = sigma / alpha (solvers/sigma_frame.h),
// as k-diffusion writes them. Each step from sigma~_i to sigma~_{i+1} splits into a deterministic
// move to sigma_down and fresh noise of size sigma_up (eta scales it; eta = 0: no noise):
//   Euler ancestral (k-diffusion sample_euler_ancestral; eta = 0 is its sample_euler, i.e. DDIM):
//     D = x0_hat(y, sigma~_i),  y' = y + (sigma_down - sigma~_i)(y - D) / sigma~_i + s_noise sigma_up z
//   DPM-Solver++(2S) ancestral (Lu et al. 2022, DPM-Solver++ Alg. 1 with r = 1/2, made ancestral as
//   in k-diffusion sample_dpmpp_2s_ancestral), with lambda = -log sigma~, h = lambda_down - lambda_i:
//     y_2 = (sigma_s / sigma~_i) y - (e^{-h/2} - 1) D,  sigma_s = sqrt(sigma~_i sigma_down),
//     y' = (sigma_down / sigma~_i) y - (e^{-h} - 1) D(y_2, sigma_s) + s_noise sigma_up z.
// The last step adds no noise (eta acts as 0 there), as every sampler here.
#pragma once
#include <memory>

#include "solvers/sampler.h"

namespace scorelab {

class Config;
class SDE;

struct AncestralOptions {
  double eta = 1.0, s_noise = 1.0;
};

class EulerAncestralStep : public StepRule {
 public:
  explicit EulerAncestralStep(AncestralOptions o) : o_(o) {}
  // sigma_down and sigma_up of every step (schedule columns), once per run.
  void prepare(const ScoreModel& model, Schedule& s) const override;
  at::Tensor step(const ScoreModel& model, const at::Tensor& x, StepContext& ctx) const override;
  bool stochastic() const override { return o_.eta > 0 && o_.s_noise > 0; }

 protected:
  AncestralOptions o_;
};

class DPMSolver2SAncestralStep : public EulerAncestralStep {
 public:
  using EulerAncestralStep::EulerAncestralStep;
  // Also the midpoint's sigma~, time and alpha (a bisection on the log-SNR for all steps at once).
  void prepare(const ScoreModel& model, Schedule& s) const override;
  at::Tensor step(const ScoreModel& model, const at::Tensor& x, StepContext& ctx) const override;
};

// euler_ancestral (alias `euler`: eta 0) and dpm_solver_2s_ancestral.
std::shared_ptr<Sampler> euler_ancestral_sampler_from(const Config& c, const SDE& sde);
std::shared_ptr<Sampler> dpm_solver_2s_ancestral_sampler_from(const Config& c, const SDE& sde);

}  // namespace scorelab
