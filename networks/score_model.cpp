#include "networks/score_model.h"

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

at::Tensor ScoreModel::mu(const at::Tensor& x, const at::Tensor& t) const {
  return converted(x, t, Parameterization::mu);
}

}  // namespace scorelab
