// Samplers (DESIGN.md): a sampler is a time grid plus a step rule; one driver loop runs any
// rule, counts score evaluations (NFE), times the run and reports each step to an observer.
// Samplers do no I/O; progress bars and trajectory recording are observers.
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <string>

#include <ATen/core/Tensor.h>

#include "core/noise.h"

namespace scorelab {

class ScoreModel;

struct SampleResult {
  at::Tensor x;
  int64_t nfe = 0;
  double seconds = 0;
  std::map<std::string, double> stats;  // sampler-specific (e.g. accepted / rejected steps)
};

struct StepInfo {
  int64_t k;        // step index, 0-based
  int64_t steps;    // total steps
  double t, t_next;
  const at::Tensor& x;  // state after the step
};
using StepObserver = std::function<void(const StepInfo&)>;

// One step from t to t_next < t. `k` selects the noise stream; `last` is the final step.
class StepRule {
 public:
  virtual ~StepRule() = default;
  virtual at::Tensor step(const ScoreModel& model, const at::Tensor& x, double t, double t_next, int64_t k, bool last,
                          const NoiseSource& noise) const = 0;
};

class Sampler {
 public:
  virtual ~Sampler() = default;
  virtual std::string name() const = 0;
  // Throws ConfigError (naming the reason) when this sampler cannot run on `model`.
  virtual void check(const ScoreModel& /*model*/) const {}
  virtual SampleResult sample(const ScoreModel& model, const at::Tensor& x_T, const NoiseSource& noise,
                              const StepObserver& observer = {}) const = 0;
  // Provenance of the samples: settings as text (stored as HDF5 attributes).
  virtual std::map<std::string, std::string> settings() const = 0;
};

// The driver loop shared by every grid-based sampler.
class GridSampler : public Sampler {
 public:
  GridSampler(std::string name, at::Tensor grid, std::shared_ptr<const StepRule> rule, bool denoise_final,
              std::map<std::string, std::string> settings);
  std::string name() const override { return name_; }
  SampleResult sample(const ScoreModel& model, const at::Tensor& x_T, const NoiseSource& noise,
                      const StepObserver& observer = {}) const override;
  std::map<std::string, std::string> settings() const override { return settings_; }
  const at::Tensor& grid() const { return grid_; }

 private:
  std::string name_;
  at::Tensor grid_;  // float64 [K + 1], decreasing
  std::shared_ptr<const StepRule> rule_;
  bool denoise_final_;
  std::map<std::string, std::string> settings_;
};

// Starting noise x_T ~ prior for samples [first, first + count), keyed by (seed, index).
at::Tensor prior_noise(const ScoreModel& model, uint64_t seed, int64_t first, int64_t count,
                       at::IntArrayRef per_sample_shape, const at::TensorOptions& opts);

}  // namespace scorelab
