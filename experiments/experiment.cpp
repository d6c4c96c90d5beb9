#include "experiments/experiment.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <optional>

#include <c10/core/InferenceMode.h>

#include "core/device.h"
#include "core/distributed.h"
#include "core/progress.h"
#include "core/error.h"

namespace scorelab {

Experiment build_experiment(const RunSpec& spec, const Registries& reg) {
  Experiment ex{spec};
  const Config& cfg = ex.cfg;
  ex.data = reg.data.build(cfg.at("data"), "", ex.run.seed);
  if (ex.data->sample_shape() != ex.data_info.shape)
    throw DataError(cfg.at("data").where("") + ": data: the files changed between validation and reading");
  const Registries* regp = &reg;
  const uint64_t seed = ex.run.seed;
  ex.make_data = [regp, cfg, seed](const std::vector<std::string>& data_overrides) {
    std::vector<std::string> ov;
    for (const auto& o : data_overrides) ov.push_back("data." + o);
    Config view = Config::from_string(cfg.resolved_yaml(), cfg.source(), ov);
    return regp->data.build(view.at("data"), "", seed);
  };
  ModelContext ctx{ex.sde, ex.data_info.shape, ex.run.seed, ex.data_info.labelled ? ex.data_info.classes : 0};
  Config model = cfg.at("model");
  ex.make_model = [regp, model, ctx]() { return regp->model.build(model, "mlp", ctx); };
  ex.loss = reg.loss.build(cfg.at("loss"), "dsm", LossContext{ex.sde, ex.data_info.shape});
  ex.sampler = build_sampler(reg, cfg.at("sample"), *ex.sde, ex.data_info.shape);
  return ex;
}

Experiment build_experiment(const Config& cfg, const std::string& default_name, const Registries& reg) {
  return build_experiment(RunSpec::from(cfg, default_name, reg), reg);
}

int choose_sampling_threads(const Experiment& ex, const ScoreModel& model, int64_t batch) {
  auto opts = at::TensorOptions().dtype(ex.run.dtype).device(ex.device);
  // At most 8192 rows: the measurement must cost little next to the sampling it decides on.
  const int64_t rows = std::clamp<int64_t>(batch, 1, 8192);
  at::Tensor x = prior_noise(model, ex.run.seed, 0, rows, ex.data_info.shape, opts);
  NoiseSource noise = NoiseSource::range(ex.run.seed, 0, rows, ex.device);
  at::Tensor t = at::full({1}, 0.5 * ex.sde->T(), opts).expand({x.size(0)});  // one t, as a sampler step
  SamplingModeGuard mode(model);
  // A sampler step's work: one score evaluation and one noise draw.
  return autotune_threads([&] { model.score(x, t).add_(noise.normal_like(x, 1)); }, available_cores(), 3);
}

SampleResult draw_samples(const Experiment& ex, const ScoreModel& model, int64_t n, uint64_t seed,
                          const std::string& progress_label) {
  ProcessGroup* pg = process_group();
  const auto [first, end] = pg ? shard_rows(n, pg->rank(), pg->world()) : std::pair<int64_t, int64_t>{0, n};
  SampleResult r = draw_samples(*ex.sampler, model, end - first, ex.sample.batch_size, seed, ex.data->sample_shape(),
                                at::TensorOptions().dtype(ex.run.dtype).device(ex.device), progress_label,
                                ex.sample.classes, ex.sample.guidance, first);
  if (pg) {  // every rank's share, in sample order; the NFE per trajectory: the largest
    r.x = pg->allgather_rows(r.x.contiguous());
    if (r.labels.defined()) r.labels = pg->allgather_rows(r.labels.contiguous());
    at::Tensor nfe = at::tensor({r.nfe}, at::kLong);
    pg->allreduce_max(nfe);
    r.nfe = nfe.item<int64_t>();
  }
  return r;
}

SampleResult draw_samples(const Sampler& sampler, const ScoreModel& model, int64_t n, int64_t batch_size,
                          uint64_t seed, at::IntArrayRef per_sample_shape, const at::TensorOptions& opts,
                          const std::string& progress_label, const ClassChoice& classes, double guidance,
                          int64_t first_index) {
  const int64_t bs = batch_size > 0 ? batch_size : n;
  const bool labelled = classes.mode != "none";
  const int64_t batches = (n + bs - 1) / bs;
  SampleResult total;
  std::vector<at::Tensor> parts, labels;
  // Counts sampler steps over all batches (the total is known at the first step); the status is
  // the NFE per trajectory so far.
  Progress bar(progress_label, batches, 0, "steps");
  for (int64_t offset = 0, b = 0; offset < n; offset += bs, ++b) {
    const int64_t count = std::min(bs, n - offset), first = first_index + offset;
    at::Tensor xT = prior_noise(model, seed, first, count, per_sample_shape, opts);
    NoiseSource noise = NoiseSource::range(seed, first, count, opts.device());
    std::optional<LabelledModel> guided;
    if (labelled) {
      labels.push_back(classes.labels(model.num_classes(), seed, first, count));
      guided.emplace(model, labels.back().to(opts.device()), guidance);
    }
    const ScoreModel& m = guided ? static_cast<const ScoreModel&>(*guided) : model;
    const int64_t nfe0 = m.nfe();
    SampleResult r = sampler.sample(m, xT, noise, [&](const StepInfo& s) {
      if (b == 0 && s.k == 0) bar.set_total(batches * s.steps);
      if (s.k % 16 == 0 || s.k + 1 == s.steps)
        bar.update(b * s.steps + s.k + 1, "nfe " + std::to_string(m.nfe() - nfe0));
    });
    parts.push_back(r.x);
    total.nfe = std::max(total.nfe, r.nfe);  // per trajectory, the same for every batch
    total.seconds += r.seconds;
    for (const auto& [k, v] : r.stats) total.stats[k] += v;
  }
  bar.finish("nfe " + std::to_string(total.nfe));
  if (parts.empty()) {  // n = 0 (a data-parallel rank's share of fewer samples than ranks)
    std::vector<int64_t> shape{0};
    shape.insert(shape.end(), per_sample_shape.begin(), per_sample_shape.end());
    parts.push_back(at::empty(shape, opts));
    if (labelled) labels.push_back(at::empty({0}, at::kLong));
  }
  total.x = at::cat(parts, 0);
  if (labelled) total.labels = at::cat(labels, 0);
  return total;
}

}  // namespace scorelab
