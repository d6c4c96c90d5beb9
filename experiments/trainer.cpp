#include "experiments/trainer.h"

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <optional>
#include <sstream>
#include <thread>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <H5public.h>
#include <torch/optim/adam.h>
#include <torch/version.h>

#include "core/checkpoint.h"
#include "core/device.h"
#include "core/distributed.h"
#include "core/fsutil.h"
#include "core/h5log.h"
#include "core/signals.h"
#include "core/progress.h"
#include "experiments/evaluation/evaluation.h"
#include "experiments/resume_changes.h"
#include "experiments/run_evaluation.h"
#include "experiments/training_state.h"
#include "experiments/report/plots.h"
#include "networks/ema.h"
#include "networks/embedding.h"

namespace scorelab {
namespace fs = std::filesystem;

namespace {

// Finished = trained to the end and evaluated there (a run stopped during its final evaluation
// resumes to evaluate).
bool finished(const Experiment& ex, const std::string& log_path, int64_t ckpt_step) {
  if (ckpt_step < ex.train.steps) return false;
  try {
    std::vector<double> eval_steps = RunLog::read_column(log_path, "eval/step");
    return !eval_steps.empty() && eval_steps.back() == static_cast<double>(ckpt_step);
  } catch (const std::exception&) {
    return false;
  }
}

// Threads: measured on this model's own training step, unless fixed in the config. Ranks of a
// data-parallel run split the machine's cores among the processes on it (no measurement: the
// ranks would measure each other).
int choose_threads(const Experiment& ex, ScoreModel& model, TrainingState& st) {
  if (ex.run.threads > 0) {
    at::set_num_threads(static_cast<int>(ex.run.threads));
    return static_cast<int>(ex.run.threads);
  }
  if (!ex.device.is_cpu()) return at::get_num_threads();
  if (const ProcessGroup* pg = process_group()) {
    const int n = std::max(1, available_cores() / std::max(1, pg->env().local_world));
    at::set_num_threads(n);
    return n;
  }
  at::Generator probe_gen = make_generator(ex.run.seed + 99);
  at::Tensor x = ex.data->sample(ex.train.batch_size, probe_gen).to(ex.device, ex.run.dtype);
  return autotune_threads(
      [&] {
        auto r = (*ex.loss)(model, x, probe_gen);
        r.loss.backward();
        st.opt.zero_grad();
      },
      available_cores());
}

// The log's tables: /train (step, loss, loss parts, grad norm, lr, EMA decay, timing) and /eval.
void declare_tables(RunLog& log, const Experiment& ex, const Evaluator& ev) {
  std::vector<std::string> train_cols{"step", "loss"};
  for (const auto& p : ex.loss->part_names()) train_cols.push_back(p);
  for (const char* c : {"grad_norm", "lr", "ema_decay", "seconds", "steps_per_sec", "nonfinite_steps", "loss_q0",
                        "loss_q1", "loss_q2", "loss_q3"})
    train_cols.push_back(c);
  log.declare_table("train", train_cols);
  log.declare_table("eval", eval_columns(ev));
  log.start_swmr();
}

// Loss (and parts, grad norm) summed on the device between log rows: one host sync per row.
struct LossAccumulator {
  std::vector<at::Tensor> sum;
  void add(const LossResult& r, const std::vector<std::string>& parts, const at::Tensor& gnorm) {
    std::vector<at::Tensor> now{r.loss.detach()};
    for (const auto& p : parts) now.push_back(r.parts.at(p));
    now.push_back(gnorm.detach());
    if (sum.empty()) {
      sum = now;
    } else {
      for (size_t i = 0; i < sum.size(); ++i) sum[i] = sum[i] + now[i];
    }
  }
  // The examples' unweighted errors per quarter of the loss's time range (LossResult's
  // per_example and t_frac): sums and counts, [4] float64.
  at::Tensor q_sum, q_count;
  void add_quantiles(const LossResult& r) {
    if (!r.per_example.defined() || !r.t_frac.defined()) return;
    const at::Tensor bin = (r.t_frac * 4).floor().clamp(0, 3).to(at::kLong);
    if (!q_sum.defined()) {
      q_sum = at::zeros({4}, r.per_example.options().dtype(at::kDouble));
      q_count = at::zeros_like(q_sum);
    }
    q_sum.index_add_(0, bin, r.per_example.to(at::kDouble));
    q_count.index_add_(0, bin, at::ones_like(r.per_example, r.per_example.options().dtype(at::kDouble)));
  }
  // Mean error per quarter (NaN where no example fell), then the interval starts anew.
  std::vector<double> quantile_means() {
    if (!q_sum.defined()) return std::vector<double>(4, std::nan(""));
    at::Tensor m = (q_sum / q_count).to(at::kCPU).contiguous();
    q_sum = q_count = at::Tensor();
    return std::vector<double>(m.data_ptr<double>(), m.data_ptr<double>() + 4);
  }
  // The partial interval for a checkpoint: the sums (none before the first step added), the
  // counts of finite and skipped steps, then the quantile sums and counts (when there are any).
  std::vector<at::Tensor> state(int64_t good, int64_t bad) const {
    std::vector<at::Tensor> s = sum;
    s.push_back(at::tensor({good, bad}, at::kLong));
    if (q_sum.defined()) {
      s.push_back(q_sum);
      s.push_back(q_count);
    }
    return s;
  }
  void restore(std::vector<at::Tensor> s, int64_t& good, int64_t& bad) {
    if (s.empty()) return;  // a checkpoint of an older version: the interval restarts
    if (s.size() >= 3 && s.back().scalar_type() == at::kDouble && s.back().numel() == 4) {
      q_count = s.back();
      s.pop_back();
      q_sum = s.back();
      s.pop_back();
    }
    sum.assign(s.begin(), s.end() - 1);
    good = s.back()[0].item<int64_t>();
    bad = s.back()[1].item<int64_t>();
  }
  // Means over the n steps added (the one host sync); NaN for all when none was.
  std::vector<double> means(double n, size_t columns) {
    if (sum.empty()) return std::vector<double>(columns, std::nan(""));
    at::Tensor m = (at::stack(sum) / n).to(at::kCPU, at::kDouble).contiguous();
    sum.clear();
    return std::vector<double>(m.data_ptr<double>(), m.data_ptr<double>() + m.numel());
  }
};

// checkpoints/step_<step>.pt beside last.pt (a hard link to it, or a copy), then only the
// newest `keep` of them remain.
void keep_recent_checkpoints(const std::string& last, int64_t step, int64_t keep) {
  const fs::path dir = fs::path(last).parent_path();
  char name[32];
  std::snprintf(name, sizeof name, "step_%08ld.pt", static_cast<long>(step));
  const fs::path kept = dir / name;
  std::error_code ec;
  fs::remove(kept, ec);
  fs::create_hard_link(last, kept, ec);
  if (ec) fs::copy_file(last, kept, fs::copy_options::overwrite_existing);
  std::vector<std::pair<int64_t, fs::path>> all;  // (step, file)
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string n = e.path().filename().string();
    if (n.size() < 9 || n.compare(0, 5, "step_") != 0 || n.compare(n.size() - 3, 3, ".pt") != 0) continue;
    const std::string digits = n.substr(5, n.size() - 8);
    if (digits.find_first_not_of("0123456789") == std::string::npos) all.emplace_back(std::stoll(digits), e.path());
  }
  std::sort(all.begin(), all.end());
  for (size_t i = 0; i + static_cast<size_t>(keep) < all.size(); ++i) fs::remove(all[i].second, ec);
}

}  // namespace

