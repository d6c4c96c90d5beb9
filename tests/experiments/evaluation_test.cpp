// Image and likelihood metrics: the Fréchet distance against closed forms, the feature
// classifier (learns, is cached, refuses unlabelled data), the evaluation rows of a run
// (periodic + final, FD with its floors, bits/dim), and the held-out NLL of an exact model
// against the exact density.
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sys/wait.h>

#include <ATen/ATen.h>

#include "core/config.h"
#include "core/device.h"
#include "core/error.h"
#include "core/fsutil.h"
#include "core/h5log.h"
#include "experiments/evaluation/classifier.h"
#include "experiments/evaluation/evaluation.h"
#include "experiments/evaluation/metrics.h"
#include "experiments/data/gmm_dataset.h"
#include "experiments/data/image_dataset.h"
#include "experiments/data/image_io.h"
#include "experiments/trainer.h"
#include "losses/ddpm.h"
#include "../test_util.h"

using namespace scorelab;
using Catch::Matchers::Contains;
namespace fs = std::filesystem;

namespace {
GaussianStats stats(std::vector<double> mean, std::vector<double> cov) {
  int64_t d = static_cast<int64_t>(mean.size());
  return {at::tensor(mean, at::kDouble), at::tensor(cov, at::kDouble).reshape({d, d})};
}

// A labelled 8x8 "MNIST" in IDX files: class k lights up quadrant k (values 180..255) over
// uniform background noise 0..59; train 800 images, test 200.
std::string write_quadrants(const std::string& dir) {
  at::Generator gen = make_generator(11);
  for (auto [split, n] : {std::pair<std::string, int64_t>{"train", 800}, {"t10k", 200}}) {
    at::Tensor labels = at::randint(4, {n}, gen, at::kLong);
    at::Tensor img = at::randint(60, {n, 8, 8}, gen, at::kLong);
    for (int64_t i = 0; i < n; ++i) {
      int64_t k = labels[i].item<int64_t>(), r = (k / 2) * 4, c = (k % 2) * 4;
      img[i].slice(0, r, r + 4).slice(1, c, c + 4).copy_(at::randint(180, 256, {4, 4}, gen, at::kLong));
    }
    write_idx(dir + "/" + split + "-images-idx3-ubyte.gz", img);
    write_idx(dir + "/" + split + "-labels-idx1-ubyte.gz", labels);
  }
  return dir;
}

std::string image_run_yaml(const std::string& dir, const std::string& name) {
  return "run: {name: " + name + ", out_dir: '" + dir + "', seed: 1, threads: 1, device: cpu}\n"
         "data: {type: mnist, path: '" + dir + "/data'}\n"
         "sde: {type: ddpm, N: 50, beta_1: 2.0e-3, beta_N: 0.4}\n"
         "model: {type: mlp, hidden: 128, depth: 2, embed_dim: 16, parameterization: eps}\n"
         "loss: {type: ddpm, objective: simple}\n"
         "train: {steps: 400, batch_size: 128, lr: 2.0e-3, log_every: 50, ckpt_every: 200}\n"
         "sample: {type: ancestral, n: 300}\n"
         "eval: {n: 300, every: 200, grid: 16, nll: [vlb, ode], nll_n: 32}\n"
         "likelihood: {rtol: 1.0e-3, atol: 1.0e-3}\n"
         "classifier: {steps: 150, batch_size: 64, cache_dir: '" + dir + "/classifiers'}\n";
}

double last(const std::string& log, const std::string& col) { return RunLog::read_column(log, "eval/" + col).back(); }
}  // namespace

