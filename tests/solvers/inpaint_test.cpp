// Inpainting / imputation (solvers/inpaint.h) on exact mixture scores: the known coordinates
// come back exactly, runs are reproducible and batch-independent, and the imputed coordinates
// are compared with the closed-form conditional of the mixture — exact where the unknown
// coordinates are independent of the known ones, and measurably off (replacement's known
// approximation, reduced by RePaint resampling) where they are correlated; sequential Monte
// Carlo reaches the conditional there.
#include <catch2/catch.hpp>

#include <cmath>

#include <ATen/ATen.h>

#include "core/device.h"
#include "experiments/evaluation/evaluation.h"
#include "experiments/experiment.h"
#include "networks/oracle.h"

using namespace scorelab;

namespace {

// A 2-D mixture given by YAML (`means`, and `covs` or `std`), its oracle, the VP SDE and a sampler.
Experiment mixture_experiment(const std::string& mixture, const std::vector<std::string>& sample) {
  const std::string yaml = "run: {device: cpu, threads: 1, dtype: float64}\ndata: {type: gmm, " + mixture +
                           "}\nmodel: {type: gmm_oracle, " + mixture + "}\nsde: {type: vp}\ntrain: {steps: 0}\n";
  return build_experiment(Config::from_string(yaml, "inpaint.yaml", sample), "i");
}

// Exact draws of coordinate 1 given coordinate 0 = k under a mixture: the posterior component
// weights w_c N(k; mu_c0, S_c00), then N(mu_c1 + S_c10 / S_c00 (k - mu_c0), S_c11 - S_c10^2 / S_c00).
at::Tensor exact_conditional(const GaussianMixture& g, double k, int64_t n, uint64_t seed) {
  at::Tensor mu = g.means, S = g.covs;
  at::Tensor s00 = S.select(1, 0).select(1, 0), s10 = S.select(1, 1).select(1, 0), s11 = S.select(1, 1).select(1, 1);
  at::Tensor logw = at::log(g.weights) - 0.5 * (k - mu.select(1, 0)).pow(2) / s00 - 0.5 * at::log(s00);
  at::Tensor w = at::softmax(logw, 0);
  at::Generator gen = make_generator(seed);
  at::Tensor c = at::multinomial(w, n, true, gen);
  at::Tensor m = (mu.select(1, 1) + s10 / s00 * (k - mu.select(1, 0))).index_select(0, c);
  at::Tensor sd = at::sqrt(s11 - s10 * s10 / s00).index_select(0, c);
  return m + sd * at::randn({n}, gen, at::kDouble);
}

// 1-D Wasserstein-2 distance between two equal-size samples (sorted differences).
double w2_1d(const at::Tensor& a, const at::Tensor& b) {
  return (std::get<0>(at::sort(a)) - std::get<0>(at::sort(b))).pow(2).mean().sqrt().item<double>();
}

}  // namespace

