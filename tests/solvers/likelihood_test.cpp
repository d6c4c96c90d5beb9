#include <catch2/catch.hpp>

#include <ATen/ATen.h>

#include "core/config.h"
#include "core/device.h"
#include "networks/oracle.h"
#include "sde/ve.h"
#include "sde/vp.h"
#include "solvers/likelihood.h"

using namespace scorelab;

namespace {
GaussianMixture mixture() {
  return GaussianMixture::from(Config::from_string(
      "means: [[2.0, 0.0], [-1.0, 1.7], [-1.0, -1.7]]\n"
      "covs: [[[0.09, 0.02], [0.02, 0.05]], [[0.2, 0.0], [0.0, 0.1]], [[0.1, -0.05], [-0.05, 0.1]]]\n"
      "weights: [0.5, 0.25, 0.25]\n",
      "m"));
}
}  // namespace

TEST_CASE("the ODE likelihood of the oracle equals the exact log-density of the mixture", "[solvers][likelihood]") {
  // Exact divergence, RK45 at rtol = atol = 1e-6. Two errors separate: (1) the ODE itself —
  // with the exact p_T at the end point, log p_T(x_T) + delta must equal log p_eps(x) to 1e-3
  // nats per example; (2) the prior mismatch — p_T is only close to the SDE's prior, which
  // shifts each example by log p_T(x_T) - log prior(x_T); its mean is -KL(p_T || prior)-ish
  // and small, so the mean log-likelihood with the prior is within 0.01 nats.
  for (std::string sde_name : {"vp", "ve"}) {
    INFO(sde_name);
    std::shared_ptr<SDE> sde = sde_name == "vp" ? std::shared_ptr<SDE>(std::make_shared<VPSDE>())
                                                : std::make_shared<VESDE>(VESDEOptions{0.01, 30.0});
    OracleScoreModel oracle(mixture(), sde);
    at::Generator gen = make_generator(1);
    at::Tensor x = mixture().sample(300, gen);
    LikelihoodOptions o;
    o.ode.rtol = o.ode.atol = 1e-6;
    LikelihoodResult r = ode_log_likelihood(oracle, x, o, NoiseSource::range(0, 0, 300, c10::Device(c10::kCPU)));
    at::Tensor t = at::full({300}, o.eps, at::kDouble);
    at::Tensor exact = oracle.log_prob(x, t);
    at::Tensor with_exact_prior = oracle.log_prob(r.x_T, at::full({300}, sde->T(), at::kDouble)) + r.delta;
    double worst = (with_exact_prior - exact).abs().max().item<double>();
    double mean_gap = (r.log_p - exact).mean().item<double>();
    INFO("max |ODE - exact| = " << worst << " nats; mean gap with the prior " << mean_gap);
    CHECK(worst < 1e-3);
    CHECK(std::abs(mean_gap) < 0.01);
    CHECK(r.stats.accepted > 0);
  }
}

TEST_CASE("Hutchinson's divergence estimate agrees with the exact likelihood in expectation", "[solvers][likelihood]") {
  auto sde = std::make_shared<VPSDE>();
  OracleScoreModel oracle(mixture(), sde);
  at::Generator gen = make_generator(2);
  const int64_t n = 400;
  at::Tensor x = mixture().sample(n, gen);
  LikelihoodOptions exact_o;
  at::Tensor exact = ode_log_likelihood(oracle, x, exact_o, NoiseSource::range(0, 0, n, c10::Device(c10::kCPU))).log_p;
  for (std::string kind : {"hutchinson_gaussian", "hutchinson_rademacher"}) {
    INFO(kind);
    LikelihoodOptions o;
    o.divergence = kind;
    at::Tensor est = ode_log_likelihood(oracle, x, o, NoiseSource::range(9, 0, n, c10::Device(c10::kCPU))).log_p;
    at::Tensor d = est - exact;
    double mean = d.mean().item<double>(), se = d.std().item<double>() / std::sqrt(double(n));
    INFO("mean difference " << mean << " +- " << se);
    CHECK(std::abs(mean) < 5 * se);
    CHECK(se > 0);  // it is an estimate, not the exact trace
  }
}

TEST_CASE("bits per dimension", "[solvers][likelihood]") {
  at::Tensor lp = at::tensor({-2.0 * std::log(2.0) * 3}, at::kDouble);  // 3 bits per dim in 2-D
  CHECK_THAT(bits_per_dim(lp, 2).item<double>(), Catch::Matchers::WithinRel(3.0, 1e-12));
}
