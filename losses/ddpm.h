// DDPM's discrete-time objectives (Ho et al. 2020) on the `ddpm` SDE's chain:
//   simple  L_simple: E_{i ~ U{1..N}} || pred - target ||^2 with the target of the model's own
//           parameterization (eps: eq. 14; x0; mu: the posterior mean mu~(x_i, x0) of eq. 7)
//   vlb     the variational bound L = L_N + sum_{i>=2} L_{i-1} + L_0 (eq. 5), every KL between
//           Gaussians in closed form, estimated with one uniformly drawn i per example
//           (N * L_{i-1}) plus L_N exactly; L_0 is the discretized Gaussian decoder of eq. 13
//           for data on the 8-bit grid in [-1, 1] (decoder: discretized), or a Gaussian density
//           for continuous data (decoder: gaussian)
//   hybrid  L_simple + lambda_vlb * L_vlb (Nichol & Dhariwal 2021, sec. 3.1)
// The reverse variance is sigma_i^2 = beta_i or beta~_i (variance: beta | beta_tilde; at i = 1
// beta~_1 = 0 is replaced by beta~_2, as in Nichol & Dhariwal's clipped log-variance).
// Parts: simple, vlb (nats per example), vlb_bpd (bits per dimension).
#pragma once
#include "losses/loss.h"

namespace scorelab {

class Config;
struct DDPMChain;

struct DDPMLossOptions {
  std::string objective = "simple";  // simple | vlb | hybrid
  std::string variance = "beta";     // beta | beta_tilde
  std::string decoder = "discretized";  // discretized | gaussian
  double lambda_vlb = 0.001;
  static DDPMLossOptions from(const Config& cfg);
};

struct VLBTerms {
  at::Tensor prior;  // L_N per example [B] (nats)
  at::Tensor term;   // L_{i-1} (i >= 2) or L_0 (i = 1) per example [B] (nats)
};

class DDPMLoss : public Loss {
 public:
  DDPMLoss(DDPMLossOptions o, const LossContext& ctx);
  std::string name() const override { return "ddpm"; }
  LossResult operator()(const ScoreModel& model, const at::Tensor& x0, at::Generator& gen) const override;
  std::vector<std::string> part_names() const override { return {"simple", "vlb", "vlb_bpd"}; }
  // The VLB terms at steps i [B] (int64, 1..N) for data x0 and noise z (x_i = sqrt(ab_i) x0 +
  // sqrt(1 - ab_i) z); with pred_out set, also the model's prediction (its own kind).
  VLBTerms vlb_terms(const ScoreModel& model, const at::Tensor& x0, const at::Tensor& i, const at::Tensor& z,
                     at::Tensor* pred_out = nullptr, at::Tensor* xt_out = nullptr) const;
  // The whole bound for x0, summing all N terms (N model evaluations per example), in nats [B].
  at::Tensor full_vlb(const ScoreModel& model, const at::Tensor& x0, at::Generator& gen) const;

 private:
  at::Tensor reverse_variance(const at::Tensor& i, const at::Tensor& like) const;
  DDPMLossOptions o_;
  const DDPMChain* chain_;
  std::shared_ptr<const SDE> sde_;
};

// log P(x0 | mean, log_scale) under DDPM's discretized Gaussian (eq. 13) for x0 on the 8-bit
// grid {-1, -1 + 2/255, ..., 1}, summed over dimensions [B].
at::Tensor discretized_gaussian_log_likelihood(const at::Tensor& x0, const at::Tensor& mean, const at::Tensor& log_std);

}  // namespace scorelab
