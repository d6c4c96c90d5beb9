// Discrete-time step rules built on the Gaussian transition between two grid times s < t:
//   x_t | x_s ~ N(a_ts x_s, v_ts I),  a_ts = alpha_t / alpha_s,  v_ts = sigma_t^2 - a_ts^2 sigma_s^2,
//   q(x_s | x_t, x0) = N((a_ts sigma_s^2 / sigma_t^2) x_t + (alpha_s v_ts / sigma_t^2) x0,
//                        v_ts sigma_s^2 / sigma_t^2)
// (Kingma et al. 2021, appendix A; on DDPM's chain a_ts^2 = alpha_i, v_ts = beta_i: DDPM eq. 6-7).
// With x0 replaced by the model's Tweedie estimate these give DDPM's ancestral step (Alg. 2),
// its VE counterpart (score_sde's ancestral predictor for VE), and DDIM (Song et al. 2021a, eq. 12).
#pragma once
#include <memory>

#include "solvers/sampler.h"

namespace scorelab {

class Config;
class SDE;

// The transition from t = t_k to s = t_{k+1}, read from the run's schedule.
struct Transition {
  double alpha_t, sigma_t, alpha_s, sigma_s, a_ts, v_ts;
  double posterior_variance() const { return sigma_t > 0 ? v_ts * sigma_s * sigma_s / (sigma_t * sigma_t) : 0.0; }
};
Transition transition(const StepContext& ctx);

// Ancestral sampling: x_s = posterior mean(x_t, x0_hat) + sigma z, sigma^2 = v_ts ("beta") or the
// posterior variance ("beta_tilde"); no noise on the last step.
class AncestralStep : public StepRule {
 public:
  explicit AncestralStep(bool beta_tilde) : beta_tilde_(beta_tilde) {}
  bool beta_tilde() const { return beta_tilde_; }
  at::Tensor step(const ScoreModel& model, const at::Tensor& x, StepContext& ctx) const override;
  bool stochastic() const override { return true; }

 private:
  bool beta_tilde_;
};

// DDIM: x_s = alpha_s x0_hat + sqrt(sigma_s^2 - c^2) eps_hat + c z,
// c = eta sqrt(posterior variance) (eta = 0: deterministic; eta = 1: ancestral with beta~).
class DDIMStep : public StepRule {
 public:
  explicit DDIMStep(double eta) : eta_(eta) {}
  at::Tensor step(const ScoreModel& model, const at::Tensor& x, StepContext& ctx) const override;
  bool stochastic() const override { return eta_ > 0; }

 private:
  double eta_;
};

// Reverse diffusion (Song et al. 2021, eq. 46; score_sde's ReverseDiffusionPredictor): with the
// SDE's own discretization (f_i, G_i), x_mean = x - f_i + G_i^2 s(x, t), x = x_mean + G_i z.
class ReverseDiffusionStep : public StepRule {
 public:
  at::Tensor step(const ScoreModel& model, const at::Tensor& x, StepContext& ctx) const override;
  bool stochastic() const override { return true; }
};

// Leaves x unchanged (the "none" predictor of predictor–corrector sampling).
class IdentityStep : public StepRule {
 public:
  at::Tensor step(const ScoreModel&, const at::Tensor& x, StepContext&) const override { return x; }
};

// Factories for the `sample:` section (registered in experiments/registries.cpp).
std::shared_ptr<Sampler> ancestral_sampler_from(const Config& c, const SDE& sde);
std::shared_ptr<Sampler> ddim_sampler_from(const Config& c, const SDE& sde);
std::shared_ptr<Sampler> reverse_diffusion_sampler_from(const Config& c, const SDE& sde);

}  // namespace scorelab
