// End-to-end tests of the scorelab executable: exit codes, messages, files written.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>

#include <filesystem>
#include <fstream>

#include <ATen/ATen.h>

#include "core/checkpoint.h"
#include "core/fsutil.h"
#include "core/h5log.h"
#include "../test_util.h"

using namespace scorelab;
namespace fs = std::filesystem;
using Catch::Matchers::Contains;

namespace {
struct Run {
  int code;
  std::string out, err;
};

Run run_cli(const std::string& args, const std::string& dir) {
  std::string cmd = std::string(SCORELAB_BIN) + " " + args + " > " + dir + "/stdout.txt 2> " + dir + "/stderr.txt";
  int status = std::system(cmd.c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, read_text(dir + "/stdout.txt"),
          read_text(dir + "/stderr.txt")};
}

std::string write_config(const std::string& dir, const std::string& name, const std::string& text) {
  std::string path = dir + "/" + name;
  std::ofstream(path) << text;
  return path;
}
}  // namespace

TEST_CASE("help exits 0 and lists the commands", "[app][cli]") {
  std::string dir = test::scratch_dir("cli_help");
  Run r = run_cli("--help", dir);
  CHECK(r.code == 0);
  CHECK_THAT(r.out, Contains("train") && Contains("sample"));
  r = run_cli("train --help", dir);
  CHECK(r.code == 0);
  CHECK_THAT(r.out, Contains("key.path=value"));
  CHECK_THAT(r.out, Contains("--quiet"));
  CHECK_THAT(r.out, !Contains("--input") && !Contains("--overrides"));  // internal options stay hidden
  CHECK(run_cli("frobnicate", dir).code == 2);
  r = run_cli("--version", dir);
  CHECK(r.code == 0);
  CHECK_THAT(r.out, Contains(std::string("scorelab ") + SCORELAB_VERSION) && Contains("LibTorch"));
}

TEST_CASE("progress goes to stderr, results to stdout, --quiet silences progress", "[app][cli]") {
  std::string dir = test::scratch_dir("cli_progress");
  std::string cfg = write_config(dir, "p.yaml", test::tiny_run_yaml(dir + "/runs", "p", 100));
  Run r = run_cli("train " + cfg + " eval.every=50", dir);
  REQUIRE(r.code == 0);
  auto count = [](const std::string& text, const std::string& what) {
    size_t n = 0;
    for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
  };
  // Training counts steps; each bar's 100% line is printed once (stderr is not a terminal here).
  CHECK_THAT(r.err, Contains("train p") && Contains("steps/s"));
  CHECK(count(r.err, "100/100 ") == 1);
  // Sampling counts sampler steps (200 per trajectory, one batch) and shows the NFE so far; the
  // evaluation during training has its own bar, and its time is reported.
  CHECK(count(r.err, "sample 100% 200/200 ") == 1);
  CHECK_THAT(r.err, Contains("nfe 200"));
  CHECK(count(r.err, "eval at step 50 100% 200/200 ") == 1);
  CHECK_THAT(r.out, Contains("step 50 (evaluation "));
  CHECK_THAT(r.out, !Contains("steps/s"));
  CHECK_THAT(r.out, Contains("sliced_w2"));  // the result
  r = run_cli("sample " + dir + "/runs/p/checkpoints/last.pt sample.n=50 --quiet -o " + dir + "/s.h5", dir);
  CHECK(r.code == 0);
  CHECK_THAT(r.err, !Contains("steps/s"));
  CHECK(fs::exists(dir + "/s.h5"));
}

