#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "core/fsutil.h"
#include "core/h5log.h"
#include "experiments/sweep.h"
#include "../test_util.h"

using namespace scorelab;
namespace fs = std::filesystem;
using Catch::Matchers::Contains;

namespace {
void write_base(const std::string& dir) {
  std::ofstream(dir + "/base.yaml") << "run: {seed: 1, threads: 1, device: cpu}\n"
                                       "data: {type: eight_gaussians}\n"
                                       "model: {type: mlp, hidden: 16, depth: 2, embed_dim: 8}\n"
                                       "train: {steps: 30, batch_size: 64, log_every: 10, ckpt_every: 30}\n"
                                       "sample: {type: ode, method: euler, steps: 5, n: 100}\n"
                                       "eval: {n: 100, projections: 16}\n";
}
SweepOptions opts(int jobs) {
  SweepOptions o;
  o.jobs = jobs;
  o.exe = SCORELAB_BIN;
  return o;
}
}  // namespace

TEST_CASE("a 2x2 sweep makes four runs and a four-row summary, a second call skips them", "[experiments][sweep]") {
  std::string dir = test::scratch_dir("sweep");
  write_base(dir);
  std::ofstream(dir + "/s.yaml") << "base: base.yaml\nout_dir: '" + dir + "/out'\n"
                                    "grid:\n  loss: {weighting: [plain, likelihood]}\n  model: {hidden: [8, 16]}\n";
  auto points = run_sweep(dir + "/s.yaml", opts(2));
  REQUIRE(points.size() == 4);
  for (const auto& p : points) {
    INFO(p.name << ": " << p.error);
    CHECK(p.status == "done");
    CHECK(fs::exists(dir + "/out/" + p.name + "/checkpoints/last.pt"));
  }
  CHECK(points[0].name == "weighting-plain_hidden-8");
  std::string md = read_text(dir + "/out/summary.md");
  int rows = 0;
  for (size_t pos = 0; (pos = md.find("\n| weighting-", pos)) != std::string::npos; ++pos) ++rows;
  CHECK(rows == 4);
  // Every column of the runs' final evaluation, in the log's order, after the final loss.
  CHECK_THAT(md, Catch::Contains("| final_loss | nfe | sliced_w2 | mmd2 | energy_distance | sliced_w2_prior | sliced_w2_floor |"));
  CHECK(RunLog::read_column(dir + "/out/sweep.h5", "points/energy_distance").size() == 4);
  CHECK(RunLog::read_column(dir + "/out/sweep.h5", "points/failed") == std::vector<double>{0, 0, 0, 0});
  // Second invocation: every run is already finished and left untouched.
  auto stamp = fs::last_write_time(dir + "/out/" + points[0].name + "/log.h5");
  auto again = run_sweep(dir + "/s.yaml", opts(2));
  for (const auto& p : again) CHECK(p.status == "done");
  CHECK(fs::last_write_time(dir + "/out/" + points[0].name + "/log.h5") == stamp);
  CHECK_THAT(read_text(dir + "/out/logs/" + points[0].name + ".log"), Catch::Contains("already finished"));
  // --collect (the Slurm summary job) rebuilds the summary from the runs on disk, running
  // nothing; a point without a run is "not run".
  const std::string before = read_text(dir + "/out/summary.md");
  fs::remove(dir + "/out/summary.md");
  fs::remove_all(dir + "/out/" + points[3].name);
  SweepOptions c = opts(1);
  c.collect = true;
  auto collected = run_sweep(dir + "/s.yaml", c);
  REQUIRE(collected.size() == 4);
  for (int i = 0; i < 3; ++i) CHECK(collected[i].status == "done");
  CHECK(collected[3].status == "not run");
  CHECK(fs::last_write_time(dir + "/out/" + points[0].name + "/log.h5") == stamp);
  const std::string after = read_text(dir + "/out/summary.md");
  CHECK_THAT(after, Catch::Contains("not run"));
  const std::string first_row = before.substr(before.find("\n| weighting-plain_hidden-8"), 60);
  CHECK_THAT(after, Catch::Contains(first_row));
}

TEST_CASE("a failing sweep point is reported and the others finish", "[experiments][sweep]") {
  std::string dir = test::scratch_dir("sweep_fail");
  write_base(dir);
  // lr = -1 is out of range: that point fails with the config error; the other runs.
  std::ofstream(dir + "/s.yaml") << "base: base.yaml\nout_dir: '" + dir + "/out'\n"
                                    "zip:\n  train: {lr: [1.0e-3, -1]}\n";
  auto points = run_sweep(dir + "/s.yaml", opts(1));
  REQUIRE(points.size() == 2);
  CHECK(points[0].status == "done");
  CHECK(points[1].status == "failed");
  CHECK_THAT(points[1].error, Catch::Contains("train.lr: must be > 0"));
  CHECK_THAT(read_text(dir + "/out/summary.md"), Catch::Contains("failed") && Catch::Contains("train.lr"));
  CHECK(RunLog::read_column(dir + "/out/sweep.h5", "points/failed") == std::vector<double>{0, 1});
}