TEST_CASE("MMD's bandwidth is the median distance of the pooled points, not of the samples alone",
          "[experiments][metrics]") {
  // 1500 points at 0 against 1500 at 1 (1-D). Pooled (1000 of each): 999,000 pairs at distance
  // 0 and 1,000,000 at distance 1, so the median is h = 1 (the first 2000 rows of x and y stacked
  // would be 1500 zeros and 500 ones, median 0). Within each set every kernel value is 1, across
  // them exp(-1/2): MMD^2 = 1 + 1 - 2 exp(-1/2) exactly.
  at::Tensor x = at::zeros({1500, 1}, at::kDouble), y = at::ones({1500, 1}, at::kDouble);
  auto [mmd2, h] = mmd_rbf(x, y);
  CHECK(h == 1.0);
  CHECK(mmd2 == Approx(2 - 2 * std::exp(-0.5)).epsilon(1e-12));
  // Symmetric in its arguments.
  auto [mmd2_yx, h_yx] = mmd_rbf(y, x);
  CHECK(h_yx == 1.0);
  CHECK(mmd2_yx == Approx(mmd2).epsilon(1e-12));
}

TEST_CASE("a metric's bootstrap standard error matches the closed form of a mean and the spread over fresh draws",
          "[experiments][metrics]") {
  const GaussianMixture g = GaussianMixture::from(Config::from_string(
      "means: [[1.5, 0.0], [-1.5, 0.5]]\nstds: [0.4, 0.6]\nweights: [0.6, 0.4]\n", "g.yaml"));
  GMMDataset data(g);
  at::Generator gen = make_generator(3);
  const at::Tensor ref = data.sample(500, gen);
  at::Generator proj = make_generator(4);
  SlicedW2Reference sw(ref, 64, proj);
  MetricInput in{data, ref, sw, nullptr, nullptr};
  // nll_target is a mean over samples: its bootstrap SE is the plug-in sd / sqrt(n). With
  // B = 800 resamples the estimate's relative sd is 1 / sqrt(2 (B - 1)) = 2.5%; 10% is 4 sd.
  const at::Tensor x = data.sample(1000, gen);
  at::Generator boot = make_generator(5);
  const auto [nll, nll_se] = metric_with_se(nll_target_metric(), in, x, 800, boot);
  const at::Tensor per = -g.log_prob(x, at::ones({1000}, at::kDouble), at::zeros({1000}, at::kDouble));
  CHECK(nll == Approx(per.mean().item<double>()).epsilon(1e-12));
  const double plug_in_se = per.std(/*unbiased=*/false).item<double>() / std::sqrt(1000.0);
  CHECK(nll_se == Approx(plug_in_se).epsilon(0.10));
  // Sliced W2 has no closed form: the SE should match the sd of the metric over 60 independent
  // draws (relative sd of that sd 9%) — the mean bootstrap SE over 6 draws (B = 200 each,
  // together a few %). 30% is about 3 sd of the difference.
  std::vector<double> fresh;
  for (int k = 0; k < 60; ++k) fresh.push_back(sw.distance(data.sample(500, gen)));
  const double spread = mean_and_sd(fresh).second;
  double se = 0;
  for (int k = 0; k < 6; ++k) se += metric_with_se(sliced_w2_metric(), in, data.sample(500, gen), 200, boot).second / 6;
  INFO("bootstrap SE " << se << ", sd over fresh draws " << spread);
  CHECK(se == Approx(spread).epsilon(0.30));
  // No bootstrap, no SE; the value does not depend on it.
  at::Generator b2 = make_generator(5);
  const auto [v0, se0] = metric_with_se(sliced_w2_metric(), in, x, 0, b2);
  CHECK(std::isnan(se0));
  CHECK(v0 == sw.distance(x));
}

