// The training state of one run — network, optimizer, EMA, generators — and one optimisation
// step exactly as the trainer runs it (benchmarks/ time the same code). Saved and restored as
// one checkpoint.
#pragma once
#include <string>
#include <vector>

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>

#include "core/checkpoint.h"
#include "experiments/experiment.h"
#include "networks/ema.h"
#include "networks/fused_adam.h"
#include "networks/lr_schedule.h"

namespace scorelab {

class ProcessGroup;

// The run's train.lr_schedule.
LrSchedule lr_schedule(const Experiment& ex);

struct TrainingState {
  torch::nn::Module& net;
  std::vector<at::Tensor> params;
  EMA ema;
  FusedAdam opt;  // clip + Adam + EMA in one pass; the parameters live in its flat buffer
  std::vector<EMA> more_ema;  // train.ema_decays other than train.ema_decay, updated after each update
  std::vector<EMA> posthoc;   // power-function EMAs of train.posthoc_ema.sigma_rels
  std::vector<double> posthoc_sigma_rels;
  LrSchedule schedule;  // the learning rate of update k (the optimizer's step count + 1)
  at::Generator data_gen, noise_gen;  // CPU: data; device: loss noise
  // Data-parallel training (core/distributed.h): every rank draws the whole batch alike and
  // computes its rows (Loss::set_shard); step() sums gradients, loss and parts over the ranks,
  // with this rank's stop request (a signal), and sets stop_agreed when any rank asked.
  bool stop_requested = false, stop_agreed = false;
  static constexpr int64_t kBucketBytes = 25 << 20;  // PyTorch DDP's default bucket size

  // Initialises the network's parameters from the run's seed and moves it to its device.
  TrainingState(const Experiment& ex, torch::nn::Module& module);
  // One step: a batch, the loss, backward, gradient clipping, Adam, EMA. `grad_norm` receives
  // the norm before clipping. Off the CPU the optimizer reads that norm on the host once (to
  // leave the weights alone on a non-finite gradient).
  LossResult step(const Experiment& ex, ScoreModel& model, at::Tensor& grad_norm);
  // The parts of step(): clear the gradients; clip, Adam and EMA (returns the norm before
  // clipping).
  void zero_grad();
  at::Tensor apply_gradients();
  // Every parameter and EMA weight finite (checked before a checkpoint is written).
  bool finite() const;
  // The EMA of decay `decay` (the main one or one of more_ema); nullptr if the run keeps none.
  const EMA* ema_of(double decay) const;
  // `stream`: the data loader's position; `loop`: the trainer's partial log interval.
  void save(const std::string& path, int64_t step, const std::string& config_yaml,
            const std::vector<at::Tensor>& stream = {}, const std::vector<at::Tensor>& loop = {});
  CheckpointMeta restore(const std::string& path);
  // <run_dir>/ema_snapshots/step_<step>.pt: the power EMAs now (atomic write).
  void write_posthoc_snapshot(const std::string& run_dir, int64_t step) const;

 private:
  void sum_over_ranks(ProcessGroup& pg, const Experiment& ex, LossResult& r);
  // EMAs (`list`, keyed by `keys`) from a checkpoint's list: keys tensor, then flat buffers.
  void restore_list(std::vector<EMA>& list, const std::vector<double>& keys, const std::vector<at::Tensor>& stored,
                    const std::string& path);
};

}  // namespace scorelab
