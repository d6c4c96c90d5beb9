#include <catch2/catch.hpp>

#include <ATen/ATen.h>

#include "core/device.h"
#include "networks/parameterization.h"
#include "sde/vp.h"

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

#include "networks/score_model.h"
#include "sde/ddpm.h"

namespace {
// A model whose prediction is given: exercises ScoreModel's conversions, including mu.
struct FixedModel : scorelab::ScoreModel {
  FixedModel(std::shared_ptr<const scorelab::SDE> sde, at::Tensor eps) : ScoreModel(std::move(sde)), eps_(eps) {}
  scorelab::Parameterization kind() const override { return scorelab::Parameterization::eps; }
  at::Tensor predict(const at::Tensor&, const at::Tensor&) const override { return eps_; }
  at::Tensor eps_;
};
}  // namespace

TEST_CASE("mu (DDPM posterior mean) converts exactly to and from eps on the DDPM chain", "[networks][parameterization]") {
  auto sde = std::make_shared<DDPMSDE>(DDPMChain::linear(1000, 1e-4, 0.02));
  at::Generator g = make_generator(4);
  at::Tensor x = at::randn({5, 2}, g, at::kDouble), eps = at::randn({5, 2}, g, at::kDouble);
  at::Tensor t = at::tensor({1, 2, 10, 500, 1000}, at::kDouble) / 1000.0;
  FixedModel m(sde, eps);
  at::Tensor mu = m.mu(x, t);
  // mu = c0 x0 + ct x_t with x0 = (x_t - sigma eps) / alpha (DDPM eq. 7).
  const DDPMChain& c = *sde->ddpm_chain();
  at::Tensor i = c.step_index(t);
  at::Tensor ab = c.at_step(c.alpha_bars, i, t).unsqueeze(1);
  at::Tensor x0 = (x - at::sqrt(1 - ab) * eps) / at::sqrt(ab);
  at::Tensor ref = c.posterior_c0(i, t).unsqueeze(1) * x0 + c.posterior_ct(i, t).unsqueeze(1) * x;
  CHECK(at::allclose(mu, ref, 1e-12, 1e-12));
  at::Tensor back = m.convert(mu, Parameterization::mu, Parameterization::eps, x, t);
  CHECK(at::allclose(back, eps, 1e-8, 1e-10));
  // mu on an SDE without a chain is refused with the reason.
  FixedModel on_vp(std::make_shared<VPSDE>(), eps);
  CHECK_THROWS_WITH(on_vp.mu(x, t), Catch::Contains("sde.type: ddpm"));
}
