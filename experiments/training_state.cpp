#include "experiments/training_state.h"

#include <ATen/ATen.h>

#include "core/device.h"
#include "networks/embedding.h"

namespace scorelab {

namespace {
std::vector<at::Tensor> init(const Experiment& ex, torch::nn::Module& m) {
  at::Generator init_gen = make_generator(ex.run.seed ^ 0x1a2b3c4dULL);
  init_parameters(m, init_gen);
  m.to(ex.device, ex.run.dtype);
  return m.parameters();
}
AdamOptions adam_options(const Experiment& ex) {
  AdamOptions o;
  o.lr = ex.train.lr;
  o.grad_clip = ex.train.grad_clip;
  o.beta1 = ex.train.beta1;
  o.beta2 = ex.train.beta2;
  o.eps = ex.train.eps;
  o.weight_decay = ex.train.weight_decay;
  o.decoupled = ex.train.optimizer == "adamw";
  return o;
}
}  // namespace

LrSchedule lr_schedule(const Experiment& ex) {
  LrSchedule s;
  s.type = ex.train.lr_schedule;
  s.lr = ex.train.lr;
  s.min_lr = ex.train.min_lr;
  s.warmup = ex.train.warmup_steps;
  s.steps = ex.train.steps;
  s.decay_steps = ex.train.lr_decay_steps;
  return s;
}

TrainingState::TrainingState(const Experiment& ex, torch::nn::Module& module)
    : net(module),
      params(init(ex, module)),
      ema(ex.train.ema_decay, ex.train.ema_warmup),
      opt(params, adam_options(ex), &ema),
      schedule(lr_schedule(ex)),
      data_gen(make_generator(ex.run.seed)),
      noise_gen(make_generator(ex.run.seed + 1, ex.device)) {}

LossResult TrainingState::step(const Experiment& ex, ScoreModel& model, at::Tensor& grad_norm) {
  at::Tensor x = ex.data->batch(ex.train.batch_size, data_gen).to(ex.device, ex.run.dtype);
  LossResult r = (*ex.loss)(model, x, noise_gen);
  zero_grad();
  r.loss.backward();
  grad_norm = apply_gradients();
  return r;
}

void TrainingState::zero_grad() { opt.zero_grad(); }

at::Tensor TrainingState::apply_gradients() {
  opt.set_lr(schedule.at(opt.steps() + 1));  // the schedule counts updates (checkpointed)
  return opt.step();
}

bool TrainingState::finite() const { return opt.finite(); }

void TrainingState::save(const std::string& path, int64_t step, const std::string& config_yaml,
                         const std::vector<at::Tensor>& stream, const std::vector<at::Tensor>& loop) {
  CheckpointMeta m;
  m.stream_state = stream;
  m.loop_state = loop;
  m.step = step;
  m.config_yaml = config_yaml;
  m.rng_states = {data_gen.get_state(), noise_gen.get_state()};
  m.ema_updates = ema.updates();
  save_checkpoint(path, net, ema.shadow(), &opt, m);
}

CheckpointMeta TrainingState::restore(const std::string& path) {
  std::vector<at::Tensor> shadow;
  CheckpointMeta meta = load_checkpoint(path, &net, &shadow, &opt);
  opt.rebind();  // the module load replaced the parameters' storage
  ema.assign(shadow);
  ema.set_updates(meta.ema_updates);
  if (meta.rng_states.size() == 2) {
    data_gen.set_state(meta.rng_states[0]);
    noise_gen.set_state(meta.rng_states[1]);
  }
  return meta;
}

}  // namespace scorelab