TEST_CASE("a bad config exits 2, names file:line: key, and writes nothing", "[app][cli]") {
  std::string dir = test::scratch_dir("cli_bad");
  std::string good = test::tiny_run_yaml(dir + "/runs", "bad", 10);
  // A typo in a key.
  std::string typo = write_config(dir, "typo.yaml", good + "train2: {steps: 3}\n");
  Run r = run_cli("train " + typo, dir);
  CHECK(r.code == 2);
  CHECK_THAT(r.err, Contains("typo.yaml:9: train2: unknown key"));
  // A wrong type on the command line.
  std::string ok = write_config(dir, "ok.yaml", good);
  r = run_cli("train " + ok + " train.steps=ten", dir);
  CHECK(r.code == 2);
  CHECK_THAT(r.err, Contains("<command line>: train.steps: expected an integer, got 'ten'"));
  // An unknown type.
  r = run_cli("train " + ok + " sde.type=vpp", dir);
  CHECK(r.code == 2);
  CHECK_THAT(r.err, Contains("sde.type: unknown sde type 'vpp' (available: "));
  // Out of range.
  r = run_cli("train " + ok + " train.lr=-1", dir);
  CHECK(r.code == 2);
  CHECK_THAT(r.err, Contains("train.lr: must be > 0"));
  CHECK_FALSE(fs::exists(dir + "/runs"));  // nothing written by any of them
  // A missing config file.
  r = run_cli("train " + dir + "/nope.yaml", dir);
  CHECK(r.code == 2);
  CHECK_THAT(r.err, Contains("nope.yaml: cannot open config file"));
}

TEST_CASE("a non-finite loss stops training before any checkpoint is written, skip mode counts the steps",
          "[app][cli][reliability]") {
  std::string dir = test::scratch_dir("cli_nonfinite");
  std::string cfg = write_config(dir, "t.yaml", test::tiny_run_yaml(dir + "/runs", "t", 100));
  REQUIRE(run_cli("train " + cfg, dir).code == 0);
  const std::string ckpt = dir + "/runs/t/checkpoints/last.pt";
  const std::string good = read_text(ckpt);
  // lr 1e30: the first update sends the weights to ~1e30 and the next loss overflows.
  Run r = run_cli("train " + cfg + " train.resume=true train.steps=400 train.lr=1e30 train.grad_clip=0 "
                  "train.allow_changes=[train.lr,train.grad_clip]", dir);
  CHECK(r.code == 3);
  CHECK_THAT(r.err, Contains("step 102: non-finite loss"));
  CHECK_THAT(r.err, Contains("dsm"));  // the loss parts are named
  CHECK_THAT(r.err, Contains("last.pt keeps step 100"));
  CHECK(read_text(ckpt) == good);  // the good checkpoint is untouched
  // skip: the run finishes; every skipped step is counted, and no checkpoint holds a non-finite
  // weight.
  r = run_cli("train " + cfg + " train.resume=true train.steps=300 train.lr=1e30 train.grad_clip=0 train.allow_changes=[train] "
              "train.on_nonfinite=skip", dir);
  CHECK(r.code == 0);
  auto skipped = RunLog::read_column(dir + "/runs/t/log.h5", "train/nonfinite_steps");
  double total = 0;
  for (double s : skipped) total += s;
  CHECK(total == 199);  // steps 102..300: step 101 was finite
  std::vector<at::Tensor> ema;
  CHECK(load_checkpoint(ckpt, nullptr, &ema, nullptr).step == 300);
  for (const auto& e : ema) CHECK(at::isfinite(e).all().item<bool>());
}

