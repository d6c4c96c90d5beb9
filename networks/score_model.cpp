#include "networks/score_model.h"

#include <ATen/ATen.h>

#include "core/tensor_util.h"
#include "sde/ddpm.h"

namespace scorelab {

at::Tensor ScoreModel::converted(const at::Tensor& x, const at::Tensor& t, Parameterization want) const {
  ++nfe_;
  return convert(predict(x, t), kind(), want, x, t);
}

at::Tensor ScoreModel::convert(const at::Tensor& pred_in, Parameterization have, Parameterization want,
                               const at::Tensor& x, const at::Tensor& t) const {
  at::Tensor pred = pred_in;
  if (have == want) return pred;
  at::Tensor a = append_dims(sde_->alpha(t), x.dim());
  at::Tensor s = append_dims(sde_->sigma(t), x.dim());
  if (have == Parameterization::mu || want == Parameterization::mu) {
    // mu = c0 x0 + ct x_t on the DDPM chain (DDPM eq. 7), at the step nearest to t.
    const DDPMChain* chain = sde_->ddpm_chain();
    TORCH_CHECK(chain, "the mu parameterization needs a discrete DDPM chain (sde.type: ddpm), not sde '",
                sde_->name(), "'");
    at::Tensor i = chain->step_index(t);
    at::Tensor c0 = append_dims(chain->posterior_c0(i, t), x.dim());
    at::Tensor ct = append_dims(chain->posterior_ct(i, t), x.dim());
    if (have == Parameterization::mu) {
      pred = (pred - ct * x) / c0;
      have = Parameterization::x0;
      if (want == have) return pred;
    }
    at::Tensor e = prediction_to_eps(have, pred, x, a, s);
    if (want != Parameterization::mu) return eps_to_prediction(want, e, x, a, s);
    return c0 * eps_to_prediction(Parameterization::x0, e, x, a, s) + ct * x;
  }
  return eps_to_prediction(want, prediction_to_eps(have, pred, x, a, s), x, a, s);
}

at::Tensor ScoreModel::eps(const at::Tensor& x, const at::Tensor& t) const {
  return converted(x, t, Parameterization::eps);
}
at::Tensor ScoreModel::score(const at::Tensor& x, const at::Tensor& t) const {
  return converted(x, t, Parameterization::score);
}
at::Tensor ScoreModel::x0(const at::Tensor& x, const at::Tensor& t) const {
  return converted(x, t, Parameterization::x0);
}
at::Tensor ScoreModel::v(const at::Tensor& x, const at::Tensor& t) const {
  return converted(x, t, Parameterization::v);
}

Conditioning parse_conditioning(const std::string& name, const SDE& sde) {
  if (name == "time") return Conditioning::time;
  if (name == "log_sigma") return Conditioning::log_sigma;
  if (name == "index") return Conditioning::index;
  return sde.natural_conditioning();
}

at::Tensor conditioning_value(Conditioning c, const SDE& sde, const at::Tensor& t) {
  // One time for the whole batch (a sampler's step: a broadcast view): compute it once and
  // hand the network a broadcast view too, so it can embed it once.
  if (t.dim() == 1 && t.size(0) > 1 && t.stride(0) == 0)
    return conditioning_value(c, sde, t.slice(0, 0, 1)).expand({t.size(0)});
  switch (c) {
    case Conditioning::log_sigma: return 0.25 * at::log(sde.sigma(t));  // Karras+22 Table 1, c_noise
    case Conditioning::index: return sde.ddpm_chain()->step_index(t).to(t.scalar_type());
    case Conditioning::time: break;
  }
  return 1000.0 * t;
}

at::Tensor ScoreModel::predict_labelled(const at::Tensor&, const at::Tensor&, const at::Tensor&) const {
  TORCH_CHECK(false, "this model takes no class labels (model.class_conditional is off, or the model is an energy)");
}

at::Tensor ScoreNetImpl::forward_labelled(const at::Tensor&, const at::Tensor&, const at::Tensor&) {
  TORCH_CHECK(false, "this network has no class embedding (model.class_conditional: true adds one)");
}

at::Tensor ScoreModel::mu(const at::Tensor& x, const at::Tensor& t) const {
  return converted(x, t, Parameterization::mu);
}

}  // namespace scorelab
