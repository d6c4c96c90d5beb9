#include "solvers/euler_maruyama.h"

#include <cmath>

#include <ATen/ATen.h>

#include "core/tensor_util.h"
#include "networks/score_model.h"

namespace scorelab {

at::Tensor EulerMaruyamaStep::step(const ScoreModel& model, const at::Tensor& x, double t, double t_next, int64_t k,
                                   bool last, const NoiseSource& noise) const {
  const SDE& sde = model.sde();
  double dt = t - t_next;
  at::Tensor tt = at::full({x.size(0)}, t, x.options());
  at::Tensor x_mean = x - reverse_drift(sde, x, tt, model.score(x, tt), /*probability_flow=*/false) * dt;
  if (last) return x_mean;
  at::Tensor g = append_dims(sde.diffusion(tt), x.dim());
  return x_mean + g * std::sqrt(dt) * noise.normal_like(x, k + 1);
}

}  // namespace scorelab