TrainSummary train(Experiment& ex) {
  TrainSummary sum;
  // Data-parallel (core/distributed.h): every rank trains alike on its rows of each batch; rank 0
  // (the lead) alone writes the run directory, evaluates and prints.
  ProcessGroup* pg = process_group();
  const bool lead = !pg || pg->rank() == 0;
  if (!lead) Progress::set_quiet(true);
  sum.run_dir = ex.run_dir();
  const std::string log_path = sum.run_dir + "/log.h5";
  const std::string ckpt_path = sum.run_dir + "/checkpoints/last.pt";
  const bool resuming = ex.train.resume && fs::exists(ckpt_path);

  // Decide what to do before writing anything.
  if ((fs::exists(log_path) || fs::exists(ckpt_path)) && !ex.train.resume)
    ex.cfg.at("train").fail("resume", sum.run_dir +
                                          " already holds a run; set train.resume=true to continue it, or "
                                          "choose another run.name");
  std::shared_ptr<ScoreModel> model = ex.make_model();
  check_sample_labels(ex.sample, *model);
  if (ex.train.steps > 0 && !model->module())
    ex.cfg.at("train").fail("steps", "the model is exact (an oracle) and has nothing to train; set train.steps=0 "
                                     "to evaluate its samples");
  if (!model->module()) {
    if (pg) ex.cfg.at("train").fail("steps", "an oracle has nothing to train: run it in one process");
    return evaluate_only(ex, *model);
  }
  if (pg) {
    if (ex.train.batch_size < pg->world())
      ex.cfg.at("train").fail("batch_size", std::to_string(ex.train.batch_size) + " is fewer rows than the " +
                                                std::to_string(pg->world()) + " processes: each needs at least one");
    const auto [first, end] = shard_rows(ex.train.batch_size, pg->rank(), pg->world());
    ex.loss->set_shard(first, end);
  }
  check_allow_changes(ex.cfg, ex.train.allow_changes);
  auto remove_temporaries = [&] {  // what a killed writer left: checkpoint and config temporaries
    remove_stale_temporaries(sum.run_dir + "/checkpoints");
    remove_stale_temporaries(sum.run_dir);
  };
  torch::nn::Module& net = *model->module();
  TrainingState st(ex, net);
  CheckpointMeta meta;
  std::string amendments;  // hyper-parameters this resume changes (experiments/resume_changes.h)
  if (resuming) {  // the checkpoint is read once, into the state it restores
    const CheckpointMeta recorded = load_checkpoint(ckpt_path, nullptr, nullptr, nullptr);
    amendments = check_resume_changes(ex.cfg, ex.train.allow_changes, recorded.config_yaml, recorded.step);
    meta = st.restore(ckpt_path);
    ex.data->set_stream_state(meta.stream_state);
    sum.start_step = meta.step;
    if (finished(ex, log_path, meta.step)) {
      if (lead) std::cout << sum.run_dir << ": already finished at step " << meta.step << " (train.steps = " << ex.train.steps
                << "); nothing to do\n";
      sum.already_finished = true;
      sum.final_step = meta.step;
      if (lead) remove_temporaries();
      return sum;
    }
  }
  int64_t n_params = 0;
  for (const auto& p : st.params) n_params += p.numel();
  if (lead)
    std::cout << ex.run.name << ": model " << ex.cfg.at("model").get_string("type", "mlp") << ", " << n_params
              << " parameters, device " << ex.device.str()
              << (pg ? ", " + std::to_string(pg->world()) + " processes (" + pg->env().launcher + ")" : std::string()) << "\n";
  sum.threads = choose_threads(ex, *model, st);

  // Everything is checked: from here on the run writes. One process per run directory (two
  // copies of a run, or of a sweep, would corrupt it). Data-parallel ranks check first, all of
  // them, before the lead writes (a rank checking later would find the lead's files).
  if (pg) pg->barrier();
  std::optional<DirLock> lock;
  std::unique_ptr<RunLog> log;
  std::optional<Evaluator> ev;
  if (lead) {
    fs::create_directories(sum.run_dir);
    lock.emplace(sum.run_dir, "run");
    remove_temporaries();
    fs::create_directories(sum.run_dir + "/checkpoints");
    fs::create_directories(sum.run_dir + "/samples");
    // config.yaml is the run's config as it started; a resume's changes go to log.h5's amendments.
    if (!resuming || !fs::exists(sum.run_dir + "/config.yaml"))
      atomic_write_text(sum.run_dir + "/config.yaml", ex.cfg.resolved_yaml());
    if (resuming) {
      AttrMap attrs = run_attrs(ex, sum.threads);
      attrs.erase("config");  // the recorded config stays; changes are appended as amendments
      if (!amendments.empty()) {
        std::string before;
        try {
          before = RunLog::read_attr(log_path, "/", "amendments");
        } catch (const std::exception&) {
        }
        attrs["amendments"] = before + amendments;
      }
      log = RunLog::resume(log_path, sum.start_step, attrs);
      std::cout << "resuming " << sum.run_dir << " from step " << sum.start_step << "\n";
    } else {
      log = RunLog::create(log_path, run_attrs(ex, sum.threads));
    }
    ev.emplace(ex, ex.eval.n, ex.eval.projections, ex.run.seed);
    declare_tables(*log, ex, *ev);  // publishes the (rebuilt) log
  }  // lead

  // Training loop: losses are accumulated on the device and read once per log interval.
  const std::vector<std::string> parts = ex.loss->part_names();
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
    st.ema_of(ex.sample.ema)->copy_to(ema_model->module()->parameters());  // sample.ema: which of the EMAs
    return *ema_model;
  };
  LossAccumulator acc;
  install_stop_handlers();  // SIGINT / SIGTERM stop the loop after a checkpoint (core/signals.h)
  ex.loss->set_per_example(true);  // the /train loss_q* columns
  int64_t good = 0, bad = 0;  // finite and skipped steps since the last log row
  acc.restore(meta.loop_state, good, bad);
  // The per-quarter error sums are per rank until summed: at each log row, and before a
  // checkpoint (whose partial sums are then the lead's, the others' restarting from zero).
  auto sum_quantiles = [&] {
    if (!pg || !acc.q_sum.defined()) return;
    pg->allreduce_sum(acc.q_sum);
    pg->allreduce_sum(acc.q_count);
    if (!lead) {
      acc.q_sum.zero_();
      acc.q_count.zero_();
    }
  };
  if (!lead && acc.q_sum.defined()) {  // the checkpoint's partial sums are the lead's
    acc.q_sum.zero_();
    acc.q_count.zero_();
  }
  auto save = [&](int64_t step) {
    sum_quantiles();
    if (!lead) return;
    st.save(ckpt_path, step, ex.cfg.resolved_yaml(), ex.data->stream_state(), acc.state(good, bad));
    if (ex.train.keep_checkpoints > 0) keep_recent_checkpoints(ckpt_path, step, ex.train.keep_checkpoints);
  };
  int64_t last_saved = resuming ? sum.start_step : -1;  // the step checkpoints/last.pt holds
  net.train();
  for (int64_t step = sum.start_step + 1; step <= ex.train.steps; ++step) {
    at::Tensor gnorm;
    st.stop_requested = stop_signal() != 0;  // data-parallel: agreed on in the step's all-reduce
    LossResult r = st.step(ex, *model, gnorm);
    // A non-finite loss or gradient (FusedAdam has then left the weights as they were): stop
    // before anything is checkpointed, or skip the step. Reading the two scalars is free on the
    // CPU (one sync per step on a GPU).
    const bool saving = step % ex.train.ckpt_every == 0 || step == ex.train.steps;
    const bool weights_finite = !saving || st.finite();  // checked only where a checkpoint follows
    if (!std::isfinite(r.loss.item<double>()) || !std::isfinite(gnorm.item<double>()) || !weights_finite) {
      if (ex.train.on_nonfinite == "stop") {
        if (!lead) {  // the lead says it; every rank saw the same sums
          sum.stopped_nonfinite = true;
          sum.final_step = step - 1;
          remove_stop_handlers();
          return sum;
        }
        log->flush();
        std::string what = "loss " + std::to_string(r.loss.item<double>());
        for (const auto& p : parts) what += ", " + p + " " + std::to_string(r.parts.at(p).item<double>());
        what += ", gradient norm " + std::to_string(gnorm.item<double>());
        std::cerr << "\n" << sum.run_dir << ": step " << step << ": non-finite " << what
                  << ". Stopped (train.on_nonfinite: stop); "
                  << (last_saved >= 0 ? "checkpoints/last.pt keeps step " + std::to_string(last_saved)
                                      : std::string("no checkpoint had been written"))
                  << ". Lower train.lr or set train.grad_clip, then resume with train.resume=true; "
                     "train.on_nonfinite=skip skips such steps instead.\n";
        sum.stopped_nonfinite = true;
        sum.final_step = step - 1;
        remove_stop_handlers();
        return sum;
      }
      ++bad;
      ++sum.nonfinite_steps;
    } else {
      acc.add(r, parts, gnorm);
      acc.add_quantiles(r);
      ++good;
    }

    if (step % ex.train.log_every == 0 || step == ex.train.steps) {
      const double n = static_cast<double>(step - last_logged);
      std::vector<double> row{static_cast<double>(step)};
      for (double v : acc.means(static_cast<double>(good), parts.size() + 2)) row.push_back(v);
      auto tn = std::chrono::steady_clock::now();
      row.push_back(st.opt.options().lr);  // the last update's (train.lr_schedule)
      row.push_back(st.ema.current_decay());
      row.push_back(std::chrono::duration<double>(tn - t0).count());
      row.push_back(n / std::max(1e-9, std::chrono::duration<double>(tn - t_last).count()));
      row.push_back(static_cast<double>(bad));
      sum_quantiles();
      for (double v : acc.quantile_means()) row.push_back(v);
      good = bad = 0;
      if (log) {
        log->append_row("train", row);
        log->flush();
      }
      char status[64];
      std::snprintf(status, sizeof status, "loss %.4g", row[1]);
      bar.update(step, status);
      last_logged = step;
      t_last = tn;
    }
    if (lead && ex.train.posthoc_every > 0 && (step % ex.train.posthoc_every == 0 || step == ex.train.steps) &&
        (saving ? weights_finite : st.finite()))
      st.write_posthoc_snapshot(sum.run_dir, step);  // train.posthoc_ema (networks/posthoc_ema.h)
    if (saving && weights_finite) {
      save(step);
      last_saved = step;
    }
    if (!lead && ex.eval.every > 0 && step % ex.eval.every == 0 && step < ex.train.steps) {
      // The lead evaluates; every rank draws its share of the samples (draw_samples gathers them).
      net.eval();
      draw_samples(ex, ex.sample.use_ema ? with_ema_weights() : *model, ex.eval.n, ex.run.seed, "");
      net.train();
    }
    if (lead && ex.eval.every > 0 && step % ex.eval.every == 0 && step < ex.train.steps) {
      // Metrics and a plot with the current EMA weights (the same x_T every time).
      ScoreModel& snapshot = ex.sample.use_ema ? with_ema_weights() : *model;
      // Its own progress bar (sampling) and time: the next /train row's steps_per_sec counts
      // training only (the /eval row has sample_seconds and eval_seconds).
      net.eval();
      if (!Progress::quiet()) std::cerr << "\n";
      char name[64];
      std::snprintf(name, sizeof name, "/samples/step_%08ld.png", static_cast<long>(step));
      Metrics m;
      const auto e0 = std::chrono::steady_clock::now();
      evaluate_at(ex, *ev, snapshot, *log, step, 0, sum.run_dir + name, &m, true, "eval at step " + std::to_string(step));
      const auto e1 = std::chrono::steady_clock::now();
      t_last += e1 - e0;
      bar.exclude(e1 - e0);
      net.train();
      std::printf("  step %ld (evaluation %.1fs): %s\n", static_cast<long>(step),
                  std::chrono::duration<double>(e1 - e0).count(), metrics_line(m).c_str());
      std::fflush(stdout);
    }
    // Data-parallel: every rank stops at the step where one asked (st.stop_agreed).
    const int sig = !pg ? stop_signal() : st.stop_agreed ? (stop_signal() ? stop_signal() : SIGTERM) : 0;
    if (sig) {  // SIGINT / SIGTERM: checkpoint this step, flush, stop
      if (last_saved != step && st.finite()) {
        save(step);
        last_saved = step;
      }
      if (log) log->flush();
      if (lead)
        std::cerr << "\n" << sum.run_dir << ": " << signal_name(sig) << " after step " << step
                << "; checkpoints/last.pt holds step " << last_saved
                << " and the log is flushed. Resume with the same command and train.resume=true.\n";
      sum.stopped_signal = sig;
      sum.final_step = step;
      remove_stop_handlers();
      return sum;
    }
  }
  remove_stop_handlers();  // the final evaluation ends at the first signal (it resumes)
  if (sum.start_step >= ex.train.steps) save(ex.train.steps);  // every rank: it sums the partial log interval
  if (!lead) {  // trained: this rank's share of the final samples; the lead evaluates and writes the rest
    net.eval();
    draw_samples(ex, ex.sample.use_ema ? with_ema_weights() : *model, std::max(ex.sample.n, ex.eval.n), ex.run.seed, "");
    sum.final_step = ex.train.steps;
    return sum;
  }
  if (const int sig = stop_signal()) {
    std::cerr << "\n" << sum.run_dir << ": " << signal_name(sig) << " after the last step; checkpoints/last.pt holds step "
              << ex.train.steps << ". Resume with train.resume=true to run the final evaluation.\n";
    sum.stopped_signal = sig;
    sum.final_step = ex.train.steps;
    return sum;
  }
  bar.finish();
  sum.final_step = ex.train.steps;

  // Final evaluation on the EMA weights, then the loss curve (log scale) of the whole run.
  net.eval();
  ScoreModel& sampler_model = ex.sample.use_ema ? with_ema_weights() : *model;
  finish_with_evaluation(ex, *ev, sampler_model, ex.sample.use_ema ? "ema" : "raw", *log, ex.train.steps, sum);
  // From the closed log: the whole run's rows, earlier processes' included.
  const std::vector<double> curve_steps = RunLog::read_column(log_path, "train/step");
  if (curve_steps.size() > 1)
    plot_loss(sum.run_dir + "/samples/loss.png", ex.run.name + ": training loss (" + ex.cfg.at("loss").get_string("type", "") + ")",
              curve_steps, RunLog::read_column(log_path, "train/loss"),
              {RunLog::read_column(log_path, "train/loss_q0"), RunLog::read_column(log_path, "train/loss_q1"),
               RunLog::read_column(log_path, "train/loss_q2"), RunLog::read_column(log_path, "train/loss_q3")});
  plot_eval_history(log_path, sum.run_dir + "/samples/metrics.png", ex.run.name + ": evaluation during training");
  return sum;
}

}  // namespace scorelab
