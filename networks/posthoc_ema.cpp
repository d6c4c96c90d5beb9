#include "networks/posthoc_ema.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include <ATen/ATen.h>

namespace scorelab {

double sigma_rel_of_gamma(double gamma) {
  return std::sqrt((gamma + 1) / ((gamma + 2) * (gamma + 2) * (gamma + 3)));
}

double gamma_of_sigma_rel(double sigma_rel) {
  const double max = sigma_rel_of_gamma(0);  // 12^-1/2: sigma_rel decreases in gamma on gamma > 0
  if (!(sigma_rel > 0 && sigma_rel < max))
    throw std::invalid_argument("sigma_rel must be in (0, " + std::to_string(max) + "), got " + std::to_string(sigma_rel));
  double lo = 0, hi = 1;
  while (sigma_rel_of_gamma(hi) > sigma_rel) hi *= 2;
  for (int i = 0; i < 200 && hi - lo > 1e-14 * hi; ++i) {
    const double mid = 0.5 * (lo + hi);
    (sigma_rel_of_gamma(mid) > sigma_rel ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

double power_ema_beta(double t, double gamma) { return std::pow(1.0 - 1.0 / t, gamma + 1.0); }

double profile_inner(double ta, double ga, double tb, double gb) {
  // In logs: t^(gamma + 1) overflows for EDM2's gammas (~7 to ~17) and long runs.
  const double g = ga + gb + 1;
  const double log_v = std::log(ga + 1) + std::log(gb + 1) + g * std::log(std::min(ta, tb)) - std::log(g) -
                       (ga + 1) * std::log(ta) - (gb + 1) * std::log(tb);
  return std::exp(log_v);
}

PosthocFit posthoc_ema_fit(const std::vector<double>& t, const std::vector<double>& gamma, double t_target,
                           double gamma_target) {
  const int64_t n = static_cast<int64_t>(t.size());
  if (n == 0 || gamma.size() != t.size()) throw std::invalid_argument("posthoc EMA: no stored profiles");
  at::Tensor A = at::empty({n, n}, at::kDouble), b = at::empty({n, 1}, at::kDouble);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < n; ++j) A[i][j] = profile_inner(t[i], gamma[i], t[j], gamma[j]);
    b[i][0] = profile_inner(t[i], gamma[i], t_target, gamma_target);
  }
  // The Gram matrix of nearby profiles is ill-conditioned: a least-squares solve with an SVD
  // (small singular values cut), as EDM2 does with numpy's lstsq.
  at::Tensor x = std::get<0>(at::linalg_lstsq(A, b, 1e-12, "gelsd")).squeeze(1);
  PosthocFit fit;
  fit.weights.assign(x.data_ptr<double>(), x.data_ptr<double>() + n);
  const double c = profile_inner(t_target, gamma_target, t_target, gamma_target);
  const double err2 = (x.dot(at::mv(A, x)) - 2 * x.dot(b.squeeze(1))).item<double>() + c;
  fit.rel_error = std::sqrt(std::max(0.0, err2) / c);
  return fit;
}

}  // namespace scorelab
