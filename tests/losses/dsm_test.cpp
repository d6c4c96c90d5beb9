#include <catch2/catch.hpp>

#include <ATen/ATen.h>

#include "core/device.h"
#include "losses/dsm.h"
#include "loss_test_util.h"
#include "sde/ve.h"
#include "sde/vp.h"

using namespace scorelab;
using namespace scorelab::test;

namespace {
// E_{x0, eps} ||eps_hat - eps||^2 at the oracle of N(mu, s^2 I) data: D alpha^2 s^2 / (alpha^2 s^2 + sigma^2).
at::Tensor oracle_eps_mse(const SDE& sde, const at::Tensor& t) {
  at::Tensor a2s2 = sde.alpha(t).pow(2) * kDataStd * kDataStd;
  return 2.0 * a2s2 / (a2s2 + sde.sigma(t).pow(2));
}

// int_eps^T f(t) dt by composite Simpson on 2^16 intervals.
double integrate(const std::function<at::Tensor(const at::Tensor&)>& f, double a, double b) {
  const int64_t n = 1 << 16;
  at::Tensor t = at::linspace(a, b, n + 1, at::kDouble);
  at::Tensor w = at::ones({n + 1}, at::kDouble);
  w.slice(0, 1, n, 2).fill_(4);
  w.slice(0, 2, n - 1, 2).fill_(2);
  return ((b - a) / (3.0 * n) * (w * f(t)).sum()).item<double>();
}
}  // namespace

TEST_CASE("DSM's expected value at the oracle of Gaussian data equals its closed form", "[losses][dsm]") {
  struct Case {
    std::string sde, weighting, t_sampling;
  };
  std::vector<Case> cases{{"vp", "plain", "uniform"},   {"vp", "likelihood", "importance"}, {"vp", "elbo", "log_snr"},
                          {"vp", "sigmoid", "uniform"}, {"vp", "edm", "importance"},       {"ve", "none", "importance"},
                          {"ve", "elbo", "uniform"},    {"subvp", "plain", "log_snr"}, {"vp", "min_snr", "importance"},
                          {"ve", "min_snr", "log_snr"}};
  for (const auto& c : cases) {
    INFO(c.sde << " / " << c.weighting << " / " << c.t_sampling);
    std::shared_ptr<SDE> sde;
    if (c.sde == "vp") sde = std::make_shared<VPSDE>();
    if (c.sde == "subvp") sde = std::make_shared<SubVPSDE>();
    if (c.sde == "ve") sde = std::make_shared<VESDE>(VESDEOptions{0.01, 10.0});
    DSMOptions o;
    o.weighting = c.weighting;
    o.t_sampling = c.t_sampling;
    o.eps = 1e-3;
    DSMLoss loss(o, LossContext{sde, {2}});
    OracleScoreModel oracle(gaussian_data(), sde);
    double expected = integrate([&](const at::Tensor& t) { return loss.weight(t) * oracle_eps_mse(*sde, t); }, o.eps, sde->T());
    at::Generator gen = make_generator(17);
    Estimate mc = replicate(25, [&] {
      at::Tensor x0 = gaussian_data().sample(8000, gen);
      return loss(oracle, x0, gen).loss.item<double>();
    });
    INFO("closed form " << expected << ", Monte Carlo " << mc.mean << " +- " << mc.se);
    CHECK(std::abs(mc.mean - expected) < 5 * mc.se);
  }
}

TEST_CASE("the plain weighting is the mean eps-MSE and 'elbo' is half the likelihood weighting on VP", "[losses][dsm]") {
  auto sde = std::make_shared<VPSDE>();
  at::Tensor t = at::tensor({0.01, 0.4, 0.9}, at::kDouble);
  DSMOptions plain, lik, elbo;
  lik.weighting = "likelihood";
  elbo.weighting = "elbo";
  plain.eps = lik.eps = elbo.eps = 0.0;
  DSMLoss lp(plain, {sde, {2}}), ll(lik, {sde, {2}}), le(elbo, {sde, {2}});
  CHECK(at::allclose(lp.weight(t), at::ones_like(t)));
  // VP: -d lambda/dt = beta / sigma^2 = g^2 / sigma^2, so W_elbo = 1/2 W_likelihood (T = 1).
  CHECK(at::allclose(le.weight(t), 0.5 * ll.weight(t), 1e-12, 0));
}

