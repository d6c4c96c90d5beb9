// What a run measures, in one place: the trainer's periodic and final evaluations and
// `scorelab compare` score samples with the same Evaluator.
//
//   score(samples)   (each with <name>_se, a bootstrap standard error, in evaluate())
//                    sliced_w2 (always); mmd2, energy_distance (non-image data); coverage,
//                    mass_tv, nll_target (Gaussian-mixture data: the exact target density);
//                    fd (images with eval.fd: Fréchet distance on the features of the data
//                    set's classifier, experiments/evaluation/classifier.h); class_accuracy
//                    (samples drawn given labels, sample.classes: the fraction classified as
//                    their label, by that classifier or by a mixture's components)
//   baselines()      constants of the run that put the numbers in scale: sliced_w2_prior and
//                    sliced_w2_floor (prior samples / fresh data against the reference); with fd,
//                    fd_prior and fd_floor (test-split images against the training reference)
//   nll(model)       held-out NLL for each entry of eval.nll: vlb (the DDPM bound, N model
//                    evaluations per point) and ode (probability flow, RK45). Images: bpd_vlb,
//                    bpd_ode in bits per dimension on the 8-bit scale; other data: nll_vlb,
//                    nll_ode in nats, and nll_true (the exact data density) for GMM data.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "experiments/evaluation/classifier.h"
#include "experiments/experiment.h"
#include "experiments/evaluation/metric.h"
#include "experiments/evaluation/metrics.h"

namespace scorelab {

using Metrics = std::vector<std::pair<std::string, double>>;

// The value of metric `name` in `m`; NaN when absent.
double metric_value(const Metrics& m, const std::string& name);
// "v ± se" (v with `digits` significant digits, se with 2) where `m` has a finite `name`_se,
// else "v"; and whether `name` is such an SE (shown with its metric, not on its own).
std::string value_with_se(const Metrics& m, const std::string& name, int digits = 4);
bool is_se_column(const Metrics& m, const std::string& name);
// Mean and sample standard deviation (n - 1 in the denominator) of `v`: NaN mean for no value,
// NaN sd for fewer than two.
std::pair<double, double> mean_and_sd(const std::vector<double>& v);

class Evaluator {
 public:
  // The reference is `n_ref` fresh data points drawn with seed `seed + 7919`; held-out NLL
  // points are fixed too, so every evaluation of a run compares like with like. It uses the
  // run's description, its data and its loss (the VLB's variance and decoder; may be null).
  Evaluator(const RunSpec& spec, const RunData& data, std::shared_ptr<const Loss> loss, int64_t n_ref,
            int64_t projections, uint64_t seed, const MetricRegistry& registry = builtin_registries().metric);
  Evaluator(const Experiment& ex, int64_t n_ref, int64_t projections, uint64_t seed,
            const MetricRegistry& registry = builtin_registries().metric)
      : Evaluator(ex, ex, ex.loss, n_ref, projections, seed, registry) {}

  // Each sample metric and, with bootstrap > 0, `<name>_se` after it: the standard deviation
  // over `bootstrap` resamples of the samples (metric_with_se, metric.h).
  // `labels`: the class each sample was drawn given (class_accuracy), when the run's samples
  // are labelled (sample.classes).
  Metrics score(const at::Tensor& samples, int64_t bootstrap = 0, const at::Tensor& labels = {}) const;
  const Metrics& baselines() const { return baselines_; }
  Metrics nll(const ScoreModel& model) const;
  // score (with eval.bootstrap) + baselines + nll, and the names in that order (fixed for a
  // run: the log's columns).
  Metrics evaluate(const ScoreModel& model, const at::Tensor& samples, const at::Tensor& labels = {}) const;
  std::vector<std::string> columns() const;
  // The columns an Evaluator of `ex` would have, without building it (no data read, no
  // classifier trained); metric_names: only the sample metrics (what score() computes without
  // SE; compare's `quality` is one of them).
  static std::vector<std::string> metric_names(const RunSpec& spec,
                                               const MetricRegistry& registry = builtin_registries().metric);
  static std::vector<std::string> columns_for(const RunSpec& spec,
                                              const MetricRegistry& registry = builtin_registries().metric);
  const at::Tensor& reference() const { return ref_; }
  const Classifier* classifier() const { return classifier_.net ? &classifier_ : nullptr; }

 private:
  const RunSpec& spec_;
  RunData data_;
  std::shared_ptr<const Loss> loss_;
  std::vector<const Metric*> metrics_;    // the sample metrics that apply (registry order)
  static std::vector<std::string> baseline_columns(const RunSpec& spec);
  static std::vector<std::string> nll_columns(const RunSpec& spec);  // the names nll() returns
  const MetricRegistry& registry_;
  at::Tensor ref_;
  std::unique_ptr<SlicedW2Reference> sw_;
  Classifier classifier_;
  GaussianStats ref_features_;
  Metrics baselines_;
  at::Tensor nll_x_, nll_x_dequantized_;  // held-out points
  uint64_t seed_;
};

}  // namespace scorelab