TEST_CASE("SIGINT and SIGTERM stop training after a checkpoint of the current step, the run resumes",
          "[app][cli][reliability]") {
  std::string dir = test::scratch_dir("cli_signal");
  for (int sig : {SIGINT, SIGTERM}) {
    const std::string name = sig == SIGINT ? "int" : "term";
    std::string cfg = write_config(dir, name + ".yaml", test::tiny_run_yaml(dir + "/runs", name, 1000000));
    const std::string ckpt = dir + "/runs/" + name + "/checkpoints/last.pt", err = dir + "/" + name + ".err";
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {  // the child: scorelab train, its output into files
      int out_fd = open((dir + "/" + name + ".out").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      int err_fd = open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      dup2(out_fd, 1);
      dup2(err_fd, 2);
      execl(SCORELAB_BIN, SCORELAB_BIN, "train", cfg.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    // Signal once the first checkpoint (step 100) exists: training is under way.
    for (int i = 0; i < 600 && !fs::exists(ckpt); ++i) usleep(100000);
    REQUIRE(fs::exists(ckpt));
    kill(pid, sig);
    int status = 0;
    waitpid(pid, &status, 0);
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 128 + sig);
    const std::string text = read_text(err);
    CHECK_THAT(text, Contains(sig == SIGINT ? "SIGINT after step" : "SIGTERM after step"));
    CHECK_THAT(text, Contains("train.resume=true"));
    const int64_t stopped = load_checkpoint(ckpt, nullptr, nullptr, nullptr).step;
    CHECK(stopped >= 100);
    CHECK_THAT(text, Contains("holds step " + std::to_string(stopped) + " "));
    // The log has every row up to the stop and the run resumes from the checkpointed step.
    auto steps = RunLog::read_column(dir + "/runs/" + name + "/log.h5", "train/step");
    REQUIRE_FALSE(steps.empty());
    CHECK(steps.back() == static_cast<double>(stopped / 50 * 50));
    if (sig == SIGTERM) {
      Run r = run_cli("train " + cfg + " train.resume=true train.steps=" + std::to_string(stopped + 60), dir);
      CHECK(r.code == 0);
      CHECK_THAT(r.out, Contains("resuming"));
      CHECK(load_checkpoint(ckpt, nullptr, nullptr, nullptr).step == stopped + 60);
    }
  }
}

TEST_CASE("train then sample from the checkpoint, samples do not depend on the batch size", "[app][cli]") {
  std::string dir = test::scratch_dir("cli_sample");
  std::string cfg = write_config(dir, "t.yaml", test::tiny_run_yaml(dir + "/runs", "t", 300));
  Run r = run_cli("train " + cfg, dir);
  REQUIRE(r.code == 0);
  std::string ckpt = dir + "/runs/t/checkpoints/last.pt";
  REQUIRE(fs::exists(ckpt));
  r = run_cli("sample " + ckpt + " sample.n=60 sample.steps=25 -o " + dir + "/a.h5", dir);
  REQUIRE(r.code == 0);
  r = run_cli("sample " + ckpt + " sample.n=60 sample.steps=25 sample.batch_size=16 -o " + dir + "/b.h5", dir);
  REQUIRE(r.code == 0);
  at::Tensor a = RunLog::read_array(dir + "/a.h5", "samples");
  at::Tensor b = RunLog::read_array(dir + "/b.h5", "samples");
  CHECK(a.sizes() == at::IntArrayRef({60, 2}));
  // The noise is identical; the network's matrix products may round differently for another
  // batch size (BLAS blocking), so compare to float32 rounding, not bit for bit.
  INFO("max difference " << (a - b).abs().max().item<double>());
  CHECK(at::allclose(a, b, 1e-5, 1e-5));
  CHECK(RunLog::read_attr(dir + "/a.h5", "samples", "nfe") == std::to_string(25.0));
  // A bad override for sample is bad input too, and writes no file.
  r = run_cli("sample " + ckpt + " sample.steps=0 -o " + dir + "/c.h5", dir);
  CHECK(r.code == 2);
  CHECK_THAT(r.err, Contains("sample.steps: must be"));
  CHECK_FALSE(fs::exists(dir + "/c.h5"));
  r = run_cli("sample " + dir + "/missing.pt", dir);
  CHECK(r.code == 2);
  // -o never replaces a file without --force (refused before any work, the file untouched).
  const std::string before = read_text(dir + "/a.h5");
  r = run_cli("sample " + ckpt + " sample.n=10 -o " + dir + "/a.h5", dir);
  CHECK(r.code == 2);
  CHECK_THAT(r.err, Contains("a.h5: exists; pass --force"));
  CHECK(read_text(dir + "/a.h5") == before);
  r = run_cli("sample " + ckpt + " sample.n=10 sample.steps=25 --force -o " + dir + "/a.h5", dir);
  CHECK(r.code == 0);
  CHECK(RunLog::read_array(dir + "/a.h5", "samples").size(0) == 10);
  // A checkpoint outside <run>/checkpoints/: the default output goes next to it.
  fs::create_directories(dir + "/loose");
  fs::copy_file(ckpt, dir + "/loose/model.pt");
  r = run_cli("sample " + dir + "/loose/model.pt sample.n=10 sample.steps=25", dir);
  CHECK(r.code == 0);
  CHECK(fs::exists(dir + "/loose/samples.h5"));
  // Switching the sampler drops the old sampler's keys (EM's steps is not a key of RK45: the
  // README's tour); the same type keeps them (200 steps: nfe 200).
  r = run_cli("sample " + ckpt + " sample.type=ode sample.method=rk45 sample.n=50 -o " + dir + "/ode.h5", dir);
  INFO(r.err);
  CHECK(r.code == 0);
  CHECK(fs::exists(dir + "/ode.h5"));
  r = run_cli("sample " + ckpt + " sample.type=euler_maruyama sample.n=20 -o " + dir + "/em.h5", dir);
  CHECK(r.code == 0);
  CHECK(RunLog::read_attr(dir + "/em.h5", "samples", "nfe") == std::to_string(200.0));

  // The log opens in h5py and follows the documented schema (when h5py is installed).
  if (std::system("/usr/bin/python3 -c 'import h5py' 2>/dev/null") == 0) {
    std::string check = std::string("/usr/bin/python3 ") + SCORELAB_SOURCE_DIR + "/tests/check_log.py " + dir +
                        "/runs/t/log.h5 > " + dir + "/py.txt 2>&1";
    int status = std::system(check.c_str());
    INFO(read_text(dir + "/py.txt"));
    CHECK(WEXITSTATUS(status) == 0);
  } else {
    WARN("python3-h5py not installed: the h5py schema check was skipped");
  }
}

TEST_CASE("a resume that changes hyper-parameters is refused unless train.allow_changes lists them",
          "[app][cli][reliability]") {
  std::string dir = test::scratch_dir("cli_changes");
  std::string cfg = write_config(dir, "c.yaml", test::tiny_run_yaml(dir + "/runs", "c", 100));
  REQUIRE(run_cli("train " + cfg, dir).code == 0);
  const std::string run = dir + "/runs/c", ckpt = run + "/checkpoints/last.pt";
  const std::string ckpt_before = read_text(ckpt), log_before = read_text(run + "/log.h5");
  const std::string config_before = read_text(run + "/config.yaml");
  // Refused: every changed hyper-parameter named with both values, nothing written.
  Run r = run_cli("train " + cfg + " train.resume=true train.steps=200 train.lr=1e-3 loss.weighting=likelihood", dir);
  CHECK(r.code == 2);
  CHECK_THAT(r.err, Contains("train.lr: 0.003 -> 0.001"));
  CHECK_THAT(r.err, Contains("loss.weighting: plain -> likelihood"));
  CHECK_THAT(r.err, Contains("train.allow_changes"));
  CHECK(read_text(ckpt) == ckpt_before);
  CHECK(read_text(run + "/log.h5") == log_before);
  // A listed entry that is no key is refused too.
  r = run_cli("train " + cfg + " train.resume=true train.steps=200 train.allow_changes=[train.lrr]", dir);
  CHECK(r.code == 2);
  CHECK_THAT(r.err, Contains("'train.lrr': no key or section"));
  // An architecture change, even when allowed, cannot load the weights: exit 2, nothing written.
  r = run_cli("train " + cfg + " train.resume=true train.steps=200 model.hidden=32 train.allow_changes=[model]", dir);
  CHECK(r.code == 2);
  CHECK_THAT(r.err, Contains("do not fit the configured model"));
  CHECK(read_text(ckpt) == ckpt_before);
  // Run-control keys (train.steps) change freely; a listed hyper-parameter is recorded as an
  // amendment while the recorded config (log attribute and config.yaml) stays as it was.
  r = run_cli("train " + cfg + " train.resume=true train.steps=200 train.lr=1e-3 train.allow_changes=[train.lr]", dir);
  REQUIRE(r.code == 0);
  const std::string amendments = RunLog::read_attr(run + "/log.h5", "/", "amendments");
  CHECK_THAT(amendments, Contains("{step: 100, key: train.lr, from: '0.003', to: '0.001'}"));
  CHECK_THAT(amendments, Contains("key: train.steps"));
  CHECK_THAT(RunLog::read_attr(run + "/log.h5", "/", "config"), Contains("lr: 0.003"));
  CHECK(read_text(run + "/config.yaml") == config_before);
  CHECK(load_checkpoint(ckpt, nullptr, nullptr, nullptr).step == 200);
  // `sample` with an architecture override: refused before anything is written.
  r = run_cli("sample " + ckpt + " model.hidden=32 -o " + dir + "/s.h5", dir);
  CHECK(r.code == 2);
  CHECK_THAT(r.err, Contains("do not fit the configured model"));
  CHECK_FALSE(fs::exists(dir + "/s.h5"));
}

TEST_CASE("a full disk (a file-size limit) ends training with exit 2 and a clear message, nothing is lost",
          "[app][cli][reliability]") {
  std::string dir = test::scratch_dir("cli_full");
  std::string cfg = write_config(dir, "f.yaml", test::tiny_run_yaml(dir + "/runs", "f", 100));
  REQUIRE(run_cli("train " + cfg, dir).code == 0);
  const std::string run = dir + "/runs/f", ckpt = run + "/checkpoints/last.pt";
  const std::string ckpt_before = read_text(ckpt);
  const auto log_rows = RunLog::read_column(run + "/log.h5", "train/step");
  // Files may grow to 60 KB: the log (~40 KB) can be rebuilt, the checkpoint (~160 KB) cannot be
  // written. SIGXFSZ ignored, so a write past the limit fails with EFBIG as on a full disk.
  const std::string limited = "bash -c \"ulimit -f 60; trap '' XFSZ; exec " + std::string(SCORELAB_BIN) + " train " +
                              cfg + " train.resume=true train.steps=300\" > " + dir + "/out.txt 2> " + dir + "/err.txt";
  const int status = std::system(limited.c_str());
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 2);
  const std::string err = read_text(dir + "/err.txt");
  CHECK_THAT(err, Contains("could not write"));
  CHECK_THAT(err, Contains("disk full"));
  CHECK_THAT(err, !Contains("terminate called"));
  // The previous checkpoint is intact, no temporary file is left, and the log still opens.
  CHECK(read_text(ckpt) == ckpt_before);
  for (const auto& e : fs::recursive_directory_iterator(run)) CHECK(e.path().filename().string().find(".tmp") == std::string::npos);
  CHECK(RunLog::read_column(run + "/log.h5", "train/step").size() >= log_rows.size());
  // With space again the run resumes from the intact checkpoint and finishes.
  Run r = run_cli("train " + cfg + " train.resume=true train.steps=300", dir);
  CHECK(r.code == 0);
  CHECK(load_checkpoint(ckpt, nullptr, nullptr, nullptr).step == 300);
  // A comparison's result file (HDF5, ~200 KB) on the same limit: exit 2, no temporary file.
  write_config(dir, "c.yaml", "source: " + std::string(SCORELAB_SOURCE_DIR) + "/experiments/configs/oracle_gmm.yaml\n"
               "n: 2000\nreference_n: 2000\nout_dir: cmp\nsamplers:\n  - {type: euler_maruyama, steps: [10, 30]}\n"
               "  - {type: ode, method: euler, steps: [10, 30]}\n");
  const int cstatus = std::system(("cd " + dir + " && bash -c \"ulimit -f 40; trap '' XFSZ; exec " +
                                   std::string(SCORELAB_BIN) + " compare c.yaml --quiet\" > cout.txt 2> cerr.txt").c_str());
  CHECK(WEXITSTATUS(cstatus) == 2);
  CHECK_THAT(read_text(dir + "/cerr.txt"), Contains("could not write cmp/compare.h5"));
  for (const auto& e : fs::recursive_directory_iterator(dir + "/cmp"))
    CHECK(e.path().filename().string().find(".tmp") == std::string::npos);
}
