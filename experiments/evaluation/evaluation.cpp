#include "experiments/evaluation/evaluation.h"

#include "core/progress.h"

#include <cmath>
#include <cstdio>

#include <ATen/ATen.h>

#include "core/config.h"
#include "core/device.h"
#include "core/noise.h"
#include "core/tensor_util.h"
#include "experiments/data/gmm_dataset.h"
#include "experiments/data/image_dataset.h"
#include "losses/ddpm.h"
#include "sde/sde.h"
#include "solvers/likelihood.h"

namespace scorelab {

namespace {
std::vector<int64_t> batch_shape(int64_t n, const std::vector<int64_t>& shape) {
  std::vector<int64_t> s{n};
  s.insert(s.end(), shape.begin(), shape.end());
  return s;
}
}  // namespace

Evaluator::Evaluator(const RunSpec& spec, const RunData& data, std::shared_ptr<const Loss> loss, int64_t n_ref,
                     int64_t projections, uint64_t seed, const MetricRegistry& registry)
    : spec_(spec), data_(data), loss_(std::move(loss)), registry_(registry),
      metrics_(registry.applicable(spec.data_info, spec.eval.fd, spec.sample.classes.mode != "none")), seed_(seed) {
  const RunSpec& ex = spec;  // options: ex.eval, ex.sde, ...; data: data.data, data.make_data
  at::Generator gen = make_generator(seed + 7919);
  ref_ = data.data->sample(n_ref, gen);
  at::Tensor ref2 = data.data->sample(n_ref, gen);
  at::Tensor prior =
      ex.sde->prior_sample(batch_shape(n_ref, data.data->sample_shape()), gen, at::TensorOptions().dtype(at::kFloat));
  at::Generator proj = make_generator(seed + 77);
  sw_ = std::make_unique<SlicedW2Reference>(ref_, projections, proj);
  // The floors with the samples' bootstrap SE (the same resampling as score()), so a value and
  // its floor compare on one footing; a resample generator of its own leaves `gen` untouched.
  const int64_t B = ex.eval.bootstrap;
  at::Generator boot = make_generator(seed + 6007);
  const auto [sw_floor, sw_floor_se] =
      metric_with_se(sliced_w2_metric(), MetricInput{*data.data, ref_, *sw_, nullptr, nullptr}, ref2, B, boot);
  baselines_ = {{"sliced_w2_prior", sw_->distance(prior)}, {"sliced_w2_floor", sw_floor}};
  if (B > 0) baselines_.push_back({"sliced_w2_floor_se", sw_floor_se});
  // The clean held-out images (test split where there is one), read once for FD and NLL.
  std::shared_ptr<ImageDataset> test;
  if (ex.eval.fd || (!ex.eval.nll.empty() && data.data->is_image())) test = clean_image_view(spec, data, "test");
  if (ex.eval.fd) {
    classifier_ = classifier_for(spec, data);
    auto train = clean_image_view(spec, data, "train");
    ref_features_ = gaussian_stats(classifier_.features(train->sample(n_ref, gen)));
    const at::Tensor held_out = test->sample(n_ref, gen);
    double prior_fd = frechet_distance(gaussian_stats(classifier_.features(prior)), ref_features_);
    const MetricInput in{*data.data, ref_, *sw_, &classifier_, &ref_features_};
    const auto [floor, floor_se] = metric_with_se(fd_metric(), in, held_out, B, boot);
    baselines_.push_back({"fd_prior", prior_fd});
    baselines_.push_back({"fd_floor", floor});
    if (B > 0) baselines_.push_back({"fd_floor_se", floor_se});
  }
  TORCH_CHECK(baselines_.size() == baseline_columns(ex).size(), "evaluator: baselines and their columns differ");
  if (!ex.eval.nll.empty()) {
    at::Generator held = make_generator(seed + 4241);
    if (data.data->is_image()) {
      nll_x_ = test->sample(ex.eval.nll_n, held);
      std::vector<std::string> ov{"flip=false", "prefetch=0", "dequantize=true"};
      if (has_test_split(spec)) ov.push_back("split=test");
      at::Generator held2 = make_generator(seed + 4241);  // the same images, dequantized
      nll_x_dequantized_ = data.make_data(ov)->sample(ex.eval.nll_n, held2);
    } else {
      nll_x_ = data.data->sample(ex.eval.nll_n, held);
    }
  }
}

double metric_value(const Metrics& m, const std::string& name) {
  for (const auto& [k, v] : m)
    if (k == name) return v;
  return NAN;
}

std::string value_with_se(const Metrics& m, const std::string& name, int digits) {
  char buf[80];
  const double se = metric_value(m, name + "_se");
  if (std::isfinite(se))
    std::snprintf(buf, sizeof buf, "%.*g ± %.2g", digits, metric_value(m, name), se);
  else
    std::snprintf(buf, sizeof buf, "%.*g", digits, metric_value(m, name));
  return buf;
}

bool is_se_column(const Metrics& m, const std::string& name) {
  return name.size() > 3 && name.compare(name.size() - 3, 3, "_se") == 0 &&
         std::isfinite(metric_value(m, name.substr(0, name.size() - 3)));
}

std::pair<double, double> mean_and_sd(const std::vector<double>& v) {
  if (v.empty()) return {NAN, NAN};
  double mean = 0;
  for (double x : v) mean += x;
  mean /= static_cast<double>(v.size());
  if (v.size() < 2) return {mean, NAN};
  double ss = 0;
  for (double x : v) ss += (x - mean) * (x - mean);
  return {mean, std::sqrt(ss / static_cast<double>(v.size() - 1))};
}

Metrics Evaluator::score(const at::Tensor& x, int64_t bootstrap, const at::Tensor& labels) const {
  MetricInput in{*data_.data, ref_, *sw_, classifier_.net ? &classifier_ : nullptr, &ref_features_, &labels};
  Metrics m;
  for (const Metric* metric : metrics_) {
    // The same resamples for every evaluation of a run (and the same for each metric).
    at::Generator gen = make_generator(seed_ + 6007);
    const auto [value, se] = metric_with_se(*metric, in, x, bootstrap, gen);
    m.push_back({metric->name, value});
    if (bootstrap > 0) m.push_back({metric->name + "_se", se});
  }
  return m;
}

Metrics Evaluator::nll(const ScoreModel& model) const {
  Metrics m;
  if (spec_.eval.nll.empty()) return m;
  const bool image = spec_.data_info.image();
  const int64_t dims = nll_x_[0].numel();
  const double per_dim = bits_per_dim(-1.0, dims);  // nats -> bits/dim
  const int64_t bs = image ? 128 : 4096;
  auto opts = at::TensorOptions().dtype(spec_.run.dtype).device(spec_.device);
  // Mean and standard error over the held-out points of the per-point NLL (nats) * scale + offset.
  auto add = [&m](const std::string& name, const at::Tensor& per_point, double scale, double offset) {
    at::Tensor v = per_point * scale + offset;
    double se = v.size(0) > 1 ? v.std().item<double>() / std::sqrt(static_cast<double>(v.size(0))) : 0.0;
    m.push_back({name, v.mean().item<double>()});
    m.push_back({name + "_se", se});
  };
  for (const auto& kind : spec_.eval.nll) {
    // Held-out NLL is the slow part of an image evaluation (the VLB takes N model evaluations per
    // point): its own bar, per batch of points.
    Progress bar("eval nll " + kind, nll_x_.size(0), 0, "points");
    if (kind == "vlb") {
      // The run's own DDPM loss when it has one (its variance and decoder), else the defaults:
      // variance beta, the discretized decoder for images and a Gaussian one for other data.
      std::shared_ptr<const DDPMLoss> vlb = std::dynamic_pointer_cast<const DDPMLoss>(loss_);
      if (!vlb) {
        DDPMLossOptions o;
        o.decoder = image ? "discretized" : "gaussian";
        vlb = std::make_shared<DDPMLoss>(o, LossContext{spec_.sde, spec_.data_info.shape});
      }
      torch::NoGradGuard no_grad;
      at::Generator gen = make_generator(seed_ + 31, spec_.device);
      std::vector<at::Tensor> parts;
      for (int64_t first = 0; first < nll_x_.size(0); first += bs) {
        at::Tensor x = nll_x_.slice(0, first, std::min(nll_x_.size(0), first + bs)).to(opts);
        parts.push_back(vlb->full_vlb(model, x, gen).to(at::kCPU, at::kDouble));
        bar.update(first + x.size(0));
      }
      add((image ? "bpd_" : "nll_") + kind, at::cat(parts), image ? per_dim : 1.0, 0.0);
      bar.finish();
    } else if (kind == "ode") {
      const at::Tensor& src = image ? nll_x_dequantized_ : nll_x_;
      std::vector<at::Tensor> parts;
      for (int64_t first = 0; first < src.size(0); first += bs) {
        int64_t count = std::min(src.size(0), first + bs) - first;
        at::Tensor x = src.slice(0, first, first + count).to(opts);
        NoiseSource noise = NoiseSource::range(seed_ + 43, first, count, spec_.device);
        parts.push_back(-ode_log_likelihood(model, x, spec_.likelihood.ode, noise).log_p.detach().to(at::kCPU, at::kDouble));
        bar.update(first + count);
      }
      // Images: dequantized u + U(0,1) in [0, 256) mapped to [-1, 1] (scale 1/128) or [0, 1]
      // (1/256), so bits/dim on the 8-bit scale add log2 128 = 7 or log2 256 = 8.
      double offset = 0;
      if (image) {
        auto d = std::dynamic_pointer_cast<const ImageDataset>(data_.data);
        offset = d && d->transform_options().scale == "zero_one" ? 8.0 : 7.0;
      }
      add((image ? "bpd_" : "nll_") + kind, at::cat(parts), image ? per_dim : 1.0, offset);
      bar.finish();
    }
  }
  if (const auto* gmm = dynamic_cast<const GMMDataset*>(data_.data.get())) {  // nll_columns_ ends with nll_true
    at::Tensor x64 = nll_x_.to(at::kDouble).reshape({nll_x_.size(0), -1});
    at::Tensor one = at::ones({x64.size(0)}, at::kDouble), zero = at::zeros({x64.size(0)}, at::kDouble);
    m.push_back({"nll_true", -gmm->mixture().log_prob(x64, one, zero).mean().item<double>()});
  }
  TORCH_CHECK(m.size() == nll_columns(spec_).size(), "evaluator: NLL values and columns differ");
  return m;
}

Metrics Evaluator::evaluate(const ScoreModel& model, const at::Tensor& samples, const at::Tensor& labels) const {
  Metrics m = score(samples, spec_.eval.bootstrap, labels);
  m.insert(m.end(), baselines_.begin(), baselines_.end());
  Metrics n = nll(model);
  m.insert(m.end(), n.begin(), n.end());
  return m;
}

std::vector<std::string> Evaluator::baseline_columns(const RunSpec& ex) {
  const bool se = ex.eval.bootstrap > 0;
  std::vector<std::string> out{"sliced_w2_prior", "sliced_w2_floor"};
  if (se) out.push_back("sliced_w2_floor_se");
  if (ex.eval.fd) out.insert(out.end(), {"fd_prior", "fd_floor"});
  if (ex.eval.fd && se) out.push_back("fd_floor_se");
  return out;
}

std::vector<std::string> Evaluator::nll_columns(const RunSpec& ex) {
  std::vector<std::string> out;
  const std::string unit = ex.data_info.image() ? "bpd_" : "nll_";
  for (const auto& kind : ex.eval.nll) out.insert(out.end(), {unit + kind, unit + kind + "_se"});
  if (!ex.eval.nll.empty() && ex.data_info.mixture) out.push_back("nll_true");
  return out;
}

std::vector<std::string> Evaluator::metric_names(const RunSpec& ex, const MetricRegistry& registry) {
  std::vector<std::string> out;
  for (const Metric* metric : registry.applicable(ex.data_info, ex.eval.fd, ex.sample.classes.mode != "none"))
    out.push_back(metric->name);
  return out;
}

std::vector<std::string> Evaluator::columns_for(const RunSpec& ex, const MetricRegistry& registry) {
  // In the order evaluate() returns them: sample metrics (each with its SE), baselines, NLL.
  std::vector<std::string> out;
  for (const auto& name : metric_names(ex, registry)) {
    out.push_back(name);
    if (ex.eval.bootstrap > 0) out.push_back(name + "_se");
  }
  for (const auto& c : baseline_columns(ex)) out.push_back(c);
  for (const auto& c : nll_columns(ex)) out.push_back(c);
  return out;
}

std::vector<std::string> Evaluator::columns() const { return columns_for(spec_, registry_); }

}  // namespace scorelab
