// Samplers (DESIGN.md): a sampler is a time grid plus a step rule; one driver loop runs any
// rule on the run's schedule (solvers/schedule.h), counts score evaluations (NFE), times the
// run and reports each step to an observer. Samplers do no I/O; progress bars and trajectory
// recording are observers.
//
// A new sampler is one step rule (a class with step(), and state()/prepare() if it needs
// them) plus a factory `xxx_sampler_from(Config, SDE)` in the same file, and one registry
// line in experiments/registries.cpp.
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include <ATen/core/Tensor.h>
#include <ATen/core/grad_mode.h>
#include <c10/core/InferenceMode.h>

#include "core/noise.h"
#include "solvers/schedule.h"

namespace scorelab {

class ScoreModel;

struct SampleResult {
  at::Tensor x;
  int64_t nfe = 0;
  double seconds = 0;
  std::map<std::string, double> stats;  // sampler-specific (e.g. accepted / rejected steps)
  at::Tensor labels;  // the class each sample was drawn given (int64 [n]; undefined: unconditional)
};

struct StepInfo {
  int64_t k;        // step index, 0-based
  int64_t steps;    // total steps
  double t, t_next;
  const at::Tensor& x;   // state after the step
  const at::Tensor& x0;  // the step's denoised estimate E[x0 | x_t] (k-diffusion's `denoised`)
};
using StepObserver = std::function<void(const StepInfo&)>;

// What a step rule keeps from one step to the next within one run (DPM-Solver's previous x0,
// RK45's step size). Created by the rule at the start of each run; never stored in the rule.
struct RuleState {
  virtual ~RuleState() = default;
  std::map<std::string, double> stats;  // reported in SampleResult::stats at the end
};

// Everything a step from t_k to t_{k+1} needs: the schedule's coefficients at both ends, the
// noise stream of the step and the run's state.
struct StepContext {
  const Schedule& schedule;
  int64_t k;  // 0-based step index; the step goes from t_k to t_{k+1}
  bool last;  // the final step (no noise is added there by most rules)
  const NoiseSource& noise;
  RuleState* state;       // the rule's per-run state (nullptr if it has none)
  bool want_x0 = false;   // an observer wants the denoised estimate
  at::Tensor x0;          // set by the rule (denoised estimate at (x, t_k))

  double t() const { return schedule.t[k]; }
  double t_next() const { return schedule.t[k + 1]; }
  double alpha() const { return schedule.alpha[k]; }
  double alpha_next() const { return schedule.alpha[k + 1]; }
  double sigma() const { return schedule.sigma[k]; }
  double sigma_next() const { return schedule.sigma[k + 1]; }
  at::Tensor time(const at::Tensor& x) const { return schedule.time(k, x.size(0)); }
  at::Tensor time_next(const at::Tensor& x) const { return schedule.time(k + 1, x.size(0)); }
  // The step's j-th standard normal draw (stream k + 1 + kSubStream j; DESIGN.md, noise). With
  // Brownian-tree noise, draw 0 is the path's normalised increment over [t_{k+1}, t_k].
  at::Tensor normal_like(const at::Tensor& x, int64_t j = 0) const;
  // Records the denoised estimate from a score s at (x, t_k): Tweedie, x0 = (x + sigma^2 s) / alpha.
  void record_score(const at::Tensor& x, const at::Tensor& s);
  template <class S>
  S& state_as() const { return static_cast<S&>(*state); }
};

// One step of a sampler. Rules hold only their options; they are shared by concurrent runs.
class StepRule {
 public:
  virtual ~StepRule() = default;
  // A fresh per-run state, or nullptr when the rule keeps none.
  virtual std::unique_ptr<RuleState> state() const { return nullptr; }
  // Adds per-step columns to the schedule before the loop (once per run).
  virtual void prepare(const ScoreModel& /*model*/, Schedule& /*schedule*/) const {}
  virtual at::Tensor step(const ScoreModel& model, const at::Tensor& x, StepContext& ctx) const = 0;
  // Whether a step draws noise (with these options): Brownian-tree noise and the distance to a
  // reference ODE solution only mean something for rules that do / do not.
  virtual bool stochastic() const { return false; }
  // Applied to the final samples, after the optional denoising step (inpainting puts the known
  // values back); identity by default.
  virtual at::Tensor finish(const at::Tensor& x, const NoiseSource& /*noise*/) const { return x; }
};

// The autograd mode of sampling: InferenceMode (no autograd bookkeeping at all) unless the
// model needs autograd inside an evaluation (energy models differentiate their output), then
// no-grad mode.
class SamplingModeGuard {
 public:
  explicit SamplingModeGuard(const ScoreModel& model);

 private:
  std::optional<c10::InferenceMode> inference_;
  std::optional<at::NoGradGuard> no_grad_;
};

// The one driver loop shared by every sampler.
class Sampler {
 public:
  Sampler(std::string name, at::Tensor grid, std::shared_ptr<const StepRule> rule, bool denoise_final);
  const std::string& name() const { return name_; }
  const std::shared_ptr<const StepRule>& rule() const { return rule_; }
  const at::Tensor& grid() const { return grid_; }
  bool denoise_final() const { return denoise_final_; }
  bool stochastic() const { return rule_->stochastic(); }
  // Step noise from one Brownian path per sample (`sample.noise: brownian_tree`, core/noise.h).
  void use_brownian_noise(bool on) { brownian_ = on; }
  bool brownian_noise() const { return brownian_; }
  SampleResult sample(const ScoreModel& model, const at::Tensor& x_T, const NoiseSource& noise,
                      const StepObserver& observer = {}) const;
  // The schedule a run on `model` with x_T's dtype and device uses (built once per run).
  Schedule schedule(const ScoreModel& model, const at::TensorOptions& opts) const;

 private:
  std::string name_;
  at::Tensor grid_;  // float64 [K + 1], decreasing
  std::shared_ptr<const StepRule> rule_;
  bool denoise_final_;
  bool brownian_ = false;
};

// Starting noise x_T ~ prior for samples [first, first + count), keyed by (seed, index).
at::Tensor prior_noise(const ScoreModel& model, uint64_t seed, int64_t first, int64_t count,
                       at::IntArrayRef per_sample_shape, const at::TensorOptions& opts);

}  // namespace scorelab
