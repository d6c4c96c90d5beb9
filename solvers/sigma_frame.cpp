#include "solvers/sigma_frame.h"

#include <algorithm>
#include <cmath>

#include <ATen/ATen.h>

#include "networks/score_model.h"
#include "sde/sde.h"
#include "solvers/schedule.h"
#include "solvers/time_grid.h"

namespace scorelab {

AncestralSplit ancestral_split(double from, double to, double eta) {
  if (eta <= 0 || to <= 0 || from <= 0) return {to, 0.0};
  double up = std::min(to, eta * std::sqrt(std::max(0.0, to * to * (from * from - to * to) / (from * from))));
  return {std::sqrt(std::max(0.0, to * to - up * up)), up};
}

at::Tensor x0_at(const ScoreModel& model, const at::Tensor& x, double t) {
  return model.x0(x, at::full({x.size(0)}, t, x.options()));
}

at::Tensor eps_at(const ScoreModel& model, const at::Tensor& x, double t) {
  return model.eps(x, at::full({x.size(0)}, t, x.options()));
}

TimesOf times_of_sigma_tilde(const SDE& sde, const std::vector<double>& st, double t_lo) {
  TimesOf r;
  if (st.empty()) return r;
  std::vector<double> lam;
  for (double s : st) lam.push_back(-2.0 * std::log(s));
  at::Tensor t = t_of_log_snr(sde, at::tensor(lam, at::kDouble), t_lo, sde.T()).contiguous();
  at::Tensor a = sde.alpha(t).contiguous();
  r.t.assign(t.data_ptr<double>(), t.data_ptr<double>() + t.numel());
  r.alpha.assign(a.data_ptr<double>(), a.data_ptr<double>() + a.numel());
  return r;
}

double half_log_snr(const Schedule& s, int64_t k) { return 0.5 * s.log_snr[k]; }

}  // namespace scorelab
