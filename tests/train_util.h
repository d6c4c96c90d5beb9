// Helpers for tests that train the tiny run of test_util.h and read its checkpoints.
#pragma once
#include <string>
#include <vector>

#include "core/checkpoint.h"
#include "experiments/trainer.h"
#include "test_util.h"

namespace scorelab::test {

// Trains tiny_run_yaml(dir, name, steps) with `overrides`.
inline TrainSummary run_tiny(const std::string& dir, const std::string& name, int steps,
                             const std::vector<std::string>& overrides = {}) {
  Config cfg = Config::from_string(tiny_run_yaml(dir, name, steps), name + ".yaml", overrides);
  Experiment ex = build_experiment(cfg, name);
  return train(ex);
}

// A checkpoint's EMA weights: every parameter, averaged over the whole run.
inline std::vector<at::Tensor> checkpoint_ema(const std::string& path) {
  std::vector<at::Tensor> out;
  load_checkpoint(path, nullptr, &out, nullptr);
  return out;
}

}  // namespace scorelab::test
