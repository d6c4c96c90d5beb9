#include "experiments/training_state.h"

#include <ATen/ATen.h>

#include <cstdio>
#include <filesystem>

#include <torch/serialize/output-archive.h>

#include "core/device.h"
#include "core/distributed.h"
#include "networks/embedding.h"
#include "networks/guidance.h"
#include "networks/posthoc_ema.h"
#include "core/fsutil.h"

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
      noise_gen(make_generator(ex.run.seed + 1, ex.device)) {
  for (double d : ex.train.ema_decays) {
    if (d == ex.train.ema_decay || ema_of(d)) continue;
    more_ema.emplace_back(d, ex.train.ema_warmup);
    more_ema.back().init(net.parameters());  // views into the optimizer's buffer by now
  }
  if (ex.train.posthoc_every > 0)
    for (double s : ex.train.posthoc_sigma_rels) {
      posthoc.push_back(EMA::power(gamma_of_sigma_rel(s)));
      posthoc.back().init(net.parameters());
      posthoc_sigma_rels.push_back(s);
    }
}

const EMA* TrainingState::ema_of(double decay) const {
  if (decay == ema.decay()) return &ema;
  for (const auto& e : more_ema)
    if (e.decay() == decay) return &e;
  return nullptr;
}

LossResult TrainingState::step(const Experiment& ex, ScoreModel& model, at::Tensor& grad_norm) {
  LossResult r;
  if (model.num_classes() > 0) {
    // Class-conditional: the batch's labels, each dropped to the null class with probability
    // train.label_dropout, so one network learns the conditional and unconditional models.
    LabelledBatch b = ex.data->labelled_batch(ex.train.batch_size, data_gen);
    at::Tensor y = drop_labels(b.y, ex.train.label_dropout, model.num_classes(), data_gen).to(ex.device);
    const auto [first, end] = ex.loss->rows_of(y.size(0));  // the labels of this process's rows
    r = (*ex.loss)(LabelledModel(model, y.slice(0, first, end)), b.x.to(ex.device, ex.run.dtype), noise_gen);
  } else {
    at::Tensor x = ex.data->batch(ex.train.batch_size, data_gen).to(ex.device, ex.run.dtype);
    r = (*ex.loss)(model, x, noise_gen);
  }
  zero_grad();
  r.loss.backward();
  if (ProcessGroup* pg = process_group()) sum_over_ranks(*pg, ex, r);
  grad_norm = apply_gradients();
  return r;
}

void TrainingState::sum_over_ranks(ProcessGroup& pg, const Experiment& ex, LossResult& r) {
  // Each rank's loss, parts and gradient are its rows' share of the batch mean (losses/loss.h):
  // summed, they are the one-process values. The loss, its parts and the stop request ride in
  // the last gradient bucket, so a step costs one all-reduce per bucket and nothing more.
  std::vector<at::Tensor> grads;
  for (const auto& p : params)
    if (p.grad().defined()) grads.push_back(p.grad());
  const std::vector<std::string> parts = ex.loss->part_names();
  std::vector<at::Tensor> scalars{r.loss.detach()};
  for (const auto& n : parts) scalars.push_back(r.parts.count(n) ? r.parts.at(n) : at::zeros({}, r.loss.options()));
  scalars.push_back(at::full({}, stop_requested ? 1.0 : 0.0, r.loss.options()));
  at::Tensor extra = at::stack(scalars).to(at::kDouble);
  pg.allreduce_buckets(grads, extra, kBucketBytes);
  extra = extra.to(r.loss.device(), r.loss.scalar_type());
  r.loss = extra[0];
  for (size_t i = 0; i < parts.size(); ++i)
    if (r.parts.count(parts[i])) r.parts[parts[i]] = extra[static_cast<int64_t>(i) + 1];
  stop_agreed = extra[static_cast<int64_t>(parts.size()) + 1].item<double>() > 0;
}

void TrainingState::zero_grad() { opt.zero_grad(); }

