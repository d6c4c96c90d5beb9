#include <catch2/catch.hpp>

#include <ATen/ATen.h>

#include "experiments/experiment.h"
#include "experiments/trainer.h"
#include "../test_util.h"

using namespace scorelab;

namespace {
const char* kOracle =
    "run: {device: cpu, threads: 1}\n"
    "data: {type: gmm, means: [[2.0, 0.0], [-2.0, 0.0]], std: 0.3}\n"
    "model: {type: gmm_oracle, means: [[2.0, 0.0], [-2.0, 0.0]], std: 0.3}\n"
    "train: {steps: 0}\n";

Experiment oracle_experiment(const std::string& sde, const std::vector<std::string>& overrides) {
  return build_experiment(Config::from_string(std::string(kOracle) + "sde: " + sde + "\n", "o.yaml", overrides), "o");
}

// Sampler settings with the SDE they need; "stochastic" marks those that draw noise.
struct Case {
  std::string sde;
  std::vector<std::string> sample;
  int64_t nfe;  // what it must spend
  bool stochastic;
};

std::vector<Case> cases() {
  const std::string vp = "{type: vp}", ddpm = "{type: ddpm, N: 100}", ve = "{type: ve, sigma_min: 0.01, sigma_max: 10}";
  return {
      {ddpm, {"sample.type=ancestral"}, 100, true},
      {ddpm, {"sample.type=ancestral", "sample.steps=20", "sample.variance=beta_tilde"}, 20, true},
      {ve, {"sample.type=ancestral", "sample.steps=30"}, 30, true},
      {ddpm, {"sample.type=ddim", "sample.steps=10"}, 10, false},
      {ddpm, {"sample.type=ddim", "sample.steps=10", "sample.eta=1.0", "sample.subsequence=quadratic"}, 10, true},
      {vp, {"sample.type=euler_maruyama", "sample.steps=25", "sample.denoise=true"}, 26, true},
      {vp, {"sample.type=reverse_diffusion", "sample.steps=25"}, 25, true},
      {ve, {"sample.type=annealed_langevin", "sample.levels=4", "sample.steps_per_level=5"}, 20, true},
      {ve, {"sample.type=pc", "sample.steps=10", "sample.corrector_steps=2"}, 30, true},
      {vp, {"sample.type=pc", "sample.steps=10", "sample.predictor=none"}, 10, true},
      {vp, {"sample.type=ode", "sample.method=euler", "sample.steps=12"}, 12, false},
      {vp, {"sample.type=ode", "sample.method=heun", "sample.steps=12", "sample.grid=quadratic"}, 24, false},
      {vp, {"sample.type=ode", "sample.method=rk4", "sample.steps=5", "sample.grid=log_snr"}, 20, false},
      {vp, {"sample.type=edm", "sample.steps=8"}, 16, false},
      {ve, {"sample.type=edm", "sample.steps=8", "sample.churn=5"}, 16, true},
      {vp, {"sample.type=dpm_solver_2m", "sample.steps=9"}, 9, false},
  };
}
}  // namespace

TEST_CASE("every sampler spends the NFE it should and is reproducible from its seed", "[solvers][sampler]") {
  for (const auto& c : cases()) {
    auto ov = c.sample;
    ov.push_back("sample.n=64");
    INFO(c.sde << " " << ov[0] << (ov.size() > 2 ? " " + ov[1] : ""));
    Experiment ex = oracle_experiment(c.sde, ov);
    auto model = ex.make_model();
    SampleResult a = draw_samples(ex, *model, 64, 11, "s");
    SampleResult b = draw_samples(ex, *model, 64, 11, "s");
    CHECK(a.nfe == c.nfe);
    CHECK(at::isfinite(a.x).all().item<bool>());
    CHECK(at::equal(a.x, b.x));  // same seed, same x_T: same samples
    SampleResult other = draw_samples(ex, *model, 64, 12, "s");
    CHECK_FALSE(at::equal(a.x, other.x));
  }
}

TEST_CASE("samples do not depend on the batch size", "[solvers][sampler]") {
  for (const auto& c : cases()) {
    if (c.sample[0] == "sample.type=pc") continue;  // the corrector uses batch-mean norms (docs/samplers.md)
    INFO(c.sde << " " << c.sample[0]);
    auto all = c.sample, split = c.sample;
    split.push_back("sample.batch_size=16");
    Experiment ea = oracle_experiment(c.sde, all), eb = oracle_experiment(c.sde, split);
    auto model = ea.make_model();
    at::Tensor xa = draw_samples(ea, *model, 64, 3, "s").x, xb = draw_samples(eb, *model, 64, 3, "s").x;
    CHECK(at::allclose(xa, xb, 1e-6, 1e-6));
  }
}

TEST_CASE("a sampler that does not apply to the SDE is refused before sampling", "[solvers][sampler]") {
  CHECK_THROWS_WITH(oracle_experiment("{type: vp}", {"sample.type=ddim"}),
                    Catch::Contains("sample.type") && Catch::Contains("discrete DDPM chain") && Catch::Contains("ode"));
  CHECK_THROWS_WITH(oracle_experiment("{type: vp}", {"sample.type=edm", "sample.eps=0"}),
                    Catch::Contains("sample.eps: must be > 0"));
  CHECK_THROWS_WITH(oracle_experiment("{type: vp}", {"sample.type=ode", "sample.method=rk45", "sample.steps=10"}),
                    Catch::Contains("sample.steps: unknown key"));
}

TEST_CASE("every sampler runs on a trained model", "[solvers][sampler]") {
  std::string dir = test::scratch_dir("samplers_trained");
  for (std::string sde : {"{type: ddpm, N: 100}", "{type: ve, sigma_min: 0.01, sigma_max: 10}"}) {
    std::string name = sde.find("ddpm") != std::string::npos ? "ddpm" : "ve";
    std::string yaml = "run: {name: " + name + ", out_dir: '" + dir + "', seed: 1, threads: 1, device: cpu}\n"
                       "data: {type: eight_gaussians}\nsde: " + sde + "\n"
                       "model: {type: mlp, hidden: 32, depth: 2, embed_dim: 8}\n"
                       "train: {steps: 50, batch_size: 64, log_every: 25, ckpt_every: 50}\n"
                       "sample: {n: 16}\neval: {n: 16}\n";
    Experiment ex = build_experiment(Config::from_string(yaml, "t.yaml"), "t");
    train(ex);
    for (const auto& c : cases()) {
      if (c.sde != sde) continue;
      auto ov = c.sample;
      ov.push_back("sample.n=16");
      INFO(sde << " " << ov[0]);
      Experiment e2 = build_experiment(Config::from_string(yaml, "t.yaml", ov), "t");
      auto model = e2.make_model();
      SampleResult r = draw_samples(e2, *model, 16, 0, "s");
      CHECK(r.nfe == c.nfe);
      CHECK(at::isfinite(r.x).all().item<bool>());
    }
  }
}
