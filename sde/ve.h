// Variance-exploding SDE (Song et al. 2021, eq. 9; NCSN in continuous time):
//   sigma(t) = sigma_min (sigma_max / sigma_min)^t,  f = 0,
//   g(t) = sigma(t) sqrt(2 log(sigma_max / sigma_min)),  alpha = 1,  prior N(0, sigma_max^2 I).
// As in NCSN and score_sde, the data at t = 0 already carries the smallest noise level:
// Var(x_t | x_0) = sigma(t)^2 - sigma_min^2 under the SDE, and the kernel sigma(t) describes
// x_t given x_0 ~ data * N(0, sigma_min^2).
//
// Choosing sigma_max: Song & Ermon 2020 (Technique 1) take sigma_max as large as the largest
// Euclidean distance between two training points, so that the prior covers the data and
// Langevin can move between any two modes.
#pragma once
#include <vector>

#include "sde/sde.h"

namespace scorelab {

class Config;

struct VESDEOptions {
  double sigma_min = 0.01, sigma_max = 50.0;
  static VESDEOptions from(const Config& cfg);
};

class VESDE : public SDE {
 public:
  explicit VESDE(VESDEOptions o = {}) : o_(o) {}
  Conditioning natural_conditioning() const override { return Conditioning::log_sigma; }
  std::string name() const override { return "ve"; }
  at::Tensor drift(const at::Tensor& x, const at::Tensor& t) const override;
  at::Tensor drift_coefficient(const at::Tensor& t) const override;  // 0
  at::Tensor diffusion(const at::Tensor& t) const override;
  at::Tensor alpha(const at::Tensor& t) const override;
  at::Tensor sigma(const at::Tensor& t) const override;
  at::Tensor dlog_snr_dt(const at::Tensor& t) const override;  // -2 log(sigma_max / sigma_min)
  double prior_std() const override { return o_.sigma_max; }
  // NCSN's step: f = 0, G = sqrt(sigma(t)^2 - sigma(t - dt)^2).
  Discrete discretize(const at::Tensor& x, const at::Tensor& t, double dt) const override;
  // t at which sigma(t) = s (inverse of the geometric schedule).
  at::Tensor t_of_sigma(const at::Tensor& s) const;
  const VESDEOptions& options() const { return o_; }

 private:
  VESDEOptions o_;
};

// NCSN's noise levels sigma_1 > ... > sigma_L: geometric from sigma_max to sigma_min
// (Song & Ermon 2019, sec. 4.2), float64.
at::Tensor ncsn_sigmas(int64_t L, double sigma_min, double sigma_max);

// The largest pairwise Euclidean distance in x [n, ...] (the sigma_max rule above).
double max_pairwise_distance(const at::Tensor& x);

}  // namespace scorelab
