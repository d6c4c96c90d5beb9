#include <catch2/catch.hpp>

#include <ATen/ATen.h>

#include "experiments/experiment.h"
#include "experiments/registries.h"
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
      {vp, {"sample.type=euler_ancestral", "sample.steps=10"}, 10, true},
      {ve, {"sample.type=euler", "sample.steps=10"}, 10, false},
      {ve, {"sample.type=dpm_solver_2s_ancestral", "sample.steps=6"}, 12, true},
      {vp, {"sample.type=dpm_solver_2m_sde", "sample.steps=9"}, 9, true},
      {vp, {"sample.type=dpmpp_2m_sde", "sample.steps=5", "sample.eta=0", "sample.solver_type=heun"}, 5, false},
      {ve, {"sample.type=dpm_solver_3m_sde", "sample.steps=9"}, 9, true},
      {vp, {"sample.type=dpm_solver", "sample.steps=7", "sample.order=1"}, 7, false},
      {vp, {"sample.type=dpm_solver", "sample.steps=5", "sample.order=2"}, 10, false},
      {ve, {"sample.type=dpm_solver", "sample.steps=4"}, 12, false},
      {vp, {"sample.type=unipc", "sample.steps=8"}, 8, false},
      {ve, {"sample.type=uni_pc_bh2", "sample.steps=8", "sample.order=3", "sample.lower_order_final=false"}, 8, false},
      {vp, {"sample.type=uni_pc", "sample.steps=6"}, 6, false},
      {vp, {"sample.type=lms", "sample.steps=10"}, 10, false},
      {ve, {"sample.type=deis", "sample.steps=10", "sample.order=4"}, 10, false},
      {vp, {"sample.type=heun", "sample.steps=8"}, 16, false},
      {vp, {"sample.type=euler_maruyama", "sample.steps=25", "sample.noise=brownian_tree"}, 25, true},
      {ve, {"sample.type=dpmpp_3m_sde", "sample.steps=7", "sample.noise=brownian_tree"}, 7, true},
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

TEST_CASE("each sampler says whether it draws noise, and only its noise draws differ by seed", "[solvers][sampler]") {
  // A deterministic sampler given the x_T of seed 11 and the step noise of seed 12 gives the
  // samples of seed 11: the `stochastic` flag of every case is what the sampler does.
  for (const auto& c : cases()) {
    INFO(c.sde << " " << c.sample[0] << (c.sample.size() > 1 ? " " + c.sample[1] : ""));
    Experiment ex = oracle_experiment(c.sde, c.sample);
    auto model = ex.make_model();
    CHECK(ex.sampler->stochastic() == c.stochastic);
    at::Tensor xT = prior_noise(*model, 11, 0, 32, {2}, at::TensorOptions().dtype(at::kDouble));
    at::Tensor a = ex.sampler->sample(*model, xT, NoiseSource::range(11, 0, 32, c10::Device(c10::kCPU))).x;
    at::Tensor b = ex.sampler->sample(*model, xT, NoiseSource::range(12, 0, 32, c10::Device(c10::kCPU))).x;
    CHECK(at::equal(a, b) == !c.stochastic);
  }
}

TEST_CASE("dpm_solver_adaptive counts one evaluation per accepted point and its stages per attempt", "[solvers][sampler]") {
  for (int order : {2, 3}) {
    Experiment ex = oracle_experiment("{type: vp}", {"sample.type=dpm_adaptive", "sample.order=" + std::to_string(order),
                                                     "sample.rtol=1.0e-3", "sample.atol=1.0e-3"});
    auto model = ex.make_model();
    CHECK(ex.sampler->name() == "dpm_solver_adaptive");
    SampleResult r = draw_samples(ex, *model, 64, 5, "s");
    const double acc = r.stats.at("accepted_steps"), rej = r.stats.at("rejected_steps");
    INFO("order " << order << ": " << acc << " accepted, " << rej << " rejected");
    CHECK(acc >= 3);
    CHECK(r.nfe == static_cast<int64_t>(acc + (order - 1) * (acc + rej)));
  }
}

