#include "experiments/run_evaluation.h"

#include <H5public.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/version.h>

#include "core/fsutil.h"
#include "experiments/report/plots.h"

namespace scorelab {
namespace fs = std::filesystem;

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

// Data next to samples: a scatter of every evaluated point for 2-D data, image grids of
// eval.grid images; titled with the run and step, the metrics as caption.
namespace {
void plot_eval_samples(const Experiment& ex, const Evaluator& ev, const std::string& path, const at::Tensor& samples,
                       int64_t step, const Metrics& m) {
  const bool images = ex.data->is_image();
  if (!images && !(samples.dim() == 2 && samples.size(1) == 2)) return;
  const int64_t shown = images ? std::min<int64_t>(ex.eval.grid, samples.size(0)) : samples.size(0);
  const at::Tensor& ref = ev.reference();
  // The metrics, each with its floor (fresh data against the reference) where there is one.
  std::string caption;
  for (const auto& [k, v] : m) {
    if (k.size() > 6 && (k.rfind("_prior") == k.size() - 6 || k.rfind("_floor") == k.size() - 6)) continue;
    if (is_se_column(m, k)) continue;
    caption += (caption.empty() ? "" : ", ") + k + " " + value_with_se(m, k, 3);
    if (std::isfinite(metric_value(m, k + "_floor"))) caption += " (floor " + value_with_se(m, k + "_floor", 3) + ")";
  }
  plot_samples(path, ref.slice(0, 0, std::min<int64_t>(shown, ref.size(0))), samples.slice(0, 0, shown), images,
               ex.run.name + ": step " + std::to_string(step) + ", " + ex.cfg.at("sample").get_string("type", "") + " (" +
                   std::to_string(samples.size(0)) + " samples)",
               caption);
}

}  // namespace

std::vector<std::string> eval_columns(const Evaluator& ev) {
  std::vector<std::string> cols{"step", "nfe", "sample_seconds"};
  for (const auto& c : ev.columns()) cols.push_back(c);
  cols.push_back("eval_seconds");
  return cols;
}

SampleResult evaluate_at(const Experiment& ex, const Evaluator& ev, const ScoreModel& model, RunLog& log,
                         int64_t step, int64_t keep, const std::string& plot_path, Metrics* out, bool flush,
                         const std::string& progress_label) {
  auto t0 = std::chrono::steady_clock::now();
  SampleResult s = draw_samples(ex, model, std::max(keep, ex.eval.n), ex.run.seed, progress_label);
  Metrics m = ev.evaluate(model, s.x.slice(0, 0, ex.eval.n),
                          s.labels.defined() ? s.labels.slice(0, 0, ex.eval.n) : at::Tensor());
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::vector<double> row{static_cast<double>(step), static_cast<double>(s.nfe), s.seconds};
  for (const auto& [k, v] : m) row.push_back(v);
  row.push_back(seconds);
  log.append_row("eval", row);
  if (flush) log.flush();
  plot_eval_samples(ex, ev, plot_path, s.x.slice(0, 0, ex.eval.n), step, m);
  if (out) *out = m;
  return s;
}

std::string metrics_line(const Metrics& m) {
  std::string line;
  for (const auto& [k, v] : m)
    if (!is_se_column(m, k)) line += (line.empty() ? "" : "  ") + k + " " + value_with_se(m, k);
  return line;
}

void finish_with_evaluation(const Experiment& ex, const Evaluator& ev, const ScoreModel& model,
                            const std::string& model_label, RunLog& log, int64_t step, TrainSummary& sum) {
  Metrics m;
  SampleResult s = evaluate_at(ex, ev, model, log, step, ex.sample.n, sum.run_dir + "/samples/final.png", &m,
                                 /*flush=*/false);
  sum.metrics = m;
  sum.headline = ex.eval.headline;
  for (const auto& [k, v] : m) {
    if (k == ex.eval.headline) sum.headline_value = v;
    if (k == "sliced_w2") sum.sliced_w2 = v;
    if (k == "sliced_w2_prior") sum.sliced_w2_prior = v;
    if (k == "sliced_w2_floor") sum.sliced_w2_floor = v;
  }
  AttrMap attrs = ex.cfg.resolved_leaves("sample");
  attrs["model"] = model_label;
  log.write_array("samples/final", s.x.slice(0, 0, ex.sample.n), attrs,
                  {{"seed", static_cast<double>(ex.run.seed)}, {"nfe", static_cast<double>(s.nfe)},
                   {"step", static_cast<double>(step)}, {"seconds", s.seconds}});
  if (s.labels.defined())  // the class each sample was drawn given (sample.classes)
    log.write_array("samples/final_labels", s.labels.slice(0, 0, ex.sample.n), attrs, {});
  log.close();  // the final row and the samples appear in log.h5 together (core/h5log.h)
  std::printf("%s: step %ld (nfe %ld, %.2fs): %s %s\n  %s\n", sum.run_dir.c_str(), static_cast<long>(step),
              static_cast<long>(s.nfe), s.seconds, sum.headline.c_str(), value_with_se(m, sum.headline).c_str(),
              metrics_line(m).c_str());
}

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

}  // namespace scorelab
