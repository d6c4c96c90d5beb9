// The bad-input corpus (reliability issue #13): every command given bad configs, overrides,
// checkpoints, data files, output paths, sweep and compare files. Each case must exit 2 with one
// clear message (naming the file and key where there is one) and write nothing: the case's
// directory is identical before and after.
#include <catch2/catch.hpp>

#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include <ATen/ATen.h>

#include "core/fsutil.h"
#include "core/h5log.h"
#include "../test_util.h"

using namespace scorelab;
namespace fs = std::filesystem;

namespace {

struct Case {
  std::string args;                           // after `scorelab`, run in the case's directory
  std::string expect;                         // a part of the message on stderr
  std::map<std::string, std::string> files;   // written into the case's directory first
  bool with_run = false;                      // a finished run copied to runs/t first
  std::string shell = "";                     // run before scorelab in the case's shell (limits)
};

// path -> (size, contents hash) of everything below `dir`.
std::map<std::string, std::string> snapshot(const std::string& dir) {
  std::map<std::string, std::string> s;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    const std::string rel = fs::relative(e.path(), dir).string();
    s[rel] = e.is_regular_file() ? std::to_string(std::hash<std::string>{}(read_text(e.path().string()))) : "dir";
  }
  return s;
}

const char* kGood =
    "run: {name: t, out_dir: runs, seed: 3, threads: 1, device: cpu}\n"
    "data: {type: eight_gaussians}\nsde: {type: vp}\n"
    "model: {type: mlp, hidden: 16, depth: 2, embed_dim: 8}\nloss: {type: dsm}\n"
    "train: {steps: 20, batch_size: 64, log_every: 10, ckpt_every: 10}\n"
    "sample: {type: euler_maruyama, steps: 10, n: 100}\neval: {n: 100, projections: 8}\n";

// `train good.yaml OVERRIDE` expecting `message`.
Case train_override(const std::string& ov, const std::string& message) {
  return {"train good.yaml " + ov, message, {{"good.yaml", kGood}}};
}

