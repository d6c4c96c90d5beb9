#include "experiments/evaluation/metric.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include <ATen/ATen.h>

#include "experiments/data/gmm_dataset.h"
#include "experiments/evaluation/classifier.h"

namespace scorelab {

void MetricRegistry::add(Metric m) {
  for (const auto& e : list_)
    if (e.name == m.name) throw std::logic_error("metric registry: '" + m.name + "' registered twice");
  list_.push_back(std::move(m));
}

std::vector<const Metric*> MetricRegistry::applicable(const DataInfo& data, bool fd, bool labels) const {
  std::vector<const Metric*> out;
  for (const auto& m : list_)
    if (m.applies(data, fd) && (labels || !m.needs_labels)) out.push_back(&m);
  return out;
}

const Metric* MetricRegistry::find(const std::string& name) const {
  for (const auto& m : list_)
    if (m.name == name) return &m;
  return nullptr;
}

std::vector<std::string> MetricRegistry::names() const {
  std::vector<std::string> out;
  for (const auto& m : list_) out.push_back(m.name);
  return out;
}

namespace {
bool always(const DataInfo&, bool) { return true; }
bool not_image(const DataInfo& d, bool) { return !d.image(); }
bool is_gmm(const DataInfo& d, bool) { return d.mixture; }

// The first 2000 samples and reference points (the pairwise metrics are O(n^2)).
at::Tensor head(const at::Tensor& x) { return x.slice(0, 0, std::min<int64_t>(2000, x.size(0))).to(at::kCPU); }

// Mixture component masses of the samples (nearest component by responsibility).
at::Tensor component_mass(const GaussianMixture& g, const at::Tensor& x64) {
  at::Tensor one = at::ones({x64.size(0)}, at::kDouble), zero = at::zeros({x64.size(0)}, at::kDouble);
  at::Tensor k = g.responsibilities(x64, one, zero).argmax(1);
  return at::bincount(k, {}, g.weights.size(0)).to(at::kDouble) / x64.size(0);
}
const GaussianMixture& mixture(const MetricInput& in) { return dynamic_cast<const GMMDataset&>(in.data).mixture(); }
at::Tensor flat64(const at::Tensor& x) { return x.to(at::kCPU, at::kDouble).reshape({x.size(0), -1}); }
}  // namespace

Metric sliced_w2_metric() {
  return {"sliced_w2", always, [](const MetricInput& in, const at::Tensor& x) { return in.sliced_w2.distance(x); }};
}

Metric mmd2_metric() {
  return {"mmd2", not_image,
          [](const MetricInput& in, const at::Tensor& x) { return mmd_rbf(head(x), head(in.reference)).first; }};
}

Metric energy_distance_metric() {
  return {"energy_distance", not_image,
          [](const MetricInput& in, const at::Tensor& x) { return energy_distance(head(x), head(in.reference)); }};
}

Metric coverage_metric() {
  return {"coverage", is_gmm,
          [](const MetricInput& in, const at::Tensor& x) {
            const GaussianMixture& g = mixture(in);
            return (component_mass(g, flat64(x)) >= 0.5 * g.weights).to(at::kDouble).mean().item<double>();
          },
          nullptr, Better::higher};
}

Metric mass_tv_metric() {
  return {"mass_tv", is_gmm, [](const MetricInput& in, const at::Tensor& x) {
            const GaussianMixture& g = mixture(in);
            return 0.5 * (component_mass(g, flat64(x)) - g.weights).abs().sum().item<double>();
          }};
}

Metric nll_target_metric() {
  return {"nll_target", is_gmm,
          [](const MetricInput& in, const at::Tensor& x) {
            at::Tensor x64 = flat64(x);
            at::Tensor one = at::ones({x64.size(0)}, at::kDouble), zero = at::zeros({x64.size(0)}, at::kDouble);
            return -mixture(in).log_prob(x64, one, zero).mean().item<double>();
          },
          nullptr, Better::neither};
}

Metric fd_metric() {
  return {"fd", [](const DataInfo& d, bool fd) { return d.image() && fd; },
          [](const MetricInput& in, const at::Tensor& features) {
            return frechet_distance(gaussian_stats(features), *in.ref_features);
          },
          [](const MetricInput& in, const at::Tensor& x) { return in.classifier->features(x, "eval fd features"); }};
}

Metric class_accuracy_metric() {
  Metric m{"class_accuracy", [](const DataInfo& d, bool fd) { return d.mixture || (d.image() && fd); },
           [](const MetricInput&, const at::Tensor& correct) { return correct.mean().item<double>(); },
           // One row per sample: 1 where the sample is classified as its label. Images: the
           // FD classifier's decision; mixtures: the component of highest responsibility.
           [](const MetricInput& in, const at::Tensor& x) {
             TORCH_CHECK(in.labels && in.labels->defined() && in.labels->size(0) == x.size(0),
                         "class_accuracy: the samples' labels are missing");
             at::Tensor predicted;
             if (in.classifier) {
               predicted = in.classifier->classify(x);
             } else {
               at::Tensor x64 = flat64(x);
               at::Tensor one = at::ones({x64.size(0)}, at::kDouble), zero = at::zeros({x64.size(0)}, at::kDouble);
               predicted = mixture(in).responsibilities(x64, one, zero).argmax(1);
             }
             return (predicted == in.labels->to(at::kCPU)).to(at::kDouble);
           },
           Better::higher};
  m.needs_labels = true;
  return m;
}

std::pair<double, double> metric_with_se(const Metric& metric, const MetricInput& in, const at::Tensor& samples,
                                         int64_t bootstrap, at::Generator& gen) {
  const at::Tensor e = metric.embed ? metric.embed(in, samples) : samples;
  const double value = metric.value(in, e);
  if (bootstrap < 2) return {value, NAN};
  const at::Tensor rows = e.to(at::kCPU);
  const int64_t n = rows.size(0);
  std::vector<double> v(static_cast<size_t>(bootstrap));
  for (auto& vb : v) vb = metric.value(in, rows.index_select(0, at::randint(n, {n}, gen, at::kLong)));
  double mean = 0, ss = 0;
  for (double x : v) mean += x / static_cast<double>(bootstrap);
  for (double x : v) ss += (x - mean) * (x - mean);
  return {value, std::sqrt(ss / static_cast<double>(bootstrap - 1))};
}

}  // namespace scorelab
