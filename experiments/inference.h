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

Loaded load_for_inference(const std::string& source, const std::vector<std::string>& overrides,
                          const Registries& reg = builtin_registries());

}  // namespace scorelab
