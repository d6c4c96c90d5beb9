#include "networks/score_model.h"

#include "core/tensor_util.h"

namespace scorelab {

at::Tensor ScoreModel::converted(const at::Tensor& x, const at::Tensor& t, Parameterization want) const {
  ++nfe_;
  at::Tensor pred = predict(x, t);
  Parameterization have = kind();
  if (have == want) return pred;
  at::Tensor a = append_dims(sde_->alpha(t), x.dim());
  at::Tensor s = append_dims(sde_->sigma(t), x.dim());
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

}  // namespace scorelab
