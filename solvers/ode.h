// The probability-flow ODE dx/dt = f(x,t) - g(t)^2 s(x,t) / 2 (Song et al. 2021, eq. 13) and
// its solvers: fixed-step Euler, Heun (2nd order) and classical RK4 on any time grid, and
// adaptive Dormand–Prince RK45 (Dormand & Prince 1980; the scheme of scipy's RK45 that
// score_sde calls) with rtol / atol and counts of accepted and rejected steps.
#pragma once
#include <functional>

#include "solvers/sampler.h"

namespace scorelab {

at::Tensor pf_ode_drift(const ScoreModel& model, const at::Tensor& x, double t);

class ODEStep : public StepRule {
 public:
  enum class Method { euler, heun, rk4 };
  explicit ODEStep(Method m) : m_(m) {}
  at::Tensor step(const ScoreModel& model, const at::Tensor& x, double t, double t_next, int64_t k, bool last,
                  const NoiseSource& noise) const override;

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
};

// Integrates dy/dt = f(y, t) from t0 to t1 (either direction). The error norm is the RMS over
// all elements of err / (atol + rtol max(|y|, |y_new|)), so step sizes depend on the whole batch.
at::Tensor rk45(const std::function<at::Tensor(const at::Tensor&, double)>& f, at::Tensor y, double t0, double t1,
                const RK45Options& o, RK45Stats* stats = nullptr);

class AdaptiveODESampler : public Sampler {
 public:
  AdaptiveODESampler(RK45Options o, double eps, bool denoise, std::map<std::string, std::string> settings)
      : o_(o), eps_(eps), denoise_(denoise), settings_(std::move(settings)) {}
  std::string name() const override { return "ode"; }
  SampleResult sample(const ScoreModel& model, const at::Tensor& x_T, const NoiseSource& noise,
                      const StepObserver& observer = {}) const override;
  std::map<std::string, std::string> settings() const override { return settings_; }

 private:
  RK45Options o_;
  double eps_;
  bool denoise_;
  std::map<std::string, std::string> settings_;
};

}  // namespace scorelab
