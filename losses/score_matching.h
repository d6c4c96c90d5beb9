// Score matching without a denoising target.
//   implicit (Hyvarinen 2005):  J = E[ tr(grad_x s(x)) + 1/2 ||s(x)||^2 ], the trace exact
//     (one backward pass per dimension: refused above max_dim, default 64);
//   sliced (Song et al. 2019): J = E_v[ v^T grad_x(v^T s) + 1/2 (v^T s)^2 ], v Gaussian or
//     Rademacher, `projections` per example; variance_reduced replaces the last term by
//     1/2 ||s||^2 (their eq. 8, for Gaussian or Rademacher v, E[v v^T] = I).
// J equals the explicit score-matching loss 1/2 E||s - grad log p||^2 minus the constant
// 1/2 E||grad log p||^2. With perturb: true (default) both run noise-conditionally: x is
// perturbed to x_t = alpha x0 + sigma z at t ~ U(eps, T), s = s(x_t, t), and the loss is
// weighted by sigma(t)^2, so they train a diffusion model; perturb: false matches the data
// itself at t = eps (single-scale).
#pragma once
#include "losses/loss.h"

namespace scorelab {

class Config;

struct ScoreMatchingOptions {
  bool perturb = true;
  double eps = 1e-3;
  // sliced only
  std::string projection = "gaussian";  // gaussian | rademacher
  int64_t projections = 1;
  bool variance_reduced = false;
  // implicit only
  int64_t max_dim = 64;
};

class ScoreMatchingLoss : public Loss {
 public:
  ScoreMatchingLoss(bool sliced, ScoreMatchingOptions o, const LossContext& ctx);
  static ScoreMatchingOptions options_from(const Config& cfg, bool sliced, const LossContext& ctx);
  std::string name() const override { return sliced_ ? "ssm" : "ism"; }
  LossResult operator()(const ScoreModel& model, const at::Tensor& x0, at::Generator& gen) const override;
  std::vector<std::string> part_names() const override { return {name(), "trace_term", "norm_term"}; }
  // Per-example (unweighted) objective at fixed x and t: returns {trace term, norm term}.
  // Projections are drawn for a batch of B rows (default: x's), of which x holds this process's.
  std::pair<at::Tensor, at::Tensor> terms(const ScoreModel& model, const at::Tensor& x, const at::Tensor& t,
                                          at::Generator& gen, int64_t B = -1) const;

 private:
  bool sliced_;
  ScoreMatchingOptions o_;
};

}  // namespace scorelab
