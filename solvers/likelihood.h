// Log-likelihood through the probability-flow ODE (Song et al. 2021, sec. 4.3 and app. D.2):
// integrate [x, delta] with dx/dt = h(x,t) = f - g^2 s / 2 and d delta/dt = div_x h from eps
// to T (RK45), then log p_eps(x) = log p_T(x_T) + delta. The divergence is exact (one backward
// pass per dimension: low D) or Hutchinson's estimate v^T (dh/dx) v with one v per example fixed
// along the trajectory (Gaussian or Rademacher; Grathwohl et al. 2019).
#pragma once
#include <string>

#include "core/noise.h"
#include "core/tensor_util.h"  // bits_per_dim
#include "solvers/ode.h"

namespace scorelab {

class ScoreModel;

struct LikelihoodOptions {
  std::string divergence = "exact";  // exact | hutchinson_gaussian | hutchinson_rademacher
  RK45Options ode{1e-5, 1e-5};
  double eps = 1e-5;
};

struct LikelihoodResult {
  at::Tensor log_p;        // [B] nats, log p_eps(x)
  at::Tensor prior_log_p;  // [B] log p_T(x_T) under the SDE's prior
  at::Tensor x_T;          // the ODE's end point
  at::Tensor delta;        // [B] int_eps^T div h dt
  int64_t nfe = 0;
  RK45Stats stats;
};

LikelihoodResult ode_log_likelihood(const ScoreModel& model, const at::Tensor& x, const LikelihoodOptions& o,
                                    const NoiseSource& noise);

}  // namespace scorelab
