#include "solvers/edm.h"

#include <cmath>

#include <ATen/ATen.h>

#include "networks/score_model.h"
#include "sde/sde.h"
#include "solvers/time_grid.h"

namespace scorelab {

at::Tensor EDMStep::step(const ScoreModel& model, const at::Tensor& x, double t, double t_next, int64_t k, bool,
                         const NoiseSource& noise) const {
  const SDE& sde = model.sde();
  auto alpha = [&](double u) { return sde.alpha(at::full({1}, u, at::kDouble)).item<double>(); };
  auto denoise = [&](const at::Tensor& y, double u) {
    return model.x0(alpha(u) * y, at::full({y.size(0)}, u, y.options()));
  };
  const double s_i = sigma_tilde(sde, t), s_next = sigma_tilde(sde, t_next);
  at::Tensor y = x / alpha(t);
  double gamma = (s_i >= o_.s_tmin && s_i <= o_.s_tmax) ? std::min(o_.churn / o_.steps, std::sqrt(2.0) - 1) : 0.0;
  double s_hat = s_i * (1 + gamma), t_hat = t;
  if (gamma > 0) {
    const double s_max = sigma_tilde(sde, sde.T());
    if (s_hat >= s_max) {
      s_hat = s_max;
      t_hat = sde.T();
    } else {
      t_hat = t_of_log_snr(sde, at::full({1}, -2 * std::log(s_hat), at::kDouble), t, sde.T()).item<double>();
    }
    y = y + std::sqrt(std::max(0.0, s_hat * s_hat - s_i * s_i)) * o_.s_noise * noise.normal_like(x, k + 1);
  }
  at::Tensor d = (y - denoise(y, t_hat)) / s_hat;
  at::Tensor y_next = y + (s_next - s_hat) * d;
  if (s_next > 0) {
    at::Tensor d2 = (y_next - denoise(y_next, t_next)) / s_next;
    y_next = y + (s_next - s_hat) * 0.5 * (d + d2);
  }
  return alpha(t_next) * y_next;
}

}  // namespace scorelab
