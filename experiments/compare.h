// `scorelab compare cmp.yaml`: many samplers on one model (a checkpoint or an oracle), every
// one starting from the same x_T and noise seed, scored against one reference set.
//
//   source: runs/quickstart/checkpoints/last.pt   # or a config with an oracle model
//   overrides: [run.device=cpu]                   # optional, applied to the source's config
//   n: 2000            # samples per sampler
//   seed: 0            # x_T and noise seed, the same for every row
//   reference_n: 4000  # fresh data points the metrics compare against
//   quality: sliced_w2 # the metric of quality_vs_nfe.png (default: the source's eval.headline)
//   out_dir: runs/compare/<file stem>
//   samplers:
//     - {type: euler_maruyama, steps: [10, 100, 500]}   # a list of steps: one row each
//     - {type: ode, method: rk45}
//
// Output: compare.md and compare.csv (sampler, settings, NFE, wall time, metrics), compare.h5
// (/compare: one dataset per column), samples.png (the samplers' samples side by side, the
// reference first) and, when a sampler has several step counts, quality_vs_nfe.png.
#pragma once
#include <string>
#include <vector>

#include "experiments/registries.h"

namespace scorelab {

struct CompareRow {
  std::string sampler, settings;
  int64_t nfe = 0;
  double seconds = 0;                                   // mean over the repeats
  std::vector<std::pair<std::string, double>> metrics;  // mean over the repeats
  std::vector<double> se;  // each metric's standard error over the repeats (sd / sqrt(R)); NaN for R = 1
  std::vector<std::vector<double>> per_repeat;  // [metric][repeat]: the values behind mean and se
};

// `reg` builds the model, data and samplers (tests pass counting registries).
// `check_only`: stop once every row's sampler is built (the model, data and reference too):
// no sampling, nothing written, no rows returned.
std::vector<CompareRow> run_compare(const std::string& compare_yaml, const std::vector<std::string>& overrides,
                                    const Registries& reg = builtin_registries(), bool check_only = false);
int command_compare(const std::string& compare_yaml, const std::vector<std::string>& overrides, bool check_only = false);

}  // namespace scorelab
