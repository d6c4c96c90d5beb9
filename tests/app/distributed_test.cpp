// Data-parallel training over c10d's Gloo on loopback (core/distributed.h, docs/distributed.md):
// two processes with half the batch each end where one process with the whole batch ends,
// write one run directory, and hand over to one process on resume; a rank that dies ends the
// others with a message, within a bounded time.
#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include "core/checkpoint.h"
#include "core/fsutil.h"
#include "core/h5log.h"
#include "experiments/experiment.h"
#include "experiments/sweep.h"
#include "../test_util.h"

using namespace scorelab;
namespace fs = std::filesystem;
using Catch::Matchers::Contains;

namespace {

// The 2-D quickstart (global batch 512), shortened: 300 steps, a small final evaluation.
std::string quickstart(const std::string& dir, int steps) {
  const std::string path = dir + "/dp.yaml";
  std::ofstream(path) << "run: {name: dp, out_dir: '" << dir << "/runs', seed: 0, threads: 1, device: cpu}\n"
                      << "data: {type: eight_gaussians}\n"
                      << "sde: {type: vp, beta_min: 0.1, beta_max: 20.0}\n"
                      << "model: {type: mlp, hidden: 256, depth: 3, embed_dim: 32}\n"
                      << "loss: {type: dsm, eps: 1.0e-5}\n"
                      << "train: {steps: " << steps
                      << ", batch_size: 512, lr: 2.0e-3, ema_decay: 0.999, log_every: 100, ckpt_every: 100}\n"
                      << "sample: {type: euler_maruyama, steps: 50, n: 500}\n"
                      << "eval: {n: 500, projections: 64, every: 100}\n";
  return path;
}

int run(const std::string& args, const std::string& out) {
  const int status = std::system((std::string(SCORELAB_BIN) + " " + args + " > " + out + ".out 2> " + out + ".err").c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// The raw parameters and the EMA weights of a run's last checkpoint.
std::vector<at::Tensor> weights(const std::string& run_dir) {
  Experiment ex = build_experiment(Config::load_file(run_dir + "/config.yaml", {}), "dp");
  auto model = ex.make_model();
  std::vector<at::Tensor> ema;
  load_checkpoint(run_dir + "/checkpoints/last.pt", model->module(), &ema, nullptr);
  std::vector<at::Tensor> all;
  for (const auto& p : model->module()->parameters()) all.push_back(p.detach().clone());
  for (const auto& e : ema) all.push_back(e);
  return all;
}

// The largest |a - b| over all weights, relative to the largest |a|.
double max_relative_gap(const std::vector<at::Tensor>& a, const std::vector<at::Tensor>& b) {
  REQUIRE(a.size() == b.size());
  double gap = 0, scale = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    REQUIRE(a[i].sizes() == b[i].sizes());
    gap = std::max(gap, (a[i] - b[i]).abs().max().item<double>());
    scale = std::max(scale, a[i].abs().max().item<double>());
  }
  return gap / scale;
}

// Starts `scorelab train` with the environment of torchrun rank `rank` of 2.
pid_t start_rank(const std::string& cfg, int rank, int port, const std::string& out) {
  const pid_t pid = fork();
  if (pid == 0) {
    setenv("RANK", std::to_string(rank).c_str(), 1);
    setenv("WORLD_SIZE", "2", 1);
    setenv("MASTER_ADDR", "127.0.0.1", 1);
    setenv("MASTER_PORT", std::to_string(port).c_str(), 1);
    const int o = open((out + ".out").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int e = open((out + ".err").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(o, 1);
    dup2(e, 2);
    execl(SCORELAB_BIN, SCORELAB_BIN, "train", cfg.c_str(), "train.steps=1000000", "--quiet", static_cast<char*>(nullptr));
    _exit(127);
  }
  return pid;
}

// Waits until the run's log has a /train row (training is under way in every rank).
bool wait_for_rows(const std::string& log, double seconds) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < until) {
    try {
      if (!RunLog::read_column(log, "train/step").empty()) return true;
    } catch (const std::exception&) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

}  // namespace

TEST_CASE("two Gloo processes with half the batch each train as one process with the whole batch, "
          "write one run, and resume in one process",
          "[app][distributed]") {
  const std::string dir = test::scratch_dir("dp_equal");
  const std::string cfg = quickstart(dir, 300);
  REQUIRE(run("train " + cfg + " run.name=one --quiet", dir + "/one") == 0);
  REQUIRE(run("train " + cfg + " run.name=two --nproc 2 --quiet", dir + "/two") == 0);
  INFO(read_text(dir + "/two.err"));
  // Float reduction order differs (two half-batch sums, then an all-reduce); nothing else does.
  // Measured: 3.6e-7 of the largest weight after 300 Adam steps (float32's epsilon: 1.2e-7).
  // Adam is blind to the gradient's scale, so the logged gradient norm checks that too.
  const double gap = max_relative_gap(weights(dir + "/runs/one"), weights(dir + "/runs/two"));
  INFO("largest weight difference, relative: " << gap);
  CHECK(gap < 1e-5);
  // One run directory, one log with one row per log interval (rank 0 writes; rank 1 nothing).
  CHECK(RunLog::read_column(dir + "/runs/two/log.h5", "train/step") == std::vector<double>{100, 200, 300});
  for (const char* column : {"train/loss", "train/grad_norm"}) {  // the whole batch's loss and gradient
    INFO(column);
    const std::vector<double> c1 = RunLog::read_column(dir + "/runs/one/log.h5", column),
                              c2 = RunLog::read_column(dir + "/runs/two/log.h5", column);
    REQUIRE(c2.size() == c1.size());
    for (size_t i = 0; i < c1.size(); ++i) CHECK(c2[i] == Approx(c1[i]).epsilon(1e-4));
  }
  // Evaluation: each rank draws its share of the samples, gathered in sample order on rank 0
  // (a wrong split or order would not match the one process's samples, drawn from the same x_T).
  CHECK(RunLog::read_column(dir + "/runs/two/log.h5", "eval/step") == std::vector<double>{100, 200, 300});
  const at::Tensor s1 = RunLog::read_array(dir + "/runs/one/log.h5", "samples/final"),
                   s2 = RunLog::read_array(dir + "/runs/two/log.h5", "samples/final");
  REQUIRE(s2.sizes() == s1.sizes());
  INFO("largest sample difference: " << (s2 - s1).abs().max().item<double>());
  CHECK(at::allclose(s2, s1, 0, 1e-4));  // measured 4.8e-7
  std::vector<std::string> runs;
  for (const auto& e : fs::directory_iterator(dir + "/runs")) runs.push_back(e.path().filename().string());
  std::sort(runs.begin(), runs.end());
  CHECK(runs == std::vector<std::string>{"one", "two"});
  CHECK(Contains("2 processes (--nproc)").match(read_text(dir + "/two.out")));

  // Trained to 200 steps by two processes, resumed to 300 by one: the same end.
  REQUIRE(run("train " + cfg + " run.name=handover train.steps=200 --nproc 2 --quiet", dir + "/h1") == 0);
  REQUIRE(run("train " + cfg + " run.name=handover train.resume=true --quiet", dir + "/h2") == 0);
  INFO(read_text(dir + "/h2.err"));
  const double gap_resumed = max_relative_gap(weights(dir + "/runs/one"), weights(dir + "/runs/handover"));
  INFO("after the handover: " << gap_resumed);
  CHECK(gap_resumed < 1e-5);
  CHECK(RunLog::read_column(dir + "/runs/handover/log.h5", "train/step") == std::vector<double>{100, 200, 300});
}

TEST_CASE("a data-parallel rank that dies ends the others with a message in bounded time", "[app][distributed]") {
  const std::string dir = test::scratch_dir("dp_kill");
  const std::string cfg = quickstart(dir, 300);
  SECTION("launched as torchrun would: rank 1 is SIGKILLed, rank 0 stops with exit != 0") {
    const int port = 20000 + static_cast<int>(getpid() % 20000);
    const pid_t r0 = start_rank(cfg, 0, port, dir + "/r0"), r1 = start_rank(cfg, 1, port, dir + "/r1");
    REQUIRE(wait_for_rows(dir + "/runs/dp/log.h5", 120));
    kill(r1, SIGKILL);
    const auto t0 = std::chrono::steady_clock::now();
    const int code = test::wait_for(r0, 60);
    const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (code < 0) kill(r0, SIGKILL);
    test::wait_for(r1, 10);
    INFO("rank 0 ended after " << took << " s with " << code << ": " << read_text(dir + "/r0.err"));
    CHECK(code > 0);
    CHECK(code != 2);
    CHECK(Contains("rank 0").match(read_text(dir + "/r0.err")));
    CHECK(Contains("failed").match(read_text(dir + "/r0.err")));
  }
  SECTION("--nproc: a SIGKILLed rank ends the launcher with exit != 0, naming the rank") {
    const pid_t launcher = fork();
    if (launcher == 0) {
      const int o = open((dir + "/l.out").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      const int e = open((dir + "/l.err").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      dup2(o, 1);
      dup2(e, 2);
      execl(SCORELAB_BIN, SCORELAB_BIN, "train", cfg.c_str(), "train.steps=1000000", "--nproc", "2", "--quiet",
            static_cast<char*>(nullptr));
      _exit(127);
    }
    REQUIRE(wait_for_rows(dir + "/runs/dp/log.h5", 120));
    // The launcher's second child is rank 1.
    std::string children;
    {
      std::ifstream f("/proc/" + std::to_string(launcher) + "/task/" + std::to_string(launcher) + "/children");
      std::getline(f, children);
    }
    std::istringstream ids(children);
    pid_t rank0 = 0, rank1 = 0;
    ids >> rank0 >> rank1;
    REQUIRE(rank1 > 0);
    kill(rank1, SIGKILL);
    const int code = test::wait_for(launcher, 90);
    if (code < 0) kill(launcher, SIGKILL);
    INFO(read_text(dir + "/l.err"));
    CHECK(code > 0);
    CHECK(Contains("rank 1 was killed by signal 9").match(read_text(dir + "/l.err")));
    CHECK(kill(rank0, 0) != 0);  // rank 0 was stopped and reaped by the launcher
  }
}

TEST_CASE("mixed precision on the CPU is refused with the key", "[app][distributed]") {
  const std::string dir = test::scratch_dir("dp_precision");
  const std::string cfg = quickstart(dir, 10);
  for (const char* p : {"bf16", "fp16"}) {
    CHECK(run("train " + cfg + " run.precision=" + p, dir + "/p") == 2);
    CHECK(Contains("run.precision").match(read_text(dir + "/p.err")));
    CHECK_FALSE(fs::exists(dir + "/runs"));
  }
}

TEST_CASE("a sweep's Slurm array runs a data-parallel point through srun, and its summary job collects it",
          "[app][distributed]") {
  // Stand-ins for Slurm's commands: srun starts SLURM_NTASKS_PER_NODE tasks with the variables
  // Slurm gives them, scontrol names this machine.
  const std::string dir = test::scratch_dir("dp_slurm");
  fs::create_directories(dir + "/bin");
  std::ofstream(dir + "/bin/srun") << "#!/bin/bash\nn=${SLURM_NTASKS_PER_NODE:-1}\npids=()\n"
                                      "for ((r = 0; r < n; r++)); do SLURM_PROCID=$r SLURM_NTASKS=$n SLURM_LOCALID=$r \"$@\" & "
                                      "pids+=($!); done\nrc=0\nfor p in \"${pids[@]}\"; do wait $p || rc=$?; done\nexit $rc\n";
  std::ofstream(dir + "/bin/scontrol") << "#!/bin/bash\necho 127.0.0.1\n";
  for (const char* f : {"srun", "scontrol"}) fs::permissions(dir + "/bin/" + f, fs::perms::owner_all);
  quickstart(dir, 200);
  std::ofstream(dir + "/s.yaml") << "base: dp.yaml\nout_dir: '" << dir << "/out'\ngrid:\n  train: {lr: [2.0e-3]}\n"
                                 << "slurm: {ntasks_per_node: 2, cpus_per_task: 1}\n";
  SweepOptions o;
  o.emit = "slurm";
  o.exe = SCORELAB_BIN;
  run_sweep(dir + "/s.yaml", o);
  const std::string env = "PATH='" + dir + "/bin':\"$PATH\" SLURM_ARRAY_TASK_ID=0 SLURM_ARRAY_JOB_ID=7 SLURM_NTASKS_PER_NODE=2 "
                          "SLURM_JOB_NODELIST=localhost ";
  REQUIRE(std::system((env + "bash '" + dir + "/out/sweep.slurm'").c_str()) == 0);
  const std::string log = read_text(dir + "/out/logs/lr-2.0e-3.log");
  INFO(log);
  CHECK(Contains("=== array task 7_0").match(log));
  CHECK(Contains("2 processes (slurm)").match(log));
  CHECK(RunLog::read_column(dir + "/out/lr-2.0e-3/log.h5", "eval/step").back() == 200);
  REQUIRE(std::system(("bash '" + dir + "/out/collect.slurm' > '" + dir + "/collect.out' 2>&1").c_str()) == 0);
  CHECK(Contains("collected 1 of 1 points").match(read_text(dir + "/collect.out")));
  CHECK(Contains("| lr-2.0e-3 | 2.0e-3 | done |").match(read_text(dir + "/out/summary.md")));
}