TEST_CASE("sweep with emit slurm writes a job array instead of running", "[experiments][sweep]") {
  std::string dir = test::scratch_dir("sweep_slurm");
  write_base(dir);
  std::ofstream(dir + "/s.yaml") << "base: base.yaml\nout_dir: '" + dir + "/out'\ngrid:\n  model: {hidden: [8, 16, 32]}\n"
                                    "slurm: {time: '01:00:00', gres: 'gpu:2', partition: gpu, ntasks_per_node: 2}\n";
  SweepOptions o = opts(1);
  o.emit = "slurm";
  o.slurm.time = "02:00:00";  // the command line over the file
  o.slurm.mem = "8G";
  run_sweep(dir + "/s.yaml", o);
  std::string script = read_text(dir + "/out/sweep.slurm");
  CHECK_THAT(script, Catch::Contains("#SBATCH --array=0-2") && Catch::Contains("model.hidden=32") &&
                         Catch::Contains("SLURM_ARRAY_TASK_ID"));
  CHECK_THAT(script, Catch::Contains("#SBATCH --time=02:00:00") && Catch::Contains("#SBATCH --mem=8G") &&
                         Catch::Contains("#SBATCH --gres=gpu:2") && Catch::Contains("#SBATCH --partition=gpu") &&
                         Catch::Contains("#SBATCH --cpus-per-task=2") && Catch::Contains("#SBATCH --ntasks-per-node=2"));
  CHECK_THAT(script, !Catch::Contains("01:00:00"));
  // Logs named by point, as a local sweep's; two processes per point: the rendezvous variables.
  CHECK_THAT(script, Catch::Contains("'hidden-32'") && Catch::Contains("/logs/'\"${NAMES[$i]}.log\"") &&
                         Catch::Contains("export MASTER_ADDR=") && Catch::Contains("srun "));
  CHECK_THAT(read_text(dir + "/out/collect.slurm"), Catch::Contains(" sweep ") && Catch::Contains("--collect") &&
                                                        Catch::Contains("#SBATCH --partition=gpu"));
  CHECK_THAT(read_text(dir + "/out/submit.sh"), Catch::Contains("sbatch --parsable") &&
                                                    Catch::Contains("--dependency=afterany:"));
  for (const char* f : {"sweep.slurm", "collect.slurm", "submit.sh"}) {  // each parses as bash
    INFO(f);
    CHECK(std::system(("bash -n '" + dir + "/out/" + f + "'").c_str()) == 0);
  }
  CHECK_FALSE(fs::exists(dir + "/out/hidden-8"));
  // A resource that would break the #SBATCH line is refused with its key.
  std::ofstream(dir + "/bad.yaml") << "base: base.yaml\nout_dir: '" + dir + "/out2'\ngrid:\n  model: {hidden: [8]}\n"
                                      "slurm: {mem: '8 G'}\n";
  CHECK_THROWS_WITH(run_sweep(dir + "/bad.yaml", o), Contains("slurm.mem"));
}

TEST_CASE("a sweep validates every point before running any, and runs each valid point once", "[experiments][sweep]") {
  std::string dir = test::scratch_dir("sweep_validate");
  write_base(dir);
  // A stand-in for the scorelab binary that records each invocation (and fails nothing).
  std::ofstream(dir + "/fake.sh") << "#!/bin/sh\necho \"$@\" >> '" + dir + "/calls.txt'\n";
  fs::permissions(dir + "/fake.sh", fs::perms::owner_all);
  std::ofstream(dir + "/s.yaml") << "base: base.yaml\nout_dir: '" + dir + "/out'\n"
                                    "grid:\n  model: {hidden: [8, 0, 16]}\n";  // hidden: 0 is out of range
  SweepOptions o = opts(1);
  o.exe = dir + "/fake.sh";
  auto points = run_sweep(dir + "/s.yaml", o);
  REQUIRE(points.size() == 3);
  CHECK(points[1].status == "failed");
  CHECK_THAT(points[1].error, Catch::Contains("model.hidden"));
  CHECK_FALSE(fs::exists(dir + "/out/logs/" + points[1].name + ".log"));  // never started
  std::string calls = read_text(dir + "/calls.txt");
  CHECK(std::count(calls.begin(), calls.end(), '\n') == 2);  // each valid point once
  CHECK_THAT(calls, Catch::Contains("model.hidden=8") && Catch::Contains("model.hidden=16"));
  CHECK_THAT(calls, !Catch::Contains("model.hidden=0"));
  // The summary is a table with typed columns and no step column.
  CHECK(RunLog::read_strings(dir + "/out/sweep.h5", "points/run") ==
        std::vector<std::string>{points[0].name, points[1].name, points[2].name});
  CHECK(RunLog::read_strings(dir + "/out/sweep.h5", "points/status")[1] == "failed");
  CHECK_THROWS(RunLog::read_column(dir + "/out/sweep.h5", "points/step"));
}

