// Training a score model end to end: run directory, resolved config, HDF5 log, checkpoints,
// resume, periodic and final evaluation (experiments/evaluation/evaluation.h), sample plots, loss curve.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "experiments/experiment.h"

namespace scorelab {

struct TrainSummary {
  std::string run_dir;
  int64_t start_step = 0, final_step = 0;
  bool already_finished = false;
  bool stopped_nonfinite = false;
  int stopped_signal = 0;          // SIGINT / SIGTERM stopped it after a checkpoint (core/signals.h)  // train.on_nonfinite: stop ended the run (no checkpoint written)
  int64_t nonfinite_steps = 0;     // steps whose update was skipped (this session)
  int threads = 1;
  std::string headline;      // eval.headline and its final value
  double headline_value = 0;
  double sliced_w2 = 0, sliced_w2_prior = 0, sliced_w2_floor = 0;  // looked up by name in `metrics`
  std::vector<std::pair<std::string, double>> metrics;  // the final evaluation, as logged
};

// Trains `ex`. Throws ConfigError (nothing written) when the run directory already holds a run
// and train.resume is false.
TrainSummary train(Experiment& ex);

}  // namespace scorelab
