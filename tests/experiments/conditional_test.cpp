// Class-conditional runs end to end: label dropout trains the conditional and unconditional
// models in one network, resume stays bit-identical, compare sweeps the guidance scale, and bad
// label settings are config errors.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include <ATen/ATen.h>

#include "core/checkpoint.h"
#include "core/error.h"
#include "core/h5log.h"
#include "experiments/compare.h"
#include "experiments/evaluation/evaluation.h"
#include "experiments/inference.h"
#include "experiments/trainer.h"
#include "../test_util.h"

using namespace scorelab;
namespace fs = std::filesystem;

namespace {
// Three components of unequal weight; the MLP learns them with labels.
std::string conditional_yaml(const std::string& dir, const std::string& name, int steps) {
  return "run: {name: " + name + ", out_dir: '" + dir +
         "', seed: 2, threads: 1, device: cpu}\n"
         "data: {type: gmm, weights: [0.5, 0.3, 0.2], means: [[2.0, 0.0], [-2.0, 0.0], [0.0, 2.0]], std: 0.3}\n"
         "sde: {type: vp}\n"
         "model: {type: mlp, hidden: 64, depth: 3, embed_dim: 16, class_conditional: true}\n"
         "loss: {type: dsm}\n"
         "train: {steps: " +
         std::to_string(steps) +
         ", batch_size: 256, lr: 3.0e-3, log_every: 50, ckpt_every: 100, label_dropout: 0.2}\n"
         "sample: {type: euler_maruyama, steps: 200, n: 1000}\n"
         "eval: {n: 1000, projections: 128, bootstrap: 0}\n";
}
TrainSummary run(const std::string& dir, const std::string& name, int steps, const std::vector<std::string>& ov = {}) {
  Experiment ex = build_experiment(Config::from_string(conditional_yaml(dir, name, steps), name + ".yaml", ov), name);
  return train(ex);
}
double metric(const TrainSummary& s, const std::string& name) { return metric_value(s.metrics, name); }
}  // namespace

TEST_CASE("label dropout trains the conditional and the unconditional model in one network", "[experiments][guidance]") {
  std::string dir = test::scratch_dir("conditional");
  TrainSummary s = run(dir, "c", 1500);
  // sample.classes defaults to uniform for a class-conditional model: class_accuracy is measured.
  INFO("class_accuracy " << metric(s, "class_accuracy") << " coverage " << metric(s, "coverage"));
  CHECK(metric(s, "class_accuracy") > 0.95);
  const std::string ckpt = dir + "/c/checkpoints/last.pt";
  at::Tensor labels = RunLog::read_array(dir + "/c/log.h5", "samples/final_labels");
  CHECK(at::equal(labels.to(at::kLong), at::arange(1000, at::kLong).remainder(3)));
  // Each class alone: its samples sit in its component.
  for (int k : {0, 1, 2}) {
    Loaded l = load_for_inference(ckpt, {"sample.classes=[" + std::to_string(k) + "]", "sample.n=600"});
    SampleResult r = draw_samples(l.ex, *l.model, 600, 9, "");
    Evaluator ev(l.ex, 1000, 64, 0);
    const double acc = metric_value(ev.score(r.x, 0, r.labels), "class_accuracy");
    INFO("class " << k << " accuracy " << acc);
    CHECK(acc > 0.95);
  }
  // The null class: the unconditional model covers every component, in the data's proportions.
  Loaded u = load_for_inference(ckpt, {"sample.classes=none"});
  SampleResult r = draw_samples(u.ex, *u.model, 2000, 9, "");
  CHECK_FALSE(r.labels.defined());
  Evaluator ev(u.ex, 2000, 64, 0);
  Metrics m = ev.score(r.x);
  INFO("unconditional coverage " << metric_value(m, "coverage") << " mass_tv " << metric_value(m, "mass_tv"));
  CHECK(metric_value(m, "coverage") == 1.0);
  CHECK(metric_value(m, "mass_tv") < 0.1);
  CHECK(std::isnan(metric_value(m, "class_accuracy")));  // no labels, no accuracy
}

