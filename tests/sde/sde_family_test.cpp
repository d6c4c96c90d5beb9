#include <catch2/catch.hpp>

#include <cmath>

#include <ATen/ATen.h>

#include "core/device.h"
#include "sde/ddpm.h"
#include "sde/ve.h"
#include "sde/vp.h"

using namespace scorelab;
using Catch::Matchers::WithinAbs;
using Catch::Matchers::WithinRel;

namespace {

struct Named {
  std::string name;
  std::shared_ptr<SDE> sde;
};

std::vector<Named> all_sdes() {
  return {{"vp-linear", std::make_shared<VPSDE>()},
          {"vp-cosine", std::make_shared<VPSDE>(std::make_shared<CosineBeta>(CosineBetaOptions{}))},
          {"subvp", std::make_shared<SubVPSDE>()},
          {"ve", std::make_shared<VESDE>(VESDEOptions{0.01, 10.0})},
          {"ddpm", std::make_shared<DDPMSDE>(DDPMChain::linear(1000, 1e-4, 0.02))}};
}

double at1(const at::Tensor& v) { return v.item<double>(); }
at::Tensor T1(double t) { return at::full({1}, t, at::kDouble); }

}  // namespace

TEST_CASE("every SDE's alpha and sigma match a Monte-Carlo simulation of its forward SDE", "[sde][marginals]") {
  // Euler–Maruyama from x0 = 1 (plus N(0, sigma(0)^2) noise: the VE convention, zero elsewhere),
  // 20000 paths, 2000 steps to t = 0.5. Standard errors: sigma/sqrt(n) for the mean and
  // sigma/sqrt(2n) for the std; bounds are 5 standard errors plus 5e-3 of Euler bias (O(dt)).
  for (const auto& [name, sde] : all_sdes()) {
    INFO(name);
    at::Generator gen = make_generator(21);
    const int64_t paths = 20000, steps = 2000;
    const double t_end = 0.5, dt = t_end / steps;
    at::Tensor x = at::ones({paths, 1}, at::kDouble) + at1(sde->sigma(T1(0.0))) * 0.0;
    if (name == "ve") x = x + at1(sde->sigma(T1(0.0))) * at::randn({paths, 1}, gen, at::kDouble);
    for (int64_t k = 0; k < steps; ++k) {
      at::Tensor t = at::full({paths}, (k + 0.5) * dt, at::kDouble);  // midpoint in t: g varies
      x = x + sde->drift(x, t) * dt + sde->diffusion(t).unsqueeze(1) * std::sqrt(dt) * at::randn({paths, 1}, gen, at::kDouble);
    }
    double a = at1(sde->alpha(T1(t_end))), s = at1(sde->sigma(T1(t_end)));
    double mean = at1(x.mean()), sd = at1(x.std());
    CHECK(std::abs(mean - a) < 5 * s / std::sqrt(double(paths)) + 5e-3);
    CHECK(std::abs(sd - s) < 5 * s / std::sqrt(2.0 * paths) + 5e-3 * s);
  }
}

TEST_CASE("d log-SNR / dt matches a finite difference of log-SNR", "[sde][logsnr]") {
  for (const auto& [name, sde] : all_sdes()) {
    INFO(name);
    for (double t : {0.05, 0.3, 0.7}) {
      if (name == "ddpm") t += 0.5 / 1000;  // inside a grid cell: beta is piecewise constant
      const double h = 1e-6;
      double fd = (at1(sde->log_snr(T1(t + h))) - at1(sde->log_snr(T1(t - h)))) / (2 * h);
      CHECK_THAT(at1(sde->dlog_snr_dt(T1(t))), WithinRel(fd, 1e-5));
    }
  }
}

