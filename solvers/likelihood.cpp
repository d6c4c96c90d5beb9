#include "solvers/likelihood.h"

#include <cmath>

#include <ATen/ATen.h>
#include <torch/autograd.h>

#include "networks/score_model.h"
#include "sde/sde.h"

namespace scorelab {

LikelihoodResult ode_log_likelihood(const ScoreModel& model, const at::Tensor& x0, const LikelihoodOptions& o,
                                    const NoiseSource& noise) {
  const int64_t B = x0.size(0), D = x0[0].numel();
  const bool exact = o.divergence == "exact";
  at::Tensor v;
  if (!exact) {
    v = noise.normal_like(x0, 0);
    if (o.divergence == "hutchinson_rademacher") v = at::sign(v);
  }
  const int64_t nfe0 = model.nfe();
  auto f = [&](const at::Tensor& y, double t) {
    at::AutoGradMode enable(true);
    at::Tensor x = y.slice(1, 0, D).reshape(x0.sizes()).detach().requires_grad_(true);
    at::Tensor tt = at::full({B}, t, x.options());
    at::Tensor h = reverse_drift(model.sde(), x, tt, model.score(x, tt), /*probability_flow=*/true);
    at::Tensor div = at::zeros({B}, x.options());
    if (exact) {
      at::Tensor hf = h.reshape({B, D});
      for (int64_t d = 0; d < D; ++d) {
        at::Tensor g = torch::autograd::grad({hf.select(1, d).sum()}, {x}, {}, /*retain_graph=*/true)[0];
        div = div + g.reshape({B, D}).select(1, d);
      }
    } else {
      at::Tensor g = torch::autograd::grad({(h * v).sum()}, {x})[0];
      div = (g * v).reshape({B, D}).sum(1);
    }
    return at::cat({h.detach().reshape({B, D}), div.detach().unsqueeze(1)}, 1);
  };
  at::Tensor y0 = at::cat({x0.reshape({B, D}), at::zeros({B, 1}, x0.options())}, 1);
  LikelihoodResult r;
  at::Tensor yT = rk45(f, y0, o.eps, model.sde().T(), o.ode, &r.stats);
  r.x_T = yT.slice(1, 0, D).reshape(x0.sizes());
  r.prior_log_p = model.sde().prior_log_prob(r.x_T);
  r.delta = yT.select(1, D);
  r.log_p = r.prior_log_p + r.delta;
  r.nfe = model.nfe() - nfe0;
  return r;
}

}  // namespace scorelab
