#include <catch2/catch.hpp>

#include <ATen/ATen.h>
#include <torch/autograd.h>

#include "core/device.h"
#include "losses/ddpm.h"
#include "losses/dsm.h"
#include "losses/ncsn.h"
#include "losses/score_matching.h"
#include "loss_test_util.h"
#include "sde/ddpm.h"
#include "sde/ve.h"
#include "sde/vp.h"

using namespace scorelab;
using namespace scorelab::test;

namespace {

struct LossCase {
  std::string name;
  std::shared_ptr<SDE> sde;
  std::function<std::shared_ptr<Loss>(const LossContext&)> make;
};

std::vector<LossCase> cases() {
  auto vp = std::make_shared<VPSDE>();
  auto ve = std::make_shared<VESDE>(VESDEOptions{0.01, 10.0});
  auto ddpm = std::make_shared<DDPMSDE>(DDPMChain::linear(1000, 1e-4, 0.02));
  auto dsm = [](std::string w, std::string ts) {
    return [w, ts](const LossContext& c) {
      DSMOptions o;
      o.weighting = w;
      o.t_sampling = ts;
      o.eps = 1e-3;
      return std::make_shared<DSMLoss>(o, c);
    };
  };
  auto ddpm_loss = [](std::string objective) {
    return [objective](const LossContext& c) {
      DDPMLossOptions o;
      o.objective = objective;
      o.decoder = "gaussian";
      o.variance = "beta_tilde";
      return std::make_shared<DDPMLoss>(o, c);
    };
  };
  auto sm = [](bool sliced) {
    return [sliced](const LossContext& c) {
      ScoreMatchingOptions o;
      o.eps = 1e-2;
      return std::make_shared<ScoreMatchingLoss>(sliced, o, c);
    };
  };
  return {{"dsm plain", vp, dsm("plain", "uniform")},
          {"dsm elbo log_snr", vp, dsm("elbo", "log_snr")},
          {"dsm likelihood importance", ve, dsm("likelihood", "importance")},
          {"ncsn", ve, [](const LossContext& c) { return std::make_shared<NCSNLoss>(NCSNLossOptions{}, c); }},
          {"ssm", vp, sm(true)},
          {"ism", vp, sm(false)},
          {"ddpm simple", ddpm, ddpm_loss("simple")},
          {"ddpm vlb", ddpm, ddpm_loss("vlb")}};
}

// Mean gradient over K independent batches, with standard errors, for (m0, m1, log_s).
std::vector<Estimate> mean_gradient(Loss& loss, GaussianScoreModel& model, at::Generator& gen) {
  const int K = 30, B = 4000;
  std::vector<std::vector<double>> g(3);
  for (int k = 0; k < K; ++k) {
    at::Tensor x0 = gaussian_data().sample(B, gen);
    auto params = model.params();
    at::Tensor L = loss(model, x0, gen).loss;
    auto grads = torch::autograd::grad({L}, params);
    g[0].push_back(grads[0][0].item<double>());
    g[1].push_back(grads[0][1].item<double>());
    g[2].push_back(grads[1][0].item<double>());
  }
  std::vector<Estimate> out;
  for (auto& v : g) {
    int i = 0;
    out.push_back(replicate(K, [&] { return v[i++]; }));
  }
  return out;
}

}  // namespace

TEST_CASE("each loss's gradient vanishes at the true parameters of a Gaussian score model", "[losses][gradient]") {
  for (auto& c : cases()) {
    INFO(c.name);
    auto loss = c.make(LossContext{c.sde, {2}});
    at::Generator gen = make_generator(12);
    GaussianScoreModel truth(c.sde, data_mean(), std::log(kDataStd));
    for (const auto& e : mean_gradient(*loss, truth, gen)) {
      INFO("gradient " << e.mean << " +- " << e.se);
      CHECK(std::abs(e.mean) < 5 * e.se);
    }
    // Away from the truth the same estimate detects a gradient (the test has power).
    GaussianScoreModel off(c.sde, data_mean() + 0.3, std::log(kDataStd * 1.3));
    auto g = mean_gradient(*loss, off, gen);
    double z = 0;
    for (const auto& e : g) z = std::max(z, std::abs(e.mean) / e.se);
    CHECK(z > 5);  // the same 5-standard-error criterion as the null check
  }
}
