// Sample-quality metrics as named objects. One list (the `metric` registry in
// experiments/registries.cpp) drives both the values an Evaluator computes and the column
// names of /eval, compare and sweep tables, so the two cannot drift apart. A new metric is a
// function returning a Metric (name, when it applies, its value) plus one registry line.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>

#include "experiments/data/dataset.h"
#include "experiments/evaluation/metrics.h"

namespace scorelab {

struct Classifier;

// What the metrics of one run compare samples against; fixed for the run.
struct MetricInput {
  const Dataset& data;
  const at::Tensor& reference;            // fresh data points [n, ...] on the CPU
  const SlicedW2Reference& sliced_w2;     // the reference's directions, drawn once
  const Classifier* classifier;           // images with eval.fd, else nullptr
  const GaussianStats* ref_features;      // the reference's classifier features
  const at::Tensor* labels = nullptr;     // the class each sample was drawn given (int64 [n]), or none
};

// Which values are better: distances are lower-is-better; `coverage` is higher-is-better; a
// value to be matched rather than minimised (`nll_target`, which mode collapse lowers) is neither.
enum class Better { lower, higher, neither };

struct Metric {
  std::string name;  // the column name
  // Whether the metric applies to this data (fd: whether eval.fd is on).
  std::function<bool(const DataInfo& data, bool fd)> applies;
  // The value from the samples, or from embed(samples) where `embed` is set.
  std::function<double(const MetricInput& in, const at::Tensor& samples)> value;
  // Optional: what the value is computed from, one row per sample (fd: the classifier's
  // features). The bootstrap resamples these rows, so the costly part runs once.
  std::function<at::Tensor(const MetricInput& in, const at::Tensor& samples)> embed = nullptr;
  Better better = Better::lower;
  bool needs_labels = false;  // applies only to samples drawn given class labels (sample.classes)
};

class MetricRegistry {
 public:
  void add(Metric m);  // a duplicate name is an error
  // The metrics that apply, in registration order (the order of the log's columns); `labels`:
  // the samples are drawn given class labels.
  std::vector<const Metric*> applicable(const DataInfo& data, bool fd, bool labels = false) const;
  std::vector<std::string> names() const;
  const Metric* find(const std::string& name) const;  // nullptr when not registered

 private:
  std::vector<Metric> list_;
};

// The built-in metrics (definitions in metric.cpp; docs/metrics.md).
Metric sliced_w2_metric();        // sliced W2 to the reference (every data set)
Metric mmd2_metric();             // MMD^2, RBF kernel, median bandwidth (non-image)
Metric energy_distance_metric();  // energy distance (non-image)
Metric coverage_metric();         // fraction of mixture components with >= half their mass (GMM data)
Metric mass_tv_metric();          // total variation between component masses and weights (GMM data)
Metric nll_target_metric();       // exact target NLL of the samples (GMM data)
Metric fd_metric();               // Fréchet distance on classifier features (images with eval.fd)
Metric class_accuracy_metric();   // fraction of samples classified as the class they were drawn
                                  // given (labelled samples; images with eval.fd, GMM data)

// The value of `metric` on `samples` and, with bootstrap > 0, its standard error: the sample
// standard deviation of the value over `bootstrap` resamples of the samples (rows drawn with
// replacement by `gen`; the reference stays fixed). SE is NaN with bootstrap < 2.
std::pair<double, double> metric_with_se(const Metric& metric, const MetricInput& in, const at::Tensor& samples,
                                         int64_t bootstrap, at::Generator& gen);

}  // namespace scorelab
