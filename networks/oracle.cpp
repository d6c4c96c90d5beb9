#include "networks/oracle.h"

#include <cmath>

#include <ATen/ATen.h>

#include "core/config.h"

namespace scorelab {
namespace {

at::Tensor to_tensor(const Config::NumberArray& a) {
  return at::tensor(a.values, at::kDouble).reshape(a.shape);
}

at::Tensor check_spd(const Config& cfg, const std::string& key, at::Tensor covs) {
  at::Tensor sym = (covs - covs.transpose(-1, -2)).abs().max();
  if (sym.item<double>() > 1e-9) cfg.fail(key, "covariance matrices must be symmetric");
  auto [L, info] = at::linalg_cholesky_ex(covs);
  if (info.max().item<int64_t>() != 0) cfg.fail(key, "covariance matrices must be positive definite");
  return covs;
}

struct Perturbed {
  at::Tensor sol;   // C^{-1} (x - alpha mu) [B, K, D]
  at::Tensor logN;  // log N(x; alpha mu_k, C_k) [B, K]
};

Perturbed perturbed(const GaussianMixture& g, const at::Tensor& x64, const at::Tensor& alpha, const at::Tensor& sigma) {
  int64_t D = g.dim();
  // Samplers evaluate a whole batch at one t: factor the K covariances once, not per example.
  if (alpha.numel() > 1 && at::equal(alpha, alpha[0].expand_as(alpha)) && at::equal(sigma, sigma[0].expand_as(sigma))) {
    double a = alpha[0].item<double>(), s = sigma[0].item<double>();
    at::Tensor C = a * a * g.covs.to(x64.device()) + s * s * at::eye(D, x64.options());  // [K, D, D]
    at::Tensor L = at::linalg_cholesky(C);
    at::Tensor diff = x64.unsqueeze(1) - a * g.means.to(x64.device()).unsqueeze(0);  // [B, K, D]
    // Solve C_k u = diff_bk for all b at once: [K, D, B] right-hand sides.
    at::Tensor rhs = diff.permute({1, 2, 0});
    at::Tensor sol = at::cholesky_solve(rhs, L).permute({2, 0, 1});
    at::Tensor logdet = 2 * at::log(at::diagonal(L, 0, -2, -1)).sum(-1);  // [K]
    at::Tensor logN = -0.5 * (diff * sol).sum(-1) - 0.5 * logdet.unsqueeze(0) - 0.5 * D * std::log(2 * M_PI);
    return {sol, logN};
  }
  at::Tensor a = alpha.to(at::kDouble).to(x64.device()).view({-1, 1, 1, 1});
  at::Tensor s = sigma.to(at::kDouble).to(x64.device()).view({-1, 1, 1, 1});
  at::Tensor eye = at::eye(D, x64.options());
  at::Tensor C = a.pow(2) * g.covs.to(x64.device()).unsqueeze(0) + s.pow(2) * eye;  // [B, K, D, D]
  at::Tensor L = at::linalg_cholesky(C);
  at::Tensor diff = x64.unsqueeze(1) - a.view({-1, 1, 1}) * g.means.to(x64.device()).unsqueeze(0);  // [B, K, D]
  at::Tensor sol = at::cholesky_solve(diff.unsqueeze(-1), L).squeeze(-1);
  at::Tensor logdet = 2 * at::log(at::diagonal(L, 0, -2, -1)).sum(-1);
  at::Tensor logN = -0.5 * (diff * sol).sum(-1) - 0.5 * logdet - 0.5 * D * std::log(2 * M_PI);
  return {sol, logN};
}

}  // namespace

GaussianMixture GaussianMixture::from(const Config& cfg) {
  GaussianMixture g;
  g.means = to_tensor(cfg.get_array("means"));
  if (g.means.dim() != 2) cfg.fail("means", "expected a list of mean vectors [[..], [..]]");
  int64_t K = g.means.size(0), D = g.means.size(1);
  if (cfg.has("weights")) {
    g.weights = to_tensor(cfg.get_array("weights"));
    if (g.weights.dim() != 1 || g.weights.size(0) != K)
      cfg.fail("weights", "expected " + std::to_string(K) + " weights, one per mean");
    const double total = g.weights.sum().item<double>();
    if (g.weights.min().item<double>() < 0) cfg.fail("weights", "weights must be >= 0");
    // Not silently renormalised: weights that do not sum to 1 are a typo more often than not.
    if (std::abs(total - 1.0) > 1e-6)
      cfg.fail("weights", "weights must sum to 1, got " + std::to_string(total) + " (write the normalised weights)");
    g.weights = g.weights / total;
  } else {
    g.weights = at::full({K}, 1.0 / K, at::kDouble);
  }
  at::Tensor eye = at::eye(D, at::kDouble);
  if (cfg.has("covs")) {
    g.covs = to_tensor(cfg.get_array("covs"));
    if (g.covs.dim() != 3 || g.covs.size(0) != K || g.covs.size(1) != D || g.covs.size(2) != D)
      cfg.fail("covs", "expected " + std::to_string(K) + " matrices of " + std::to_string(D) + "x" + std::to_string(D));
    check_spd(cfg, "covs", g.covs);
  } else if (cfg.has("stds")) {
    at::Tensor s = to_tensor(cfg.get_array("stds"));
    if (s.dim() != 1 || s.size(0) != K) cfg.fail("stds", "expected " + std::to_string(K) + " standard deviations");
    if (s.min().item<double>() <= 0) cfg.fail("stds", "standard deviations must be > 0");
    g.covs = s.pow(2).view({K, 1, 1}) * eye;
    g.iso_vars = s.pow(2);
  } else {
    double s = cfg.get_positive("std", 1.0);
    g.covs = (s * s) * eye.expand({K, D, D}).clone();
    g.iso_vars = at::full({K}, s * s, at::kDouble);
  }
  return g;
}

GaussianMixture GaussianMixture::gaussian_from(const Config& cfg) {
  GaussianMixture g;
  at::Tensor mean = to_tensor(cfg.get_array("mean"));
  if (mean.dim() != 1) cfg.fail("mean", "expected a vector");
  int64_t D = mean.size(0);
  g.means = mean.unsqueeze(0);
  g.weights = at::ones({1}, at::kDouble);
  if (cfg.has("cov")) {
    g.covs = to_tensor(cfg.get_array("cov"));
    if (g.covs.dim() != 2 || g.covs.size(0) != D || g.covs.size(1) != D)
      cfg.fail("cov", "expected a " + std::to_string(D) + "x" + std::to_string(D) + " matrix");
    g.covs = check_spd(cfg, "cov", g.covs).unsqueeze(0);
  } else {
    double s = cfg.get_positive("std", 1.0);
    g.covs = (s * s) * at::eye(D, at::kDouble).unsqueeze(0);
    g.iso_vars = at::full({1}, s * s, at::kDouble);
  }
  return g;
}

at::Tensor GaussianMixture::sample(int64_t n, at::Generator& gen) const { return sample(n, gen, nullptr); }

at::Tensor GaussianMixture::sample(int64_t n, at::Generator& gen, at::Tensor* component) const {
  at::Tensor k = at::multinomial(weights, n, /*replacement=*/true, gen);
  if (component) *component = k;
  return sample_components(k, gen);
}

at::Tensor GaussianMixture::sample_components(const at::Tensor& k, at::Generator& gen) const {
  const int64_t n = k.size(0);
  at::Tensor L = at::linalg_cholesky(covs);  // [K, D, D]
  at::Tensor z = at::randn({n, dim(), 1}, gen, at::kDouble);
  return means.index_select(0, k) + at::matmul(L.index_select(0, k), z).squeeze(-1);
}

at::Tensor GaussianMixture::log_prob(const at::Tensor& x, const at::Tensor& alpha, const at::Tensor& sigma) const {
  at::Tensor x64 = x.to(at::kDouble);
  Perturbed p = perturbed(*this, x64, alpha, sigma);
  return at::logsumexp(p.logN + at::log(weights.to(x.device())), 1);
}

at::Tensor GaussianMixture::responsibilities(const at::Tensor& x, const at::Tensor& alpha,
                                             const at::Tensor& sigma) const {
  Perturbed p = perturbed(*this, x.to(at::kDouble), alpha, sigma);
  return at::softmax(p.logN + at::log(weights.to(x.device())), 1);
}

// score = sum_k r_k(x) (-C_k^{-1} (x - alpha mu_k)).
at::Tensor GaussianMixture::score(const at::Tensor& x, const at::Tensor& alpha, const at::Tensor& sigma) const {
  Perturbed p = perturbed(*this, x.to(at::kDouble), alpha, sigma);
  at::Tensor r = at::softmax(p.logN + at::log(weights.to(x.device())), 1);
  return -(r.unsqueeze(-1) * p.sol).sum(1).to(x.scalar_type());
}

// Isotropic components N(a mu_k, v_k I), v_k = a^2 s_k^2 + sigma^2:
//   ||x - a mu_k||^2 = ||x||^2 - 2 a x.mu_k + a^2 ||mu_k||^2,
//   log N_k = -||x - a mu_k||^2 / (2 v_k) - D/2 log(2 pi v_k),  r = softmax(log N + log w),
//   score = sum_k r_k (a mu_k - x) / v_k = (r / v) (a mu) - x sum_k r_k / v_k.
// The per-component coefficients are [K]-sized; on the [B, K] and [B, D] arrays this is one
// product with a bias (x . (a mu_k / v_k) + c_k), one rank-1 update (-||x||^2 / (2 v_k)), a
// softmax, and the score's product: 10 operations whatever K and D.
at::Tensor GaussianMixture::score_isotropic(const at::Tensor& x, const at::Tensor& a, const at::Tensor& s) const {
  at::Tensor x64 = x.to(at::kDouble);
  at::Tensor mu = means.to(x64.device()), w = weights.to(x64.device());
  at::Tensor inv_v = at::reciprocal(a * a * iso_vars.to(x64.device()) + s * s);  // [K]
  at::Tensor a_mu = a * mu;                                                        // [K, D]
  at::Tensor c = (a_mu * a_mu).sum(1) * inv_v * -0.5 + 0.5 * dim() * at::log(inv_v * (0.5 / M_PI)) + at::log(w);
  at::Tensor logits = at::addmm(c, x64, (a_mu * inv_v.unsqueeze(1)).t());   // [B, K]
  logits.addr_((x64 * x64).sum(1), inv_v, 1.0, -0.5);
  at::Tensor rv = at::softmax(logits, 1).mul_(inv_v);  // r_k / v_k
  return at::mm(rv, a_mu).sub_(x64 * rv.sum(1, true)).to(x.scalar_type());
}

at::Tensor OracleScoreModel::predict(const at::Tensor& x, const at::Tensor& t) const {
  at::Tensor flat = x.reshape({x.size(0), -1});
  if (g_.iso_vars.defined() && t.dim() == 1 && t.size(0) > 1 && t.stride(0) == 0) {
    // One t for the batch (a sampler step): alpha, sigma once (on the device), the isotropic
    // closed form.
    at::Tensor t1 = t.slice(0, 0, 1).to(at::kDouble);
    return g_.score_isotropic(flat, sde().alpha(t1).squeeze(0), sde().sigma(t1).squeeze(0)).view(x.sizes());
  }
  return g_.score(flat, sde().alpha(t), sde().sigma(t)).view(x.sizes());
}

at::Tensor GaussianMixture::conditional_score(const at::Tensor& x, const at::Tensor& alpha, const at::Tensor& sigma,
                                              const at::Tensor& y) const {
  const int64_t K = weights.size(0);
  TORCH_CHECK(y.dim() == 1 && y.size(0) == x.size(0), "labels: one per point, got ", y.sizes(), " for ", x.sizes());
  TORCH_CHECK(y.numel() == 0 || (y.min().item<int64_t>() >= 0 && y.max().item<int64_t>() <= K),
              "labels are component indices 0..", K - 1, " or ", K, " (none)");
  Perturbed p = perturbed(*this, x.to(at::kDouble), alpha, sigma);
  at::Tensor yd = y.to(x.device());
  at::Tensor none = (yd == K).unsqueeze(1);  // [B, 1]
  // Given component k the responsibilities are one-hot; without a label, the posterior.
  at::Tensor onehot = at::one_hot(yd.clamp_max(K - 1), K).to(at::kDouble);
  at::Tensor r = at::where(none, at::softmax(p.logN + at::log(weights.to(x.device())), 1), onehot);
  return -(r.unsqueeze(-1) * p.sol).sum(1).to(x.scalar_type());
}

at::Tensor OracleScoreModel::predict_labelled(const at::Tensor& x, const at::Tensor& t, const at::Tensor& y) const {
  at::Tensor tt = t.dim() == 1 && t.size(0) > 1 && t.stride(0) == 0 ? t.contiguous() : t;
  return g_.conditional_score(x.reshape({x.size(0), -1}), sde().alpha(tt), sde().sigma(tt), y).view(x.sizes());
}

at::Tensor OracleScoreModel::log_prob(const at::Tensor& x, const at::Tensor& t) const {
  return g_.log_prob(x.reshape({x.size(0), -1}), sde().alpha(t), sde().sigma(t));
}

}  // namespace scorelab
