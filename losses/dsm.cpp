#include "losses/dsm.h"

#include <ATen/ATen.h>

#include "core/config.h"
#include "core/tensor_util.h"
#include "networks/score_model.h"

namespace scorelab {

DSMOptions DSMOptions::from(const Config& cfg) {
  DSMOptions o;
  o.weighting = cfg.get_choice("weighting", o.weighting, {"plain", "likelihood", "none"});
  o.eps = cfg.get_double("eps", o.eps, 0.0, 0.5);
  return o;
}

at::Tensor DSMLoss::weight(const ScoreModel& model, const at::Tensor& t) const {
  if (o_.weighting == "plain") return at::ones_like(t);
  at::Tensor s2 = model.sde().sigma(t).pow(2);
  if (o_.weighting == "likelihood") return model.sde().diffusion(t).pow(2) / s2;
  return 1.0 / s2;  // none
}

LossResult DSMLoss::operator()(const ScoreModel& model, const at::Tensor& x0, at::Generator& gen) const {
  const SDE& sde = model.sde();
  int64_t B = x0.size(0);
  at::Tensor t = o_.eps + (sde.T() - o_.eps) * at::rand({B}, gen, x0.options());
  at::Tensor z = at::randn(x0.sizes(), gen, x0.options());
  at::Tensor xt = append_dims(sde.alpha(t), x0.dim()) * x0 + append_dims(sde.sigma(t), x0.dim()) * z;
  at::Tensor w = weight(model, t);
  at::Tensor per = w * sum_except_batch((model.eps(xt, t) - z).pow(2));
  LossResult r;
  r.loss = per.mean();
  r.parts["dsm"] = r.loss.detach();
  r.parts["weight_mean"] = w.mean().detach();
  return r;
}

}  // namespace scorelab