TEST_CASE("the Fréchet distance matches its closed forms", "[experiments][metrics]") {
  // Diagonal covariances: ||dm||^2 + sum (sqrt(a_i) - sqrt(b_i))^2 = 5 + (1 + 1 + 4).
  GaussianStats a = stats({0, 0, 0}, {1, 0, 0, 0, 4, 0, 0, 0, 9});
  GaussianStats b = stats({1, 2, 0}, {4, 0, 0, 0, 1, 0, 0, 0, 1});
  CHECK(frechet_distance(a, b) == Approx(11.0).epsilon(1e-12));
  CHECK(frechet_distance(b, a) == Approx(11.0).epsilon(1e-12));
  CHECK(frechet_distance(a, a) == Approx(0.0).margin(1e-12));
  // Non-commuting 2x2: Tr (S1 S2)^{1/2} = sqrt(tr(S1 S2) + 2 sqrt(det(S1 S2))) = sqrt(8 + 2*3).
  GaussianStats c = stats({0, 0}, {2, 1, 1, 2}), d = stats({0, 0}, {1, 0, 0, 3});
  CHECK(frechet_distance(c, d) == Approx(8.0 - 2.0 * std::sqrt(14.0)).epsilon(1e-12));
  // From samples: n points of N(m, S) estimate (m, S); a mean shift of 0.5 adds 0.25.
  at::Generator gen = make_generator(5);
  const int64_t n = 20000;
  at::Tensor L = at::tensor({1.0, 0.0, 0.0, 0.5, 1.5, 0.0, -0.3, 0.2, 0.8}, at::kDouble).reshape({3, 3});
  at::Tensor x = at::matmul(at::randn({n, 3}, gen, at::kDouble), L.t());
  GaussianStats truth{at::zeros({3}, at::kDouble), at::matmul(L, L.t())};
  GaussianStats est = gaussian_stats(x);
  // E FD(est, truth) ~ tr(S)/n for the mean plus O(d^2/n) for the covariance: ~1e-4 here.
  CHECK(frechet_distance(est, truth) < 20.0 * 3 / n);
  at::Tensor shift = at::tensor({0.5, 0.0, 0.0}, at::kDouble);
  GaussianStats shifted{truth.mean + shift, truth.cov};
  CHECK(frechet_distance(est, shifted) == Approx(0.25).margin(0.02));
}

TEST_CASE("the feature classifier learns the labels, is cached, and needs labelled images", "[experiments][metrics]") {
  std::string dir = test::scratch_dir("classifier");
  fs::create_directories(dir + "/data");
  write_quadrants(dir + "/data");
  Config cfg = Config::from_string(image_run_yaml(dir, "clf"), "clf.yaml");
  Experiment ex = build_experiment(cfg, "clf");
  REQUIRE(ex.eval.fd);  // auto: labelled images
  Classifier c = classifier_for(ex);
  CHECK_FALSE(c.cached);
  CHECK(c.test_n == 200);
  CHECK(c.test_accuracy > 0.95);  // chance is 0.25
  CHECK(fs::exists(c.path));
  Classifier again = classifier_for(ex);
  CHECK(again.cached);
  CHECK(again.path == c.path);
  CHECK(again.test_accuracy == c.test_accuracy);
  at::Generator g = make_generator(2);
  at::Tensor x = clean_image_view(ex, "test")->sample(10, g);
  CHECK(at::equal(c.features(x), again.features(x)));
  // Other options: another classifier file.
  Config cfg2 = Config::from_string(image_run_yaml(dir, "clf"), "clf.yaml", {"classifier.steps=20"});
  Experiment ex2 = build_experiment(cfg2, "clf");
  Classifier other = classifier_for(ex2);
  CHECK_FALSE(other.cached);
  CHECK(other.path != c.path);
  // fd: true on images without labels, and a classifier section on 2-D data, are refused.
  at::Tensor imgs = at::rand({20, 1, 8, 8});
  write_h5_file(dir + "/nolabels.h5", "images", imgs);
  std::string bad = "data: {type: hdf5, path: '" + dir + "/nolabels.h5'}\nmodel: {type: mlp}\neval: {fd: true}\n";
  try {
    build_experiment(Config::from_string(bad, "bad.yaml"), "bad");
    FAIL("no error");
  } catch (const ConfigError& e) {
    CHECK_THAT(std::string(e.what()), Contains("bad.yaml:3: eval.fd") && Contains("labelled images"));
  }
  try {
    build_experiment(Config::from_string("data: {type: eight_gaussians}\nclassifier: {steps: 5}\n", "toy.yaml"), "toy");
    FAIL("no error");
  } catch (const ConfigError& e) {
    CHECK_THAT(std::string(e.what()), Contains("toy.yaml:2: classifier"));
  }
  try {
    build_experiment(Config::from_string("data: {type: eight_gaussians}\neval: {nll: [vlb]}\n", "vp.yaml"), "vp");
    FAIL("no error");
  } catch (const ConfigError& e) {
    CHECK_THAT(std::string(e.what()), Contains("vp.yaml:2: eval.nll") && Contains("sde.type: ddpm"));
  }
}