at::Tensor TrainingState::apply_gradients() {
  opt.set_lr(schedule.at(opt.steps() + 1));  // the schedule counts updates (checkpointed)
  const int64_t before = opt.steps();
  at::Tensor norm = opt.step();
  if ((!more_ema.empty() || !posthoc.empty()) && opt.steps() > before) {  // not after a skipped (non-finite) step
    const std::vector<at::Tensor> p = net.parameters();
    for (auto& e : more_ema) e.update(p);
    for (auto& e : posthoc) e.update(p);
  }
  return norm;
}

bool TrainingState::finite() const {
  if (!opt.finite()) return false;
  for (const auto* list : {&more_ema, &posthoc})
    for (const auto& e : *list)
      if (!at::isfinite(e.flat()).all().item<bool>()) return false;
  return true;
}

void TrainingState::save(const std::string& path, int64_t step, const std::string& config_yaml,
                         const std::vector<at::Tensor>& stream, const std::vector<at::Tensor>& loop) {
  CheckpointMeta m;
  m.stream_state = stream;
  m.loop_state = loop;
  m.step = step;
  m.config_yaml = config_yaml;
  m.rng_states = {data_gen.get_state(), noise_gen.get_state()};
  m.ema_updates = ema.updates();
  if (!more_ema.empty()) {
    std::vector<double> decays;
    for (const auto& e : more_ema) decays.push_back(e.decay());
    m.more_ema.push_back(at::tensor(decays, at::kDouble));
    for (const auto& e : more_ema) m.more_ema.push_back(e.flat());
  }
  if (!posthoc.empty()) {
    m.posthoc_ema.push_back(at::tensor(posthoc_sigma_rels, at::kDouble));
    for (const auto& e : posthoc) m.posthoc_ema.push_back(e.flat());
  }
  save_checkpoint(path, net, ema.shadow(), &opt, m);
}

void TrainingState::restore_list(std::vector<EMA>& list, const std::vector<double>& keys,
                                 const std::vector<at::Tensor>& stored, const std::string& path) {
  for (size_t k = 0; k < list.size(); ++k) {
    EMA& e = list[k];
    // One the checkpoint does not hold (added on resume) starts from the current weights.
    e.init(net.parameters());
    e.set_updates(ema.updates());
    if (stored.empty()) continue;
    for (int64_t i = 0; i < stored[0].numel(); ++i)
      if (stored[0][i].item<double>() == keys[k]) {
        TORCH_CHECK(stored.at(static_cast<size_t>(i) + 1).numel() == e.flat().numel(), path,
                    ": a stored EMA has another size than the model");
        e.flat().copy_(stored[static_cast<size_t>(i) + 1]);
      }
  }
}

void TrainingState::write_posthoc_snapshot(const std::string& run_dir, int64_t step) const {
  torch::serialize::OutputArchive ar;
  ar.write("step", c10::IValue(step));
  ar.write("sigma_rels", at::tensor(posthoc_sigma_rels, at::kDouble));
  std::vector<double> gammas;
  for (const auto& e : posthoc) gammas.push_back(e.gamma());
  ar.write("gammas", at::tensor(gammas, at::kDouble));
  for (size_t i = 0; i < posthoc.size(); ++i) ar.write("ema" + std::to_string(i), posthoc[i].flat());
  char name[64];
  std::snprintf(name, sizeof name, "/ema_snapshots/step_%09ld.pt", static_cast<long>(step));
  std::filesystem::create_directories(run_dir + "/ema_snapshots");
  atomic_publish(run_dir + name, [&](const std::string& tmp) { ar.save_to(tmp); });
}

CheckpointMeta TrainingState::restore(const std::string& path) {
  std::vector<at::Tensor> shadow;
  CheckpointMeta meta = load_checkpoint(path, &net, &shadow, &opt);
  opt.rebind();  // the module load replaced the parameters' storage
  ema.assign(shadow);
  ema.set_updates(meta.ema_updates);
  std::vector<double> decays;
  for (const auto& e : more_ema) decays.push_back(e.decay());
  restore_list(more_ema, decays, meta.more_ema, path);
  restore_list(posthoc, posthoc_sigma_rels, meta.posthoc_ema, path);
  if (meta.rng_states.size() == 2) {
    data_gen.set_state(meta.rng_states[0]);
    noise_gen.set_state(meta.rng_states[1]);
  }
  return meta;
}

}  // namespace scorelab
