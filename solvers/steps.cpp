#include "solvers/steps.h"

#include <cmath>

#include <ATen/ATen.h>

#include "core/tensor_util.h"
#include "networks/score_model.h"

namespace scorelab {

Transition transition(const SDE& sde, double t, double s) {
  at::Tensor ts = at::tensor({t, s}, at::kDouble);
  at::Tensor a = sde.alpha(ts), sg = sde.sigma(ts);
  Transition r;
  r.alpha_t = a[0].item<double>();
  r.alpha_s = a[1].item<double>();
  r.sigma_t = sg[0].item<double>();
  r.sigma_s = sg[1].item<double>();
  r.a_ts = r.alpha_t / r.alpha_s;
  r.v_ts = std::max(0.0, r.sigma_t * r.sigma_t - r.a_ts * r.a_ts * r.sigma_s * r.sigma_s);
  return r;
}

at::Tensor AncestralStep::step(const ScoreModel& model, const at::Tensor& x, double t, double t_next, int64_t k,
                               bool last, const NoiseSource& noise) const {
  Transition tr = transition(model.sde(), t, t_next);
  at::Tensor x0 = model.x0(x, at::full({x.size(0)}, t, x.options()));
  double s2 = tr.sigma_t * tr.sigma_t;
  at::Tensor mean = (tr.a_ts * tr.sigma_s * tr.sigma_s / s2) * x + (tr.alpha_s * tr.v_ts / s2) * x0;
  if (last) return mean;
  double var = beta_tilde_ ? tr.posterior_variance() : tr.v_ts;
  return mean + std::sqrt(var) * noise.normal_like(x, k + 1);
}

at::Tensor DDIMStep::step(const ScoreModel& model, const at::Tensor& x, double t, double t_next, int64_t k, bool last,
                          const NoiseSource& noise) const {
  Transition tr = transition(model.sde(), t, t_next);
  at::Tensor eps = model.eps(x, at::full({x.size(0)}, t, x.options()));
  at::Tensor x0 = (x - tr.sigma_t * eps) / tr.alpha_t;
  double c = last ? 0.0 : eta_ * std::sqrt(tr.posterior_variance());
  at::Tensor out = tr.alpha_s * x0 + std::sqrt(std::max(0.0, tr.sigma_s * tr.sigma_s - c * c)) * eps;
  if (c > 0) out = out + c * noise.normal_like(x, k + 1);
  return out;
}

at::Tensor ReverseDiffusionStep::step(const ScoreModel& model, const at::Tensor& x, double t, double t_next, int64_t k,
                                      bool last, const NoiseSource& noise) const {
  at::Tensor tt = at::full({x.size(0)}, t, x.options());
  SDE::Discrete d = model.sde().discretize(x, tt, t - t_next);
  at::Tensor G = append_dims(d.G, x.dim());
  at::Tensor x_mean = x - d.f + G.pow(2) * model.score(x, tt);
  if (last) return x_mean;
  return x_mean + G * noise.normal_like(x, k + 1);
}

}  // namespace scorelab