TEST_CASE("min-SNR-gamma weights the eps-MSE by min(1, gamma / SNR)", "[losses][dsm]") {
  auto sde = std::make_shared<VPSDE>();
  // VP (beta 0.1 .. 20): SNR is ~500 at t = 0.01, 5 near t = 0.11 and ~4.5e-5 at t = 1.
  at::Tensor t = at::tensor({0.01, 0.05, 0.3, 0.9}, at::kDouble);
  DSMOptions o;
  o.weighting = "min_snr";
  o.eps = 0.0;
  DSMLoss loss(o, {sde, {2}});
  const at::Tensor snr = at::exp(sde->log_snr(t));
  const at::Tensor w = loss.weight(t);
  for (int64_t i = 0; i < t.size(0); ++i) {
    const double s = snr[i].item<double>();
    INFO("t " << t[i].item<double>() << " SNR " << s);
    CHECK(w[i].item<double>() == Approx(std::min(1.0, 5.0 / s)).epsilon(1e-12));
  }
  CHECK(w[0].item<double>() < 0.02);  // the clean end is down-weighted (5 / 500)
  CHECK(w[3].item<double>() == 1.0);  // noisy times keep the plain weight
}

TEST_CASE("DSM's constant-weight path (plain, uniform t) equals the per-sample weighted formula", "[losses][dsm]") {
  auto sde = std::make_shared<VPSDE>();
  OracleScoreModel oracle(gaussian_data(), sde);
  DSMOptions fast, general;
  // The same W = 1/span, but as a function of t: the loss takes its per-sample path.
  general.weight_fn = make_weighting([](const SDE&, const at::Tensor& t, double span) { return at::full_like(t, 1.0 / span); });
  DSMLoss lf(fast, {sde, {2}}), lg(general, {sde, {2}});
  for (uint64_t seed : {1, 2, 3}) {
    at::Generator g1 = make_generator(seed), g2 = make_generator(seed);
    at::Tensor x0 = gaussian_data().sample(512, g1);
    gaussian_data().sample(512, g2);
    LossResult a = lf(oracle, x0, g1), b = lg(oracle, x0, g2);
    CHECK(a.loss.item<double>() == Approx(b.loss.item<double>()).epsilon(1e-12));
    CHECK(a.parts.at("weight_mean").item<double>() == Approx(b.parts.at("weight_mean").item<double>()).epsilon(1e-12));
  }
}

TEST_CASE("DSM's per-example errors and time fractions add up to its loss", "[losses][dsm]") {
  auto sde = std::make_shared<VPSDE>();
  OracleScoreModel oracle(gaussian_data(), sde);
  DSMOptions fast, general;
  general.weight_fn = make_weighting([](const SDE&, const at::Tensor& t, double span) { return at::full_like(t, 1.0 / span); });
  DSMLoss lf(fast, {sde, {2}}), lg(general, {sde, {2}});
  at::Generator g0 = make_generator(5), g1 = make_generator(5), g2 = make_generator(5);
  at::Tensor x0 = gaussian_data().sample(256, g0);
  gaussian_data().sample(256, g1);
  gaussian_data().sample(256, g2);
  // Not asked: the fused path leaves them out. Asked: the same loss, and its per-example terms.
  LossResult plain = lf(oracle, x0, g0);
  CHECK_FALSE(plain.per_example.defined());
  lf.set_per_example(true);
  LossResult a = lf(oracle, x0, g1), b = lg(oracle, x0, g2);
  REQUIRE(a.per_example.defined());
  CHECK(a.loss.item<double>() == Approx(plain.loss.item<double>()).epsilon(1e-12));
  // The plain objective is W/q (the constant weight_mean part) times the mean error.
  CHECK(a.loss.item<double>() ==
        Approx(a.parts.at("weight_mean").item<double>() * a.per_example.sum().item<double>() / 256).epsilon(1e-12));
  CHECK(at::allclose(a.per_example, b.per_example, 1e-12, 0));  // the weighted path fills them too
  CHECK(at::allclose(a.t_frac, b.t_frac, 0, 0));
  CHECK(a.t_frac.min().item<double>() >= 0);
  CHECK(a.t_frac.max().item<double>() <= 1);
  CHECK(a.per_example.size(0) == 256);
}
