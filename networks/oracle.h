// Exact score models: a Gaussian mixture sum_k w_k N(mu_k, Sigma_k) perturbed by any SDE's
// kernel is again a mixture, sum_k w_k N(alpha mu_k, alpha^2 Sigma_k + sigma^2 I), whose
// score and log-density are closed-form. The oracle plugs in wherever a trained model does
// (model.type: gmm_oracle / gaussian_oracle), so losses and samplers are tested and compared
// against the exact answer with no training at all.
#pragma once
#include <ATen/core/Generator.h>

#include "networks/score_model.h"

namespace scorelab {

class Config;

struct GaussianMixture {
  at::Tensor weights;  // float64 [K], sums to 1
  at::Tensor means;    // float64 [K, D]
  at::Tensor covs;     // float64 [K, D, D], symmetric positive definite
  at::Tensor iso_vars; // float64 [K] when every covariance is s_k^2 I (std/stds), else undefined

  // YAML: weights: [..] (default uniform), means: [[..], ..], and covs: [[[..]]] (full) or
  // stds: [..] (isotropic per component) or std: s (shared); default std 1.
  static GaussianMixture from(const Config& cfg);
  // A single Gaussian: mean: [..], cov: [[..]] or std: s.
  static GaussianMixture gaussian_from(const Config& cfg);

  int64_t dim() const { return means.size(1); }
  at::Tensor sample(int64_t n, at::Generator& gen) const;  // float64 [n, D]
  // The same draws with each point's component (int64 [n]) in *component.
  at::Tensor sample(int64_t n, at::Generator& gen, at::Tensor* component) const;
  // Draws from component k[i] for each i (float64 [n, D]).
  at::Tensor sample_components(const at::Tensor& k, at::Generator& gen) const;
  // Log-density and score of the perturbed mixture at x [B, D] with per-sample alpha, sigma [B]
  // (alpha = 1, sigma = 0 gives the data density itself).
  at::Tensor log_prob(const at::Tensor& x, const at::Tensor& alpha, const at::Tensor& sigma) const;
  at::Tensor score(const at::Tensor& x, const at::Tensor& alpha, const at::Tensor& sigma) const;
  // The score at one alpha, sigma for the whole batch, for isotropic components (iso_vars):
  // squared distances by one matrix product, no [B, K, D] tensor, no factorisation. float64.
  // alpha, sigma: 0-dim float64 tensors on x's device (no host sync inside a sampling step).
  at::Tensor score_isotropic(const at::Tensor& x, const at::Tensor& alpha, const at::Tensor& sigma) const;
  // Posterior component probabilities r_k(x) [B, K] (for coverage metrics).
  at::Tensor responsibilities(const at::Tensor& x, const at::Tensor& alpha, const at::Tensor& sigma) const;
  // The class-conditional score: row i given component y[i] is that component's perturbed
  // score -C_k^{-1} (x - alpha mu_k); y[i] = K (the null class) is the mixture's score.
  at::Tensor conditional_score(const at::Tensor& x, const at::Tensor& alpha, const at::Tensor& sigma,
                               const at::Tensor& y) const;
};

class OracleScoreModel : public ScoreModel {
 public:
  OracleScoreModel(GaussianMixture gmm, std::shared_ptr<const SDE> sde) : ScoreModel(std::move(sde)), g_(std::move(gmm)) {}
  const GaussianMixture& mixture() const { return g_; }
  // log p_t(x) of the perturbed data distribution.
  at::Tensor log_prob(const at::Tensor& x, const at::Tensor& t) const;
  Parameterization kind() const override { return Parameterization::score; }
  // Components are the classes (the class-conditional oracle: each component's perturbed score).
  int64_t num_classes() const override { return g_.weights.size(0); }

 protected:
  at::Tensor predict(const at::Tensor& x, const at::Tensor& t) const override;
  at::Tensor predict_labelled(const at::Tensor& x, const at::Tensor& t, const at::Tensor& y) const override;

 private:
  GaussianMixture g_;
};

}  // namespace scorelab