TEST_CASE("VP-family closed forms: sub-VP, cosine, VE", "[sde][closed_form]") {
  at::Tensor t = at::tensor({0.1, 0.5, 0.9}, at::kDouble);
  VPSDE vp;
  SubVPSDE sub;
  for (int i = 0; i < 3; ++i) {
    double a = at1(vp.alpha(t[i])), b = at1(vp.beta(t[i]));
    CHECK_THAT(at1(sub.alpha(t[i])), WithinRel(a, 1e-14));
    CHECK_THAT(at1(sub.sigma(t[i])), WithinRel(1 - a * a, 1e-12));                        // DESIGN.md table
    CHECK_THAT(at1(sub.diffusion(t[i])), WithinRel(std::sqrt(b * (1 - std::pow(a, 4))), 1e-12));  // Song+21 eq. 12
  }
  CosineBeta cos{CosineBetaOptions{}};
  VPSDE vpc(std::make_shared<CosineBeta>(CosineBetaOptions{}));
  const double s = 0.008;
  auto f = [s](double u) { return std::pow(std::cos((u + s) / (1 + s) * M_PI / 2), 2); };
  CHECK_THAT(std::pow(at1(vpc.alpha(T1(0.6))), 2), WithinRel(f(0.6) / f(0.0), 1e-12));
  CHECK_THAT(at1(cos.beta(T1(vpc.T()))), WithinRel(999.0, 1e-9));  // T where beta reaches the clip
  VESDE ve(VESDEOptions{0.01, 50.0});
  CHECK_THAT(at1(ve.sigma(T1(0.5))), WithinRel(0.01 * std::sqrt(5000.0), 1e-12));
  CHECK_THAT(at1(ve.t_of_sigma(ve.sigma(T1(0.37)))), WithinRel(0.37, 1e-12));
  CHECK_THAT(at1(ve.prior_log_prob(at::zeros({1, 2}, at::kDouble))), WithinRel(-std::log(2 * M_PI * 2500.0), 1e-12));
  at::Tensor sig = ncsn_sigmas(10, 0.01, 1.0);
  CHECK_THAT(at1(sig[0]), WithinRel(1.0, 1e-12));
  CHECK_THAT(at1(sig[9]), WithinRel(0.01, 1e-12));
  CHECK_THAT(at1(sig[1] / sig[0]), WithinRel(at1(sig[9] / sig[8]), 1e-12));  // geometric
  at::Tensor pts = at::tensor({0.0, 0.0, 3.0, 4.0, 1.0, 1.0}, at::kDouble).reshape({3, 2});
  CHECK_THAT(max_pairwise_distance(pts), WithinRel(5.0, 1e-12));
}

TEST_CASE("the DDPM chain: Ho et al.'s betas, exact marginals at grid points", "[sde][ddpm]") {
  DDPMChain c = DDPMChain::linear(1000, 1e-4, 0.02);
  CHECK_THAT(at1(c.betas[0]), WithinRel(1e-4, 1e-12));
  CHECK_THAT(at1(c.betas[999]), WithinRel(0.02, 1e-12));
  // DESIGN.md: beta_i = b0/N + i (b1 - b0)/(N (N - 1)) is the VP discretization (b0 = 0.1, b1 = 20).
  CHECK_THAT(at1(c.betas[500]), WithinRel(0.1 / 1000 + 500 * 19.9 / (1000.0 * 999), 1e-12));
  DDPMSDE sde(c);
  for (int64_t i : {1, 10, 500, 1000}) {
    double ab = at1(c.alpha_bars[i - 1]);
    CHECK_THAT(std::pow(at1(sde.alpha(T1(i / 1000.0))), 2), WithinRel(ab, 1e-10));
    CHECK_THAT(std::pow(at1(sde.sigma(T1(i / 1000.0))), 2), WithinRel(1 - ab, 1e-10));
  }
  // Posterior coefficients (DDPM eq. 7): mu~ = c0 x0 + ct x_t, and c0 alpha_bar_i^(1/2) + ct... checks:
  at::Tensor i = at::tensor({2, 700}, at::kLong), like = at::zeros({2}, at::kDouble);
  at::Tensor c0 = c.posterior_c0(i, like), ct = c.posterior_ct(i, like), var = c.posterior_variance(i, like);
  for (int k = 0; k < 2; ++k) {
    int64_t s = i[k].item<int64_t>();
    double ab = at1(c.alpha_bars[s - 1]), abp = at1(c.alpha_bars[s - 2]), b = at1(c.betas[s - 1]);
    CHECK_THAT(at1(c0[k]), WithinRel(std::sqrt(abp) * b / (1 - ab), 1e-12));
    CHECK_THAT(at1(ct[k]), WithinRel(std::sqrt(1 - b) * (1 - abp) / (1 - ab), 1e-12));
    CHECK_THAT(at1(var[k]), WithinRel((1 - abp) / (1 - ab) * b, 1e-12));
  }
}