TEST_CASE("an image run logs FD with its floors and bits/dim at every evaluation", "[experiments][metrics][train]") {
  std::string dir = test::scratch_dir("image_eval");
  fs::create_directories(dir + "/data");
  write_quadrants(dir + "/data");
  Config cfg = Config::from_string(image_run_yaml(dir, "img"), "img.yaml");
  Experiment ex = build_experiment(cfg, "img");
  TrainSummary s = train(ex);
  const std::string log = dir + "/img/log.h5";
  std::vector<double> steps = RunLog::read_column(log, "eval/step");
  REQUIRE(steps == std::vector<double>{200, 400});  // eval.every = 200, then the final one
  CHECK(fs::exists(dir + "/img/samples/step_00000200.png"));
  CHECK(RunLog::read_attr(log, "eval", "columns") ==
        "step,nfe,sample_seconds,sliced_w2,sliced_w2_se,fd,fd_se,sliced_w2_prior,sliced_w2_floor,sliced_w2_floor_se,"
        "fd_prior,fd_floor,fd_floor_se,bpd_vlb,bpd_vlb_se,bpd_ode,bpd_ode_se,eval_seconds");
  double fd = last(log, "fd"), fd_prior = last(log, "fd_prior"), fd_floor = last(log, "fd_floor");
  INFO("fd " << fd << " prior " << fd_prior << " floor " << fd_floor);
  CHECK(fd_floor < fd_prior / 10);  // the distance separates data from noise
  CHECK(fd < fd_prior / 2);         // and a model that learned something from noise
  // Bits per dimension: 8 is the cost of coding every pixel uniformly; a trained model beats it
  // by both bounds, and each is a proper code length (> 0).
  double vlb = last(log, "bpd_vlb"), ode = last(log, "bpd_ode");
  INFO("bpd vlb " << vlb << " ode " << ode);
  CHECK(vlb > 0);
  CHECK(vlb < 8);
  CHECK(ode > 0);
  CHECK(ode < 8);
  CHECK(s.metrics.size() == 14);
  // The FD's bootstrap SE comes from resampled features (one classifier pass): finite, positive,
  // and small next to the distance from noise.
  const double fd_se = last(log, "fd_se");
  CHECK(fd_se > 0);
  CHECK(fd_se < fd_prior / 10);
  // The floors carry the same bootstrap SE (resampled test-split features, fresh data).
  CHECK(last(log, "fd_floor_se") > 0);
  CHECK(last(log, "fd_floor_se") < fd_floor);
  CHECK(last(log, "sliced_w2_floor_se") > 0);
}

