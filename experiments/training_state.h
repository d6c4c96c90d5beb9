// The training state of one run — network, optimizer, EMA, generators — and one optimisation
// step exactly as the trainer runs it (benchmarks/ time the same code). Saved and restored as
// one checkpoint.
#pragma once
#include <string>
#include <vector>

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>
#include <torch/optim/adam.h>

#include "core/checkpoint.h"
#include "experiments/experiment.h"
#include "networks/ema.h"

namespace scorelab {

// Clips the global gradient norm to `max_norm` (0: no clipping) without a host sync; returns
// the norm before clipping (on the device).
at::Tensor clip_grad_norm(const std::vector<at::Tensor>& params, double max_norm);

struct TrainingState {
  torch::nn::Module& net;
  std::vector<at::Tensor> params;
  torch::optim::Adam opt;
  EMA ema;
  at::Generator data_gen, noise_gen;  // CPU: data; device: loss noise

  // Initialises the network's parameters from the run's seed and moves it to its device.
  TrainingState(const Experiment& ex, torch::nn::Module& module);
  // One step: a batch, the loss, backward, gradient clipping, Adam, EMA. `grad_norm` receives
  // the norm before clipping. No host sync.
  LossResult step(const Experiment& ex, ScoreModel& model, at::Tensor& grad_norm);
  void save(const std::string& path, int64_t step, const std::string& config_yaml);
  CheckpointMeta restore(const std::string& path);
};

}  // namespace scorelab