TEST_CASE("k-diffusion's names run the canonical sampler, and a setting an alias fixes is refused", "[solvers][sampler]") {
  auto samples = [](const std::vector<std::string>& ov) {
    Experiment ex = oracle_experiment("{type: vp}", ov);
    auto model = ex.make_model();
    return std::make_pair(ex.sampler->name(), draw_samples(ex, *model, 32, 5, "s").x);
  };
  struct Pair {
    std::vector<std::string> alias, canonical;
  };
  for (const Pair& p : std::vector<Pair>{
           {{"sample.type=euler", "sample.steps=6"}, {"sample.type=euler_ancestral", "sample.eta=0", "sample.steps=6"}},
           {{"sample.type=heun", "sample.steps=6"}, {"sample.type=edm", "sample.churn=0", "sample.steps=6"}},
           {{"sample.type=dpmpp_2m", "sample.steps=6"}, {"sample.type=dpm_solver_2m", "sample.steps=6"}},
           {{"sample.type=dpmpp_2m_sde", "sample.steps=6"}, {"sample.type=dpm_solver_2m_sde", "sample.steps=6"}},
           {{"sample.type=dpmpp_3m_sde", "sample.steps=6"}, {"sample.type=dpm_solver_3m_sde", "sample.steps=6"}},
           {{"sample.type=dpmpp_2s_ancestral", "sample.steps=6"}, {"sample.type=dpm_solver_2s_ancestral", "sample.steps=6"}},
           {{"sample.type=dpm_adaptive"}, {"sample.type=dpm_solver_adaptive"}},
           {{"sample.type=uni_pc", "sample.steps=6"}, {"sample.type=unipc", "sample.variant=bh1", "sample.steps=6"}},
           {{"sample.type=uni_pc_bh2", "sample.steps=6"}, {"sample.type=unipc", "sample.variant=bh2", "sample.steps=6"}}}) {
    INFO(p.alias[0]);
    auto a = samples(p.alias), c = samples(p.canonical);
    CHECK(a.first == c.first);
    CHECK(at::equal(a.second, c.second));
  }
  // Every alias maps to a registered sampler of that canonical name.
  for (const auto& [alias, canonical] : sampler_aliases()) {
    INFO(alias);
    CHECK(builtin_registries().sampler.contains(alias));
    CHECK(builtin_registries().sampler.contains(canonical));
  }
  CHECK_THROWS_WITH(oracle_experiment("{type: vp}", {"sample.type=euler", "sample.eta=0.5"}),
                    Catch::Contains("sample.eta") && Catch::Contains("euler_ancestral with eta 0"));
  CHECK_THROWS_WITH(oracle_experiment("{type: vp}", {"sample.type=uni_pc", "sample.variant=bh2"}),
                    Catch::Contains("sample.variant") && Catch::Contains("use type: unipc"));
  CHECK_THROWS_WITH(oracle_experiment("{type: vp}", {"sample.type=ode", "sample.method=heun", "sample.noise=brownian_tree"}),
                    Catch::Contains("sample.noise") && Catch::Contains("draws no step noise"));
  CHECK_THROWS_WITH(oracle_experiment("{type: ve, sigma_min: 0.01, sigma_max: 10}",
                                      {"sample.type=annealed_langevin", "sample.noise=brownian_tree"}),
                    Catch::Contains("sample.noise") && Catch::Contains("not increments"));
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

TEST_CASE("with Brownian-tree noise a stochastic sampler converges pathwise as its steps grow", "[solvers][sampler]") {
  // One Brownian path per sample, whatever the step count: the reverse-SDE solutions of 50, 200
  // and 800 Euler–Maruyama steps approach one another (strong convergence); with independent
  // noise at each step count they stay a typical sample distance apart.
  auto run = [](int steps, bool brownian) {
    std::vector<std::string> ov{"sample.type=euler_maruyama", "sample.steps=" + std::to_string(steps)};
    if (brownian) ov.push_back("sample.noise=brownian_tree");
    Experiment ex = oracle_experiment("{type: vp}", ov);
    auto model = ex.make_model();
    return draw_samples(ex, *model, 256, 7, "s").x;
  };
  // The median per-sample distance: the few paths that end in another mode at another step
  // count (near the boundary between the modes' basins) would dominate a mean.
  auto median = [](const at::Tensor& a, const at::Tensor& b) {
    return (a - b).pow(2).sum(1).sqrt().median().item<double>();
  };
  at::Tensor b50 = run(50, true), b200 = run(200, true), b800 = run(800, true);
  at::Tensor i200 = run(200, false), i800 = run(800, false);
  const double coarse = median(b50, b800), fine = median(b200, b800), independent = median(i200, i800);
  INFO("brownian: |50 - 800| " << coarse << ", |200 - 800| " << fine << "; independent |200 - 800| " << independent);
  CHECK(fine < 0.5 * coarse);
  CHECK(independent > 5 * fine);
  CHECK(independent > 0.1);
}
