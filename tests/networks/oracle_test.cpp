#include <catch2/catch.hpp>

#include <cmath>

#include <ATen/ATen.h>
#include <torch/autograd.h>

#include "core/config.h"
#include "core/device.h"
#include "networks/oracle.h"
#include "sde/ddpm.h"
#include "sde/ve.h"
#include "sde/vp.h"

using namespace scorelab;
using Catch::Matchers::WithinRel;

namespace {
GaussianMixture full_cov_mixture() {
  Config c = Config::from_string(
      "weights: [0.2, 0.8]\n"
      "means: [[1.0, -1.0, 0.5], [-2.0, 0.0, 1.0]]\n"
      "covs: [[[1.0, 0.3, 0.0], [0.3, 0.5, 0.1], [0.0, 0.1, 2.0]],\n"
      "       [[0.2, 0.0, 0.0], [0.0, 0.3, 0.0], [0.0, 0.0, 0.4]]]\n",
      "gmm.yaml");
  return GaussianMixture::from(c);
}
}  // namespace

TEST_CASE("oracle score is the gradient of the perturbed mixture's log-density", "[networks][oracle]") {
  GaussianMixture g = full_cov_mixture();
  at::Generator gen = make_generator(5);
  at::Tensor x = at::randn({7, 3}, gen, at::kDouble).requires_grad_(true);
  at::Tensor alpha = at::rand({7}, gen, at::kDouble) + 0.1, sigma = at::rand({7}, gen, at::kDouble);
  at::Tensor lp = g.log_prob(x, alpha, sigma);
  at::Tensor grad = torch::autograd::grad({lp.sum()}, {x})[0];
  CHECK(at::allclose(g.score(x.detach(), alpha, sigma), grad, 1e-10, 1e-12));
}

TEST_CASE("oracle log-density of a single Gaussian is the closed form", "[networks][oracle]") {
  Config c = Config::from_string("mean: [1.0, 2.0]\nstd: 0.5\n", "g.yaml");
  GaussianMixture g = GaussianMixture::gaussian_from(c);
  // Perturbed by VP at t: N(alpha mu, alpha^2 0.25 + sigma^2).
  VPSDE vp;
  at::Tensor t = at::full({1}, 0.3, at::kDouble);
  double a = vp.alpha(t).item<double>(), s = vp.sigma(t).item<double>();
  double v = a * a * 0.25 + s * s;
  at::Tensor x = at::tensor({0.3, -0.4}, at::kDouble).reshape({1, 2});
  double ref = -std::log(2 * M_PI * v) - (std::pow(0.3 - a, 2) + std::pow(-0.4 - 2 * a, 2)) / (2 * v);
  CHECK_THAT(g.log_prob(x, vp.alpha(t), vp.sigma(t)).item<double>(), WithinRel(ref, 1e-12));
}

TEST_CASE("mixture samples have the mixture's mean and covariance", "[networks][oracle]") {
  GaussianMixture g = full_cov_mixture();
  at::Generator gen = make_generator(9);
  const int64_t n = 200000;
  at::Tensor x = g.sample(n, gen);
  at::Tensor w = g.weights.view({-1, 1, 1});
  at::Tensor mean = (g.weights.unsqueeze(1) * g.means).sum(0);
  // Cov = sum_k w_k (Sigma_k + mu_k mu_k^T) - m m^T.
  at::Tensor cov = (w * (g.covs + g.means.unsqueeze(2) * g.means.unsqueeze(1))).sum(0) - at::outer(mean, mean);
  at::Tensor sd = at::sqrt(at::diagonal(cov));
  CHECK(((x.mean(0) - mean).abs() < 5 * sd / std::sqrt(double(n))).all().item<bool>());
  at::Tensor xc = x - x.mean(0);
  at::Tensor emp = at::matmul(xc.t(), xc) / (n - 1);
  // Standard error of a covariance entry ~ sqrt((C_ii C_jj + C_ij^2) / n) for near-Gaussian data;
  // the mixture has heavier tails, so allow 10 of those.
  at::Tensor se = at::sqrt((at::outer(at::diagonal(cov), at::diagonal(cov)) + cov.pow(2)) / n);
  CHECK(((emp - cov).abs() < 10 * se).all().item<bool>());
}

TEST_CASE("mixture config errors name the key", "[networks][oracle]") {
  auto err = [](const std::string& yaml) {
    try {
      GaussianMixture::from(Config::from_string(yaml, "m.yaml"));
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  CHECK_THAT(err("means: [[0, 0], [1]]\n"), Catch::Contains("m.yaml:1: means: ragged"));
  CHECK_THAT(err("means: [[0, 0]]\nweights: [1, 2]\n"), Catch::Contains("weights: expected 1 weights"));
  CHECK_THAT(err("means: [[0, 0]]\ncovs: [[[1, 2], [2, 1]]]\n"), Catch::Contains("positive definite"));
  CHECK_THAT(err("means: [[0, 0]]\nstds: [-1]\n"), Catch::Contains("stds: standard deviations must be > 0"));
}

TEST_CASE("the isotropic oracle's batch-wide score equals the general solve", "[networks][oracle]") {
  Config cfg = Config::from_string("means: [[2.0, 0.0, 1.0], [-2.0, 0.5, 0.0], [0.0, -1.0, -1.0]]\n"
                                   "stds: [0.3, 0.6, 1.1]\nweights: [0.2, 0.5, 0.3]\n", "g.yaml");
  GaussianMixture g = GaussianMixture::from(cfg);
  REQUIRE(g.iso_vars.defined());
  auto sde = std::make_shared<VPSDE>();
  OracleScoreModel model(g, sde);
  at::Generator gen = make_generator(3);
  at::Tensor x = 2.0 * at::randn({64, 3}, gen, at::kDouble);
  for (double tv : {1e-3, 0.1, 0.5, 1.0}) {
    INFO("t = " << tv);
    at::Tensor shared = at::full({1}, tv, at::kDouble).expand({64});  // a sampler's step
    at::Tensor per_row = at::full({64}, tv, at::kDouble);             // the general path
    CHECK(at::allclose(model.score(x, shared), model.score(x, per_row), 1e-12, 1e-10));
  }
}