TEST_CASE("a class-conditional run resumes bit-identical (labels and their dropout are in the stream)",
          "[experiments][guidance]") {
  std::string dir = test::scratch_dir("conditional_resume");
  run(dir, "whole", 200);
  run(dir, "split", 100);
  run(dir, "split", 200, {"train.resume=true"});
  std::vector<at::Tensor> whole, split;
  load_checkpoint(dir + "/whole/checkpoints/last.pt", nullptr, &whole, nullptr);
  load_checkpoint(dir + "/split/checkpoints/last.pt", nullptr, &split, nullptr);
  REQUIRE(whole.size() == split.size());
  for (size_t i = 0; i < whole.size(); ++i) CHECK(at::equal(whole[i], split[i]));
  // Label dropout changes what is trained.
  run(dir, "nodrop", 200, {"train.label_dropout=0", "sample.classes=uniform"});
  std::vector<at::Tensor> nodrop;
  load_checkpoint(dir + "/nodrop/checkpoints/last.pt", nullptr, &nodrop, nullptr);
  CHECK_FALSE(at::equal(nodrop[0], whole[0]));
}

TEST_CASE("compare sweeps the guidance scale: same x_T and labels, guidance sharpens the classes",
          "[experiments][guidance][compare]") {
  std::string dir = test::scratch_dir("compare_guidance");
  // Overlapping components: the exact conditional assigns ~84% of its samples to their own
  // component; guidance pushes samples away from the others.
  std::ofstream(dir + "/oracle.yaml") << "run: {seed: 0, threads: 1, device: cpu}\n"
                                         "data: {type: gmm, means: [[1.0, 0.0], [-1.0, 0.0]], std: 1.0}\n"
                                         "sde: {type: vp}\n"
                                         "model: {type: gmm_oracle, means: [[1.0, 0.0], [-1.0, 0.0]], std: 1.0}\n"
                                         "train: {steps: 0}\nsample: {type: ode, method: rk45, classes: uniform}\n";
  std::ofstream(dir + "/cmp.yaml") << "source: oracle.yaml\nn: 2000\nseed: 1\nrepeats: 1\nreference_n: 2000\nout_dir: '" +
                                          dir + "/out'\nquality: class_accuracy\nsamplers:\n"
                                          "  - {type: ode, method: heun, steps: 20, guidance: [0, 1, 4]}\n";
  auto rows = run_compare(dir + "/cmp.yaml", {});
  REQUIRE(rows.size() == 3);
  CHECK(rows[0].settings == "guidance=0, method=heun, steps=20");
  for (const auto& r : rows) CHECK(r.nfe == 40);  // Heun: 2 per step
  const double a0 = metric_value(rows[0].metrics, "class_accuracy"), a1 = metric_value(rows[1].metrics, "class_accuracy"),
               a4 = metric_value(rows[2].metrics, "class_accuracy");
  INFO("class accuracy at w = 0, 1, 4: " << a0 << " " << a1 << " " << a4);
  // w = 0 is the exact conditional: P(N(1, 1) > 0) = 0.841, +- 4 sd of a binomial at n = 2000.
  CHECK(std::abs(a0 - 0.8413) < 4 * std::sqrt(0.84 * 0.16 / 2000));
  CHECK(a1 > a0 + 0.03);
  CHECK(a4 > a1);
  CHECK(fs::exists(dir + "/out/compare.md"));
  CHECK_FALSE(fs::exists(dir + "/out/quality_vs_nfe.png"));  // one NFE: no curve
  // A row may not set classes (every row draws given the same labels).
  std::ofstream(dir + "/bad.yaml") << "source: oracle.yaml\nn: 10\nsamplers:\n  - {type: ode, method: heun, classes: [1]}\n";
  CHECK_THROWS_WITH(run_compare(dir + "/bad.yaml", {}, builtin_registries(), true), Catch::Contains("sample.classes in `overrides`"));
}

