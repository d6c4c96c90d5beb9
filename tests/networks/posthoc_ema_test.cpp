// EDM2's post-hoc EMA: the power-function profiles in closed form, and reconstructions from a
// run's stored EMAs.
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>

#include <ATen/ATen.h>
#include <torch/serialize/input-archive.h>

#include "core/checkpoint.h"
#include "core/error.h"
#include "experiments/inference.h"
#include "experiments/posthoc.h"
#include "experiments/trainer.h"
#include "networks/ema.h"
#include "networks/posthoc_ema.h"
#include "../train_util.h"

using namespace scorelab;
namespace fs = std::filesystem;

TEST_CASE("power-function EMA: sigma_rel and gamma as in EDM2, the profile inner product in closed form",
          "[networks][ema]") {
  // EDM2 (sec. 3.1): sigma_rel 0.05 and 0.10 are gamma 16.97 and 6.94.
  CHECK(gamma_of_sigma_rel(0.05) == Approx(16.97).margin(0.005));
  CHECK(gamma_of_sigma_rel(0.10) == Approx(6.94).margin(0.005));
  for (double s : {0.01, 0.05, 0.13, 0.28}) CHECK(sigma_rel_of_gamma(gamma_of_sigma_rel(s)) == Approx(s).epsilon(1e-12));
  CHECK_THROWS_AS(gamma_of_sigma_rel(0.3), std::invalid_argument);
  CHECK_THROWS_AS(gamma_of_sigma_rel(0.0), std::invalid_argument);
  // <p_a, p_b> against the midpoint rule on [0, min(ta, tb)] (100,000 cells).
  for (auto [ta, ga, tb, gb] : {std::array<double, 4>{1000, 6.94, 700, 16.97}, {300, 2.0, 300, 5.0}, {50, 0.5, 80, 11.0}}) {
    const double m = std::min(ta, tb);
    const int n = 100000;
    double sum = 0;
    for (int i = 0; i < n; ++i) {
      const double tau = (i + 0.5) * m / n;
      sum += (ga + 1) * std::pow(tau, ga) / std::pow(ta, ga + 1) * (gb + 1) * std::pow(tau, gb) / std::pow(tb, gb + 1);
    }
    CHECK(profile_inner(ta, ga, tb, gb) == Approx(sum * m / n).epsilon(1e-6));
  }
  // The discrete update (1 - 1/t)^(gamma + 1) weighs update tau by ~ tau^gamma: after T updates
  // of theta_tau = tau, the EMA is E[tau] under p_{T,gamma} = (gamma + 1) T / (gamma + 2).
  EMA e = EMA::power(6.94);
  at::Tensor p = at::zeros({1}, at::kDouble);
  e.init({p});
  CHECK(e.current_decay() == 0.0);  // the first update copies
  const int T = 20000;
  for (int tau = 1; tau <= T; ++tau) {
    p.fill_(static_cast<double>(tau));
    e.update({p});
  }
  CHECK(e.shadow()[0].item<double>() == Approx(7.94 * T / 8.94).epsilon(1e-3));
}

TEST_CASE("post-hoc EMA fit: a stored profile is reconstructed exactly, others from their neighbours", "[networks][ema]") {
  const std::vector<double> t{100, 100, 200, 200, 300, 300};
  const std::vector<double> g{16.97, 6.94, 16.97, 6.94, 16.97, 6.94};
  PosthocFit own = posthoc_ema_fit(t, g, 300, 6.94);
  for (size_t i = 0; i < t.size(); ++i) CHECK(own.weights[i] == Approx(i == 5 ? 1.0 : 0.0).margin(1e-6));
  CHECK(own.rel_error < 1e-6);
  // Between the stored widths the fit is close. Every profile integrates to 1, so the weights'
  // sum misses 1 by the fit error's integral, at most (Cauchy-Schwarz on [0, t]) sqrt(t) times
  // its L2 norm: rel_error * sqrt(t <p, p>) = rel_error (gamma + 1) / sqrt(2 gamma + 1).
  const double gm = gamma_of_sigma_rel(0.07);
  PosthocFit mid = posthoc_ema_fit(t, g, 300, gm);
  double sum = 0;
  for (double w : mid.weights) sum += w;
  INFO("relative profile error " << mid.rel_error << ", weights sum " << sum);
  CHECK(mid.rel_error < 0.05);
  CHECK(std::abs(sum - 1) <= mid.rel_error * (gm + 1) / std::sqrt(2 * gm + 1));
}

using test::run_tiny;

