// Measured order of convergence for `scorelab compare` (its `reference:` section): each row's
// samples against an accurately solved probability-flow ODE from the same x_T, and for every
// deterministic sampler entry with several step counts the fitted slope of log(error) against
// log(NFE) — the empirical order p in error ~ C NFE^-p (docs/compare.md). Sample in float64
// (`run.dtype=float64`): float32 states stall every solver at ~1e-6.
#pragma once
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

namespace scorelab {

// The per-sample distances ||x_i - ref_i|| between paired sample sets: their median (the order
// is fitted on it: a few samples near the boundary between two modes' basins have error
// constants orders of magnitude above the rest and make the RMS jump between step counts) and
// their RMS.
struct PairedDistance {
  double median, rms;
};
PairedDistance paired_distance(const at::Tensor& x, const at::Tensor& ref);

// -(least-squares slope of log err on log nfe); NaN with fewer than two distinct NFE or a
// non-positive error.
double fitted_order(const std::vector<double>& nfe, const std::vector<double>& err);

struct OrderLine {
  std::string sampler, settings;  // the entry: canonical sampler and its fixed settings
  std::vector<double> nfe, err;   // the entry's rows
  double order = 0;               // fitted_order(nfe, err)
};

// "| sampler | settings | NFE | order |" Markdown rows of the order table.
std::string order_table(const std::vector<OrderLine>& lines);

// error_vs_nfe.png: the error against NFE on log-log axes, one line per entry, its order in the
// legend, with dashed slope-1, -2 and -4 guides through the first entry's first point.
void plot_error_vs_nfe(const std::string& png, const std::vector<OrderLine>& lines, const std::string& title);

}  // namespace scorelab
