// DSM weightings (losses/dsm.h) as named objects: W(t), the weight of the eps-MSE at time t,
// for an SDE on [eps, T]. Each is a factory reading its own keys of the `loss:` section, and one
// line in experiments/registries.cpp registers it under its `loss.weighting` name.
//   plain       W = 1 / span                       (eps-MSE; DDPM's L_simple)
//   likelihood  W = g^2 / sigma^2 / span           (Song et al. 2021b)
//   none        W = 1 / sigma^2 / span             (unweighted score MSE)
//   elbo        W = 1/2 (-d lambda / dt)           (Kingma & Gao 2023, w = 1)
//   sigmoid     W = sigmoid(b - lambda) 1/2 (-d lambda / dt)           (`sigmoid_bias` b)
//   edm         W = N(lambda; -2 P_mean, (2 P_std)^2) (e^-lambda + sd^2)/sd^2 1/2 (-d lambda/dt)
//               (Karras et al. 2022 in lambda; `edm_p_mean`, `edm_p_std`, `edm_sigma_data`)
//   min_snr     W = min(1, gamma / SNR) / span     (Hang et al. 2023, eps-prediction form of
//               min(SNR, gamma); `min_snr_gamma`, default 5, diffusers' --snr_gamma)
// with span = T - eps, lambda = log(alpha^2 / sigma^2).
#pragma once
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <ATen/core/Tensor.h>

#include "core/registry.h"

namespace scorelab {

class SDE;

class Weighting {
 public:
  virtual ~Weighting() = default;
  // W(t) on float64 t for `sde`, with span = T - eps.
  virtual at::Tensor operator()(const SDE& sde, const at::Tensor& t, double span) const = 0;
  // W where it does not depend on t (plain): losses then skip the per-sample weights.
  virtual std::optional<double> constant(double /*span*/) const { return std::nullopt; }
};

using WeightingRegistry = Registry<const Weighting>;

// A weighting from a function of (sde, t, span).
using WeightFn = std::function<at::Tensor(const SDE&, const at::Tensor&, double)>;
std::shared_ptr<const Weighting> make_weighting(WeightFn f);

std::shared_ptr<const Weighting> plain_weighting_from(const Config& c);
std::shared_ptr<const Weighting> likelihood_weighting_from(const Config& c);
std::shared_ptr<const Weighting> none_weighting_from(const Config& c);
std::shared_ptr<const Weighting> elbo_weighting_from(const Config& c);
std::shared_ptr<const Weighting> sigmoid_weighting_from(const Config& c);
std::shared_ptr<const Weighting> edm_weighting_from(const Config& c);
std::shared_ptr<const Weighting> min_snr_weighting_from(const Config& c);

// The built-in weightings (the registry of experiments/registries.cpp holds the same list);
// for losses built without a config (tests): `name` with its default parameters.
std::shared_ptr<const Weighting> builtin_weighting(const std::string& name);

}  // namespace scorelab
