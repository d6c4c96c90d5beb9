#include "networks/edm_precond.h"

#include <ATen/ATen.h>

#include "core/tensor_util.h"

namespace scorelab {

EDMCoefficients edm_coefficients(const at::Tensor& s, double sigma_data) {
  const double sd2 = sigma_data * sigma_data;
  at::Tensor norm = (s * s + sd2).rsqrt();  // 1 / sqrt(s^2 + sd^2)
  return {sd2 * norm * norm, s * sigma_data * norm, norm, 0.25 * at::log(s)};
}

at::Tensor EDMScoreModel::predict(const at::Tensor& x, const at::Tensor& t) const { return preconditioned(x, t, {}); }

at::Tensor EDMScoreModel::predict_labelled(const at::Tensor& x, const at::Tensor& t, const at::Tensor& y) const {
  return preconditioned(x, t, y);
}

at::Tensor EDMScoreModel::preconditioned(const at::Tensor& x, const at::Tensor& t, const at::Tensor& y) const {
  // One time for the whole batch (a sampler's step, a broadcast view): the coefficients once.
  const bool shared = t.dim() == 1 && t.size(0) > 1 && t.stride(0) == 0;
  const at::Tensor tt = shared ? t.slice(0, 0, 1) : t;
  const at::Tensor alpha = sde().alpha(tt), s = sde().sigma(tt) / alpha;
  EDMCoefficients c = edm_coefficients(s, sigma_data_);
  at::Tensor c_noise = shared ? c.c_noise.expand({t.size(0)}) : c.c_noise;
  const int64_t d = x.dim();
  at::Tensor x_hat = x / append_dims(alpha, d);
  at::Tensor f = y.defined() ? net_->forward_labelled(x_hat * append_dims(c.c_in, d), c_noise, y)
                             : net_->forward(x_hat * append_dims(c.c_in, d), c_noise);
  return append_dims(c.c_skip, d) * x_hat + append_dims(c.c_out, d) * f;
}

}  // namespace scorelab
