// Time grids for samplers: decreasing T = t_0 > t_1 > ... > t_K = eps (float64, CPU).
//   uniform    t_k = T + k (eps - T)/K
//   quadratic  t_k = eps + (T - eps)(1 - k/K)^2 (finer near the data; DDIM's quadratic spacing)
//   log_snr    lambda(t_k) uniform between lambda(T) and lambda(eps) (DPM-Solver's default)
//   karras     sigma~_k = (s_max^(1/rho) + k/K (s_min^(1/rho) - s_max^(1/rho)))^rho with
//              sigma~ = sigma/alpha = exp(-lambda/2) (Karras et al. 2022, eq. 5), rho = 7
#pragma once
#include <string>

#include <ATen/core/Tensor.h>

namespace scorelab {

class SDE;

at::Tensor uniform_time_grid(int64_t steps, double T, double eps);
at::Tensor make_time_grid(const std::string& kind, const SDE& sde, int64_t steps, double eps, double rho = 7.0);

// Inverse of the (strictly decreasing) log-SNR: t in [lo, hi] with lambda(t) = lam, by
// vectorised bisection to float64 precision.
at::Tensor t_of_log_snr(const SDE& sde, const at::Tensor& lam, double lo, double hi);

// sigma~(t) = sigma(t)/alpha(t), the noise level of x/alpha (EDM's sigma).
double sigma_tilde(const SDE& sde, double t);

}  // namespace scorelab
