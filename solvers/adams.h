// Linear multistep samplers of the probability-flow ODE in y = x / alpha, where it reads
// dy = eps(x, t) d sigma~ (sigma~ = sigma / alpha): Adams–Bashforth with the noise predictions of
// the last r steps interpolated by a polynomial in a variable u, integrated exactly against
// d sigma~:
//   y_{i+1} = y_i + sum_{j<r} c_ij eps_{i-j},   c_ij = int_{u_i}^{u_{i+1}} (d sigma~/du) L_j(u) du,
// L_j the Lagrange basis on u_i, ..., u_{i-r+1}; r = min(i + 1, order) (lower orders warm up).
//   lms:  u = sigma~ — k-diffusion's sample_lms (linear multistep in sigma, as in Karras et al.
//         2022's "LMS"), which is DEIS's rho-AB (Zhang & Chen 2022, eq. 16).
//   deis: u = t — DEIS's tAB (Zhang & Chen 2022, sec. 4 and eq. 14), the exponential integrator
//         with the polynomial extrapolation in time; c_ij by parts,
//         sigma~ L_j |_{t_i}^{t_{i+1}} - int sigma~(t) L_j'(t) dt, with 64-point Gauss–Legendre.
// The coefficients are computed once per run (schedule columns). NFE = steps.
#pragma once
#include <memory>

#include "solvers/sampler.h"

namespace scorelab {

class Config;
class SDE;

class AdamsStep : public StepRule {
 public:
  enum class Variable { sigma_tilde, time };
  AdamsStep(Variable u, int order) : u_(u), order_(order) {}
  std::unique_ptr<RuleState> state() const override;
  void prepare(const ScoreModel& model, Schedule& s) const override;
  at::Tensor step(const ScoreModel& model, const at::Tensor& x, StepContext& ctx) const override;

 private:
  Variable u_;
  int order_;
};

std::shared_ptr<Sampler> lms_sampler_from(const Config& c, const SDE& sde);
std::shared_ptr<Sampler> deis_sampler_from(const Config& c, const SDE& sde);

}  // namespace scorelab
