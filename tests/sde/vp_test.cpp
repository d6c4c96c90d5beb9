#include <catch2/catch.hpp>

#include <cmath>

#include <ATen/ATen.h>

#include "core/device.h"
#include "sde/vp.h"

using namespace scorelab;
using Catch::Matchers::WithinAbs;
using Catch::Matchers::WithinRel;

TEST_CASE("VP alpha and sigma match the closed form", "[sde][vp]") {
  VPSDE sde;  // beta_min 0.1, beta_max 20
  at::Tensor t = at::tensor({0.0, 0.1, 0.5, 1.0}, at::kDouble);
  at::Tensor a = sde.alpha(t), s = sde.sigma(t);
  for (int i = 0; i < 4; ++i) {
    double ti = t[i].item<double>();
    double ref = std::exp(-ti * ti * 19.9 / 4 - ti * 0.1 / 2);  // DESIGN.md math reference
    CHECK_THAT(a[i].item<double>(), WithinRel(ref, 1e-12));
    CHECK_THAT(a[i].item<double>() * a[i].item<double>() + s[i].item<double>() * s[i].item<double>(),
               WithinAbs(1.0, 1e-12));
  }
  CHECK_THAT(sde.diffusion(t)[2].item<double>(), WithinRel(std::sqrt(0.1 + 0.5 * 19.9), 1e-12));
  CHECK_THAT(sde.log_snr(t)[2].item<double>(),
             WithinRel(std::log(a[2].item<double>() * a[2].item<double>() / (s[2].item<double>() * s[2].item<double>())), 1e-12));
}

TEST_CASE("VP marginals match a Monte-Carlo simulation of the forward SDE", "[sde][vp]") {
  // Euler–Maruyama on dx = -beta x/2 dt + sqrt(beta) dw from x0 = 1, many paths, fine steps.
  VPSDE sde;
  at::Generator gen = make_generator(4);
  const int64_t paths = 40000, steps = 1000;
  const double t_end = 0.5, dt = t_end / steps;
  at::Tensor x = at::ones({paths, 1}, at::kDouble);
  for (int64_t k = 0; k < steps; ++k) {
    at::Tensor t = at::full({paths}, k * dt, at::kDouble);
    x = x + sde.drift(x, t) * dt + sde.diffusion(t).unsqueeze(1) * std::sqrt(dt) * at::randn({paths, 1}, gen, at::kDouble);
  }
  at::Tensor te = at::full({1}, t_end, at::kDouble);
  double a = sde.alpha(te).item<double>(), s = sde.sigma(te).item<double>();
  double mean = x.mean().item<double>(), sd = x.std().item<double>();
  // Standard errors s/sqrt(n) and s/sqrt(2n); 5 sigma plus the O(dt) Euler bias (<1e-3 here).
  CHECK(std::abs(mean - a) < 5 * s / std::sqrt(double(paths)) + 1e-3);
  CHECK(std::abs(sd - s) < 5 * s / std::sqrt(2.0 * paths) + 1e-3);
}

TEST_CASE("VP prior log-density is the standard normal's", "[sde][vp]") {
  VPSDE sde;
  at::Tensor x = at::tensor({0.0, 0.0, 1.0, -2.0}, at::kDouble).reshape({2, 2});
  at::Tensor lp = sde.prior_log_prob(x);
  CHECK_THAT(lp[0].item<double>(), WithinRel(-std::log(2 * M_PI), 1e-12));
  CHECK_THAT(lp[1].item<double>(), WithinRel(-std::log(2 * M_PI) - 2.5, 1e-12));
}
