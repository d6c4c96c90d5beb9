#include <catch2/catch.hpp>

#include <ATen/ATen.h>

#include "core/device.h"
#include "networks/parameterization.h"

using namespace scorelab;

TEST_CASE("eps -> score -> x0 -> v -> eps round-trips exactly in float64", "[networks][parameterization]") {
  at::Generator g = make_generator(2);
  at::Tensor x = at::randn({16, 3}, g, at::kDouble), eps = at::randn({16, 3}, g, at::kDouble);
  at::Tensor alpha = at::rand({16, 1}, g, at::kDouble) * 0.9 + 0.05;
  at::Tensor sigma = at::rand({16, 1}, g, at::kDouble) * 3 + 0.05;  // not VP: alpha^2 + sigma^2 != 1
  at::Tensor cur = eps;
  Parameterization chain[] = {Parameterization::score, Parameterization::x0, Parameterization::v,
                              Parameterization::eps};
  Parameterization have = Parameterization::eps;
  for (auto p : chain) {
    cur = eps_to_prediction(p, prediction_to_eps(have, cur, x, alpha, sigma), x, alpha, sigma);
    have = p;
  }
  CHECK(at::allclose(cur, eps, 1e-12, 1e-12));
  // Each conversion agrees with its defining formula.
  at::Tensor x0 = eps_to_prediction(Parameterization::x0, eps, x, alpha, sigma);
  CHECK(at::allclose(alpha * x0 + sigma * eps, x, 1e-12, 1e-12));
  at::Tensor v = eps_to_prediction(Parameterization::v, eps, x, alpha, sigma);
  CHECK(at::allclose(v, alpha * eps - sigma * x0, 1e-12, 1e-12));
  CHECK(at::allclose(eps_to_prediction(Parameterization::score, eps, x, alpha, sigma), -eps / sigma, 1e-12, 1e-12));
}
