// A run described before it is built (DESIGN.md, "Describe, then build"): every section of a
// config parsed into a plain options struct and validated as a whole — unknown keys, types,
// ranges and conflicts (DDIM on a non-DDPM SDE, the Fréchet distance on unlabelled data, ...) —
// with no side effects: no data read beyond file headers, no network allocated, nothing written.
// Commands build only the components they need from it (experiments/experiment.h).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include <c10/core/Device.h>

#include "core/config.h"
#include "experiments/registries.h"
#include "networks/guidance.h"
#include "solvers/likelihood.h"

namespace scorelab {

struct RunOptions {
  std::string name, out_dir = "runs";
  uint64_t seed = 0;
  int64_t threads = 0;  // 0: measured at start (autotune_threads)
  c10::ScalarType dtype = c10::kFloat;
  std::string precision = "float32";  // float32 | bf16 | fp16: the network's forward (autocast, CUDA only)
  double dist_timeout = 1800;  // seconds a data-parallel collective waits for the other ranks
};

struct TrainOptions {
  int64_t steps = 2000, batch_size = 512, log_every = 100, ckpt_every = 1000;
  int64_t keep_checkpoints = 0;  // step_<N>.pt copies kept besides last.pt (the newest K)
  double lr = 2e-3, ema_decay = 0.999, grad_clip = 1.0;
  std::string optimizer = "adam";            // adam | adamw
  double weight_decay = 0, beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  std::string lr_schedule = "constant";      // networks/lr_schedule.h
  int64_t warmup_steps = 0, lr_decay_steps = 70000;
  double min_lr = 0;
  bool ema_warmup = true, resume = false;
  std::string on_nonfinite = "stop";  // stop | skip: a step whose loss or gradient is not finite
  std::vector<std::string> allow_changes;  // keys (or sections) a resume may change (resume_changes.h)
  double label_dropout = 0.1;  // class-conditional models: P(label -> null class) per example
  std::vector<double> ema_decays;  // more EMAs kept beside ema_decay's (each sampleable: sample.ema)
  // train.posthoc_ema: power-function EMAs of these widths stored every `every` steps (0: none)
  // in <run>/ema_snapshots/, for `scorelab ema` (networks/posthoc_ema.h)
  int64_t posthoc_every = 0;
  std::vector<double> posthoc_sigma_rels{0.05, 0.10};
};

struct SampleOptions {
  int64_t n = 2000, batch_size = 0;  // 0: all at once
  bool use_ema = true;
  double ema = 0;        // which EMA (its decay) when use_ema: train.ema_decay or one of train.ema_decays
  ClassChoice classes;   // sample.classes (networks/guidance.h); "auto" resolves to uniform or none
  double guidance = 0;   // classifier-free guidance scale w (0: the conditional model)
  std::string where;     // "file:line" of the sample section, for errors found once the model is built
};

// Whether `model` can draw samples with `s`'s classes and guidance; ConfigError at sample.classes
// or sample.guidance if not (an unconditional model asked for labels, a class out of range).
void check_sample_labels(const SampleOptions& s, const ScoreModel& model);

struct EvalOptions {
  int64_t n = 2000, projections = 256;
  int64_t bootstrap = 20;  // resamples behind each sample metric's standard error (0: none)
  int64_t every = 0;  // steps between evaluations (metrics + plot) during training (0: only at the end)
  int64_t grid = 64;  // samples in each plot
  bool fd = false;    // Fréchet distance on classifier features (images with labels)
  std::vector<std::string> nll;  // held-out NLL: vlb (ddpm chain) and/or ode (probability flow)
  int64_t nll_n = 256;           // held-out points for the NLL
  std::string headline = "sliced_w2";  // the metric a run's summary leads with (a registered metric)
};

// The small classifier behind the image Fréchet distance (experiments/evaluation/classifier.h).
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

struct RunSpec {
  Config cfg;  // the sections of the components (data, sde, model, loss, sample), validated
  RunOptions run;
  TrainOptions train;
  SampleOptions sample;
  EvalOptions eval;
  LikelihoodEvalOptions likelihood;
  ClassifierOptions classifier;
  c10::Device device{c10::kCPU};
  DataInfo data_info;              // the data's shape and labels, from the config and file headers
  std::shared_ptr<const SDE> sde;  // cheap and side-effect free; every other component needs it

  std::string run_dir() const { return run.out_dir + "/" + run.name; }
  // The resolved config (every default filled in): what runs store and resume from.
  std::string resolved_yaml() const { return cfg.resolved_yaml(); }

  // Parses and validates `cfg`; `default_name` names the run when run.name is not set.
  // Throws ConfigError ("file:line: key.path: message") on the first problem.
  static RunSpec from(const Config& cfg, const std::string& default_name,
                      const Registries& reg = builtin_registries());
};

}  // namespace scorelab
