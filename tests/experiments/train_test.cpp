#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include "core/checkpoint.h"
#include "core/error.h"
#include "core/h5log.h"
#include "experiments/inference.h"
#include "experiments/trainer.h"
#include "../train_util.h"

using namespace scorelab;
namespace fs = std::filesystem;

using test::run_tiny;

TEST_CASE("the quickstart model learns: sliced W2 of samples far below the prior's", "[experiments][train]") {
  std::string dir = test::scratch_dir("learns");
  TrainSummary s = run_tiny(dir, "learns", 1500);
  INFO("samples " << s.sliced_w2 << " prior " << s.sliced_w2_prior << " floor " << s.sliced_w2_floor);
  CHECK(s.sliced_w2 < s.sliced_w2_prior / 3);
  CHECK(s.sliced_w2_floor < s.sliced_w2_prior / 3);  // the metric itself resolves the gap
  CHECK(fs::exists(dir + "/learns/samples/final.png"));
  CHECK(fs::exists(dir + "/learns/samples/loss.png"));
  CHECK(fs::exists(dir + "/learns/config.yaml"));
  CHECK(RunLog::read_column(dir + "/learns/log.h5", "train/step").size() == 1500 / 50);
  CHECK(RunLog::read_column(dir + "/learns/log.h5", "eval/sliced_w2").at(0) == Approx(s.sliced_w2).epsilon(1e-12));
  // The error per quarter of t, at the end of training. For eps-prediction on data of small
  // spread, the optimal error per dimension is alpha^2 s^2 / (alpha^2 s^2 + sigma^2): near 1 as
  // t -> 0 (the noise is hidden under the data), near 0 as t -> 1 (x_t is almost the noise).
  std::vector<double> q[4];
  for (int k = 0; k < 4; ++k) q[k] = RunLog::read_column(dir + "/learns/log.h5", "train/loss_q" + std::to_string(k));
  REQUIRE(q[0].size() == 1500 / 50);
  auto last5 = [](const std::vector<double>& v) {
    double m = 0;
    for (size_t i = v.size() - 5; i < v.size(); ++i) m += v[i] / 5;
    return m;
  };
  INFO("quarters " << last5(q[0]) << " " << last5(q[1]) << " " << last5(q[2]) << " " << last5(q[3]));
  CHECK(last5(q[0]) > last5(q[1]));
  CHECK(last5(q[1]) > last5(q[2]));
  CHECK(last5(q[2]) > last5(q[3]));
  CHECK(last5(q[0]) > 4 * last5(q[3]));
  CHECK(fs::exists(dir + "/learns/samples/loss.pdf"));
}

TEST_CASE("resume continues the same steps: bit-identical to an uninterrupted run", "[experiments][train]") {
  std::string dir = test::scratch_dir("resume");
  run_tiny(dir, "whole", 200);
  run_tiny(dir, "split", 100);
  TrainSummary s = run_tiny(dir, "split", 200, {"train.resume=true"});
  CHECK(s.start_step == 100);
  CHECK(s.final_step == 200);
  auto whole = test::checkpoint_ema(dir + "/whole/checkpoints/last.pt");
  auto split = test::checkpoint_ema(dir + "/split/checkpoints/last.pt");
  REQUIRE(whole.size() == split.size());
  for (size_t i = 0; i < whole.size(); ++i) CHECK(at::equal(whole[i], split[i]));
  // The log holds each step once, in order, and the same values as the uninterrupted run.
  auto steps = RunLog::read_column(dir + "/split/log.h5", "train/step");
  CHECK(steps == std::vector<double>{50, 100, 150, 200});
  CHECK(RunLog::read_column(dir + "/split/log.h5", "train/loss") ==
        RunLog::read_column(dir + "/whole/log.h5", "train/loss"));
}

