#include "losses/ncsn.h"

#include <ATen/ATen.h>

#include "core/config.h"
#include "core/tensor_util.h"
#include "networks/score_model.h"
#include "sde/sde.h"
#include "sde/ve.h"

namespace scorelab {

NCSNLossOptions NCSNLossOptions::from(const Config& cfg) {
  NCSNLossOptions o;
  o.levels = cfg.get_int("levels", o.levels, 1, 100000);
  o.sigma_min = cfg.get_double("sigma_min", o.sigma_min, 0.0);
  o.sigma_max = cfg.get_double("sigma_max", o.sigma_max, 0.0);
  o.eps = cfg.get_double("eps", o.eps, 0.0, 0.5);
  return o;
}

NCSNLoss::NCSNLoss(NCSNLossOptions o, const LossContext& ctx) : o_(o) {
  const SDE& sde = *ctx.sde;
  double s_lo = sde.sigma(at::full({1}, o_.eps, at::kDouble)).item<double>();
  double s_hi = sde.sigma(at::full({1}, sde.T(), at::kDouble)).item<double>();
  double smin = o_.sigma_min > 0 ? o_.sigma_min : s_lo, smax = o_.sigma_max > 0 ? o_.sigma_max : s_hi;
  TORCH_CHECK(smin >= s_lo * (1 - 1e-9) && smax <= s_hi * (1 + 1e-9) && smin < smax, "ncsn: sigma levels [", smin,
              ", ", smax, "] must lie inside the SDE's range [", s_lo, ", ", s_hi, "]");
  sigmas_ = ncsn_sigmas(o_.levels, smin, smax);
  std::vector<double> ts;
  for (int64_t l = 0; l < o_.levels; ++l) ts.push_back(time_of_sigma(sde, sigmas_[l].item<double>(), o_.eps, sde.T()));
  t_levels_ = at::tensor(ts, at::kDouble);
}

LossResult NCSNLoss::operator()(const ScoreModel& model, const at::Tensor& x0_all, at::Generator& gen) const {
  int64_t B = x0_all.size(0);
  at::Tensor l = at::randint(o_.levels, {B}, gen, at::TensorOptions().dtype(at::kLong).device(x0_all.device()));
  at::Tensor z = mine(at::randn(x0_all.sizes(), gen, x0_all.options()));
  const at::Tensor x0 = mine(x0_all);  // this process's rows (data-parallel training)
  at::Tensor t = cache_->as(t_levels_, x0).index_select(0, mine(l));
  at::Tensor sigma = model.sde().sigma(t);
  at::Tensor xt = append_dims(model.sde().alpha(t), x0.dim()) * x0 + append_dims(sigma, x0.dim()) * z;
  // sigma^2 * 1/2 || s + z / sigma ||^2 = 1/2 || sigma s + z ||^2.
  at::Tensor s = model.score(xt, t);
  at::Tensor per = 0.5 * sum_except_batch((append_dims(sigma, x0.dim()) * s + z).pow(2));
  LossResult r;
  r.loss = batch_mean(per, B);
  r.parts["ncsn"] = r.loss.detach();
  return r;
}

}  // namespace scorelab
