// Denoising score matching in continuous time (Vincent 2011; Song et al. 2021, eq. 7):
//   L = E_t E_{x0, eps} lambda(t) || s(x_t, t) + eps / sigma(t) ||^2,  x_t = alpha x0 + sigma eps,
// computed through the model's eps prediction: s + eps/sigma = (eps - eps_hat) / sigma, so
//   L = E_t w(t) || eps_hat - eps ||^2  with w = lambda / sigma^2.
// Weightings: plain (lambda = sigma^2: eps-MSE, DDPM's L_simple), likelihood (lambda = g^2,
// Song et al. 2021b), none (lambda = 1). t ~ U(eps, T).
#pragma once
#include "losses/loss.h"

namespace scorelab {

class Config;

struct DSMOptions {
  std::string weighting = "plain";  // plain | likelihood | none
  double eps = 1e-5;                // smallest t sampled
  static DSMOptions from(const Config& cfg);
};

class DSMLoss : public Loss {
 public:
  explicit DSMLoss(DSMOptions o) : o_(std::move(o)) {}
  std::string name() const override { return "dsm"; }
  LossResult operator()(const ScoreModel& model, const at::Tensor& x0, at::Generator& gen) const override;
  std::vector<std::string> part_names() const override { return {"dsm", "weight_mean"}; }
  // w(t) = lambda(t) / sigma(t)^2 for this weighting.
  at::Tensor weight(const ScoreModel& model, const at::Tensor& t) const;

 private:
  DSMOptions o_;
};

}  // namespace scorelab