TEST_CASE("AdamW with a warm-up and inverse-sqrt schedule: the log records each interval's lr, resume is bit-identical",
          "[experiments][train][optim]") {
  std::string dir = test::scratch_dir("resume_schedule");
  const std::vector<std::string> ov{"train.optimizer=adamw", "train.weight_decay=0.01", "train.betas=[0.85, 0.995]",
                                    "train.lr_schedule=inverse_sqrt", "train.warmup_steps=80",
                                    "train.lr_decay_steps=120"};
  auto with = [&](std::vector<std::string> extra) {
    extra.insert(extra.begin(), ov.begin(), ov.end());
    return extra;
  };
  run_tiny(dir, "whole", 200, with({}));
  run_tiny(dir, "split", 100, with({}));
  run_tiny(dir, "split", 200, with({"train.resume=true"}));
  auto whole = test::checkpoint_ema(dir + "/whole/checkpoints/last.pt");
  auto split = test::checkpoint_ema(dir + "/split/checkpoints/last.pt");
  REQUIRE(whole.size() == split.size());
  for (size_t i = 0; i < whole.size(); ++i) CHECK(at::equal(whole[i], split[i]));
  // lr of the last update of each interval: 3e-3 * min(1, k / 80) / sqrt(max(k / 120, 1)).
  const std::vector<double> lr = RunLog::read_column(dir + "/split/log.h5", "train/lr");
  REQUIRE(lr.size() == 4);
  CHECK(lr[0] == Approx(3e-3 * 50 / 80).epsilon(1e-12));
  CHECK(lr[1] == Approx(3e-3).epsilon(1e-12));
  CHECK(lr[2] == Approx(3e-3 / std::sqrt(150.0 / 120)).epsilon(1e-12));
  CHECK(lr[3] == Approx(3e-3 / std::sqrt(200.0 / 120)).epsilon(1e-12));
  CHECK(lr == RunLog::read_column(dir + "/whole/log.h5", "train/lr"));
  // The same run with Adam (no decay) ends elsewhere: the options reach the optimizer.
  run_tiny(dir, "adam", 200, {});
  CHECK_FALSE(at::equal(test::checkpoint_ema(dir + "/adam/checkpoints/last.pt")[0], whole[0]));
}