std::vector<Case> corpus() {
  std::vector<Case> c;
  // Overrides of every section: unknown keys, wrong types, out-of-range and non-finite values.
  for (const auto& [ov, msg] : std::vector<std::pair<std::string, std::string>>{
           {"train.stpes=10", "train.stpes"},
           {"train.steps=-1", "train.steps: must be"},
           {"train.steps=abc", "train.steps: expected an integer"},
           {"train.lr=0", "train.lr: must be > 0"},
           {"train.lr=-1", "train.lr: must be > 0"},
           {"train.lr=.inf", "train.lr: expected a finite number"},
           {"train.lr=.nan", "train.lr: expected a finite number"},
           {"train.batch_size=0", "train.batch_size: must be"},
           {"train.ema_decay=1.5", "train.ema_decay: must be"},
           {"train.grad_clip=-1", "train.grad_clip: must be"},
           {"train.log_every=0", "train.log_every: must be"},
           {"train.ckpt_every=0", "train.ckpt_every: must be"},
           {"train.on_nonfinite=maybe", "train.on_nonfinite"},
           {"train.resume=perhaps", "train.resume: expected true or false"},
           {"train.keep_checkpoints=-1", "train.keep_checkpoints: must be"},
           {"train.allow_changes=[train.lrr]", "train.allow_changes"},
           {"train={steps: 5}x", "train"},
           {"run.device=tpu", "run.device"},
           {"run.dtype=int8", "run.dtype"},
           {"run.threads=-2", "run.threads: must be"},
           {"run.seed=abc", "run.seed"},
           {"run.name=", "run.name"},
           {"run.name=../escape", "run.name"},
           {"run.name=a/b", "run.name"},
           {"run.name=" + std::string(300, 'x'), "run.name"},
           {"data.type=nonsense", "data.type"},
           {"data.type=fashion_mnist data.path=/nonexistent", "data.path"},
           {"data.type=gmm data.means=[[0,0],[1,1]] data.std=0.5 data.weights=[0.7,0.7]", "data.weights"},
           {"data.type=gmm data.means=[[0,0],[1]] data.std=0.5", "data.means"},
           {"data.type=gmm data.means=[[0,0],[1,1]] data.std=-1", "data.std"},
           {"sde.type=foo", "sde.type"},
           {"sde.beta_min=5 sde.beta_max=1", "sde.beta_max"},
           {"sde.type=ve sde.sigma_min=-1", "sde.sigma_min"},
           {"sde.type=ddpm sde.N=0", "sde.N"},
           {"model.type=foo", "model.type"},
           {"model.hidden=0", "model.hidden: must be"},
           {"model.depth=100", "model.depth: must be"},
           {"model.activation=swish", "model.activation"},
           {"model.embedding=foo", "model.embedding"},
           {"model.embed_dim=1", "model.embed_dim: must be"},
           {"loss.type=foo", "loss.type"},
           {"loss.weighting=foo", "loss.weighting"},
           {"loss.t_sampling=foo", "loss.t_sampling"},
           {"loss.eps=0.9", "loss.eps: must be"},
           {"sample.type=foo", "sample.type"},
           {"sample.steps=0", "sample.steps: must be"},
           {"sample.n=0", "sample.n: must be"},
           {"sample.type=ode sample.method=foo", "sample.method"},
           {"eval.n=0", "eval.n: must be"},
           {"eval.every=-1", "eval.every: must be"},
           {"eval.nll=[foo]", "eval.nll"},
           {"eval.nll=[vlb]", "eval.nll"},
           {"nosection.key=1", "nosection"},
           {"train.lr", "train.lr"},
           {"train.lr=[1,", "train.lr"},
           {"train.lr.x=1", "train.lr"},
       })
    c.push_back(train_override(ov, msg));
  // Config files.
  c.push_back({"train bad.yaml", "bad.yaml:2", {{"bad.yaml", "run: {name: t}\ntrain: {steps: [1, 2}\n"}}});
  c.push_back({"train dup.yaml", "dup.yaml:9: train: duplicate key (first at line 6)",
               {{"dup.yaml", std::string(kGood) + "train: {steps: 5}\n"}}});
  c.push_back({"train dup2.yaml", "dup2.yaml:1: run.seed: duplicate key",
               {{"dup2.yaml", "run: {seed: 1, seed: 2}\n"}}});
  c.push_back({"train empty.yaml", "empty.yaml", {{"empty.yaml", ""}}});
  c.push_back({"train list.yaml", "list.yaml", {{"list.yaml", "- a\n- b\n"}}});
  c.push_back({"train missing.yaml", "missing.yaml", {}});
  c.push_back({"train unknown.yaml", "unknown.yaml:9: foo", {{"unknown.yaml", std::string(kGood) + "foo: 1\n"}}});
  c.push_back({"train", "", {}});
  c.push_back({"frobnicate", "unknown command", {}});
  c.push_back({"train good.yaml --frobnicate", "frobnicate", {{"good.yaml", kGood}}});
  // An existing run: not overwritten, and not resumed with other hyper-parameters.
  c.push_back({"train good.yaml", "already holds a run", {{"good.yaml", kGood}}, true});
  c.push_back({"train good.yaml train.resume=true train.steps=40 train.lr=0.1", "train.lr", {{"good.yaml", kGood}}, true});
  c.push_back({"train good.yaml train.resume=true train.steps=40 model.hidden=8 train.allow_changes=[model]",
               "do not fit the configured model", {{"good.yaml", kGood}}, true});
  // Checkpoints.
  c.push_back({"sample missing.pt", "missing.pt", {}});
  c.push_back({"sample garbage.pt", "garbage.pt", {{"garbage.pt", "not a checkpoint\n"}}});
  c.push_back({"sample runs/t/checkpoints/last.pt sample.steps=0 -o s.h5", "sample.steps: must be", {}, true});
  c.push_back({"sample runs/t/checkpoints/last.pt sample.foo=1 -o s.h5", "sample.foo", {}, true});
  c.push_back({"sample runs/t/checkpoints/last.pt model.hidden=8 -o s.h5", "do not fit", {}, true});
  c.push_back({"sample runs/t/checkpoints/last.pt -o exists.h5", "exists.h5", {{"exists.h5", "keep me"}}, true});
  c.push_back({"sample runs/t/checkpoints/last.pt -o afile/s.h5", "afile", {{"afile", "a file, not a directory"}}, true});
  c.push_back({"sample runs/t/checkpoints/last.pt sample.type=ode sample.method=nope -o s.h5", "sample.method", {}, true});
  c.push_back({"likelihood missing.pt", "missing.pt", {}});
  c.push_back({"likelihood runs/t/checkpoints/last.pt likelihood.n=0 -o l.h5", "likelihood.n", {}, true});
  c.push_back({"likelihood runs/t/checkpoints/last.pt -o exists.h5", "exists.h5", {{"exists.h5", "keep me"}}, true});
  // A tiny full disk: a 1 KiB file-size limit (SIGXFSZ ignored, so writes fail with EFBIG as on
  // a full disk); the output is not left half-written.
  c.push_back({"sample runs/t/checkpoints/last.pt sample.n=2000 -o s.h5", "could not write", {}, true,
               "trap '' XFSZ; ulimit -f 1; "});
  c.push_back({"likelihood runs/t/checkpoints/last.pt likelihood.n=2000 -o l.h5", "could not write", {}, true,
               "trap '' XFSZ; ulimit -f 1; "});
  // Data files.
  c.push_back(train_override("data.type=mnist data.path=.", "train-images"));
  c.push_back({"train good.yaml data.type=mnist data.path=idx", "idx", {{"good.yaml", kGood},
               {"idx/train-images-idx3-ubyte", "garbage"}, {"idx/train-labels-idx1-ubyte", "garbage"}}});
  c.push_back({"train good.yaml data.type=cifar10 data.path=cifar", "cifar", {{"good.yaml", kGood},
               {"cifar/data_batch_1.bin", std::string(100, 'x')}}});
  c.push_back({"train good.yaml data.type=hdf5 data.path=notes.h5", "notes.h5", {{"good.yaml", kGood},
               {"notes.h5", "plain text"}}});
  c.push_back({"train good.yaml data.type=hdf5 data.path=missing.h5", "missing.h5", {{"good.yaml", kGood}}});
  // Compare files.
  c.push_back({"compare missing.yaml", "missing.yaml", {}});
  c.push_back({"compare c.yaml", "source", {{"c.yaml", "n: 100\nsamplers:\n  - {type: euler_maruyama, steps: [5]}\n"}}});
  c.push_back({"compare c.yaml", "samplers", {{"c.yaml", "source: runs/t/checkpoints/last.pt\nn: 100\n"}}, true});
  c.push_back({"compare c.yaml", "type", {{"c.yaml", "source: runs/t/checkpoints/last.pt\nn: 100\nsamplers:\n"
                                                     "  - {type: nope, steps: [5]}\n"}}, true});
  c.push_back({"compare c.yaml", "steps", {{"c.yaml", "source: runs/t/checkpoints/last.pt\nn: 100\nsamplers:\n"
                                                      "  - {type: euler_maruyama, steps: [0]}\n"}}, true});
  c.push_back({"compare c.yaml", "n", {{"c.yaml", "source: runs/t/checkpoints/last.pt\nn: -5\nsamplers:\n"
                                                  "  - {type: euler_maruyama, steps: [5]}\n"}}, true});
  // Sweep files.
  c.push_back({"sweep missing.yaml", "missing.yaml", {}});
  c.push_back({"sweep s.yaml", "base", {{"s.yaml", "out_dir: out\ngrid:\n  train: {lr: [0.1, 0.2]}\n"}}});
  c.push_back({"sweep s.yaml", "nope.yaml", {{"s.yaml", "base: nope.yaml\nout_dir: out\ngrid:\n  train: {lr: [0.1]}\n"}}});
  c.push_back({"sweep s.yaml", "grid", {{"good.yaml", kGood}, {"s.yaml", "base: good.yaml\nout_dir: out\ngrid: 5\n"}}});
  c.push_back({"sweep s.yaml", "train.lr", {{"good.yaml", kGood},
               {"s.yaml", "base: good.yaml\nout_dir: out\ngrid:\n  train: {lr: 0.1}\n"}}});
  c.push_back({"sweep s.yaml", "frob", {{"good.yaml", kGood},
               {"s.yaml", "base: good.yaml\nout_dir: out\nfrob: 1\ngrid:\n  train: {lr: [0.1]}\n"}}});
  c.push_back({"sweep s.yaml -j 0", "", {{"good.yaml", kGood},
               {"s.yaml", "base: good.yaml\nout_dir: out\ngrid:\n  train: {lr: [0.1]}\n"}}});
  return c;
}

}  // namespace

