// The kill harness (reliability issue #13): SIGKILL `scorelab train` at random moments — start-up,
// resume, training steps, checkpoint writes, log flushes, the final evaluation — resume it each
// time, and check that every run ends bit-identical to one that was never interrupted.
#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include <csignal>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <thread>

#include <ATen/ATen.h>

#include "core/checkpoint.h"
#include "core/fsutil.h"
#include "core/h5log.h"
#include "../test_util.h"

using namespace scorelab;
namespace fs = std::filesystem;

namespace {

// Starts `scorelab train CONFIG run.name=NAME train.resume=true`, output into files in `dir`.
pid_t start_training(const std::string& dir, const std::string& cfg, const std::string& name) {
  const std::string run_name = "run.name=" + name;
  pid_t pid = fork();
  if (pid == 0) {
    int out = open((dir + "/" + name + ".out").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    int err = open((dir + "/" + name + ".err").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    dup2(out, 1);
    dup2(err, 2);
    execl(SCORELAB_BIN, SCORELAB_BIN, "train", cfg.c_str(), run_name.c_str(), "train.resume=true", "--quiet",
          static_cast<char*>(nullptr));
    _exit(127);
  }
  return pid;
}

// Everything of run `b` that must equal run `a`: the log's tables (but wall-clock columns),
// the final samples, and the checkpoint's step, EMA weights and generator states.
void check_identical(const std::string& runs, const std::string& a, const std::string& b) {
  const std::string la = runs + "/" + a + "/log.h5", lb = runs + "/" + b + "/log.h5";
  for (const std::string table : {"train", "eval"}) {
    std::stringstream cols(RunLog::read_attr(la, table, "columns"));
    for (std::string c; std::getline(cols, c, ',');) {
      if (c == "seconds" || c == "steps_per_sec" || c == "sample_seconds" || c == "eval_seconds") continue;
      INFO(table << "/" << c);
      CHECK(RunLog::read_column(lb, table + "/" + c) == RunLog::read_column(la, table + "/" + c));
    }
  }
  CHECK(at::equal(RunLog::read_array(lb, "samples/final"), RunLog::read_array(la, "samples/final")));
  std::vector<at::Tensor> ema_a, ema_b;
  CheckpointMeta ma = load_checkpoint(runs + "/" + a + "/checkpoints/last.pt", nullptr, &ema_a, nullptr);
  CheckpointMeta mb = load_checkpoint(runs + "/" + b + "/checkpoints/last.pt", nullptr, &ema_b, nullptr);
  CHECK(mb.step == ma.step);
  REQUIRE(ema_b.size() == ema_a.size());
  for (size_t i = 0; i < ema_a.size(); ++i) CHECK(at::equal(ema_b[i], ema_a[i]));
  REQUIRE(mb.rng_states.size() == ma.rng_states.size());
  for (size_t i = 0; i < ma.rng_states.size(); ++i) CHECK(at::equal(mb.rng_states[i], ma.rng_states[i]));
  // Nothing a killed writer left behind survives the next resume.
  for (const auto& e : fs::directory_iterator(runs + "/" + b + "/checkpoints"))
    CHECK(e.path().filename().string().find(".tmp") == std::string::npos);
}

}  // namespace

TEST_CASE("a run SIGKILLed at random moments and resumed each time ends bit-identical to an uninterrupted one",
          "[app][reliability][kill]") {
  const std::string dir = test::scratch_dir("kill_harness"), runs = dir + "/runs";
  const std::string cfg = dir + "/k.yaml";
  // Checkpoints every 30 steps, log rows every 20: most checkpoints fall inside a log interval.
  std::ofstream(cfg) << "run: {name: ref, out_dir: '" + runs + "', seed: 5, threads: 1, device: cpu}\n"
                        "data: {type: eight_gaussians}\nsde: {type: vp}\n"
                        "model: {type: mlp, hidden: 32, depth: 2, embed_dim: 8}\nloss: {type: dsm}\n"
                        "train: {steps: 270, batch_size: 64, lr: 2.0e-3, log_every: 20, ckpt_every: 30}\n"
                        "sample: {type: euler_maruyama, steps: 40, n: 300}\neval: {n: 300, projections: 16}\n";
  const auto t0 = std::chrono::steady_clock::now();
  pid_t ref = start_training(dir, cfg, "ref");
  REQUIRE(test::wait_for(ref, 300) == 0);
  const double T = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  std::mt19937_64 rng(20261124);
  std::uniform_real_distribution<double> when(0.0, 1.1 * T);  // start-up, training, evaluation alike
  const int kWanted = 50;
  int kills = 0, runs_done = 0, attempts = 0;
  while (kills < kWanted) {
    const std::string name = "k" + std::to_string(runs_done);
    for (;;) {
      REQUIRE(++attempts < 40 * kWanted);
      pid_t pid = start_training(dir, cfg, name);
      const int code = test::wait_for(pid, when(rng));
      if (code >= 0) {  // it finished before the kill
        INFO(read_text(dir + "/" + name + ".err"));
        REQUIRE(code == 0);
        break;
      }
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
      ++kills;
    }
    check_identical(runs, "ref", name);
    ++runs_done;
  }
  std::cout << "kill harness: " << kills << " SIGKILLs survived over " << runs_done << " runs (" << attempts
            << " starts, an uninterrupted run takes " << T << " s); every run resumed and ended bit-identical\n";
}