TEST_CASE("label settings are checked: conditional models need labelled data, labels need a conditional model",
          "[experiments][guidance]") {
  const std::string base = "run: {device: cpu}\nsde: {type: vp}\n";
  auto spec = [&](const std::string& yaml, const std::vector<std::string>& ov) {
    return RunSpec::from(Config::from_string(base + yaml, "g.yaml", ov), "g");
  };
  CHECK_THROWS_WITH(spec("data: {type: eight_gaussians}\nmodel: {type: mlp, class_conditional: true}\n", {}),
                    Catch::Contains("model.class_conditional: needs labelled data"));
  CHECK_THROWS_WITH(spec("data: {type: gmm, means: [[1.0, 0.0]]}\nmodel: {type: mlp, class_conditional: true, "
                         "parameterization: energy}\n",
                         {}),
                    Catch::Contains("energy models take no class labels"));
  CHECK_THROWS_WITH(spec("data: {type: gmm, means: [[1.0, 0.0]]}\nmodel: {type: mlp, class_conditional: true}\n",
                         {"train.label_dropout=0", "sample.guidance=2"}),
                    Catch::Contains("sample.guidance: needs the unconditional model"));
  CHECK_THROWS_WITH(spec("data: {type: gmm, means: [[1.0, 0.0]]}\nmodel: {type: mlp}\n", {"train.label_dropout=0.3"}),
                    Catch::Contains("train.label_dropout: has no effect"));
  CHECK_THROWS_WITH(spec("data: {type: gmm, means: [[1.0, 0.0]]}\nmodel: {type: mlp}\n", {"sample.classes=[cat]"}),
                    Catch::Contains("sample.classes: 'cat' is not a class index"));
  // Known only once the model is built: an unconditional model asked for labels, a class out of range.
  auto check = [&](const std::string& model, const std::vector<std::string>& ov) {
    Experiment ex = build_experiment(spec("data: {type: gmm, means: [[1.0, 0.0], [0.0, 1.0]]}\n" + model, ov));
    check_sample_labels(ex.sample, *ex.make_model());
  };
  CHECK_THROWS_WITH(check("model: {type: mlp}\n", {"sample.classes=uniform"}),
                    Catch::Contains("sample.classes: the model takes no class labels"));
  CHECK_THROWS_WITH(check("model: {type: mlp, class_conditional: true}\n", {"sample.classes=[0, 2]"}),
                    Catch::Contains("class 2: the model has 2 classes"));
  CHECK_THROWS_WITH(check("model: {type: gmm_oracle, means: [[1.0, 0.0], [0.0, 1.0]]}\n", {"sample.guidance=1"}),
                    Catch::Contains("sample.guidance: guides towards the classes of sample.classes, which is none"));
  CHECK_NOTHROW(check("model: {type: gmm_oracle, means: [[1.0, 0.0], [0.0, 1.0]]}\n", {"sample.classes=random"}));
}

TEST_CASE("Fashion-MNIST at small scale: guided samples land in their class (classifier accuracy far above chance)",
          "[experiments][guidance][images]") {
  std::string dir = test::scratch_dir("fmnist_cond");
  const std::string yaml =
      "run: {name: fc, out_dir: '" + dir +
      "', seed: 1, threads: 2, device: cpu}\n"
      "data: {type: fashion_mnist, resize: 16}\n"
      "sde: {type: ddpm, N: 200, beta_1: 5.0e-4, beta_N: 0.1}\n"
      "model: {type: unet, conditioning: index, class_conditional: true, ch: 16, ch_mult: [1, 2], num_res_blocks: 1, "
      "attn_resolutions: [], dropout: 0.0, groups: 8}\n"
      "loss: {type: ddpm, objective: simple}\n"
      "train: {steps: 1200, batch_size: 64, lr: 1.0e-3, ema_decay: 0.99, label_dropout: 0.2, log_every: 100, ckpt_every: 600}\n"
      "sample: {type: ddim, steps: 20, n: 300, classes: uniform, guidance: 2.0}\n"
      "eval: {n: 300, grid: 100, bootstrap: 0}\n"
      "classifier: {steps: 400, cache_dir: '" + dir + "/classifiers'}\n";
  Experiment ex = build_experiment(Config::from_string(yaml, "fc.yaml"), "fc");
  TrainSummary s = train(ex);
  const double acc = metric(s, "class_accuracy");
  INFO("class accuracy of guided samples " << acc << " (chance 0.1), fd " << metric(s, "fd"));
  // 300 samples, 30 per class: a model that ignored its labels scores 0.1 +- 0.017 (binomial
  // sd); "clearly above chance" is 6 sd above it.
  const double chance = 0.1 + 6 * std::sqrt(0.1 * 0.9 / 300);
  CHECK(acc > chance);
  // The same model without guidance (w = 0) is less sure of its classes.
  Loaded l = load_for_inference(dir + "/fc/checkpoints/last.pt", {"sample.guidance=0"});
  SampleResult r = draw_samples(l.ex, *l.model, 300, 1, "");
  Evaluator ev(l.ex, 300, 64, 0);
  const double acc0 = metric_value(ev.score(r.x, 0, r.labels), "class_accuracy");
  INFO("without guidance " << acc0);
  CHECK(acc0 > chance);
  CHECK(acc > acc0);
}
