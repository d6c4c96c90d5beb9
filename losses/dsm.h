// Denoising score matching in continuous time (Vincent 2011; Song et al. 2021, eq. 7):
//   L = int_eps^T W(t) E_{x0, eps} || eps_hat(x_t, t) - eps ||^2 dt,  x_t = alpha x0 + sigma eps,
// estimated as E_{t~q} [W(t)/q(t) ||eps_hat - eps||^2] with q from losses/time_sampling.h.
// Since s + eps/sigma = (eps - eps_hat)/sigma, a score weighting lambda(t) on
// ||s + eps/sigma||^2 is W = lambda / (sigma^2 (T - eps)) (the mean over t ~ U(eps, T)):
//   plain       lambda = sigma^2 (eps-MSE; DDPM's L_simple)
//   likelihood  lambda = g^2     (Song et al. 2021b)
//   none        lambda = 1
// The weighted-objective family of Kingma & Gao 2023 (eq. 7): W = 1/2 w(lambda) (-d lambda/dt),
//   elbo        w = 1 (the continuous-time diffusion ELBO, up to prior and reconstruction terms)
//   sigmoid     w = sigmoid(b - lambda)
//   edm         w = N(lambda; -2 P_mean, (2 P_std)^2) (e^-lambda + sigma_data^2) / sigma_data^2
//               (EDM's loss, Karras et al. 2022, written in lambda; Kingma & Gao Table 1)
#pragma once
#include "losses/loss.h"
#include "losses/time_sampling.h"
#include "losses/weighting.h"

namespace scorelab {

class Config;

struct DSMOptions {
  std::string weighting = "plain";     // a registered weighting (losses/weighting.h)
  std::shared_ptr<const Weighting> weight_fn;  // built from the config; unset: `weighting`'s defaults
  std::string t_sampling = "uniform";  // uniform | importance | log_snr
  double eps = 1e-5;                   // smallest t
  // The weighting comes from `weightings` (the registry of experiments/registries.cpp).
  static DSMOptions from(const Config& cfg, const WeightingRegistry& weightings);
};

class DSMLoss : public Loss {
 public:
  DSMLoss(DSMOptions o, const LossContext& ctx);
  std::string name() const override { return "dsm"; }
  LossResult operator()(const ScoreModel& model, const at::Tensor& x0, at::Generator& gen) const override;
  std::vector<std::string> part_names() const override { return {"dsm", "weight_mean"}; }
  // W(t) above, on float64 t.
  at::Tensor weight(const at::Tensor& t) const;

 private:
  DSMOptions o_;
  std::shared_ptr<const SDE> sde_;
  std::shared_ptr<const Weighting> w_;
  TimeSampler times_;
};

}  // namespace scorelab