TEST_CASE("inpainting returns the known coordinates exactly, reproducibly and batch-independently", "[solvers][inpaint]") {
  const std::string mix = "means: [[2.0, 0.0], [-1.0, 1.7], [-1.0, -1.7]], std: 0.3";
  for (std::vector<std::string> s : std::vector<std::vector<std::string>>{
           {"sample.type=euler_maruyama", "sample.steps=100", "sample.denoise=true"},
           {"sample.type=unipc", "sample.steps=20"},
           {"sample.type=edm", "sample.steps=10", "sample.churn=5"},
           {"sample.type=euler_ancestral", "sample.steps=30", "sample.inpaint.resample=3"},
           {"sample.type=euler_maruyama", "sample.steps=40", "sample.inpaint.particles=8"},
           {"sample.type=ancestral", "sample.steps=40", "sample.inpaint.particles=8", "sample.inpaint.ess_threshold=0.9"}}) {
    INFO(s[0]);
    s.push_back("sample.inpaint.values=[0.5, 0.0]");
    s.push_back("sample.inpaint.mask=[1, 0]");
    Experiment ex = mixture_experiment(mix, s);
    auto model = ex.make_model();
    SampleResult a = draw_samples(ex, *model, 64, 3, "s");
    CHECK(at::equal(a.x.select(1, 0), at::full({64}, 0.5, at::kDouble)));
    CHECK(at::isfinite(a.x).all().item<bool>());
    CHECK(a.x.select(1, 1).std().item<double>() > 0.3);  // the unknown coordinate is sampled
    CHECK(at::equal(a.x, draw_samples(ex, *model, 64, 3, "s").x));
    s.push_back("sample.batch_size=16");
    Experiment eb = mixture_experiment(mix, s);
    CHECK(at::allclose(a.x, draw_samples(eb, *model, 64, 3, "s").x, 1e-9, 1e-9));
  }
  // RePaint's repeats multiply the NFE.
  Experiment er = mixture_experiment(mix, {"sample.type=euler_maruyama", "sample.steps=50", "sample.inpaint.values=[0.5, 0.0]",
                                           "sample.inpaint.mask=[1, 0]", "sample.inpaint.resample=4"});
  auto model = er.make_model();
  CHECK(draw_samples(er, *model, 8, 3, "s").nfe == 200);
  // Particles do not: the NFE counts network calls, each on particles x the batch.
  Experiment ep = mixture_experiment(mix, {"sample.type=euler_maruyama", "sample.steps=50", "sample.inpaint.values=[0.5, 0.0]",
                                           "sample.inpaint.mask=[1, 0]", "sample.inpaint.particles=16"});
  CHECK(draw_samples(ep, *model, 8, 3, "s").nfe == 50);
}

TEST_CASE("imputing a coordinate independent of the known one gives its exact conditional", "[solvers][inpaint]") {
  // Two components that differ only in coordinate 0: coordinate 1 is N(0.5, 0.3^2) whatever
  // coordinate 0 is, and replacement is exact here. 4000 imputed values against 4000 exact
  // ones: mean and variance within 4 standard errors, 1-D W2 within the floor of two exact sets.
  const std::string mix = "means: [[-2.0, 0.5], [2.0, 0.5]], std: 0.3";
  Experiment ex = mixture_experiment(mix, {"sample.type=euler_maruyama", "sample.steps=500", "sample.inpaint.values=[2.0, 0.0]",
                                           "sample.inpaint.mask=[1, 0]"});
  auto model = ex.make_model();
  at::Tensor u = draw_samples(ex, *model, 4000, 1, "s").x.select(1, 1);
  const double n = 4000;
  CHECK(std::abs(u.mean().item<double>() - 0.5) < 4 * 0.3 / std::sqrt(n));
  CHECK(std::abs(u.var().item<double>() - 0.09) < 4 * 0.09 * std::sqrt(2 / n));
  const GaussianMixture g = GaussianMixture::from(Config::from_string("{" + mix + "}", "m"));
  std::vector<double> floor;
  for (uint64_t s = 0; s < 10; ++s) floor.push_back(w2_1d(exact_conditional(g, 2.0, 4000, 2 * s), exact_conditional(g, 2.0, 4000, 2 * s + 1)));
  const auto [m, sd] = mean_and_sd(floor);
  const double d = w2_1d(u, exact_conditional(g, 2.0, 4000, 99));
  INFO("W2 " << d << ", floor " << m << " +- " << sd);
  CHECK(d < m + 4 * sd);
}

