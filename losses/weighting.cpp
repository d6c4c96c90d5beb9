#include "losses/weighting.h"

#include <cmath>
#include <functional>

#include <ATen/ATen.h>

#include "core/config.h"
#include "sde/sde.h"

namespace scorelab {

namespace {
class FnWeighting : public Weighting {
 public:
  explicit FnWeighting(WeightFn f) : f_(std::move(f)) {}
  at::Tensor operator()(const SDE& sde, const at::Tensor& t, double span) const override { return f_(sde, t, span); }

 private:
  WeightFn f_;
};
// 1/2 (-d lambda / dt): Kingma & Gao 2023's change of variable from t to lambda.
at::Tensor half_jacobian(const SDE& sde, const at::Tensor& t) { return -0.5 * sde.dlog_snr_dt(t); }
}  // namespace

std::shared_ptr<const Weighting> make_weighting(WeightFn f) { return std::make_shared<FnWeighting>(std::move(f)); }

namespace {
class PlainWeighting : public Weighting {
 public:
  at::Tensor operator()(const SDE&, const at::Tensor& t, double span) const override {
    return at::full_like(t, 1.0 / span);
  }
  std::optional<double> constant(double span) const override { return 1.0 / span; }
};
}  // namespace

std::shared_ptr<const Weighting> plain_weighting_from(const Config&) { return std::make_shared<PlainWeighting>(); }

std::shared_ptr<const Weighting> likelihood_weighting_from(const Config&) {
  return make_weighting([](const SDE& sde, const at::Tensor& t, double span) {
    return sde.diffusion(t).pow(2) / sde.sigma(t).pow(2) / span;
  });
}

std::shared_ptr<const Weighting> none_weighting_from(const Config&) {
  return make_weighting([](const SDE& sde, const at::Tensor& t, double span) { return 1.0 / sde.sigma(t).pow(2) / span; });
}

std::shared_ptr<const Weighting> elbo_weighting_from(const Config&) {
  return make_weighting([](const SDE& sde, const at::Tensor& t, double) { return half_jacobian(sde, t); });
}

std::shared_ptr<const Weighting> sigmoid_weighting_from(const Config& c) {
  const double b = c.get_double("sigmoid_bias", 0.0);
  return make_weighting([b](const SDE& sde, const at::Tensor& t, double) {
    return at::sigmoid(b - sde.log_snr(t)) * half_jacobian(sde, t);
  });
}

std::shared_ptr<const Weighting> edm_weighting_from(const Config& c) {
  const double p_mean = c.get_double("edm_p_mean", -1.2), p_std = c.get_positive("edm_p_std", 1.2);
  const double sigma_data = c.get_positive("edm_sigma_data", 0.5);
  return make_weighting([=](const SDE& sde, const at::Tensor& t, double) {
    // ln sigma ~ N(P_mean, P_std^2) and lambda = -2 ln sigma.
    at::Tensor lam = sde.log_snr(t);
    double mu = -2 * p_mean, sd = 2 * p_std, sd2 = sigma_data * sigma_data;
    at::Tensor pdf = at::exp(-0.5 * ((lam - mu) / sd).pow(2)) / (sd * std::sqrt(2 * M_PI));
    return pdf * (at::exp(-lam) + sd2) / sd2 * half_jacobian(sde, t);
  });
}

std::shared_ptr<const Weighting> min_snr_weighting_from(const Config& c) {
  const double gamma = c.get_positive("min_snr_gamma", 5.0);
  // Hang et al. 2023: the x0-MSE weighted by min(SNR, gamma) is the eps-MSE weighted by
  // min(SNR, gamma) / SNR, SNR = alpha^2 / sigma^2 = exp(lambda).
  return make_weighting([gamma](const SDE& sde, const at::Tensor& t, double span) {
    return at::clamp_max(gamma * at::exp(-sde.log_snr(t)), 1.0) / span;
  });
}

std::shared_ptr<const Weighting> builtin_weighting(const std::string& name) {
  Config none = Config::from_string("{}", "<defaults>");
  if (name == "plain") return plain_weighting_from(none);
  if (name == "likelihood") return likelihood_weighting_from(none);
  if (name == "none") return none_weighting_from(none);
  if (name == "elbo") return elbo_weighting_from(none);
  if (name == "sigmoid") return sigmoid_weighting_from(none);
  if (name == "edm") return edm_weighting_from(none);
  if (name == "min_snr") return min_snr_weighting_from(none);
  throw std::invalid_argument("unknown DSM weighting '" + name + "'");
}

}  // namespace scorelab
