// Reverse-SDE Euler–Maruyama (Song et al. 2021, eq. 6 discretised; their EulerMaruyamaPredictor):
//   x_mean = x - [f(x,t) - g(t)^2 s(x,t)] dt,  x = x_mean + g(t) sqrt(dt) z,  dt = t - t_next,
// with no noise on the last step (score_sde returns x_mean there). Works on every SDE and
// every parameterization (it needs only the score).
#pragma once
#include <memory>

#include "solvers/sampler.h"

namespace scorelab {

class Config;
class SDE;

// Where the drift is linear (f = c(t) x, sde.h), prepare() tabulates c and g on the grid and a
// step is x_mean = (1 - c dt) x + g^2 dt s, x = x_mean + g sqrt(dt) z: three operations on x.
class EulerMaruyamaStep : public StepRule {
 public:
  void prepare(const ScoreModel& model, Schedule& schedule) const override;
  at::Tensor step(const ScoreModel& model, const at::Tensor& x, StepContext& ctx) const override;
  bool stochastic() const override { return true; }
};

std::shared_ptr<Sampler> euler_maruyama_sampler_from(const Config& c, const SDE& sde);

}  // namespace scorelab
