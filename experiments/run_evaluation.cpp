#include "experiments/run_evaluation.h"

#include <H5public.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/version.h>

#include "core/fsutil.h"
#include "experiments/report/plot.h"

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

// Data next to samples: a scatter plot for 2-D points, image grids for images.
namespace {
void plot_samples(const Experiment& ex, const std::string& path, const at::Tensor& data, const at::Tensor& samples) {
  if (ex.data->is_image()) {
    int64_t n = std::min<int64_t>({64, data.size(0), samples.size(0)});
    write_image_grids(path, {data.slice(0, 0, n), samples.slice(0, 0, n)}, -1.0, 1.0);
  } else if (samples.dim() == 2 && samples.size(1) == 2) {
    double extent = std::max(3.0, 1.15 * data.abs().max().item<double>());
    write_scatter_png(path, {{data, 40, 40, 40}, {samples, 31, 119, 180}}, extent);
  }
}

}  // namespace

std::vector<std::string> eval_columns(const Evaluator& ev) {
  std::vector<std::string> cols{"step", "nfe", "sample_seconds"};
  for (const auto& c : ev.columns()) cols.push_back(c);
  cols.push_back("eval_seconds");
  return cols;
}

SampleResult evaluate_at(const Experiment& ex, const Evaluator& ev, const ScoreModel& model, RunLog& log,
                         int64_t step, int64_t keep, const std::string& plot_path, Metrics* out, bool flush) {
  auto t0 = std::chrono::steady_clock::now();
  SampleResult s = draw_samples(ex, model, std::max(keep, ex.eval.n), ex.run.seed, "sample");
  Metrics m = ev.evaluate(model, s.x.slice(0, 0, ex.eval.n));
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::vector<double> row{static_cast<double>(step), static_cast<double>(s.nfe), s.seconds};
  for (const auto& [k, v] : m) row.push_back(v);
  row.push_back(seconds);
  log.append_row("eval", row);
  if (flush) log.flush();
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
  log.close();  // the final row and the samples appear in log.h5 together (core/h5log.h)
  std::printf("%s: step %ld (nfe %ld, %.2fs): %s %.4g\n  %s\n", sum.run_dir.c_str(), static_cast<long>(step),
              static_cast<long>(s.nfe), s.seconds, sum.headline.c_str(), sum.headline_value, metrics_line(m).c_str());
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