TEST_CASE("replacement is off the exact conditional of correlated coordinates, and RePaint narrows the gap",
          "[solvers][inpaint]") {
  // A Gaussian with correlation 0.8, coordinate 0 known = 1: exactly, coordinate 1 is
  // N(0.8, 0.36). Replacement drives coordinate 1 by the score at a noised coordinate 0 and
  // lands near 0.5 (score_sde's approximation, app. I.2); RePaint's repeats move it toward 0.8.
  const std::string gauss = "means: [[0.0, 0.0]], covs: [[[1.0, 0.8], [0.8, 1.0]]]";
  auto mean_of = [&](int resample) {
    Experiment ex = mixture_experiment(gauss, {"sample.type=euler_maruyama", "sample.steps=250", "sample.inpaint.values=[1.0, 0.0]",
                                               "sample.inpaint.mask=[1, 0]", "sample.inpaint.resample=" + std::to_string(resample)});
    auto model = ex.make_model();
    return draw_samples(ex, *model, 4000, 1, "s").x.select(1, 1).mean().item<double>();
  };
  const double se = 0.6 / std::sqrt(4000.0), plain = mean_of(1), repaint = mean_of(8);
  INFO("exact 0.8; replacement " << plain << ", RePaint r = 8 " << repaint << " (se " << se << ")");
  CHECK(std::abs(plain - 0.8) > 10 * se);  // the documented bias: if this fails, docs/samplers.md is wrong
  CHECK(std::abs(repaint - 0.8) < 0.5 * std::abs(plain - 0.8));
}

TEST_CASE("sequential Monte Carlo imputation converges to the exact conditional where replacement does not",
          "[solvers][inpaint]") {
  // Particles (SMCDiff's construction, solvers/inpaint.h) on the cases replacement gets wrong;
  // Euler–Maruyama, 250 steps, 2000 samples. (1) The Gaussian with correlation 0.8 given
  // coordinate 0 = 1: exactly N(0.8, 0.36); mean and variance within 4 standard errors.
  // (2) Two correlated components, weights 0.3 / 0.7, given coordinate 0 = -0.2: the conditional
  // puts 0.68 on the component at -1 (closed form, exact_conditional); the 1-D W2 to exact draws
  // is within the floor of two exact sets (mean + 4 sd of 10 pairs), and replacement's is not.
  auto impute = [](const std::string& mix, double k, int64_t particles) {
    Experiment ex = mixture_experiment(mix, {"sample.type=euler_maruyama", "sample.steps=250",
                                             "sample.inpaint.values=[" + std::to_string(k) + ", 0.0]", "sample.inpaint.mask=[1, 0]",
                                             "sample.inpaint.particles=" + std::to_string(particles)});
    auto model = ex.make_model();
    SampleResult r = draw_samples(ex, *model, 2000, 1, "s");
    REQUIRE(r.x.size(0) == 2000);
    CHECK(at::equal(r.x.select(1, 0), at::full({2000}, k, at::kDouble)));
    return r.x.select(1, 1);
  };
  const double n = 2000;
  at::Tensor u = impute("means: [[0.0, 0.0]], covs: [[[1.0, 0.8], [0.8, 1.0]]]", 1.0, 64);
  INFO("Gaussian: mean " << u.mean().item<double>() << " (exact 0.8), variance " << u.var().item<double>() << " (exact 0.36)");
  CHECK(std::abs(u.mean().item<double>() - 0.8) < 4 * 0.6 / std::sqrt(n));
  CHECK(std::abs(u.var().item<double>() - 0.36) < 4 * 0.36 * std::sqrt(2 / n));

  const std::string mix = "weights: [0.3, 0.7], means: [[-1.0, -1.0], [1.0, 1.0]], std: 0.5";
  const GaussianMixture g = GaussianMixture::from(Config::from_string("{" + mix + "}", "m"));
  std::vector<double> floor;
  for (uint64_t s = 0; s < 10; ++s)
    floor.push_back(w2_1d(exact_conditional(g, -0.2, 2000, 2 * s), exact_conditional(g, -0.2, 2000, 2 * s + 1)));
  const auto [m, sd] = mean_and_sd(floor);
  const at::Tensor exact = exact_conditional(g, -0.2, 2000, 99);
  const at::Tensor smc = impute(mix, -0.2, 64), plain = impute(mix, -0.2, 1);
  const double d_smc = w2_1d(smc, exact), d_plain = w2_1d(plain, exact);
  INFO("mixture: W2 SMC " << d_smc << ", replacement " << d_plain << ", floor " << m << " +- " << sd << "; mass below 0: SMC "
                          << (smc < 0).to(at::kDouble).mean().item<double>() << ", replacement "
                          << (plain < 0).to(at::kDouble).mean().item<double>() << ", exact "
                          << (exact < 0).to(at::kDouble).mean().item<double>());
  CHECK(d_smc < m + 4 * sd);
  CHECK(d_plain > m + 4 * sd);
}

