#include <catch2/catch.hpp>

#include <ATen/ATen.h>

#include "core/device.h"
#include "losses/score_matching.h"
#include "loss_test_util.h"
#include "sde/vp.h"

using namespace scorelab;
using namespace scorelab::test;

namespace {
// A deliberately wrong model: the exact score of N((0, 0), 1.3^2 I), not of the data.
std::shared_ptr<GaussianScoreModel> wrong_model(std::shared_ptr<SDE> sde) {
  return std::make_shared<GaussianScoreModel>(sde, at::zeros({2}, at::kDouble), std::log(1.3));
}
ScoreMatchingLoss make(bool sliced, const std::string& projection = "gaussian", bool vr = false) {
  ScoreMatchingOptions o;
  o.perturb = false;
  o.projection = projection;
  o.variance_reduced = vr;
  return ScoreMatchingLoss(sliced, o, LossContext{std::make_shared<VPSDE>(), {2}});
}
}  // namespace

TEST_CASE("ISM and ESM differ by the constant 1/2 E||grad log p||^2", "[losses][ism]") {
  // Hyvarinen 2005, Theorem 1: ESM = ISM + 1/2 E||grad log p||^2 for any model s.
  auto sde = std::make_shared<VPSDE>();
  auto model = wrong_model(sde);
  at::Generator gen = make_generator(3);
  const int64_t n = 200000;
  at::Tensor x = gaussian_data().sample(n, gen);
  at::Tensor t = at::full({n}, 1e-3, at::kDouble);
  auto [trace, norm] = make(false).terms(*model, x, t, gen);
  at::Tensor s = model->score(x, t).detach();
  at::Tensor grad_log_p = -(x - data_mean()) / (kDataStd * kDataStd);
  at::Tensor esm = 0.5 * (s - grad_log_p).pow(2).sum(1);
  at::Tensor ism = (trace + norm).detach();
  // Per example, ESM - ISM - 1/2 ||grad log p||^2 has mean exactly zero.
  Estimate gap = per_example(esm - ism - 0.5 * grad_log_p.pow(2).sum(1));
  INFO("gap " << gap.mean << " +- " << gap.se << "; constant " << 0.5 * 2 / (kDataStd * kDataStd));
  CHECK(std::abs(gap.mean) < 5 * gap.se);
  // And the difference of the means is the closed-form constant D / (2 s^2).
  Estimate diff = per_example(esm - ism);
  CHECK(std::abs(diff.mean - 1.0 / (kDataStd * kDataStd)) < 5 * diff.se);
}

TEST_CASE("sliced score matching's expectation equals ISM's", "[losses][ssm]") {
  auto sde = std::make_shared<VPSDE>();
  auto model = wrong_model(sde);
  const int64_t n = 100000;
  for (auto [projection, vr] : std::vector<std::pair<std::string, bool>>{{"gaussian", false}, {"rademacher", false}, {"gaussian", true}}) {
    INFO(projection << (vr ? " variance-reduced" : ""));
    at::Generator gen = make_generator(8);
    at::Tensor x = gaussian_data().sample(n, gen);
    at::Tensor t = at::full({n}, 1e-3, at::kDouble);
    auto [tr_i, no_i] = make(false).terms(*model, x, t, gen);
    auto [tr_s, no_s] = make(true, projection, vr).terms(*model, x, t, gen);
    Estimate d = per_example((tr_s + no_s - tr_i - no_i).detach());
    CHECK(std::abs(d.mean) < 5 * d.se);
    CHECK(d.se < 0.05);  // the comparison has power
  }
}

TEST_CASE("implicit score matching refuses high dimensions before training", "[losses][ism]") {
  Config c = Config::from_string("loss: {type: ism}\n", "x.yaml");
  CHECK_THROWS_WITH(ScoreMatchingLoss::options_from(c.at("loss"), false, LossContext{std::make_shared<VPSDE>(), {3, 32, 32}}),
                    Catch::Contains("x.yaml") && Catch::Contains("loss.type") && Catch::Contains("3072") &&
                        Catch::Contains("ssm"));
}