TEST_CASE("held-out NLL of the exact model equals the exact density (ODE) and is bounded by the VLB",
          "[experiments][metrics]") {
  // A Gaussian (one component) and a two-component mixture, each with its exact score.
  for (std::string mix : {"means: &m [[0.5, -0.5]], stds: &s [0.7], weights: &w [1.0]",
                          "means: &m [[1.5, 0.0], [-1.5, 0.5]], stds: &s [0.4, 0.6], weights: &w [0.6, 0.4]"}) {
    const bool gaussian = mix.find("[1.0]") != std::string::npos;
    INFO(mix);
    std::string dir = test::scratch_dir("oracle_nll");
    std::string yaml = "run: {name: o, out_dir: '" + dir + "', seed: 2, threads: 1, device: cpu, dtype: float64}\n"
                       "data: {type: gmm, " + mix + "}\n"
                       "sde: {type: ddpm, N: 1000}\n"
                       "model: {type: gmm_oracle, means: *m, stds: *s, weights: *w}\n"
                       "train: {steps: 0}\n"
                       "eval: {n: 500, nll: [ode, vlb], nll_n: 400}\n"
                       "loss: {type: ddpm, decoder: gaussian}\n";
    Experiment ex = build_experiment(Config::from_string(yaml, "o.yaml"), "o");
    Evaluator ev(ex, 500, 64, 2);
    CHECK(ev.columns() == std::vector<std::string>{"sliced_w2", "sliced_w2_se", "mmd2", "mmd2_se", "energy_distance",
                                                   "energy_distance_se", "coverage", "coverage_se", "mass_tv",
                                                   "mass_tv_se", "nll_target", "nll_target_se", "sliced_w2_prior",
                                                   "sliced_w2_floor", "sliced_w2_floor_se", "nll_ode", "nll_ode_se",
                                                   "nll_vlb", "nll_vlb_se", "nll_true"});
    auto model = ex.make_model();
    Metrics m = ev.nll(*model);
    REQUIRE(m.size() == 5);
    double ode = m[0].second, vlb = m[2].second, vlb_se = m[3].second, truth = m[4].second;
    INFO("ode " << ode << " vlb " << vlb << " +- " << vlb_se << " exact " << truth);
    // The ODE integrates the exact score from eps = 1e-5: the same density up to RK45's tolerance.
    CHECK(std::abs(ode - truth) < 2e-3);
    // The VLB, recomputed point by point on the evaluator's held-out points (seed + 4241) with
    // its noise (seed + 31): the same number, and the paired gap VLB - NLL with its own error.
    at::Generator held = make_generator(2 + 4241), noise = make_generator(2 + 31);
    at::Tensor x = ex.data->sample(400, held).to(at::kDouble);
    at::Tensor per_vlb = std::dynamic_pointer_cast<const DDPMLoss>(ex.loss)->full_vlb(*model, x, noise);
    const GaussianMixture& g = std::dynamic_pointer_cast<GMMDataset>(ex.data)->mixture();
    at::Tensor one = at::ones({400}, at::kDouble), zero = at::zeros({400}, at::kDouble);
    at::Tensor gap = per_vlb + g.log_prob(x, one, zero);
    double gap_mean = gap.mean().item<double>(), gap_se = gap.std().item<double>() / std::sqrt(400.0);
    INFO("paired gap " << gap_mean << " +- " << gap_se);
    CHECK(vlb == Approx(per_vlb.mean().item<double>()).epsilon(1e-9));
    CHECK(vlb_se == Approx(per_vlb.std().item<double>() / std::sqrt(400.0)).epsilon(1e-9));
    // Tight for Gaussian data (closed form: 5.6e-4 nats, tests/losses/ddpm_test.cpp); for the
    // mixture a bound: the exact reverse kernels are not Gaussian.
    if (gaussian) {
      CHECK(std::abs(gap_mean - 5.6e-4) < 5 * gap_se);
    } else {
      CHECK(gap_mean > -5 * gap_se);
    }
  }
}

