#include "experiments/report/plots.h"

#include <algorithm>
#include <cmath>
#include <set>

#include <ATen/ATen.h>

#include "core/h5log.h"
#include "experiments/report/figure.h"

namespace scorelab {

fig::Panel scatter_panel(const at::Tensor& pts, double extent, bool muted) {
  at::Tensor p = pts.detach().to(at::kCPU, at::kDouble).contiguous();
  fig::Series s;
  s.line = false;
  s.muted = muted;
  const int64_t n = p.size(0);
  s.alpha = std::clamp(60.0 / std::sqrt(static_cast<double>(std::max<int64_t>(n, 1))), 0.12, 0.8);
  s.marker_size = n > 5000 ? 1.2 : 1.6;
  s.style = 0;
  const double* d = p.data_ptr<double>();
  for (int64_t i = 0; i < n; ++i) {
    s.x.push_back(d[2 * i]);
    s.y.push_back(d[2 * i + 1]);
  }
  fig::Panel panel;
  panel.series.push_back(s);
  panel.xlabel = "x\u2081";
  panel.ylabel = "x\u2082";
  panel.equal_aspect = true;
  panel.x_min = panel.y_min = -extent;
  panel.x_max = panel.y_max = extent;
  return panel;
}

double scatter_extent(const at::Tensor& data) { return std::max(1.0, 1.1 * data.detach().abs().max().item<double>()); }

void plot_samples(const std::string& path, const at::Tensor& data, const at::Tensor& samples, bool images,
                  const std::string& title, const std::string& caption) {
  fig::Figure f;
  f.title = title;
  f.caption = caption;
  f.cols = 2;
  if (images) {
    for (const auto& [t, name] : {std::pair{data, "data"}, std::pair{samples, "samples"}}) {
      fig::Panel p;
      p.title = std::string(name) + " (" + std::to_string(t.size(0)) + ")";
      p.image = fig::image_grid(t, -1.0, 1.0);
      f.panels.push_back(p);
    }
    f.panel_width = f.panel_height = 260;
  } else {
    at::Tensor both = at::cat({data.detach().to(at::kCPU, at::kDouble), samples.detach().to(at::kCPU, at::kDouble)});
    // Shared limits: the data's extent (samples far outside it are clipped, and counted below).
    const double extent = scatter_extent(data);
    for (const auto& [t, name] : {std::pair{data, "data"}, std::pair{samples, "samples"}}) {
      fig::Panel p = scatter_panel(t, extent, std::string(name) == "data");
      const int64_t outside = (t.detach().abs() > extent).any(1).sum().item<int64_t>();
      p.title = std::string(name) + " (" + std::to_string(t.size(0)) + " points" +
                (outside ? ", " + std::to_string(outside) + " outside" : std::string()) + ")";
      f.panels.push_back(p);
    }
    f.panel_width = f.panel_height = 250;
  }
  fig::save(f, path);
}

std::vector<double> ema_smooth(const std::vector<double>& v, double decay) {
  std::vector<double> out;
  double m = 0, w = 0;
  for (double x : v) {
    if (std::isfinite(x)) {
      m = decay * m + (1 - decay) * x;
      w = decay * w + (1 - decay);
    }
    out.push_back(w > 0 ? m / w : NAN);
  }
  return out;
}

void plot_loss(const std::string& path, const std::string& title, const std::vector<double>& steps,
               const std::vector<double>& loss, const std::vector<std::vector<double>>& quarters) {
  fig::Figure f;
  f.title = title;
  f.panel_width = 380;
  f.panel_height = 240;
  f.cols = 2;
  fig::Panel p;
  p.title = "the objective";
  p.xlabel = "training step";
  p.ylabel = "loss (log scale)";
  p.log_y = std::all_of(loss.begin(), loss.end(), [](double v) { return !std::isfinite(v) || v > 0; });
  if (!p.log_y) p.ylabel = "loss";
  fig::Series raw;
  raw.label = "mean per log interval";
  raw.x = steps;
  raw.y = loss;
  raw.markers = false;
  raw.alpha = 0.35;
  raw.style = 0;
  fig::Series smooth;
  smooth.label = "EMA (0.9) of it";
  smooth.x = steps;
  smooth.y = ema_smooth(loss, 0.9);
  smooth.markers = false;
  smooth.style = 1;
  p.series = {raw, smooth};
  f.panels.push_back(p);
  bool any = false;
  for (const auto& q : quarters)
    for (double v : q) any |= std::isfinite(v);
  if (any) {
    fig::Panel qp;
    qp.title = "error by noise level (quarters of t)";
    qp.xlabel = "training step";
    qp.ylabel = "unweighted error (EMA 0.9, log scale)";
    qp.log_y = true;
    const char* names[4] = {"t in [0, 0.25)", "t in [0.25, 0.5)", "t in [0.5, 0.75)", "t in [0.75, 1]"};
    for (size_t k = 0; k < quarters.size() && k < 4; ++k) {
      fig::Series s;
      s.label = names[k];
      s.x = steps;
      s.y = ema_smooth(quarters[k], 0.9);
      s.markers = false;
      s.style = static_cast<int>(k) + 2;
      qp.series.push_back(s);
    }
    f.panels.push_back(qp);
  }
  fig::save(f, path);
}

bool plot_eval_history(const std::string& log_path, const std::string& path, const std::string& title) {
  const std::vector<double> steps = RunLog::read_column(log_path, "eval/step");
  if (steps.size() < 2) return false;
  const std::vector<std::string> columns = RunLog::read_table_columns(log_path, "eval");
  const std::set<std::string> skip{"step", "nfe", "sample_seconds", "eval_seconds"};
  auto ends_with = [](const std::string& s, const std::string& e) {
    return s.size() > e.size() && s.compare(s.size() - e.size(), e.size(), e) == 0;
  };
  std::set<std::string> have(columns.begin(), columns.end());
  fig::Figure f;
  f.title = title;
  f.cols = 3;
  f.panel_width = 240;
  f.panel_height = 180;
  for (const auto& c : columns) {
    if (skip.count(c) || ends_with(c, "_floor") || ends_with(c, "_prior")) continue;
    if (ends_with(c, "_se") && have.count(c.substr(0, c.size() - 3))) continue;  // error bars of that metric
    fig::Panel p;
    p.title = c;
    p.xlabel = "training step";
    p.ylabel = c;
    fig::Series s;
    s.label = "EMA weights";
    s.x = steps;
    s.y = RunLog::read_column(log_path, "eval/" + c);
    if (have.count(c + "_se")) {
      s.err = RunLog::read_column(log_path, "eval/" + c + "_se");
      for (double& e : s.err)
        if (!std::isfinite(e)) e = 0;
      p.subtitle = "error bars: ± 1 standard error";
    }
    s.style = 0;
    p.series.push_back(s);
    for (const auto& [suffix, what] : {std::pair{"_floor", "floor (data vs data)"}, std::pair{"_prior", "prior"}}) {
      if (!have.count(c + suffix)) continue;
      const std::vector<double> v = RunLog::read_column(log_path, "eval/" + c + suffix);
      if (!v.empty() && std::isfinite(v.back())) p.refs.push_back({what, v.back()});
    }
    f.panels.push_back(p);
  }
  if (f.panels.empty()) return false;
  fig::save(f, path);
  return true;
}

}  // namespace scorelab
