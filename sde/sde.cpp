#include "sde/sde.h"

#include <cmath>

#include <ATen/ATen.h>

#include "core/tensor_util.h"

namespace scorelab {

at::Tensor SDE::log_snr(const at::Tensor& t) const {
  return 2.0 * (at::log(alpha(t)) - at::log(sigma(t)));
}

at::Tensor SDE::prior_log_prob(const at::Tensor& x) const {
  double d = static_cast<double>(x[0].numel()), s = prior_std();
  return -0.5 * d * std::log(2 * M_PI * s * s) - 0.5 * sum_except_batch(x.pow(2)) / (s * s);
}

SDE::Discrete SDE::discretize(const at::Tensor& x, const at::Tensor& t, double dt) const {
  return {drift(x, t) * dt, diffusion(t) * std::sqrt(dt)};
}

at::Tensor SDE::prior_sample(at::IntArrayRef shape, at::Generator& gen, const at::TensorOptions& opts) const {
  return prior_from_normal(at::randn(shape, gen, opts));
}

double time_of_sigma(const SDE& sde, double s, double lo, double hi) {
  auto sig = [&](double t) { return sde.sigma(at::full({1}, t, at::kDouble)).item<double>(); };
  for (int k = 0; k < 100; ++k) {
    double mid = 0.5 * (lo + hi);
    (sig(mid) < s ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

at::Tensor reverse_drift(const SDE& sde, const at::Tensor& x, const at::Tensor& t, const at::Tensor& score,
                         bool probability_flow) {
  at::Tensor g2 = append_dims(sde.diffusion(t).pow(2), x.dim());
  return sde.drift(x, t) - (probability_flow ? 0.5 : 1.0) * g2 * score;
}

}  // namespace scorelab