TEST_CASE("scorelab train-classifier trains once, then reports the cached classifier", "[experiments][metrics][cli]") {
  std::string dir = test::scratch_dir("train_classifier_cli");
  fs::create_directories(dir + "/data");
  write_quadrants(dir + "/data");
  std::ofstream(dir + "/img.yaml") << image_run_yaml(dir, "img");
  auto run = [&](const std::string& args) {
    std::string cmd = std::string(SCORELAB_BIN) + " train-classifier " + args + " > " + dir + "/out.txt 2>&1";
    int status = std::system(cmd.c_str());
    return std::make_pair(WIFEXITED(status) ? WEXITSTATUS(status) : -1, read_text(dir + "/out.txt"));
  };
  auto [code, out] = run(dir + "/img.yaml eval.n=100");
  CHECK(code == 0);
  CHECK_THAT(out, Contains("(trained now)") && Contains("test accuracy") && Contains("on 200 test images") &&
                      Contains("FD floor, 100 train vs 100 test images"));
  auto [code2, out2] = run(dir + "/img.yaml eval.n=100");
  CHECK(code2 == 0);
  CHECK_THAT(out2, Contains("(cached)"));
  std::ofstream(dir + "/toy.yaml") << "data: {type: eight_gaussians}\n";
  auto [code3, out3] = run(dir + "/toy.yaml");
  CHECK(code3 == 2);
  CHECK_THAT(out3, Contains("toy.yaml:1: data.type: train-classifier needs an image data set"));
}

TEST_CASE("metrics come from one registry: names and values in step, headline validated", "[experiments][metrics]") {
  const std::string gmm = "run: {device: cpu, threads: 1}\ndata: {type: gmm, means: [[2.0, 0.0], [-2.0, 0.0]], std: 0.3}\n"
                          "model: {type: gmm_oracle, means: [[2.0, 0.0], [-2.0, 0.0]], std: 0.3}\n"
                          "train: {steps: 0}\neval: {nll: [ode], nll_n: 20}\n";
  Experiment ex = build_experiment(Config::from_string(gmm, "g.yaml"), "g");
  Evaluator ev(ex, 300, 16, 0);
  const std::vector<std::string> cols = ev.columns();
  CHECK(cols == Evaluator::columns_for(ex));  // what compare validates `quality` against, without building
  CHECK(cols == std::vector<std::string>{"sliced_w2", "sliced_w2_se", "mmd2", "mmd2_se", "energy_distance",
                                         "energy_distance_se", "coverage", "coverage_se", "mass_tv", "mass_tv_se",
                                         "nll_target", "nll_target_se", "sliced_w2_prior", "sliced_w2_floor",
                                         "sliced_w2_floor_se", "nll_ode", "nll_ode_se", "nll_true"});
  // Without the bootstrap: no SE columns; compare's `quality` names are the sample metrics alone.
  Experiment no_se = build_experiment(Config::from_string(gmm, "g.yaml", {"eval.bootstrap=0"}), "g");
  CHECK(Evaluator::columns_for(no_se) == std::vector<std::string>{"sliced_w2", "mmd2", "energy_distance", "coverage",
                                                                  "mass_tv", "nll_target", "sliced_w2_prior",
                                                                  "sliced_w2_floor", "nll_ode", "nll_ode_se", "nll_true"});
  CHECK(Evaluator::metric_names(ex) ==
        std::vector<std::string>{"sliced_w2", "mmd2", "energy_distance", "coverage", "mass_tv", "nll_target"});
  auto model = ex.make_model();
  at::Generator g = make_generator(5);
  Metrics m = ev.evaluate(*model, ex.data->sample(300, g));
  REQUIRE(m.size() == cols.size());
  for (size_t i = 0; i < m.size(); ++i) CHECK(m[i].first == cols[i]);
  CHECK(ex.eval.headline == "sliced_w2");
  // A headline that is not a metric of this data names the key and the choices.
  try {
    build_experiment(Config::from_string(gmm, "g.yaml", {"eval.headline=fd"}), "g");
    FAIL("no error");
  } catch (const ConfigError& e) {
    CHECK_THAT(std::string(e.what()), Contains("eval.headline") && Contains("available: sliced_w2, mmd2"));
  }
}
