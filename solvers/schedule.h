// A sampler run's schedule as data (DESIGN.md, "Describe, then build"): the decreasing time
// grid T = t_0 > ... > t_K and, at every grid point, alpha, sigma and lambda = log(alpha^2 /
// sigma^2), evaluated on the SDE once when the run starts. Step rules read their coefficients
// from here instead of asking the SDE at every step; rules that need more per-step values
// (EDM's churned times) add named columns once, before the loop.
#pragma once
#include <map>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

namespace scorelab {

class SDE;

struct Schedule {
  // float64 on the host: the scalar coefficients of each step (no device round trip).
  std::vector<double> t, alpha, sigma, log_snr;
  // The grid in the model's dtype on its device, [K + 1]: time(k, B) hands the network its t
  // without a host-to-device copy per step.
  at::Tensor t_model;
  // Extra per-step columns added by a step rule's prepare() (EDM: t_hat, alpha_hat, ...).
  std::map<std::string, std::vector<double>> extra;

  int64_t steps() const { return static_cast<int64_t>(t.size()) - 1; }
  // sigma~ = sigma / alpha = exp(-lambda / 2), EDM's noise level of x / alpha.
  double sigma_tilde(int64_t k) const;
  // t_k as a [B] tensor (a broadcast view of t_model, no allocation).
  at::Tensor time(int64_t k, int64_t batch) const;
};

// Evaluates the SDE's alpha, sigma and log-SNR on `grid` (float64 [K + 1], decreasing) in
// one vectorised call each, and puts the grid on `opts`' device and dtype.
Schedule make_schedule(const SDE& sde, const at::Tensor& grid, const at::TensorOptions& opts);

}  // namespace scorelab
