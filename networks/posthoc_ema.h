// Post-hoc EMA (Karras et al. 2024, "Analyzing and Improving the Training Dynamics of Diffusion
// Models", EDM2, sec. 3 and appendix C.1-C.3). A power-function EMA of exponent gamma averages
// the weights of a run up to time t with the profile
//   p_{t,gamma}(tau) = (gamma + 1) tau^gamma / t^(gamma + 1),   0 <= tau <= t,
// tracked step by step as theta^ <- beta theta^ + (1 - beta) theta, beta_t = (1 - 1/t)^(gamma + 1)
// (t = 1, 2, ... the update count). Its width relative to t is
//   sigma_rel = sqrt((gamma + 1) / ((gamma + 2)^2 (gamma + 3)))   (EDM2 eq. 3).
// Training keeps a few such EMAs (train.posthoc_ema) and stores them at intervals; after
// training, the EMA of any other sigma_rel at time t is approximated by the combination of the
// stored ones whose profile is closest in L2 to the target's: the least-squares solution of
// A x = b, A_ij = <p_i, p_j>, b_i = <p_i, p_target>, then theta = sum_i x_i theta^_i.
#pragma once
#include <vector>

namespace scorelab {

double sigma_rel_of_gamma(double gamma);
// The gamma > 0 of a sigma_rel in (0, 12^-1/2 = 0.2887) (the branch EDM2 uses), by bisection.
// Throws std::invalid_argument outside that range.
double gamma_of_sigma_rel(double sigma_rel);
// The power EMA's decay at its t-th update (t >= 1): (1 - 1/t)^(gamma + 1); 0 at t = 1.
double power_ema_beta(double t, double gamma);

// <p_a, p_b> = integral of p_{ta,ga} p_{tb,gb} over tau, in closed form:
//   (ga + 1)(gb + 1) min(ta, tb)^(ga + gb + 1) / ((ga + gb + 1) ta^(ga + 1) tb^(gb + 1)).
double profile_inner(double ta, double ga, double tb, double gb);

struct PosthocFit {
  std::vector<double> weights;  // x_i, one per stored EMA
  double rel_error = 0;         // || sum_i x_i p_i - p_target || / || p_target ||
};
// The combination of stored profiles (t[i], gamma[i]) closest to p_{t_target, gamma_target}.
PosthocFit posthoc_ema_fit(const std::vector<double>& t, const std::vector<double>& gamma, double t_target,
                           double gamma_target);

}  // namespace scorelab
