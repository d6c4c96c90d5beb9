#include "solvers/time_grid.h"

#include <cmath>
#include <stdexcept>

#include <ATen/ATen.h>

#include "sde/sde.h"

namespace scorelab {

at::Tensor uniform_time_grid(int64_t steps, double T, double eps) {
  TORCH_CHECK(steps >= 1, "time grid needs >= 1 step, got ", steps);
  return at::linspace(T, eps, steps + 1, at::kDouble);
}

at::Tensor t_of_log_snr(const SDE& sde, const at::Tensor& lam, double lo, double hi) {
  at::Tensor a = at::full_like(lam, lo), b = at::full_like(lam, hi);
  for (int k = 0; k < 100; ++k) {
    at::Tensor mid = 0.5 * (a + b);
    at::Tensor above = sde.log_snr(mid) > lam;  // lambda decreases: the root is to the right
    a = at::where(above, mid, a);
    b = at::where(above, b, mid);
  }
  return 0.5 * (a + b);
}

double sigma_tilde(const SDE& sde, double t) {
  return std::exp(-0.5 * sde.log_snr(at::full({1}, t, at::kDouble)).item<double>());
}

at::Tensor make_time_grid(const std::string& kind, const SDE& sde, int64_t steps, double eps, double rho) {
  TORCH_CHECK(steps >= 1, "time grid needs >= 1 step, got ", steps);
  const double T = sde.T();
  at::Tensor u = at::linspace(0.0, 1.0, steps + 1, at::kDouble);
  at::Tensor grid;
  if (kind == "uniform") {
    grid = uniform_time_grid(steps, T, eps);
  } else if (kind == "quadratic") {
    grid = eps + (T - eps) * (1 - u).pow(2);
  } else if (kind == "log_snr" || kind == "karras") {
    double lam_T = sde.log_snr(at::full({1}, T, at::kDouble)).item<double>();
    double lam_e = sde.log_snr(at::full({1}, eps, at::kDouble)).item<double>();
    at::Tensor lam;
    if (kind == "log_snr") {
      lam = lam_T + u * (lam_e - lam_T);
    } else {
      double smax = std::exp(-0.5 * lam_T), smin = std::exp(-0.5 * lam_e);
      at::Tensor s = (std::pow(smax, 1 / rho) + u * (std::pow(smin, 1 / rho) - std::pow(smax, 1 / rho))).pow(rho);
      lam = -2 * at::log(s);
    }
    grid = t_of_log_snr(sde, lam, eps, T);
  } else {
    throw std::invalid_argument("unknown time grid '" + kind + "' (uniform, quadratic, log_snr, karras)");
  }
  grid[0] = T;  // exact end points
  grid[steps] = eps;
  return grid;
}

}  // namespace scorelab