TEST_CASE("inpainting settings that cannot apply are refused with the key", "[solvers][inpaint]") {
  const std::string mix = "means: [[2.0, 0.0], [-2.0, 0.0]], std: 0.3";
  auto bad = [&](std::vector<std::string> ov) { return mixture_experiment(mix, ov); };
  CHECK_THROWS_WITH(bad({"sample.type=ode", "sample.inpaint.values=[1.0, 0.0]", "sample.inpaint.mask=[1, 0]"}),
                    Catch::Contains("sample.inpaint") && Catch::Contains("fixed-grid"));
  CHECK_THROWS_WITH(bad({"sample.type=unipc", "sample.inpaint.values=[1.0, 0.0]", "sample.inpaint.mask=[1, 0]",
                         "sample.inpaint.resample=2"}),
                    Catch::Contains("multistep"));
  CHECK_THROWS_WITH(bad({"sample.type=euler_maruyama", "sample.inpaint.values=[1.0, 0.0, 3.0]", "sample.inpaint.mask=[1, 0]"}),
                    Catch::Contains("sample.inpaint.values") && Catch::Contains("one sample has 2"));
  CHECK_THROWS_WITH(bad({"sample.type=euler_maruyama", "sample.inpaint.values=[1.0, 0.0]", "sample.inpaint.mask=[1, 0.5]"}),
                    Catch::Contains("0 or 1"));
  CHECK_THROWS_WITH(bad({"sample.type=euler_maruyama", "sample.inpaint.values=[1.0, 0.0]"}),
                    Catch::Contains("sample.inpaint.mask") && Catch::Contains("required"));
  CHECK_THROWS_WITH(bad({"sample.type=euler_maruyama", "sample.inpaint.values=[1.0, 0.0]", "sample.inpaint.box=[0, 1, 0, 1]"}),
                    Catch::Contains("sample.inpaint.box") && Catch::Contains("images"));
  CHECK_THROWS_WITH(bad({"sample.type=euler_maruyama", "sample.inpaint.file=/nonexistent.h5", "sample.inpaint.mask=[1, 0]"}),
                    Catch::Contains("sample.inpaint.file") && Catch::Contains("no such file"));
  const std::vector<std::string> known{"sample.inpaint.values=[1.0, 0.0]", "sample.inpaint.mask=[1, 0]"};
  auto with = [&](std::vector<std::string> ov) {
    ov.insert(ov.end(), known.begin(), known.end());
    return bad(ov);
  };
  CHECK_THROWS_WITH(with({"sample.type=unipc", "sample.inpaint.particles=4"}),
                    Catch::Contains("sample.inpaint") && Catch::Contains("Gaussian move"));
  CHECK_THROWS_WITH(with({"sample.type=euler_maruyama", "sample.inpaint.particles=4", "sample.inpaint.resample=2"}),
                    Catch::Contains("sample.inpaint.particles") && Catch::Contains("do not combine"));
  CHECK_THROWS_WITH(with({"sample.type=euler_maruyama", "sample.inpaint.ess_threshold=0.5"}),
                    Catch::Contains("sample.inpaint.ess_threshold") && Catch::Contains("particles > 1"));
  CHECK_THROWS_WITH(with({"sample.type=euler_maruyama", "sample.inpaint.particles=4", "sample.inpaint.ess_threshold=0"}),
                    Catch::Contains("sample.inpaint.ess_threshold"));
  CHECK_THROWS_WITH(with({"sample.type=euler_maruyama", "sample.noise=brownian_tree", "sample.inpaint.particles=4"}),
                    Catch::Contains("sample.inpaint") && Catch::Contains("independent"));
  CHECK_THROWS_WITH(with({"sample.type=euler_maruyama", "sample.classes=uniform", "sample.inpaint.particles=4"}),
                    Catch::Contains("sample.inpaint") && Catch::Contains("classes: none"));
}
