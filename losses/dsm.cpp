#include "losses/dsm.h"

#include <cmath>
#include <tuple>

#include <ATen/ATen.h>

#include "core/config.h"
#include "core/tensor_util.h"
#include "networks/score_model.h"

namespace scorelab {

DSMOptions DSMOptions::from(const Config& cfg, const WeightingRegistry& weightings) {
  DSMOptions o;
  o.weight_fn = weightings.build(cfg, o.weighting);
  o.weighting = cfg.get_string("weighting", o.weighting);
  o.t_sampling = cfg.get_choice("t_sampling", o.t_sampling, {"uniform", "importance", "log_snr"});
  o.eps = cfg.get_double("eps", o.eps, 0.0, 0.5);
  return o;
}

DSMLoss::DSMLoss(DSMOptions o, const LossContext& ctx)
    : o_(std::move(o)), sde_(ctx.sde),
      w_(o_.weight_fn ? o_.weight_fn : builtin_weighting(o_.weighting)),
      times_(o_.t_sampling, *ctx.sde, o_.eps, [this](const at::Tensor& t) { return weight(t); }) {}

at::Tensor DSMLoss::weight(const at::Tensor& t) const { return (*w_)(*sde_, t, sde_->T() - o_.eps); }

LossResult DSMLoss::operator()(const ScoreModel& model, const at::Tensor& x0_all, at::Generator& gen) const {
  const SDE& sde = model.sde();
  int64_t B = x0_all.size(0);
  LossResult r;
  // W/q constant (plain weighting, uniform t): one fused squared error, no per-sample weights.
  std::optional<double> W = w_->constant(sde_->T() - o_.eps), q = times_.constant_density();
  at::Tensor t, q_t;
  if (W && q)
    t = times_.sample_t(B, gen, x0_all.options());
  else
    std::tie(t, q_t) = times_.sample(B, gen, x0_all.options());
  at::Tensor z = at::randn(x0_all.sizes(), gen, x0_all.options());
  // This process's rows (all of them outside data-parallel training).
  const at::Tensor x0 = mine(x0_all);
  t = mine(t);
  z = mine(z);
  if (q_t.defined()) q_t = mine(q_t);
  at::Tensor xt = at::addcmul(append_dims(sde.alpha(t), x0.dim()) * x0, append_dims(sde.sigma(t), x0.dim()), z);
  const double span = sde_->T() - o_.eps;
  if (W && q) {
    if (per_example_) {  // the per-example errors: three element-wise operations more than mse_loss
      at::Tensor err = sum_except_batch((model.eps(xt, t) - z).square());
      r.loss = err.sum() * (*W / *q / static_cast<double>(B));
      r.per_example = err.detach();
      r.t_frac = (t.detach() - o_.eps) / span;
    } else {
      r.loss = at::mse_loss(model.eps(xt, t), z, at::Reduction::Sum) * (*W / *q / static_cast<double>(B));
    }
    r.parts["dsm"] = r.loss.detach();
    r.parts["weight_mean"] = at::scalar_tensor(*W / *q * share(B), x0.options());
    return r;
  }
  at::Tensor w = weight(t) / q_t;
  at::Tensor err = sum_except_batch((model.eps(xt, t) - z).pow(2));
  r.per_example = err.detach();
  r.t_frac = (t.detach() - o_.eps) / span;
  r.loss = batch_mean(w * err, B);
  r.parts["dsm"] = r.loss.detach();
  r.parts["weight_mean"] = batch_mean(w, B).detach();
  return r;
}

}  // namespace scorelab
