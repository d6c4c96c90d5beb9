// An experiment: every component of a run built and validated from one Config. Building it
// reads every key, so a typo, a wrong type or an out-of-range value is reported (ConfigError,
// "file:line: key.path: message") before anything is written to disk.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <c10/core/Device.h>

#include "core/config.h"
#include "experiments/registries.h"
#include "solvers/likelihood.h"

namespace scorelab {

struct RunOptions {
  std::string name, out_dir = "runs";
  uint64_t seed = 0;
  int64_t threads = 0;  // 0: measured at start (autotune_threads)
  c10::ScalarType dtype = c10::kFloat;
};

struct TrainOptions {
  int64_t steps = 2000, batch_size = 512, log_every = 100, ckpt_every = 1000;
  double lr = 2e-3, ema_decay = 0.999, grad_clip = 1.0;
  bool ema_warmup = true, resume = false;
};

struct SampleOptions {
  int64_t n = 2000, batch_size = 0;  // 0: all at once
  bool use_ema = true;
};

struct EvalOptions {
  int64_t n = 2000, projections = 256;
  int64_t every = 0;  // steps between evaluations (metrics + plot) during training (0: only at the end)
  int64_t grid = 64;  // samples in each plot
  bool fd = false;    // Fréchet distance on classifier features (images with labels)
  std::vector<std::string> nll;  // held-out NLL: vlb (ddpm chain) and/or ode (probability flow)
  int64_t nll_n = 256;           // held-out points for the NLL
};

// The small classifier behind the image Fréchet distance (experiments/classifier.h).
struct ClassifierOptions {
  int64_t channels = 16, features = 128;
  int64_t steps = 1500, batch_size = 128;
  double lr = 2e-3;
  uint64_t seed = 0;
  std::string cache_dir = "runs/classifiers";
};

struct LikelihoodEvalOptions {
  LikelihoodOptions ode;
  int64_t n = 1000;  // data points evaluated
};

struct Experiment {
  Config cfg;
  RunOptions run;
  TrainOptions train;
  SampleOptions sample;
  EvalOptions eval;
  LikelihoodEvalOptions likelihood;
  c10::Device device{c10::kCPU};
  ClassifierOptions classifier;
  std::shared_ptr<Dataset> data;
  // The data set again with `data.key=value` overrides (e.g. split=test, dequantize=false): the
  // held-out and clean views that evaluation needs.
  std::function<std::shared_ptr<Dataset>(const std::vector<std::string>&)> make_data;
  std::shared_ptr<SDE> sde;
  std::shared_ptr<Loss> loss;
  std::shared_ptr<Sampler> sampler;
  std::function<std::shared_ptr<ScoreModel>()> make_model;  // a fresh, untrained model

  std::string run_dir() const { return run.out_dir + "/" + run.name; }
};

// `default_name` names the run when run.name is not set (the config file's stem).
Experiment build_experiment(const Config& cfg, const std::string& default_name,
                            const Registries& reg = builtin_registries());

// Samples `n` points from `model` with the experiment's sampler, in batches, starting from
// x_T keyed by (seed, sample index) so the result does not depend on the batch size.
SampleResult draw_samples(const Experiment& ex, const ScoreModel& model, int64_t n, uint64_t seed,
                          const std::string& progress_label);

}  // namespace scorelab
