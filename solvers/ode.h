// The probability-flow ODE dx/dt = f(x,t) - g(t)^2 s(x,t) / 2 (Song et al. 2021, eq. 13) and
// its solvers: fixed-step Euler, Heun (2nd order) and classical RK4 on any time grid, and
// adaptive Dormand–Prince RK45 (Dormand & Prince 1980; the scheme of scipy's RK45 that
// score_sde calls) with rtol / atol and counts of accepted and rejected steps.
#pragma once
#include <functional>
#include <memory>

#include "solvers/sampler.h"

namespace scorelab {

class Config;
class SDE;

at::Tensor pf_ode_drift(const ScoreModel& model, const at::Tensor& x, double t);

class ODEStep : public StepRule {
 public:
  enum class Method { euler, heun, rk4 };
  explicit ODEStep(Method m) : m_(m) {}
  at::Tensor step(const ScoreModel& model, const at::Tensor& x, StepContext& ctx) const override;

 private:
  Method m_;
};

struct RK45Options {
  double rtol = 1e-5, atol = 1e-5;
  double h0 = 0;              // first step; 0: |t1 - t0| / 100
  int64_t max_steps = 100000;
};
struct RK45Stats {
  int64_t accepted = 0, rejected = 0;
  double h = 0;  // the step size to try next (carried over when integration continues)
};

// Integrates dy/dt = f(y, t) from t0 to t1 (either direction). The error norm is the RMS over
// all elements of err / (atol + rtol max(|y|, |y_new|)), so step sizes depend on the whole batch.
at::Tensor rk45(const std::function<at::Tensor(const at::Tensor&, double)>& f, at::Tensor y, double t0, double t1,
                const RK45Options& o, RK45Stats* stats = nullptr);

// Adaptive RK45 as a step rule: each grid interval (the sampler's grid is just [T, eps]) is
// integrated with step-size control; the step size and the accepted / rejected counts are the
// run's state, reported as the sampler's stats.
class RK45Step : public StepRule {
 public:
  explicit RK45Step(RK45Options o) : o_(o) {}
  std::unique_ptr<RuleState> state() const override;
  at::Tensor step(const ScoreModel& model, const at::Tensor& x, StepContext& ctx) const override;

 private:
  RK45Options o_;
};

// method: euler | heun | rk4 on a grid, or rk45 (adaptive).
std::shared_ptr<Sampler> ode_sampler_from(const Config& c, const SDE& sde);

}  // namespace scorelab
