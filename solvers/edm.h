// EDM's stochastic sampler (Karras et al. 2022, Algorithm 2) on any SDE, written in the
// variables y = x / alpha(t) and sigma~ = sigma(t) / alpha(t), in which every SDE here is
// EDM's dx = -sigma~ d sigma~ score form with denoiser D(y, sigma~) = x0_hat(alpha y, t):
//   gamma = min(S_churn / N, sqrt(2) - 1) if S_tmin <= sigma~_i <= S_tmax else 0
//   sigma^ = sigma~_i (1 + gamma),  y^ = y + sqrt(sigma^2 - sigma~_i^2) S_noise z
//   d = (y^ - D(y^, sigma^)) / sigma^,  y' = y^ + (sigma~_{i+1} - sigma^) d
//   Heun: d' = (y' - D(y', sigma~_{i+1})) / sigma~_{i+1},  y_{i+1} = y^ + (sigma~_{i+1} - sigma^)(d + d')/2
// S_churn = 0 is EDM's deterministic Heun sampler (Alg. 1). sigma^ is capped at sigma~(T).
// The grid ends at eps > 0, so every step takes the Heun correction: NFE = 2 N.
#pragma once
#include <limits>
#include <memory>

#include "solvers/sampler.h"

namespace scorelab {

class Config;
class SDE;

struct EDMOptions {
  double churn = 0, s_tmin = 0, s_tmax = std::numeric_limits<double>::infinity(), s_noise = 1;
  int64_t steps = 18;
};

class EDMStep : public StepRule {
 public:
  explicit EDMStep(EDMOptions o) : o_(o) {}
  // The churned noise level of every step and its time (a bisection on the log-SNR), once per run:
  // schedule columns sigma_hat, t_hat, alpha_hat.
  void prepare(const ScoreModel& model, Schedule& s) const override;
  at::Tensor step(const ScoreModel& model, const at::Tensor& x, StepContext& ctx) const override;
  bool stochastic() const override { return o_.churn > 0 && o_.s_noise > 0; }

 private:
  EDMOptions o_;
};

std::shared_ptr<Sampler> edm_sampler_from(const Config& c, const SDE& sde);

}  // namespace scorelab
