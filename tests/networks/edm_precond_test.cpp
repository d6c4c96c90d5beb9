#include <catch2/catch.hpp>

#include <cmath>

#include <ATen/ATen.h>

#include "core/config.h"
#include "core/device.h"
#include "core/error.h"
#include "networks/edm_precond.h"
#include "networks/oracle.h"
#include "sde/ve.h"
#include "sde/vp.h"

using namespace scorelab;

namespace {
// The F that makes D the exact denoiser of N(0, v I) data: D(x^; s) = v / (v + s^2) x^, so
// F(y, c_noise) = (D(y / c_in) - c_skip y / c_in) / c_out with s = exp(4 c_noise).
struct ExactF : ScoreNetImpl {
  ExactF(double var, double sd) : var(var), sd(sd) {}
  at::Tensor forward(const at::Tensor& y, const at::Tensor& c_noise) override {
    at::Tensor s = at::exp(4 * c_noise).view({-1, 1});
    EDMCoefficients c = edm_coefficients(s, sd);
    at::Tensor x_hat = y / c.c_in;
    return (var / (var + s * s) * x_hat - c.c_skip * x_hat) / c.c_out;
  }
  double var, sd;
};
}  // namespace

TEST_CASE("EDM preconditioning: c_skip, c_out, c_in, c_noise are Karras et al.'s Table 1", "[networks][edm]") {
  // sigma_data 0.5. s = 1: c_skip = 0.25 / 1.25 = 0.2, c_out = 0.5 / sqrt(1.25), c_in = 1 / sqrt(1.25).
  EDMCoefficients c = edm_coefficients(at::tensor({1.0, 0.002, 80.0}, at::kDouble), 0.5);
  CHECK(c.c_skip[0].item<double>() == Approx(0.2).epsilon(1e-15));
  CHECK(c.c_out[0].item<double>() == Approx(0.5 / std::sqrt(1.25)).epsilon(1e-15));
  CHECK(c.c_in[0].item<double>() == Approx(1 / std::sqrt(1.25)).epsilon(1e-15));
  CHECK(c.c_noise[0].item<double>() == 0.0);
  for (int64_t i = 0; i < 3; ++i) {
    const double s = i == 0 ? 1.0 : i == 1 ? 0.002 : 80.0;
    CHECK(c.c_skip[i].item<double>() == Approx(0.25 / (s * s + 0.25)).epsilon(1e-14));
    CHECK(c.c_out[i].item<double>() == Approx(s * 0.5 / std::sqrt(s * s + 0.25)).epsilon(1e-14));
    CHECK(c.c_in[i].item<double>() == Approx(1 / std::sqrt(s * s + 0.25)).epsilon(1e-14));
    CHECK(c.c_noise[i].item<double>() == Approx(std::log(s) / 4).epsilon(1e-14));
    // The effective target (x0 - c_skip x^) / c_out has unit variance for data of variance sd^2:
    // (c_skip^2 s^2 + (1 - c_skip)^2 sd^2) / c_out^2 = 1 (Karras et al. App. B.6).
    const double cs = c.c_skip[i].item<double>(), co = c.c_out[i].item<double>();
    CHECK((cs * cs * s * s + (1 - cs) * (1 - cs) * 0.25) / (co * co) == Approx(1.0).epsilon(1e-12));
  }
  // Near s = 0 the denoiser passes the input through (c_skip -> 1, c_out -> 0).
  CHECK(c.c_skip[1].item<double>() > 0.9999);
  CHECK(c.c_out[1].item<double>() < 0.0021);
}

TEST_CASE("an EDM-preconditioned exact F gives the exact score on VE and VP (alpha != 1), per row and shared t",
          "[networks][edm]") {
  const double var = 0.6 * 0.6;
  const GaussianMixture data = GaussianMixture::from(
      Config::from_string("means: [[0.0, 0.0]]\nstd: 0.6\n", "g.yaml"));
  for (std::shared_ptr<const SDE> sde :
       {std::shared_ptr<const SDE>(std::make_shared<VESDE>()), std::shared_ptr<const SDE>(std::make_shared<VPSDE>())}) {
    INFO(sde->name());
    EDMScoreModel model(std::make_shared<ExactF>(var, 0.5), sde, 0.5);
    OracleScoreModel oracle(data, sde);
    at::Generator g = make_generator(9);
    at::Tensor x = at::randn({64, 2}, g, at::kDouble) * 2;
    at::Tensor t = at::rand({64}, g, at::kDouble) * 0.98 + 0.01;
    CHECK(model.kind() == Parameterization::x0);
    CHECK(at::allclose(model.score(x, t), oracle.score(x, t), 1e-10, 1e-10));
    CHECK(at::allclose(model.eps(x, t), oracle.eps(x, t), 1e-10, 1e-10));
    CHECK(at::allclose(model.x0(x, t), oracle.x0(x, t), 1e-10, 1e-10));
    // A sampler's step: one t for the batch as a broadcast view.
    at::Tensor shared = at::full({1}, 0.37, at::kDouble).expand({64});
    CHECK(at::allclose(model.score(x, shared), oracle.score(x, shared), 1e-10, 1e-10));
    // Round trip through the conversions: x0 -> eps -> score agree with their definitions.
    at::Tensor a = sde->alpha(t).view({-1, 1}), s = sde->sigma(t).view({-1, 1});
    at::Tensor x0 = model.x0(x, t), eps = model.eps(x, t);
    CHECK(at::allclose(a * x0 + s * eps, x, 1e-12, 1e-12));
    CHECK(at::allclose(model.score(x, t), -eps / s, 1e-12, 1e-12));
  }
}
