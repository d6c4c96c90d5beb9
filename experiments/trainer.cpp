#include "experiments/trainer.h"

#include <chrono>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <sstream>
#include <thread>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <H5public.h>
#include <torch/optim/adam.h>
#include <torch/version.h>

#include "core/checkpoint.h"
#include "core/device.h"
#include "core/fsutil.h"
#include "core/h5log.h"
#include "core/progress.h"
#include "experiments/evaluation.h"
#include "experiments/plot.h"
#include "networks/ema.h"
#include "networks/embedding.h"

namespace scorelab {
namespace fs = std::filesystem;

namespace {

AttrMap run_attrs(const Experiment& ex, int threads) {
  std::ostringstream h5;
  h5 << H5_VERS_MAJOR << "." << H5_VERS_MINOR << "." << H5_VERS_RELEASE;
  return {{"config", ex.cfg.resolved_yaml()},
          {"name", ex.run.name},
          {"scorelab_version", SCORELAB_VERSION},
          {"torch_version", TORCH_VERSION},
          {"hdf5_version", h5.str()},
          {"device", ex.device.str()},
          {"threads", std::to_string(threads)}};
}

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


// Data next to samples: a scatter plot for 2-D points, image grids for images.
void plot_samples(const Experiment& ex, const std::string& path, const at::Tensor& data, const at::Tensor& samples) {
  if (ex.data->is_image()) {
    int64_t n = std::min<int64_t>({64, data.size(0), samples.size(0)});
    write_image_grids(path, {data.slice(0, 0, n), samples.slice(0, 0, n)}, -1.0, 1.0);
  } else if (samples.dim() == 2 && samples.size(1) == 2) {
    double extent = std::max(3.0, 1.15 * data.abs().max().item<double>());
    write_scatter_png(path, {{data, 40, 40, 40}, {samples, 31, 119, 180}}, extent);
  }
}

std::vector<std::string> eval_columns(const Evaluator& ev) {
  std::vector<std::string> cols{"step", "nfe", "sample_seconds"};
  for (const auto& c : ev.columns()) cols.push_back(c);
  cols.push_back("eval_seconds");
  return cols;
}

// One evaluation at `step`: max(keep, eval.n) samples from the same x_T as every other
// evaluation of the run, their metrics (first eval.n samples) and the model's held-out NLL as
// a row of /eval, and a plot of data next to samples. Returns the samples.
SampleResult evaluate_at(const Experiment& ex, const Evaluator& ev, const ScoreModel& model, RunLog& log,
                         int64_t step, int64_t keep, const std::string& plot_path, Metrics* out) {
  auto t0 = std::chrono::steady_clock::now();
  SampleResult s = draw_samples(ex, model, std::max(keep, ex.eval.n), ex.run.seed, "sample");
  Metrics m = ev.evaluate(model, s.x.slice(0, 0, ex.eval.n));
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::vector<double> row{static_cast<double>(step), static_cast<double>(s.nfe), s.seconds};
  for (const auto& [k, v] : m) row.push_back(v);
  row.push_back(seconds);
  log.append_row("eval", row);
  log.flush();
  int64_t shown = std::min<int64_t>(ex.eval.grid, s.x.size(0));
  plot_samples(ex, plot_path, ev.reference().slice(0, 0, std::min<int64_t>(shown, ev.reference().size(0))),
               s.x.slice(0, 0, shown));
  if (out) *out = m;
  return s;
}

std::string metrics_line(const Metrics& m) {
  std::string line;
  char buf[64];
  for (const auto& [k, v] : m) {
    std::snprintf(buf, sizeof buf, "%s%s %.4g", line.empty() ? "" : "  ", k.c_str(), v);
    line += buf;
  }
  return line;
}

// The final evaluation: sample.n samples kept as /samples/final (+ final.png), the metrics row,
// a summary line; closes the log.
void finish_with_evaluation(const Experiment& ex, const Evaluator& ev, const ScoreModel& model,
                            const std::string& model_label, RunLog& log, int64_t step, TrainSummary& sum) {
  Metrics m;
  SampleResult s = evaluate_at(ex, ev, model, log, step, ex.sample.n, sum.run_dir + "/samples/final.png", &m);
  sum.metrics = m;
  for (const auto& [k, v] : m) {
    if (k == "sliced_w2") sum.sliced_w2 = v;
    if (k == "sliced_w2_prior") sum.sliced_w2_prior = v;
    if (k == "sliced_w2_floor") sum.sliced_w2_floor = v;
  }
  AttrMap attrs = ex.sampler->settings();
  attrs["model"] = model_label;
  log.write_array("samples/final", s.x.slice(0, 0, ex.sample.n), attrs,
                  {{"seed", static_cast<double>(ex.run.seed)}, {"nfe", static_cast<double>(s.nfe)},
                   {"step", static_cast<double>(step)}, {"seconds", s.seconds}});
  log.close();
  std::printf("%s: step %ld (nfe %ld, %.2fs)\n  %s\n", sum.run_dir.c_str(), static_cast<long>(step),
              static_cast<long>(s.nfe), s.seconds, metrics_line(m).c_str());
}

// An exact (oracle) model has nothing to train: its run is the evaluation of its samples.
TrainSummary evaluate_only(Experiment& ex, const ScoreModel& model) {
  TrainSummary sum;
  sum.run_dir = ex.run_dir();
  fs::create_directories(sum.run_dir + "/samples");
  atomic_write_text(sum.run_dir + "/config.yaml", ex.cfg.resolved_yaml());
  if (ex.run.threads > 0) at::set_num_threads(static_cast<int>(ex.run.threads));
  sum.threads = at::get_num_threads();
  Evaluator ev(ex, ex.eval.n, ex.eval.projections, ex.run.seed);
  auto log = RunLog::create(sum.run_dir + "/log.h5", run_attrs(ex, sum.threads));
  log->declare_table("eval", eval_columns(ev));
  log->start_swmr();
  finish_with_evaluation(ex, ev, model, "oracle", *log, 0, sum);
  return sum;
}

}  // namespace

TrainSummary train(Experiment& ex) {
  TrainSummary sum;
  sum.run_dir = ex.run_dir();
  const std::string log_path = sum.run_dir + "/log.h5";
  const std::string ckpt_path = sum.run_dir + "/checkpoints/last.pt";
  const bool has_ckpt = fs::exists(ckpt_path);

  // Decide what to do before writing anything.
  if ((fs::exists(log_path) || has_ckpt) && !ex.train.resume)
    ex.cfg.at("train").fail("resume", sum.run_dir +
                                          " already holds a run; set train.resume=true to continue it, or "
                                          "choose another run.name");
  std::shared_ptr<ScoreModel> model = ex.make_model();
  if (ex.train.steps > 0 && !model->module())
    ex.cfg.at("train").fail("steps", "the model is exact (an oracle) and has nothing to train; set train.steps=0 "
                                     "to evaluate its samples");
  CheckpointMeta meta;
  if (ex.train.resume && has_ckpt) {
    meta = load_checkpoint(ckpt_path, nullptr, nullptr, nullptr);
    // Finished = trained to the end and evaluated there (a run stopped during its final
    // evaluation resumes to evaluate).
    bool evaluated = false;
    try {
      std::vector<double> eval_steps = RunLog::read_column(log_path, "eval/step");
      evaluated = !eval_steps.empty() && eval_steps.back() == static_cast<double>(meta.step);
    } catch (const std::exception&) {
    }
    if (meta.step >= ex.train.steps && evaluated) {
      std::cout << sum.run_dir << ": already finished at step " << meta.step << " (train.steps = " << ex.train.steps
                << "); nothing to do\n";
      sum.already_finished = true;
      sum.start_step = sum.final_step = meta.step;
      return sum;
    }
  }

  if (!model->module()) return evaluate_only(ex, *model);

  // Model, optimiser, EMA, generators.
  torch::nn::Module& net = *model->module();
  at::Generator init_gen = make_generator(ex.run.seed ^ 0x1a2b3c4dULL);
  init_parameters(net, init_gen);
  net.to(ex.device, ex.run.dtype);
  std::vector<at::Tensor> params = net.parameters();
  int64_t n_params = 0;
  for (const auto& p : params) n_params += p.numel();
  std::cout << ex.run.name << ": model " << ex.cfg.at("model").get_string("type", "mlp") << ", " << n_params
            << " parameters, device " << ex.device.str() << "\n";
  torch::optim::Adam opt(params, torch::optim::AdamOptions(ex.train.lr));
  EMA ema(ex.train.ema_decay, ex.train.ema_warmup);
  ema.init(params);
  at::Generator data_gen = make_generator(ex.run.seed);                     // CPU: data
  at::Generator noise_gen = make_generator(ex.run.seed + 1, ex.device);    // device: loss noise
  auto next_batch = [&] { return ex.data->batch(ex.train.batch_size, data_gen).to(ex.device, ex.run.dtype); };

  // Threads: measured on this model's own training step, unless fixed in the config.
  if (ex.run.threads > 0) {
    at::set_num_threads(static_cast<int>(ex.run.threads));
    sum.threads = static_cast<int>(ex.run.threads);
  } else if (ex.device.is_cpu()) {
    at::Generator probe_gen = make_generator(ex.run.seed + 99);
    at::Tensor x = ex.data->sample(ex.train.batch_size, probe_gen).to(ex.device, ex.run.dtype);
    sum.threads = autotune_threads(
        [&] {
          auto r = (*ex.loss)(*model, x, probe_gen);
          r.loss.backward();
          opt.zero_grad();
        },
        static_cast<int>(std::thread::hardware_concurrency()));
  }

  fs::create_directories(sum.run_dir + "/checkpoints");
  fs::create_directories(sum.run_dir + "/samples");
  atomic_write_text(sum.run_dir + "/config.yaml", ex.cfg.resolved_yaml());

  std::unique_ptr<RunLog> log;
  if (ex.train.resume && has_ckpt) {
    std::vector<at::Tensor> shadow;
    meta = load_checkpoint(ckpt_path, &net, &shadow, &opt);
    ema.shadow() = shadow;
    ema.set_updates(meta.ema_updates);
    if (meta.rng_states.size() == 2) {
      data_gen.set_state(meta.rng_states[0]);
      noise_gen.set_state(meta.rng_states[1]);
    }
    sum.start_step = meta.step;
    log = RunLog::resume(log_path, meta.step, run_attrs(ex, sum.threads));
    std::cout << "resuming " << sum.run_dir << " from step " << meta.step << "\n";
  } else {
    log = RunLog::create(log_path, run_attrs(ex, sum.threads));
  }
  std::vector<std::string> parts = ex.loss->part_names();
  std::vector<std::string> train_cols{"step", "loss"};
  train_cols.insert(train_cols.end(), parts.begin(), parts.end());
  for (const char* c : {"grad_norm", "lr", "ema_decay", "seconds", "steps_per_sec"}) train_cols.push_back(c);
  log->declare_table("train", train_cols);
  Evaluator ev(ex, ex.eval.n, ex.eval.projections, ex.run.seed);
  log->declare_table("eval", eval_columns(ev));
  log->start_swmr();

  auto save = [&](int64_t step) {
    CheckpointMeta m;
    m.step = step;
    m.config_yaml = ex.cfg.resolved_yaml();
    m.rng_states = {data_gen.get_state(), noise_gen.get_state()};
    m.ema_updates = ema.updates();
    save_checkpoint(ckpt_path, net, ema.shadow(), &opt, m);
  };

  // Training loop: losses are accumulated on the device and read once per log interval.
  Progress bar("train " + ex.run.name, ex.train.steps, sum.start_step);
  auto t0 = std::chrono::steady_clock::now();
  auto t_last = t0;
  int64_t last_logged = sum.start_step;
  std::shared_ptr<ScoreModel> ema_model;  // the EMA weights in a model, built on first use
  auto with_ema_weights = [&]() -> ScoreModel& {
    if (!ema_model) {
      ema_model = ex.make_model();
      ema_model->module()->to(ex.device, ex.run.dtype);
      ema_model->module()->eval();
    }
    ema.copy_to(ema_model->module()->parameters());
    return *ema_model;
  };
  std::vector<at::Tensor> acc;  // loss, parts..., grad_norm
  net.train();
  for (int64_t step = sum.start_step + 1; step <= ex.train.steps; ++step) {
    at::Tensor x = next_batch();
    LossResult r = (*ex.loss)(*model, x, noise_gen);
    opt.zero_grad();
    r.loss.backward();
    at::Tensor gnorm = clip_grad_norm(params, ex.train.grad_clip);
    opt.step();
    ema.update(params);
    std::vector<at::Tensor> now{r.loss.detach()};
    for (const auto& p : parts) now.push_back(r.parts.at(p));
    now.push_back(gnorm.detach());
    if (acc.empty()) {
      acc = now;
    } else {
      for (size_t i = 0; i < acc.size(); ++i) acc[i] = acc[i] + now[i];
    }

    if (step % ex.train.log_every == 0 || step == ex.train.steps) {
      double n = static_cast<double>(step - last_logged);
      at::Tensor means = (at::stack(acc) / n).to(at::kCPU, at::kDouble);  // the one host sync
      auto m = means.accessor<double, 1>();
      auto tn = std::chrono::steady_clock::now();
      double seconds = std::chrono::duration<double>(tn - t0).count();
      double rate = n / std::max(1e-9, std::chrono::duration<double>(tn - t_last).count());
      std::vector<double> row{static_cast<double>(step)};
      for (int64_t i = 0; i < means.size(0); ++i) row.push_back(m[i]);
      row.push_back(ex.train.lr);
      row.push_back(ema.current_decay());
      row.push_back(seconds);
      row.push_back(rate);
      log->append_row("train", row);
      log->flush();
      char status[64];
      std::snprintf(status, sizeof status, "loss %.4g", m[0]);
      bar.update(step, status);
      acc.clear();
      last_logged = step;
      t_last = tn;
    }
    if (step % ex.train.ckpt_every == 0 || step == ex.train.steps) save(step);
    if (ex.eval.every > 0 && step % ex.eval.every == 0 && step < ex.train.steps) {
      // Metrics and a plot with the current EMA weights (the same x_T every time).
      ScoreModel& snapshot = ex.sample.use_ema ? with_ema_weights() : *model;
      net.eval();
      const bool was_quiet = Progress::quiet();
      Progress::set_quiet(true);
      char name[64];
      std::snprintf(name, sizeof name, "/samples/step_%08ld.png", static_cast<long>(step));
      Metrics m;
      evaluate_at(ex, ev, snapshot, *log, step, 0, sum.run_dir + name, &m);
      Progress::set_quiet(was_quiet);
      net.train();
      if (!Progress::quiet()) std::printf("\n  step %ld: %s\n", static_cast<long>(step), metrics_line(m).c_str());
    }
  }
  if (sum.start_step >= ex.train.steps) save(ex.train.steps);
  bar.finish();
  sum.final_step = ex.train.steps;

  // Final evaluation on the EMA weights.
  net.eval();
  ScoreModel& sampler_model = ex.sample.use_ema ? with_ema_weights() : *model;
  finish_with_evaluation(ex, ev, sampler_model, ex.sample.use_ema ? "ema" : "raw", *log, ex.train.steps, sum);
  // Loss curve (log scale) of the whole run, from the log.
  std::vector<double> steps = RunLog::read_column(log_path, "train/step"), loss = RunLog::read_column(log_path, "train/loss");
  if (steps.size() > 1) write_line_plot(sum.run_dir + "/samples/loss.png", {{steps, loss}}, false, true);
  return sum;
}

}  // namespace scorelab