TEST_CASE("optimizer and schedule keys are checked: names, ranges, and keys without effect", "[experiments][optim]") {
  std::string dir = test::scratch_dir("optim_keys");
  auto error = [&](const std::vector<std::string>& ov) {
    try {
      build_experiment(Config::from_string(test::tiny_run_yaml(dir, "x", 10), "t.yaml", ov), "x");
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK_THAT(error({"train.optimizer=sgd"}), Catch::Contains("train.optimizer"));
  CHECK_THAT(error({"train.betas=[0.9]"}), Catch::Contains("train.betas") && Catch::Contains("two numbers"));
  CHECK_THAT(error({"train.betas=[0.9, 1.0]"}), Catch::Contains("train.betas"));
  CHECK_THAT(error({"train.eps=0"}), Catch::Contains("train.eps"));
  CHECK_THAT(error({"train.weight_decay=-1"}), Catch::Contains("train.weight_decay"));
  CHECK_THAT(error({"train.optimizer=adamw", "train.weight_decay=1000"}), Catch::Contains("lr * weight_decay"));
  CHECK_THAT(error({"train.warmup_steps=100"}), Catch::Contains("train.warmup_steps") && Catch::Contains("constant"));
  CHECK_THAT(error({"train.lr_schedule=linear_warmup", "train.min_lr=1e-4"}), Catch::Contains("train.min_lr"));
  CHECK_THAT(error({"train.lr_schedule=cosine", "train.lr_decay_steps=10"}), Catch::Contains("train.lr_decay_steps"));
  CHECK_THAT(error({"train.lr_schedule=cosine", "train.min_lr=1"}), Catch::Contains("train.min_lr"));
  CHECK(error({"train.lr_schedule=cosine", "train.min_lr=1e-4", "train.warmup_steps=5"}) == "no error");
}

TEST_CASE("a finished run is left alone and an existing run is not overwritten", "[experiments][train]") {
  std::string dir = test::scratch_dir("finished");
  run_tiny(dir, "done", 100);
  auto stamp = fs::last_write_time(dir + "/done/log.h5");
  TrainSummary again = run_tiny(dir, "done", 100, {"train.resume=true"});
  CHECK(again.already_finished);
  CHECK(fs::last_write_time(dir + "/done/log.h5") == stamp);
  CHECK_THROWS_WITH(run_tiny(dir, "done", 100), Catch::Contains("train.resume") && Catch::Contains("already holds a run"));
  CHECK(fs::last_write_time(dir + "/done/log.h5") == stamp);
}

TEST_CASE("an oracle model runs where a trained one does: evaluation only, no training", "[experiments][train]") {
  std::string dir = test::scratch_dir("oracle_run");
  std::string yaml = "run: {name: o, out_dir: '" + dir + "', seed: 0, threads: 1, device: cpu}\n"
                     "data: {type: gmm, means: [[2.0, 0.0], [-2.0, 0.0]], std: 0.3}\n"
                     "sde: {type: vp}\n"
                     "model: {type: gmm_oracle, means: [[2.0, 0.0], [-2.0, 0.0]], std: 0.3}\n"
                     "train: {steps: 0}\n"
                     "sample: {type: euler_maruyama, steps: 300, n: 1000}\n"
                     "eval: {n: 1000, projections: 128}\n";
  Experiment ex = build_experiment(Config::from_string(yaml, "o.yaml"), "o");
  TrainSummary s = train(ex);
  CHECK(s.sliced_w2 < s.sliced_w2_prior / 3);
  CHECK(RunLog::read_attr(dir + "/o/log.h5", "samples/final", "model") == "oracle");
  Experiment bad = build_experiment(Config::from_string(yaml, "o.yaml", {"train.steps=10", "run.name=p"}), "o");
  CHECK_THROWS_WITH(train(bad), Catch::Contains("train.steps") && Catch::Contains("oracle"));
  CHECK_FALSE(fs::exists(dir + "/p"));
}

TEST_CASE("a run stopped during its final evaluation is evaluated on resume, then left alone", "[experiments][train]") {
  std::string dir = test::scratch_dir("unevaluated");
  TrainSummary first = run_tiny(dir, "run", 100);
  const std::string log = dir + "/run/log.h5";
  // What a kill during the final sampling leaves: the checkpoint at the last step, no final
  // /eval row (dropped here by rewriting the log up to step 99).
  RunLog::resume(log, 99, {})->close();
  REQUIRE(RunLog::read_column(log, "eval/step").empty());
  TrainSummary again = run_tiny(dir, "run", 100, {"train.resume=true"});
  CHECK_FALSE(again.already_finished);
  CHECK(RunLog::read_column(log, "eval/step") == std::vector<double>{100});
  CHECK(again.sliced_w2 == Approx(first.sliced_w2).epsilon(1e-12));  // the same model, the same x_T
  TrainSummary third = run_tiny(dir, "run", 100, {"train.resume=true"});
  CHECK(third.already_finished);
}

TEST_CASE("train.keep_checkpoints keeps the newest K checkpoints besides last.pt", "[experiments][train][reliability]") {
  std::string dir = test::scratch_dir("keep_ckpt");
  run_tiny(dir, "keep", 500, {"train.keep_checkpoints=2"});  // checkpoints every 100 steps
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir + "/keep/checkpoints")) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  CHECK(names == std::vector<std::string>{"last.pt", "step_00000400.pt", "step_00000500.pt"});
  CHECK(load_checkpoint(dir + "/keep/checkpoints/step_00000400.pt", nullptr, nullptr, nullptr).step == 400);
  CHECK(load_checkpoint(dir + "/keep/checkpoints/step_00000500.pt", nullptr, nullptr, nullptr).step == 500);
  // The kept checkpoint of step 400 is that step's state, not a later one.
  auto at400 = test::checkpoint_ema(dir + "/keep/checkpoints/step_00000400.pt");
  run_tiny(dir, "short", 400);
  auto short_run = test::checkpoint_ema(dir + "/short/checkpoints/last.pt");
  REQUIRE(at400.size() == short_run.size());
  for (size_t i = 0; i < at400.size(); ++i) CHECK(at::equal(at400[i], short_run[i]));
}