TEST_CASE("scorelab ema: the stored width at the last step is the tracked EMA, another width lies between", "[experiments][ema]") {
  std::string dir = test::scratch_dir("posthoc");
  run_tiny(dir, "a", 300, {"train.posthoc_ema.every=50", "train.posthoc_ema.sigma_rels=[0.05, 0.15]"});
  REQUIRE(fs::exists(dir + "/a/ema_snapshots/step_000000300.pt"));
  // Resume keeps the power EMAs: a run split at 150 stores the same last snapshot.
  run_tiny(dir, "s", 150, {"train.posthoc_ema.every=50", "train.posthoc_ema.sigma_rels=[0.05, 0.15]"});
  run_tiny(dir, "s", 300, {"train.posthoc_ema.every=50", "train.posthoc_ema.sigma_rels=[0.05, 0.15]", "train.resume=true"});
  PosthocResult same = posthoc_ema_checkpoint(dir + "/a", 0.15, dir + "/a_015.pt", false);
  PosthocResult split = posthoc_ema_checkpoint(dir + "/s", 0.15, dir + "/s_015.pt", false);
  REQUIRE(same.step == 300);
  CHECK(same.basis.size() == 12);  // 6 snapshots x 2 widths
  CHECK(same.fit.rel_error < 1e-6);
  auto a = test::checkpoint_ema(dir + "/a_015.pt"), s = test::checkpoint_ema(dir + "/s_015.pt");
  for (size_t i = 0; i < a.size(); ++i) CHECK(at::equal(a[i], s[i]));
  // The same training tracking sigma_rel 0.10 directly: its last snapshot against the
  // reconstruction of 0.10 from the 0.05 / 0.15 EMAs. The parameters' trajectory is the same
  // (EMAs do not touch it), so the difference is the reconstruction's alone.
  run_tiny(dir, "b", 300, {"train.posthoc_ema.every=300", "train.posthoc_ema.sigma_rels=[0.10]"});
  PosthocResult tracked = posthoc_ema_checkpoint(dir + "/b", 0.10, dir + "/b_010.pt", false);
  CHECK(tracked.fit.rel_error < 1e-6);
  {  // The reconstruction of the stored width is the directly tracked power EMA, to float rounding.
    torch::serialize::InputArchive ar;
    ar.load_from(dir + "/b/ema_snapshots/step_000000300.pt");
    at::Tensor direct;
    ar.read("ema0", direct);
    std::vector<at::Tensor> rec;
    for (const auto& t : test::checkpoint_ema(dir + "/b_010.pt")) rec.push_back(t.reshape(-1));
    CHECK(at::allclose(at::cat(rec), direct, 1e-6, 1e-7));
  }
  PosthocResult rec = posthoc_ema_checkpoint(dir + "/a", 0.10, "", false);
  CHECK(rec.out == dir + "/a/checkpoints/ema_sigma0.100.pt");
  auto flat = [](const std::vector<at::Tensor>& v) {
    std::vector<at::Tensor> f;
    for (const auto& t : v) f.push_back(t.reshape(-1).to(at::kDouble));
    return at::cat(f);
  };
  const at::Tensor want = flat(test::checkpoint_ema(dir + "/b_010.pt"));
  const double err = (flat(test::checkpoint_ema(rec.out)) - want).norm().item<double>();
  const double err05 = (flat(test::checkpoint_ema(posthoc_ema_checkpoint(dir + "/a", 0.05, dir + "/a_005.pt", false).out)) - want).norm().item<double>();
  INFO("|rec(0.10) - tracked(0.10)| " << err << ", |tracked(0.05) - tracked(0.10)| " << err05 << ", |tracked(0.15) - tracked(0.10)| "
                                      << (flat(a) - want).norm().item<double>() << ", profile error " << rec.fit.rel_error);
  CHECK(err < 0.25 * err05);
  CHECK(err < 0.25 * (flat(a) - want).norm().item<double>());
  // The written checkpoint samples like any other (its EMA is the reconstruction).
  Loaded l = load_for_inference(rec.out, {"sample.n=50"});
  CHECK(at::allclose(l.model->module()->parameters()[0].to(at::kDouble).reshape(-1),
                     flat(test::checkpoint_ema(rec.out)).narrow(0, 0, l.model->module()->parameters()[0].numel()), 1e-6, 1e-7));
  // Errors: no snapshots, a width out of range, an existing output.
  run_tiny(dir, "none", 50, {});
  CHECK_THROWS_AS(posthoc_ema_checkpoint(dir + "/none", 0.1, "", false), DataError);
  CHECK_THROWS_WITH(posthoc_ema_checkpoint(dir + "/a", 0.5, "", false), Catch::Contains("--sigma-rel: sigma_rel must be in"));
  CHECK_THROWS_WITH(posthoc_ema_checkpoint(dir + "/a", 0.10, "", false), Catch::Contains("exists; pass --force"));
}
