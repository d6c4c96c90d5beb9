#include "experiments/training_state.h"

#include <ATen/ATen.h>

#include "core/device.h"
#include "networks/embedding.h"

namespace scorelab {

// Clips the global gradient norm to `max_norm` without a host sync; returns the norm (device).
at::Tensor clip_grad_norm(const std::vector<at::Tensor>& params, double max_norm) {
  std::vector<at::Tensor> sq;
  for (const auto& p : params)
    if (p.grad().defined()) sq.push_back(p.grad().pow(2).sum());
  at::Tensor norm = at::stack(sq).sum().sqrt();
  if (max_norm > 0) {
    at::Tensor coef = at::clamp_max(max_norm / (norm + 1e-6), 1.0);
    for (const auto& p : params)
      if (p.grad().defined()) p.grad().mul_(coef);
  }
  return norm;
}

namespace {
std::vector<at::Tensor> init(const Experiment& ex, torch::nn::Module& m) {
  at::Generator init_gen = make_generator(ex.run.seed ^ 0x1a2b3c4dULL);
  init_parameters(m, init_gen);
  m.to(ex.device, ex.run.dtype);
  return m.parameters();
}
}  // namespace

TrainingState::TrainingState(const Experiment& ex, torch::nn::Module& module)
    : net(module),
      params(init(ex, module)),
      opt(params, torch::optim::AdamOptions(ex.train.lr)),
      ema(ex.train.ema_decay, ex.train.ema_warmup),
      data_gen(make_generator(ex.run.seed)),
      noise_gen(make_generator(ex.run.seed + 1, ex.device)) {
  ema.init(params);
}

LossResult TrainingState::step(const Experiment& ex, ScoreModel& model, at::Tensor& grad_norm) {
  at::Tensor x = ex.data->batch(ex.train.batch_size, data_gen).to(ex.device, ex.run.dtype);
  LossResult r = (*ex.loss)(model, x, noise_gen);
  opt.zero_grad();
  r.loss.backward();
  grad_norm = clip_grad_norm(params, ex.train.grad_clip);
  opt.step();
  ema.update(params);
  return r;
}

void TrainingState::save(const std::string& path, int64_t step, const std::string& config_yaml) {
  CheckpointMeta m;
  m.step = step;
  m.config_yaml = config_yaml;
  m.rng_states = {data_gen.get_state(), noise_gen.get_state()};
  m.ema_updates = ema.updates();
  save_checkpoint(path, net, ema.shadow(), &opt, m);
}

CheckpointMeta TrainingState::restore(const std::string& path) {
  std::vector<at::Tensor> shadow;
  CheckpointMeta meta = load_checkpoint(path, &net, &shadow, &opt);
  ema.shadow() = shadow;
  ema.set_updates(meta.ema_updates);
  if (meta.rng_states.size() == 2) {
    data_gen.set_state(meta.rng_states[0]);
    noise_gen.set_state(meta.rng_states[1]);
  }
  return meta;
}

}  // namespace scorelab
