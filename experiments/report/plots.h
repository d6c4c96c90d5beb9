// The figures of a run (experiments/report/figure.h draws them; each is written as .png and .pdf).
#pragma once
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "experiments/report/figure.h"

namespace scorelab {

// Points [n, 2] as a panel: a scatter with no line and translucent markers (alpha falls as
// 1/sqrt(n), so dense regions read darker; `muted`: dark grey, for data under samples) on equal,
// labelled axes over [-extent, extent]^2. The caller titles it.
fig::Panel scatter_panel(const at::Tensor& points, double extent, bool muted);
// The half-width of a square around 2-D data: 1.1 x its largest coordinate, at least 1.
double scatter_extent(const at::Tensor& data);

// Data beside samples. 2-D points: two scatter panels of every point (translucent) on the same,
// equal-aspect axes. Images (values in [-1, 1]): two labelled grids. `caption` goes under them.
void plot_samples(const std::string& path, const at::Tensor& data, const at::Tensor& samples, bool images,
                  const std::string& title, const std::string& caption);

// The training loss per log interval (log scale) with its exponential moving average (0.9, bias
// corrected) on top; beside it, when `quarters` has values, the unweighted per-example error in
// each quarter of the time range (the log's loss_q0..q3), each smoothed the same way.
void plot_loss(const std::string& path, const std::string& title, const std::vector<double>& steps,
               const std::vector<double>& loss, const std::vector<std::vector<double>>& quarters = {});

// Each evaluation metric of a finished run's log.h5 over training steps, one panel per metric,
// with its floor and the prior's value as dashed lines where the log has them. Written only when
// the log has two or more evaluations; returns whether it was.
bool plot_eval_history(const std::string& log_path, const std::string& path, const std::string& title);

// Exponential moving average with bias correction (TensorBoard's smoothing).
std::vector<double> ema_smooth(const std::vector<double>& v, double decay);

}  // namespace scorelab
