// The frame most samplers of k-diffusion and DPM-Solver are written in: y = x / alpha(t) and
// sigma~ = sigma(t) / alpha(t) = exp(-lambda), lambda = log(alpha / sigma) (half the log-SNR).
// In it every SDE here is EDM's dy = -sigma~ (dsigma~) score form, so one update rule serves VP,
// sub-VP, VE and the DDPM chain's continuous limit alike. Helpers shared by those step rules.
#pragma once
#include <vector>

#include <ATen/core/Tensor.h>

namespace scorelab {

class ScoreModel;
class SDE;
struct Schedule;

// k-diffusion's get_ancestral_step: an ancestral step from sigma~ `from` to `to` first moves
// deterministically to `down`, then adds fresh noise of standard deviation `up`, with
// down^2 + up^2 = to^2 and up = min(to, eta sqrt(to^2 (from^2 - to^2) / from^2)).
struct AncestralSplit {
  double down, up;
};
AncestralSplit ancestral_split(double from, double to, double eta);

// The model's denoised estimate and noise prediction at one time t for the whole batch.
at::Tensor x0_at(const ScoreModel& model, const at::Tensor& x, double t);
at::Tensor eps_at(const ScoreModel& model, const at::Tensor& x, double t);

// The times at which sigma~ takes the given values (one vectorised bisection on the log-SNR
// between the schedule's last time and T) and alpha there: for rules that evaluate the model
// between grid points (midpoints in lambda, ancestral targets).
struct TimesOf {
  std::vector<double> t, alpha;
};
TimesOf times_of_sigma_tilde(const SDE& sde, const std::vector<double>& sigma_tilde, double t_lo);

// lambda = log(alpha / sigma) at grid point k of a schedule.
double half_log_snr(const Schedule& s, int64_t k);

}  // namespace scorelab
