// Loading a model for inference (sampling, likelihood, comparisons): from a checkpoint — its
// stored config changed by overrides, EMA weights unless sample.use_ema=false — or from a
// config file whose model is an exact oracle (no checkpoint needed).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "experiments/experiment.h"

namespace scorelab {

struct Loaded {
  Experiment ex;
  std::shared_ptr<ScoreModel> model;
  int64_t step = 0;
  std::string default_dir;  // where outputs go by default (the run directory)
  std::string config_text, config_source;  // the config the experiment was built from
};

// The same model with another experiment built from its config and these overrides (e.g. another
// sampler): validates and builds the components, but reuses `l.model` — no checkpoint is read
// again. The overrides must not change the model.
Experiment with_overrides(const Loaded& l, const std::vector<std::string>& overrides);

Loaded load_for_inference(const std::string& source, const std::vector<std::string>& overrides);

}  // namespace scorelab