TEST_CASE("discrete chains converge to their continuous SDEs", "[sde][ddpm]") {
  // Linear DDPM betas are the VP discretization: |log alpha_bar_N(t) - log alpha(t)^2| = O(1/N).
  VPSDE vp;
  auto err = [&](int64_t N) {
    DDPMChain c = DDPMChain::linear(N, 0.1 / N, 20.0 / N);
    double worst = 0;
    for (double t : {0.25, 0.5, 1.0}) {
      int64_t i = static_cast<int64_t>(std::llround(t * N));
      worst = std::max(worst, std::abs(std::log(at1(c.alpha_bars[i - 1])) - 2 * std::log(at1(vp.alpha(T1(t))))));
    }
    return worst;
  };
  double e1 = err(1000), e2 = err(10000);
  INFO("error at N=1000: " << e1 << ", N=10000: " << e2);
  CHECK(e2 < e1 / 5);  // first order: the ratio is ~10
  // The cosine chain is the continuous cosine schedule sampled at i/N (where not clipped).
  DDPMChain cc = DDPMChain::cosine(1000);
  VPSDE vpc(std::make_shared<CosineBeta>(CosineBetaOptions{}));
  for (int64_t i : {1, 100, 500, 900}) CHECK_THAT(at1(cc.alpha_bars[i - 1]), WithinRel(std::pow(at1(vpc.alpha(T1(i / 1000.0))), 2), 1e-10));
}

TEST_CASE("discretizations: DDPM's step on the chain, NCSN's on VE, Euler–Maruyama by default", "[sde][discretize]") {
  at::Tensor x = at::tensor({1.0, -2.0}, at::kDouble).reshape({1, 2});
  DDPMChain c = DDPMChain::linear(1000, 1e-4, 0.02);
  DDPMSDE ddpm(c);
  for (int64_t i : {1, 250, 1000}) {
    auto d = ddpm.discretize(x, T1(i / 1000.0), 1e-3);
    double b = at1(c.betas[i - 1]);
    CHECK_THAT(at1(d.G), WithinRel(std::sqrt(b), 1e-9));
    CHECK(at::allclose(x + d.f, std::sqrt(1 - b) * x, 1e-12, 1e-12));
  }
  VESDE ve(VESDEOptions{0.01, 10.0});
  auto dv = ve.discretize(x, T1(0.5), 0.1);
  CHECK_THAT(at1(dv.G), WithinRel(std::sqrt(std::pow(at1(ve.sigma(T1(0.5))), 2) - std::pow(at1(ve.sigma(T1(0.4))), 2)), 1e-12));
  CHECK(at::equal(dv.f, at::zeros_like(x)));
  SubVPSDE sub;
  auto ds = sub.discretize(x, T1(0.3), 0.01);
  CHECK(at::allclose(ds.f, sub.drift(x, T1(0.3)) * 0.01, 1e-14, 0));
  CHECK_THAT(at1(ds.G), WithinRel(at1(sub.diffusion(T1(0.3))) * 0.1, 1e-12));
}
