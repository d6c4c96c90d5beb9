// Training a score model end to end: run directory, resolved config, HDF5 log, checkpoints,
// resume, final samples, sliced-W2 evaluation and a scatter plot.
#pragma once
#include <string>

#include "experiments/experiment.h"

namespace scorelab {

struct TrainSummary {
  std::string run_dir;
  int64_t start_step = 0, final_step = 0;
  bool already_finished = false;
  int threads = 1;
  double sliced_w2 = 0, sliced_w2_prior = 0, sliced_w2_floor = 0;
};

// Trains `ex`. Throws ConfigError (nothing written) when the run directory already holds a run
// and train.resume is false.
TrainSummary train(Experiment& ex);

}  // namespace scorelab
