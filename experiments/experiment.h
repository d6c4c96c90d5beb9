// An experiment: the components of a run, built from its validated description (RunSpec,
// experiments/run_spec.h). A typo, a wrong type or an out-of-range value is reported
// (ConfigError, "file:line: key.path: message") before anything is built or written.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <c10/core/Device.h>

#include "experiments/run_spec.h"

namespace scorelab {

// The components of a run, built from its RunSpec (the options stay reachable as ex.run,
// ex.train, ...). The model is built on demand: make_model() hands out a fresh, untrained model.
// The data of a run: the training data set, and the same data set again with `data.key=value`
// overrides (e.g. split=test, dequantize=false): the held-out and clean views evaluation needs.
struct RunData {
  std::shared_ptr<Dataset> data;
  std::function<std::shared_ptr<Dataset>(const std::vector<std::string>&)> make_data;
};

struct Experiment : RunSpec, RunData {
  std::shared_ptr<Loss> loss;
  std::shared_ptr<Sampler> sampler;
  std::function<std::shared_ptr<ScoreModel>()> make_model;
};

// Builds the data set, loss and sampler of a validated spec (the model on demand).
Experiment build_experiment(const RunSpec& spec, const Registries& reg = builtin_registries());
// RunSpec::from + build_experiment; `default_name` names the run when run.name is not set (the
// config file's stem).
Experiment build_experiment(const Config& cfg, const std::string& default_name,
                            const Registries& reg = builtin_registries());

// Samples `n` points from `model` with the experiment's sampler, in batches, starting from
// x_T keyed by (seed, sample index) so the result does not depend on the batch size. In a
// data-parallel run (core/distributed.h) every rank must call it alike: rank r of N draws
// samples [r n / N, (r + 1) n / N), and every rank returns all n, gathered (the same samples
// one process draws; `seconds` is this rank's share's).
SampleResult draw_samples(const Experiment& ex, const ScoreModel& model, int64_t n, uint64_t seed,
                          const std::string& progress_label);
// Thread count for sampling (run.threads: 0): autotune_threads on one score evaluation of
// `batch` prior samples; sets and returns it.
int choose_sampling_threads(const Experiment& ex, const ScoreModel& model, int64_t batch);

// The same with only the parts it uses: `batch_size` 0 draws all n at once; x_T has
// `per_sample_shape` and `opts`' dtype and device. With `classes` other than none, sample i is
// drawn given label classes.labels(..)[i] with guidance scale `guidance` (networks/guidance.h),
// and the labels are returned in SampleResult::labels. `first_index`: the samples are
// first_index .. first_index + n - 1 of the seed's sequence.
SampleResult draw_samples(const Sampler& sampler, const ScoreModel& model, int64_t n, int64_t batch_size,
                          uint64_t seed, at::IntArrayRef per_sample_shape, const at::TensorOptions& opts,
                          const std::string& progress_label, const ClassChoice& classes = {}, double guidance = 0,
                          int64_t first_index = 0);

}  // namespace scorelab
