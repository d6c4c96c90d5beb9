#include "experiments/compare_order.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <set>
#include <sstream>

#include <ATen/ATen.h>

#include "experiments/report/figure.h"

namespace scorelab {

PairedDistance paired_distance(const at::Tensor& x, const at::Tensor& ref) {
  at::Tensor d2 = (x.to(at::kDouble) - ref.to(at::kDouble)).reshape({x.size(0), -1}).pow(2).sum(1);
  return {std::sqrt(at::median(d2).item<double>()), std::sqrt(d2.mean().item<double>())};
}

double fitted_order(const std::vector<double>& nfe, const std::vector<double>& err) {
  std::set<double> distinct(nfe.begin(), nfe.end());
  if (distinct.size() < 2 || nfe.size() != err.size()) return std::numeric_limits<double>::quiet_NaN();
  double mx = 0, my = 0;
  const double n = static_cast<double>(nfe.size());
  for (size_t i = 0; i < nfe.size(); ++i) {
    if (!(err[i] > 0) || !(nfe[i] > 0)) return std::numeric_limits<double>::quiet_NaN();
    mx += std::log(nfe[i]) / n;
    my += std::log(err[i]) / n;
  }
  double sxy = 0, sxx = 0;
  for (size_t i = 0; i < nfe.size(); ++i) {
    const double dx = std::log(nfe[i]) - mx;
    sxy += dx * (std::log(err[i]) - my);
    sxx += dx * dx;
  }
  return -sxy / sxx;
}

std::string order_table(const std::vector<OrderLine>& lines) {
  std::ostringstream md;
  md << "| sampler | settings | NFE | ref_median (first → last) | order |\n|---|---|---|---|---|\n";
  for (const auto& l : lines) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "%.0f–%.0f | %.3g → %.3g | %.2f", l.nfe.front(), l.nfe.back(), l.err.front(),
                  l.err.back(), l.order);
    md << "| " << l.sampler << " | " << l.settings << " | " << buf << " |\n";
  }
  return md.str();
}

void plot_error_vs_nfe(const std::string& png, const std::vector<OrderLine>& lines, const std::string& title) {
  if (lines.empty()) return;
  fig::Figure f;
  f.title = title;
  f.panel_width = 460;
  f.panel_height = 320;
  fig::Panel p;
  p.xlabel = "NFE (log scale)";
  p.ylabel = "median distance to the reference ODE solution (log scale)";
  p.log_x = p.log_y = true;
  for (const auto& l : lines) {
    fig::Series s;
    char buf[64];
    std::snprintf(buf, sizeof buf, ": order %.2f", l.order);
    s.label = l.sampler + (l.settings.empty() ? "" : " (" + l.settings + ")") + buf;
    s.x = l.nfe;
    s.y = l.err;
    p.series.push_back(s);
  }
  // Slope guides through the first point of the first line, ending at the smallest error shown.
  const double x0 = lines[0].nfe.front(), y0 = lines[0].err.front();
  double x_max = x0, y_min = y0;
  for (const auto& l : lines)
    for (size_t i = 0; i < l.nfe.size(); ++i) x_max = std::max(x_max, l.nfe[i]), y_min = std::min(y_min, l.err[i]);
  int style = static_cast<int>(lines.size());
  for (int k : {1, 2, 4}) {
    fig::Series g;
    g.label = "slope -" + std::to_string(k);
    const double x1 = std::min(x_max, x0 * std::pow(y0 / y_min, 1.0 / k));
    g.x = {x0, x1};
    g.y = {y0, y0 * std::pow(x1 / x0, -k)};
    g.markers = false;
    g.muted = true;
    g.style = style++;
    p.series.push_back(g);
  }
  f.panels.push_back(p);
  fig::save(f, png);
}

}  // namespace scorelab