TEST_CASE("the bad-input corpus: every case exits 2 with a clear message and writes nothing", "[app][reliability][bad_input]") {
  const std::string root = test::scratch_dir("bad_input");
  // One finished run, copied into the cases that need one.
  const std::string shared = root + "/shared";
  fs::create_directories(shared);
  std::ofstream(shared + "/good.yaml") << kGood;
  REQUIRE(std::system(("cd " + shared + " && " + SCORELAB_BIN + " train good.yaml --quiet > /dev/null 2>&1").c_str()) == 0);
  const std::vector<Case> cases = corpus();
  int passed = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    const Case& k = cases[i];
    const std::string dir = root + "/case" + std::to_string(i);
    fs::create_directories(dir);
    for (const auto& [name, text] : k.files) {
      fs::create_directories(fs::path(dir + "/" + name).parent_path());
      std::ofstream(dir + "/" + name, std::ios::binary) << text;
    }
    if (k.with_run) {
      fs::create_directories(dir + "/runs");
      fs::copy(shared + "/runs/t", dir + "/runs/t", fs::copy_options::recursive);
      fs::remove(dir + "/runs/t/.lock");
    }
    const auto before = snapshot(dir);
    const std::string out = root + "/out" + std::to_string(i) + ".txt", err = root + "/err" + std::to_string(i) + ".txt";
    // The output files live outside the case's directory (and outside any file-size limit).
    const int status = std::system(("exec 3> " + out + " 4> " + err + "; cd " + dir + " && " + k.shell + SCORELAB_BIN + " " +
                                    k.args + " >&3 2>&4").c_str());
    const int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    const std::string message = read_text(err);
    INFO("case " << i << ": scorelab " << k.args << "\n  exit " << code << ", stderr: " << message);
    CHECK(code == 2);
    CHECK_THAT(message, Catch::Contains(k.expect));
    CHECK(message.find("terminate called") == std::string::npos);
    CHECK(snapshot(dir) == before);
    if (code == 2 && message.find(k.expect) != std::string::npos && snapshot(dir) == before) ++passed;
  }
  std::cout << "bad-input corpus: " << passed << " of " << cases.size()
            << " cases exit 2 with their message and write nothing\n";
  CHECK(cases.size() >= 80);
}
