// Evaluating a run's model: the periodic and final /eval rows, sample plots, the final samples
// in the log and the summary line; the evaluation-only "training" of an exact (oracle) model.
#pragma once
#include <string>
#include <vector>

#include "core/h5log.h"
#include "experiments/evaluation/evaluation.h"
#include "experiments/trainer.h"

namespace scorelab {

// Root attributes of a run log: resolved config, name, versions, device, threads.
AttrMap run_attrs(const Experiment& ex, int threads);
// The /eval columns: step, nfe, sample_seconds, the evaluator's columns, eval_seconds.
std::vector<std::string> eval_columns(const Evaluator& ev);
// One evaluation at `step`: max(keep, eval.n) samples from the same x_T as every other
// evaluation of the run, their metrics (first eval.n samples) and the model's held-out NLL as
// a row of /eval (flushed unless `flush` is false: the final evaluation publishes it together
// with its samples), and a plot of data next to samples. Returns the samples.
SampleResult evaluate_at(const Experiment& ex, const Evaluator& ev, const ScoreModel& model, RunLog& log,
                         int64_t step, int64_t keep, const std::string& plot_path, Metrics* out, bool flush = true,
                         const std::string& progress_label = "sample");
std::string metrics_line(const Metrics& m);
// The final evaluation: sample.n samples kept as /samples/final (+ final.png), the metrics row,
// a summary line led by eval.headline; closes the log.
void finish_with_evaluation(const Experiment& ex, const Evaluator& ev, const ScoreModel& model,
                            const std::string& model_label, RunLog& log, int64_t step, TrainSummary& sum);
// An exact (oracle) model has nothing to train: its run is the evaluation of its samples.
TrainSummary evaluate_only(Experiment& ex, const ScoreModel& model);

}  // namespace scorelab