TEST_CASE("several EMA decays in one run: each equals a run's main EMA of that decay, resumes bit-identical, "
          "and is sampleable",
          "[experiments][train][ema]") {
  std::string dir = test::scratch_dir("more_ema");
  // Without warm-up (which caps every decay at (1 + n) / (10 + n) = 0.957 after 200 updates).
  const std::vector<std::string> several{"train.ema_decay=0.999", "train.ema_decays=[0.99, 0.9]", "train.ema_warmup=false"};
  run_tiny(dir, "several", 200, several);
  run_tiny(dir, "d099", 200, {"train.ema_decay=0.99", "train.ema_warmup=false"});
  run_tiny(dir, "d09", 200, {"train.ema_decay=0.9", "train.ema_warmup=false"});
  CheckpointMeta meta = load_checkpoint(dir + "/several/checkpoints/last.pt", nullptr, nullptr, nullptr);
  REQUIRE(meta.more_ema.size() == 3);
  CHECK(at::equal(meta.more_ema[0], at::tensor(std::vector<double>{0.99, 0.9}, at::kDouble)));
  CHECK_FALSE(at::allclose(meta.more_ema[1], meta.more_ema[2], 1e-3, 1e-4));  // different averages
  // The parameters follow the same trajectory whatever EMAs are kept, so the EMA of decay d kept
  // beside the main one is the main EMA of a run with ema_decay d (to float rounding: the main
  // EMA is updated inside the fused optimizer loop, the others by lerp).
  for (auto [i, run] : {std::pair<size_t, const char*>{1, "d099"}, {2, "d09"}}) {
    std::vector<at::Tensor> main;
    load_checkpoint(dir + "/" + run + "/checkpoints/last.pt", nullptr, &main, nullptr);
    std::vector<at::Tensor> flat;
    for (const auto& t : main) flat.push_back(t.reshape(-1));
    INFO(run);
    CHECK(at::allclose(meta.more_ema[i], at::cat(flat), 1e-5, 1e-6));
  }
  // Resume keeps every EMA.
  run_tiny(dir, "split", 100, several);
  run_tiny(dir, "split", 200, [&] {
    auto ov = several;
    ov.push_back("train.resume=true");
    return ov;
  }());
  CheckpointMeta split = load_checkpoint(dir + "/split/checkpoints/last.pt", nullptr, nullptr, nullptr);
  REQUIRE(split.more_ema.size() == 3);
  for (size_t i = 0; i < 3; ++i) CHECK(at::equal(split.more_ema[i], meta.more_ema[i]));
  // sample.ema picks one; a decay the run does not keep is a config error.
  Loaded a = load_for_inference(dir + "/several/checkpoints/last.pt", {"sample.ema=0.99"});
  Loaded b = load_for_inference(dir + "/d099/checkpoints/last.pt", {});
  Loaded c = load_for_inference(dir + "/several/checkpoints/last.pt", {});  // the main EMA, 0.999
  CHECK_FALSE(at::allclose(c.model->module()->parameters()[0], b.model->module()->parameters()[0], 1e-3, 1e-4));
  auto pa = a.model->module()->parameters(), pb = b.model->module()->parameters();
  for (size_t i = 0; i < pa.size(); ++i) CHECK(at::allclose(pa[i], pb[i], 1e-5, 1e-6));
  CHECK_THROWS_WITH(load_for_inference(dir + "/several/checkpoints/last.pt", {"sample.ema=0.5"}),
                    Catch::Contains("sample.ema: the run keeps no EMA of decay 0.5 (kept: 0.999, 0.99, 0.9"));
}