TEST_CASE("a sweep is locked against a second copy, SIGKILLing it ends its training, the re-run finishes the rest",
          "[experiments][sweep][reliability]") {
  std::string dir = test::scratch_dir("sweep_kill");
  std::ofstream(dir + "/base.yaml") << test::tiny_run_yaml(dir + "/unused", "base", 6000);
  std::ofstream(dir + "/s.yaml") << "base: base.yaml\nout_dir: out\ngrid:\n  train: {lr: [0.001, 0.002]}\n";
  const std::string out = dir + "/out";
  pid_t sweep = fork();
  REQUIRE(sweep >= 0);
  if (sweep == 0) {
    int fd = open((dir + "/sweep1.txt").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    if (chdir(dir.c_str()) != 0) _exit(126);
    execl(SCORELAB_BIN, SCORELAB_BIN, "sweep", "s.yaml", static_cast<char*>(nullptr));
    _exit(127);
  }
  // Wait until the first point trains (its run directory locked, a checkpoint written).
  std::string first;
  for (int i = 0; i < 600 && first.empty(); ++i) {
    usleep(50000);
    if (!fs::exists(out)) continue;
    for (const auto& e : fs::directory_iterator(out))
      if (e.is_directory() && fs::exists(e.path() / "checkpoints/last.pt") && DirLock::held(e.path().string()))
        first = e.path().string();
  }
  REQUIRE_FALSE(first.empty());
  CHECK(DirLock::held(out));
  // Pause the training child (its pid is in the run's lock file) while the second copy starts,
  // so that it cannot finish its 6000 steps before the kill on a slow machine. (It must run again
  // before the sweep dies: a stopped process in an orphaned process group gets SIGHUP.)
  const std::string holder = read_text(first + "/.lock");
  REQUIRE(holder.rfind("process ", 0) == 0);
  const pid_t trainer = static_cast<pid_t>(std::stol(holder.substr(8)));
  REQUIRE(trainer != sweep);
  REQUIRE(kill(trainer, SIGSTOP) == 0);
  // A second copy refuses at once, naming the holder.
  const std::string second = "cd " + dir + " && " + SCORELAB_BIN + " sweep s.yaml > sweep2.txt 2>&1";
  int status = std::system(second.c_str());
  CHECK(WEXITSTATUS(status) == 2);
  CHECK_THAT(read_text(dir + "/sweep2.txt"), Contains("in use by process " + std::to_string(sweep)));
  // SIGKILL the sweep: its training child gets SIGTERM, checkpoints and ends (no orphan).
  kill(trainer, SIGCONT);
  kill(sweep, SIGKILL);
  waitpid(sweep, nullptr, 0);
  bool ended = false;
  for (int i = 0; i < 400 && !ended; ++i) {
    usleep(50000);
    ended = !DirLock::held(first);
  }
  CHECK(ended);
  // The re-run completes every point; the interrupted point resumed, its log keeps both attempts.
  status = std::system(("cd " + dir + " && " + SCORELAB_BIN + " sweep s.yaml > sweep3.txt 2>&1").c_str());
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(RunLog::read_column(out + "/sweep.h5", "points/failed") == std::vector<double>{0, 0});
  const std::string log = read_text(out + "/logs/" + fs::path(first).filename().string() + ".log");
  size_t attempts = 0;
  for (size_t at = log.find("=== attempt"); at != std::string::npos; at = log.find("=== attempt", at + 1)) ++attempts;
  CHECK(attempts == 2);
  CHECK_THAT(log, Contains("SIGTERM after step"));
  CHECK_THAT(log, Contains("resuming"));
}

TEST_CASE("seeds replicate each grid cell: typed key columns, mean and sd per cell, rows printed as points finish",
          "[experiments][sweep]") {
  std::string dir = test::scratch_dir("sweep_seeds");
  write_base(dir);
  std::ofstream(dir + "/s.yaml") << "base: base.yaml\nout_dir: out\nseeds: [0, 1, 2]\n"
                                    "grid:\n  train: {lr: [0.001, 0.003]}\n  loss: {weighting: [plain]}\n";
  const std::string cmd = "cd " + dir + " && " + SCORELAB_BIN + " sweep s.yaml -j 2 > out.txt 2> err.txt";
  REQUIRE(WEXITSTATUS(std::system(cmd.c_str())) == 0);
  const std::string h5 = dir + "/out/sweep.h5";
  CHECK(RunLog::read_strings(h5, "points/run") ==
        std::vector<std::string>{"lr-0.001_weighting-plain_seed-0", "lr-0.001_weighting-plain_seed-1",
                                 "lr-0.001_weighting-plain_seed-2", "lr-0.003_weighting-plain_seed-0",
                                 "lr-0.003_weighting-plain_seed-1", "lr-0.003_weighting-plain_seed-2"});
  // One typed column per swept key: numbers stay numbers, words stay strings.
  CHECK(RunLog::read_column(h5, "points/train.lr") == std::vector<double>{0.001, 0.001, 0.001, 0.003, 0.003, 0.003});
  CHECK(RunLog::read_strings(h5, "points/loss.weighting") == std::vector<std::string>(6, "plain"));
  CHECK(RunLog::read_column(h5, "points/seed") == std::vector<double>{0, 1, 2, 0, 1, 2});
  // Seeds give different runs; each cell's mean and sample sd are those of its three points.
  const auto w2 = RunLog::read_column(h5, "points/sliced_w2");
  REQUIRE(w2.size() == 6);
  CHECK(w2[0] != w2[1]);
  CHECK(RunLog::read_column(h5, "cells/n") == std::vector<double>{3, 3});
  CHECK(RunLog::read_column(h5, "cells/train.lr") == std::vector<double>{0.001, 0.003});
  const auto mean = RunLog::read_column(h5, "cells/sliced_w2_mean"), sd = RunLog::read_column(h5, "cells/sliced_w2_sd");
  for (int c = 0; c < 2; ++c) {
    const double m = (w2[3 * c] + w2[3 * c + 1] + w2[3 * c + 2]) / 3;
    double ss = 0;
    for (int i = 0; i < 3; ++i) ss += (w2[3 * c + i] - m) * (w2[3 * c + i] - m);
    CHECK(mean[c] == Approx(m).epsilon(1e-12));
    CHECK(sd[c] == Approx(std::sqrt(ss / 2)).epsilon(1e-12));
  }
  const std::string md = read_text(dir + "/out/summary.md");
  CHECK_THAT(md, Contains("| run | train.lr | loss.weighting | seed | status |") && Contains("## Mean ± sd over seeds") &&
                     Contains(" ± "));
  CHECK(fs::exists(dir + "/out/summary_cells.csv"));
  // A line per point as it finishes, before the summary.
  const std::string out = read_text(dir + "/out.txt");
  for (int k = 1; k <= 6; ++k) CHECK_THAT(out, Contains("[" + std::to_string(k) + "/6] "));
  CHECK(out.find("[6/6] ") < out.find("# sweep:"));
  // Straight into pandas: one DataFrame per table, numeric key columns as float64.
  const std::string py =
      "import h5py, pandas as pd, sys\n"
      "f = h5py.File(sys.argv[1], 'r')\n"
      "for t, rows in (('points', 6), ('cells', 2)):\n"
      "    g = f[t]\n"
      "    df = pd.DataFrame({c: g[c][:] for c in g.attrs['columns'].split(',')})\n"
      "    assert df.shape[0] == rows, df.shape\n"
      "    assert df['train.lr'].dtype == 'float64'\n"
      "print('ok')\n";
  std::ofstream(dir + "/read.py") << py;
  CHECK(std::system(("/usr/bin/python3 " + dir + "/read.py " + h5 + " > " + dir + "/py.txt 2>&1").c_str()) == 0);
  CHECK_THAT(read_text(dir + "/py.txt"), Contains("ok"));
  // A seed listed twice is refused before anything runs.
  std::ofstream(dir + "/dup.yaml") << "base: base.yaml\nout_dir: dup\nseeds: [0, 0]\ngrid:\n  train: {lr: [0.001]}\n";
  CHECK(WEXITSTATUS(std::system(("cd " + dir + " && " + SCORELAB_BIN + " sweep dup.yaml > dup.txt 2>&1").c_str())) == 2);
  CHECK_THAT(read_text(dir + "/dup.txt"), Contains("seeds") && Contains("listed twice"));
  CHECK_FALSE(fs::exists(dir + "/dup/sweep.h5"));
}
